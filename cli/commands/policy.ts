// `attested-pack policy generate` and `policy lint`: KMS key policies that pin the enclave
// image, and a linter for fail-open ones. The logic lives in policy/; this is flags and I/O.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseBuildManifest, type BuildManifest } from '../../verifier/build-manifest.ts';
import { generateDocumentedKeyPolicy } from '../../policy/generate.ts';
import { hasErrors, lintPolicies } from '../../policy/lint.ts';
import { LINT_CODES } from '../../policy/lint-codes.ts';
import { readPolicyFileAsync } from '../../policy/read.ts';
import { POLICY_FORMATS, renderPolicies, type PolicyFormat } from '../../policy/render.ts';
import { isPolicyError } from '../../policy/errors.ts';
import { KEY_KINDS, type KeyKind } from '../../policy/types.ts';
import {
  EXIT_OK,
  EXIT_REFUSED,
  EXIT_USAGE,
  CommandError,
  UsageError,
  requireOption,
  stringListOption,
  stringOption,
  type Command,
  type CommandContext,
} from '../command.ts';

function readInput(ctx: CommandContext, file: string, what: string): Buffer {
  try {
    return readFileSync(resolve(ctx.cwd, file));
  } catch (e) {
    throw new UsageError(`cannot read ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

function loadManifest(ctx: CommandContext, file: string): BuildManifest {
  return parseBuildManifest(readInput(ctx, file, 'build manifest'));
}

/** Repeated flags and comma-separated lists both work: --readers a,b --readers c. */
function listOption(ctx: CommandContext, name: string): string[] {
  return stringListOption(ctx.values, name)
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

async function withPolicyErrors(ctx: CommandContext, name: string, run: () => number | Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (e) {
    if (isPolicyError(e)) throw new CommandError(e.code, e.message, EXIT_USAGE);
    throw e;
  }
}

export const policyGenerateCommand: Command = {
  path: ['policy', 'generate'],
  summary: 'generate KMS key policies that pin the enclave image PCRs',
  help: `Usage: attested-pack policy generate --manifest build-manifest.json --role ENCLAVE_ROLE_ARN
         --admin ADMIN_ARN [--key sops|envelope|signing] [--readers ARN,…] [--editors ARN,…]
         [--pcr3 ROLE_ARN] [--pin-pcr8] [--also-manifest FILE]…
         [--format json|cloudformation|terraform]

Writes the key policies of the KMS keys attested-pack uses, to stdout:
  sops      SOPS data-key key. The enclave role may Decrypt only with a Recipient whose
            attestation reports the manifest's PCR0/1/2 (StringEqualsIgnoreCase), and one
            Deny per pinned PCR stops Decrypt/ReEncryptFrom for everyone otherwise
            (StringNotEqualsIgnoreCase: also true when no Recipient is sent). --editors
            may Encrypt.
  envelope  Artifact DEK wrapping (as clef pack does): the enclave role may Encrypt,
            --readers (runtimes) may Decrypt.
  signing   Artifact signing (ECDSA_SHA_256 over a digest, as Clef): the enclave role may
            Sign, --readers may GetPublicKey/Verify.
Administrators (--admin) get administrative actions only, never cryptographic use.

Options:
  --manifest FILE    published build manifest (source of the pinned PCRs)
  --role ARN         IAM role of the enclave's parent instance
  --admin ARN        key administrator (repeatable)
  --key KIND         sops, envelope or signing (repeatable; default: all three)
  --readers ARN,…    runtimes / verifiers (repeatable, comma-separated)
  --editors ARN,…    people who encrypt SOPS files (repeatable, comma-separated)
  --pcr3 ROLE_ARN    also pin PCR3 = SHA-384(48 zero bytes ‖ role ARN) (sops key)
  --pin-pcr8         also pin PCR8 (EIF signing certificate) from the manifest (sops key)
  --also-manifest F  image rollout: also allow this image's PCRs (repeatable; sops key).
                     Both images decrypt until you regenerate without it (docs/operations.md)
  --format F         json (default: the policy, or {kind: policy} for several keys),
                     cloudformation (AWS::KMS::Key resources, YAML with a comment per
                     statement) or terraform (aws_kms_key with policy = jsonencode(...))

Every output format can be checked with 'attested-pack policy lint'.
`,
  options: {
    manifest: { type: 'string' },
    role: { type: 'string' },
    admin: { type: 'string', multiple: true },
    key: { type: 'string', multiple: true },
    readers: { type: 'string', multiple: true },
    editors: { type: 'string', multiple: true },
    pcr3: { type: 'string' },
    'pin-pcr8': { type: 'boolean' },
    'also-manifest': { type: 'string', multiple: true },
    format: { type: 'string' },
  },
  async run(ctx) {
    const manifestFile = requireOption(ctx.values, 'manifest');
    const role = requireOption(ctx.values, 'role');
    const admins = listOption(ctx, 'admin');
    if (admins.length === 0) throw new UsageError('--admin is required');
    const format = (stringOption(ctx.values, 'format') ?? 'json') as PolicyFormat;
    if (!POLICY_FORMATS.includes(format)) throw new UsageError(`--format must be one of ${POLICY_FORMATS.join(', ')}`);
    const keys = listOption(ctx, 'key');
    for (const k of keys) if (!KEY_KINDS.includes(k as KeyKind)) throw new UsageError(`--key must be one of ${KEY_KINDS.join(', ')}, got "${k}"`);
    const kinds = keys.length === 0 ? [...KEY_KINDS] : KEY_KINDS.filter((k) => keys.includes(k));
    const pcr3 = stringOption(ctx.values, 'pcr3');
    const pinPcr8 = ctx.values['pin-pcr8'] === true;
    if ((pcr3 !== undefined || pinPcr8) && !kinds.includes('sops')) {
      throw new UsageError('--pcr3 and --pin-pcr8 apply to the sops key (the only attestation-gated one)');
    }
    const manifest = loadManifest(ctx, manifestFile);
    const additionalManifests = stringListOption(ctx.values, 'also-manifest').map((f) => loadManifest(ctx, f));
    if (additionalManifests.length > 0 && !kinds.includes('sops')) throw new UsageError('--also-manifest applies to the sops key (the only attestation-gated one)');
    return withPolicyErrors(ctx, 'policy generate', () => {
      const docs = kinds.map((key) =>
        generateDocumentedKeyPolicy({
          key,
          manifest,
          enclaveRoleArn: role,
          adminArns: admins,
          readerArns: listOption(ctx, 'readers'),
          editorArns: listOption(ctx, 'editors'),
          ...(pcr3 !== undefined ? { pcr3RoleArn: pcr3 } : {}),
          pinPcr8,
          ...(additionalManifests.length > 0 ? { additionalManifests } : {}),
        }),
      );
      const header =
        `Generated by 'attested-pack policy generate' for ${manifest.project.name} ${manifest.project.version} ` +
        `(commit ${manifest.project.sourceCommit}, PCR0 ${manifest.pcrs['0']})` +
        additionalManifests.map((m) => `, also ${m.project.name} ${m.project.version} (PCR0 ${m.pcrs['0']})`).join('') +
        ". Check changes with 'attested-pack policy lint'.";
      ctx.stdout.write(renderPolicies(docs, format, header));
      if (!kinds.includes('sops') && listOption(ctx, 'editors').length > 0) ctx.stderr.write('note: --editors only applies to the sops key; ignored\n');
      if (kinds.every((k) => k === 'sops') && listOption(ctx, 'readers').length > 0) ctx.stderr.write('note: --readers applies to the envelope and signing keys; ignored\n');
      for (const d of docs) {
        if (d.kind !== 'sops' && d.policy.Statement.length < 3) {
          ctx.stderr.write(`note: no --readers given: nobody may ${d.kind === 'envelope' ? 'Decrypt artifact keys' : 'read the public key'} with the ${d.kind} key\n`);
        }
      }
      return EXIT_OK;
    });
  },
};

export const policyLintCommand: Command = {
  path: ['policy', 'lint'],
  summary: 'find fail-open KMS key policies (attestation conditions, Deny, PCR values)',
  help: `Usage: attested-pack policy lint FILE [--manifest build-manifest.json] [--also-manifest FILE]…
         [--role ARN] [--key sops|envelope|signing] [--json]

Proves, by evaluating every class of request with the model of KMS key-policy semantics
(policy/README.md), what each key's policy must guarantee, and prints the request that gets
through when it does not (KP030–KP032):
  sops      nobody — the enclave role, any principal of any account through its IAM
            policies, a service, anyone — uses the key material without an attestation
            document of the manifest's image; a debug document never passes
  envelope  only the enclave role wraps keys; only principals named by ARN unwrap them
  signing   only the enclave role signs; only named principals verify
  all       the enclave role (--role) can neither rewrite the policy nor create grants
It also reports patterns that fail open or never work (KP001–KP029): an attested Allow
without its Deny, case-sensitive or wildcard comparison of hex, …IfExists, set operators,
Bool/Null misuse, debug (all-zero) PCRs, malformed values, wildcard principals, kms:*, and
(with --manifest) PCRs that are not the published build's.

Which key a policy is for comes from --key, else from generate's names (policy Id,
CloudFormation logical id, Terraform resource name), else sops when it names attestation
keys; otherwise lint refuses. An element, operator, condition key or action it does not
know, or an expression it cannot resolve, is refused (exit 2, CANNOT_LINT), never skipped.

FILE may be a key policy (JSON), generate's JSON for several keys ({kind: policy}), a
CloudFormation template (JSON or YAML, short-form intrinsics included) with AWS::KMS::Key
resources, or Terraform (aws_kms_key / aws_kms_key_policy; literal policies, heredocs,
jsonencode of literals; variables, references, file() and templatefile() are refused).

Options:
  --manifest FILE   the image that may use the sops key; pinned PCRs must equal this build's
  --also-manifest F during an image rollout: this build may too (repeatable)
  --role ARN        the enclave role (required for the envelope and signing keys)
  --key KIND        sops, envelope or signing: which key every policy in FILE is for
  --json            one JSON object {file, findings, errors, warnings}

Exit codes: 0 no errors (warnings allowed), 1 at least one error, 2 unreadable input.
Codes:
${Object.entries(LINT_CODES).map(([c, d]) => `  ${c} ${d.severity.padEnd(7)} ${d.title}`).join('\n')}
`,
  options: {
    manifest: { type: 'string' },
    'also-manifest': { type: 'string', multiple: true },
    role: { type: 'string' },
    key: { type: 'string' },
    json: { type: 'boolean' },
  },
  positionals: { min: 1, max: 1, name: 'FILE' },
  async run(ctx) {
    const file = ctx.positionals[0] as string;
    const manifestFile = stringOption(ctx.values, 'manifest');
    const role = stringOption(ctx.values, 'role');
    const manifest = manifestFile === undefined ? undefined : loadManifest(ctx, manifestFile);
    const additionalManifests = stringListOption(ctx.values, 'also-manifest').map((f) => loadManifest(ctx, f));
    if (additionalManifests.length > 0 && manifest === undefined) throw new UsageError('--also-manifest needs --manifest');
    const key = stringOption(ctx.values, 'key');
    if (key !== undefined && !KEY_KINDS.includes(key as KeyKind)) throw new UsageError(`--key must be one of ${KEY_KINDS.join(', ')}, got "${key}"`);
    const text = readInput(ctx, file, 'policy file').toString('utf8');
    return withPolicyErrors(ctx, 'policy lint', async () => {
      const findings = lintPolicies(await readPolicyFileAsync(text), {
        ...(key !== undefined ? { key: key as KeyKind } : {}),
        ...(manifest !== undefined ? { manifest } : {}),
        ...(additionalManifests.length > 0 ? { additionalManifests } : {}),
        ...(role !== undefined ? { enclaveRoleArn: role } : {}),
      });
      const errors = findings.filter((f) => f.severity === 'error').length;
      const warnings = findings.length - errors;
      if (ctx.values.json === true) {
        ctx.stdout.write(`${JSON.stringify({ file, findings, errors, warnings })}\n`);
      } else {
        for (const f of findings) {
          const where = f.statement === null ? '' : ` Statement[${f.statement.index}]${f.statement.sid === null ? '' : ` (${f.statement.sid})`}`;
          ctx.stdout.write(`${f.severity} ${f.code} ${f.policy}${where}: ${f.message}\n  fix: ${f.fix}\n`);
        }
        ctx.stdout.write(`${file}: ${errors} error(s), ${warnings} warning(s)\n`);
      }
      return hasErrors(findings) ? EXIT_REFUSED : EXIT_OK;
    });
  },
};
