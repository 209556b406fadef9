// `attested-pack verify receipt RECEIPT --manifest FILE`: the auditor's check of one pack,
// offline — every check of docs/receipt.md listed with its result, then what the receipt
// proves (identity, environment, commit, artifact digest, KMS keys) and against which root.
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { isVerificationError, trustAnchorInfo, VerificationError, type CheckResult, type TrustInfo } from '../../verifier/index.ts';
import { MAX_RECEIPT_BYTES, verifyReceipt, type ReceiptVerification } from '../../verifier/receipt.ts';
import type { ReceiptPredicate } from '../../verifier/statement.ts';
import { EXIT_OK, EXIT_REFUSED, stringOption, UsageError, type Command, type OptionValues } from '../command.ts';
import type { ReceiptExpectations } from '../../verifier/receipt-expectations.ts';
import { describeTrustAnchor, parseVerifyOptions, VERIFY_OPTIONS, VERIFY_OPTIONS_HELP } from '../verify-options.ts';
import { printable } from './verify-attestation.ts';

/** NSM accepts at most 1024 bytes of nonce. */
const MAX_NONCE_BYTES = 1024;

const { pcr: _pcr, ...RECEIPT_VERIFY_OPTIONS } = VERIFY_OPTIONS;

interface ReceiptReport {
  file: string;
  ok: boolean;
  checks: CheckResult[];
  trust: TrustInfo | null;
  error: { code: string; message: string } | null;
  /** Present only when verified: the statement's subject and predicate. */
  subject: { name: string; sha256: string } | null;
  predicate: ReceiptPredicate | null;
  enclave: { moduleId: string; timestamp: number; pcrs: Record<string, string>; nonce: string | null } | null;
  checkedAt: number | null;
  artifactChecked: boolean;
  nonceChecked: boolean;
}

/** The file's bytes, or 'too-large' without reading it when it exceeds `max`. */
function readBytes(cwd: string, file: string, what: string, max = Number.MAX_SAFE_INTEGER): Uint8Array | 'too-large' {
  const path = resolve(cwd, file);
  try {
    if (statSync(path).size > max) return 'too-large';
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new UsageError(`${what} '${file}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

function parseNonce(text: string): Uint8Array {
  const hex = text.startsWith('0x') ? text.slice(2) : text;
  if (hex.length === 0 || hex.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(hex)) throw new UsageError(`--nonce: '${text}' is not hex`);
  if (hex.length / 2 > MAX_NONCE_BYTES) throw new UsageError(`--nonce is longer than ${MAX_NONCE_BYTES} bytes`);
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

function toReport(file: string, r: ReceiptVerification): ReceiptReport {
  const doc = r.attestation.document;
  const subject = r.statement.subject[0];
  return {
    file,
    ok: true,
    checks: r.checks,
    trust: r.attestation.trust,
    error: null,
    subject: { name: subject.name, sha256: subject.digest.sha256 },
    predicate: r.predicate,
    enclave: {
      moduleId: doc.moduleId,
      timestamp: doc.timestamp,
      // The image PCRs; PCR8 only when the image is signed (non-zero).
      pcrs: Object.fromEntries([...doc.pcrs].filter(([i, v]) => [0, 1, 2].includes(i) || (i === 8 && v.some((b) => b !== 0))).map(([i, v]) => [String(i), Buffer.from(v).toString('hex')])),
      nonce: doc.nonce === null ? null : Buffer.from(doc.nonce).toString('hex'),
    },
    checkedAt: r.attestation.checkedAt,
    artifactChecked: r.artifactChecked,
    nonceChecked: r.nonceChecked,
  };
}

const MARK: Record<CheckResult['status'], string> = { pass: '✓', fail: '✗', skipped: '-' };
const WIDTH = 22;

function simulatedBanner(out: Writable): void {
  out.write('!!! SIMULATED — attested by the attested-pack simulator, NOT by AWS Nitro hardware. Proves nothing about production. !!!\n');
}

function printHuman(out: Writable, r: ReceiptReport): void {
  const info = (label: string, value: string): void => {
    out.write(`  ${label.padEnd(WIDTH)}  ${printable(value)}\n`);
  };
  if (r.trust?.kind === 'simulated') simulatedBanner(out);
  out.write(`${r.file}\n`);
  for (const c of r.checks) {
    out.write(`  ${MARK[c.status]} ${c.name.padEnd(WIDTH - 2)}  ${c.status === 'skipped' ? 'skipped: ' : ''}${printable(c.detail ?? '')}\n`);
  }
  if (r.trust !== null) info('trust anchor', describeTrustAnchor(r.trust));
  const p = r.predicate;
  if (r.ok && p !== null && r.subject !== null && r.enclave !== null) {
    info('identity', p.pack.identity);
    info('environment', p.pack.environment);
    info('namespaces', p.pack.namespaces.join(', '));
    const a = p.authorization;
    if (a.development) info('TRUST POLICY', `DEVELOPMENT (sha384 ${a.trustPolicySha384}) — trusts test issuers; never production`);
    else info('trust policy', `sha384 ${a.trustPolicySha384}`);
    info('commit', `${p.source.commit} (${p.source.objectFormat}, computed in the enclave)`);
    info('repository', `${a.repository}${a.repositoryId === null ? '' : ` (id ${a.repositoryId}, owner id ${a.repositoryOwnerId ?? '?'})`}, verified by the enclave`);
    if (a.method === 'oidc') {
      info('proof', `OIDC token from ${a.issuer ?? '?'} issued ${a.issuedAt === null ? '?' : new Date(a.issuedAt * 1000).toISOString()}`);
      info('ref', `${a.ref ?? '(none)'}  event ${a.event ?? '(none)'}`);
      info('workflow', `${a.jobWorkflowRef ?? a.workflowRef ?? '(none)'}`);
      info('run', `${a.runId ?? '?'} attempt ${a.runAttempt ?? '?'} by ${a.actor ?? '?'}${a.runnerEnvironment === null ? '' : ` on ${a.runnerEnvironment}`}`);
      if (a.deploymentEnvironment !== null) info('deployment env', a.deploymentEnvironment);
    } else info('proof', `SSH commit signature by ${a.signerFingerprint ?? '?'}`);
    info('committed', new Date(a.committerTime * 1000).toISOString());
    const o = p.pack.options;
    info('pack options', `signingKeyArn=${o.signingKeyArn ?? 'none'} ttlSeconds=${o.ttlSeconds ?? 'none'} bindEncryptionContext=${String(o.bindEncryptionContext)}`);
    info('clef.yaml blob', p.source.clefYaml);
    for (const c of p.source.cells) info(`  ${c.namespace}`, `${c.path} blob ${c.blob}`);
    info('artifact', `${r.subject.name} sha256 ${r.subject.sha256}${r.artifactChecked ? ' (file checked)' : ' (file NOT checked: no --artifact)'}`);
    info('revision', `${p.pack.revision} packed at ${p.pack.packedAt}`);
    info('KMS SOPS decrypt', p.kms.sopsDecryptKeys.length === 0 ? '(none)' : p.kms.sopsDecryptKeys.join(', '));
    info('KMS envelope key', p.kms.envelopeKey ?? '(none: age identity)');
    info('KMS signing key', p.kms.signingKey ?? '(none)');
    info('builder', `${p.builder.name} ${p.builder.version}`);
    info('enclave', `${r.enclave.moduleId} at ${new Date(r.enclave.timestamp).toISOString()}`);
    for (const [i, v] of Object.entries(r.enclave.pcrs)) info(`PCR${i}`, v);
    info('nonce', `${r.enclave.nonce ?? '(none)'}${r.nonceChecked ? ' (matches --nonce)' : ' (NOT checked: no --nonce)'}`);
    const against = r.trust !== null && r.trust.kind !== 'aws' ? ` — against a ${r.trust.kind.toUpperCase()} root, NOT AWS` : '';
    info('RESULT', `VERIFIED${against}`);
  } else {
    info('RESULT', `REFUSED  ${r.error?.code ?? ''}: ${r.error?.message ?? ''}`);
  }
  if (r.trust?.kind === 'simulated') simulatedBanner(out);
}

function expectationsFrom(values: OptionValues): ReceiptExpectations {
  const repository = stringOption(values, 'repository');
  const ref = stringOption(values, 'ref');
  const commit = stringOption(values, 'commit');
  if (commit !== undefined && !/^(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$/.test(commit)) throw new UsageError(`--commit '${commit}' is not a 40- or 64-digit hex commit id`);
  if (ref !== undefined && !ref.startsWith('refs/')) throw new UsageError(`--ref '${ref}' must be a full ref, e.g. refs/heads/main`);
  return {
    ...(repository === undefined ? {} : { repository }),
    ...(ref === undefined ? {} : { ref }),
    ...(commit === undefined ? {} : { commit }),
  };
}

export const verifyReceiptCommand: Command = {
  path: ['verify', 'receipt'],
  summary: 'verify a pack receipt (attestation, bindings, DSSE, statement, artifact) against a build manifest',
  help: `Usage: attested-pack verify receipt RECEIPT --manifest FILE [options]

Verifies a pack receipt offline (docs/receipt.md): the attestation document (signature,
chain to the AWS Nitro root G1 or --root, time, debug mode) with the PCRs of the published
build manifest — never skipped — then that the document's public_key is the DSSE signing
key, that its user_data is SHA-384 of the signed DSSE bytes, the DSSE signature, the
in-toto statement, and, when given, the artifact file's digest and the nonce you sent.
Every check is listed; then what the receipt proves: identity, environment, the commit
computed in the enclave, the artifact digest and the KMS keys used.

Options:
  --manifest FILE         the published build manifest (required): expected PCR0/1/2(/8)
  --artifact FILE         the artifact the receipt is for; its SHA-256 must match
  --nonce HEX             the nonce sent with the pack request; the document must carry it
  --repository NAME|ID    expect this repository (owner/name, or GitHub's numeric repository id)
  --ref REF               expect this ref, e.g. refs/heads/main
  --commit SHA            expect this commit
${VERIFY_OPTIONS_HELP.split('\n').filter((l) => !/^ {2}--(?:pcr|manifest) /.test(l)).join('\n')}
  --json                  one JSON object: file, ok, checks, trust, error {code, message},
                          subject, predicate, enclave {moduleId, timestamp, pcrs, nonce}

Exit codes: 0 verified; 1 refused (the error code says why); 2 usage error or an
unreadable file.

Examples:
  attested-pack verify receipt receipt.json --manifest build-manifest.json \\
      --artifact payments-api.json --nonce 5f2c…
  attested-pack verify receipt old-receipt.json --manifest build-manifest.json --at document
`,
  options: {
    ...RECEIPT_VERIFY_OPTIONS,
    artifact: { type: 'string' },
    nonce: { type: 'string' },
    repository: { type: 'string' },
    ref: { type: 'string' },
    commit: { type: 'string' },
    json: { type: 'boolean' },
  },
  positionals: { min: 1, max: 1, name: 'RECEIPT (a receipt.json file)' },
  async run({ values, positionals, stdout, cwd }) {
    if (stringOption(values, 'manifest') === undefined) throw new UsageError('--manifest is required: a receipt is always checked against the published build');
    const cli = parseVerifyOptions(values, cwd);
    const manifest = cli.manifest;
    if (manifest === undefined) throw new UsageError('--manifest is required');
    const file = positionals[0] as string;
    const nonceText = stringOption(values, 'nonce');
    const expectedNonce = nonceText === undefined ? undefined : parseNonce(nonceText);
    const artifactFile = stringOption(values, 'artifact');
    const artifact = artifactFile === undefined ? undefined : (readBytes(cwd, artifactFile, '--artifact') as Uint8Array);
    const receiptFile = readBytes(cwd, file, 'receipt', MAX_RECEIPT_BYTES);

    let report: ReceiptReport;
    try {
      if (receiptFile === 'too-large') {
        // Refused like any oversize receipt, without reading the file.
        const e = new VerificationError('INPUT_TOO_LARGE', `receipt is larger than ${MAX_RECEIPT_BYTES} bytes`, {
          checks: [{ name: 'receipt-structure', status: 'fail', detail: 'file too large' }],
        });
        throw e;
      }
      const result = verifyReceipt(receiptFile, {
        manifest,
        time: cli.time,
        allowDebug: cli.allowDebug,
        ...(cli.root === undefined ? {} : { root: cli.root }),
        ...(artifact === undefined ? {} : { artifact }),
        ...(expectedNonce === undefined ? {} : { expectedNonce }),
        expect: expectationsFrom(values),
      });
      report = toReport(file, result);
    } catch (e) {
      if (!isVerificationError(e)) throw e;
      let trust: TrustInfo | null = null;
      try {
        trust = trustAnchorInfo(cli.root);
      } catch {
        // An unparseable root is itself the reported error.
      }
      report = {
        file, ok: false, checks: (e.detail?.checks as CheckResult[] | undefined) ?? [], trust,
        error: { code: e.code, message: e.message }, subject: null, predicate: null, enclave: null,
        checkedAt: null, artifactChecked: false, nonceChecked: false,
      };
    }
    if (values.json === true) stdout.write(`${JSON.stringify(report)}\n`);
    else printHuman(stdout, report);
    return report.ok ? EXIT_OK : EXIT_REFUSED;
  },
};
