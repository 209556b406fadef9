// `attested-pack open ARTIFACT`: what a Clef runtime agent does with an artifact — verify,
// decrypt, print the secrets — but failing closed: the signature is checked on every
// read (or unsigned artifacts must be allowed explicitly), identity/environment bound,
// expiry and revocation enforced, rollback refusable, GCM IV/tag lengths pinned.
import { readFileSync, existsSync } from 'node:fs';
import { Agent } from 'node:https';
import { resolve } from 'node:path';
import { KMSClient } from '@aws-sdk/client-kms';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { isClefError, readArtifact, type ReadArtifactOptions } from '../../enclave/clef/index.ts';
import { sdkKmsDecryptDek } from '../../enclave/clef/kms-sdk.ts';
import { parseAgeIdentityFile } from '../../enclave/sops/unwrap.ts';
import { EXIT_OK, EXIT_REFUSED, UsageError, stringListOption, stringOption, writeJsonLine, type Command } from '../command.ts';

const MAX_ARTIFACT_FILE = 64 * 1024 * 1024;

function readInput(cwd: string, path: string, what: string): Buffer {
  const p = resolve(cwd, path);
  try {
    const b = readFileSync(p);
    if (b.length > MAX_ARTIFACT_FILE) throw new UsageError(`${what} '${path}' is larger than 64 MiB`);
    return b;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`cannot read ${what} '${path}': ${(e as Error).message}`);
  }
}

/** --verify-key: base64 DER SPKI inline, or a file holding that or a PEM public key. */
function verifyKeyArg(cwd: string, v: string): string {
  const looksInline = /^[A-Za-z0-9+/]+={0,2}$/.test(v) && v.length >= 40;
  if (looksInline && !existsSync(resolve(cwd, v))) return v;
  return readInput(cwd, v, 'verify key').toString('utf8').trim();
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

export const openCommand: Command = {
  path: ['open'],
  summary: 'verify and decrypt a Clef artifact like a runtime agent (prints PLAINTEXT secrets)',
  help: `Usage: attested-pack open ARTIFACT [--identity X --env E] [--verify-key B64|FILE | --allow-unsigned]
                          [--age-identity FILE]... [--kms-endpoint URL [--kms-ca PEM]] [--bind-context]
                          [--min-revision REV] [--json]

Opens a Clef artifact v1 (as written by 'clef pack' or the enclave) the way a Clef agent
would, and PRINTS THE DECRYPTED SECRETS (PLAINTEXT) to stdout. Do not run it where stdout is
logged or shared.

Checks, all before anything is decrypted: shape, revocation, identity/environment (with
--identity/--env), expiry, ciphertextHash, signature (key type picks Ed25519 or ECDSA
P-256), minimum revision; then the KMS envelope (12-byte IV, 16-byte tag) or age file.

Options:
  --identity X, --env E   refuse an artifact packed for another identity/environment
  --verify-key KEY        base64 DER SPKI public key (CLEF_AGENT_VERIFY_KEY format), or a
                          file with that or a PEM public key
  --allow-unsigned        accept an artifact without signature checks (Clef's default; off here)
  --age-identity FILE     age identity file (AGE-SECRET-KEY-1…); repeatable
  --kms-endpoint URL      KMS endpoint (e.g. the KMS emulator); credentials come from the
                          usual AWS environment variables, the region from the key ARN
  --kms-ca PEM            CA certificate to trust for --kms-endpoint
  --bind-context          call KMS Decrypt with the identity/environment encryption
                          context (artifacts packed with bindEncryptionContext=true,
                          which Clef's own runtime cannot open: it passes no context)
  --min-revision REV      refuse revisions older than REV (<epoch-ms>-<hex>)
  --json                  one JSON line {identity, environment, revision, keys, values}

Environment (as the Clef agent reads them; flags win): CLEF_AGENT_VERIFY_KEY (verify key),
CLEF_AGENT_AGE_KEY (an AGE-SECRET-KEY-1… identity), CLEF_AGENT_AGE_KEY_FILE (identity file).

Exit codes: 0 opened, 1 refused (code printed, e.g. ARTIFACT_SIGNATURE_INVALID), 2 usage error.
`,
  options: {
    identity: { type: 'string' },
    env: { type: 'string' },
    'verify-key': { type: 'string' },
    'allow-unsigned': { type: 'boolean' },
    'age-identity': { type: 'string', multiple: true },
    'kms-endpoint': { type: 'string' },
    'kms-ca': { type: 'string' },
    'bind-context': { type: 'boolean' },
    'min-revision': { type: 'string' },
    json: { type: 'boolean' },
  },
  positionals: { min: 1, max: 1, name: 'ARTIFACT' },
  async run({ values, positionals, stdout, stderr, cwd, env }) {
    const identity = stringOption(values, 'identity');
    const environment = stringOption(values, 'env');
    if ((identity === undefined) !== (environment === undefined)) throw new UsageError('--identity and --env go together');
    const verifyKey = stringOption(values, 'verify-key') ?? (values['allow-unsigned'] === true ? undefined : nonEmpty(env.CLEF_AGENT_VERIFY_KEY));
    const allowUnsigned = values['allow-unsigned'] === true;
    if (verifyKey !== undefined && allowUnsigned) throw new UsageError('--verify-key and --allow-unsigned exclude each other');
    if (verifyKey === undefined && !allowUnsigned) throw new UsageError('give --verify-key, or --allow-unsigned to accept artifacts without signature checks');
    const idFiles = stringListOption(values, 'age-identity');
    const envFile = nonEmpty(env.CLEF_AGENT_AGE_KEY_FILE);
    if (idFiles.length === 0 && envFile !== undefined) idFiles.push(envFile);
    const ageIds = idFiles.flatMap((f) => {
      const ids = parseAgeIdentityFile(readInput(cwd, f, 'age identity file').toString('utf8'));
      if (ids.length === 0) throw new UsageError(`no AGE-SECRET-KEY-1… line in '${f}'`);
      return ids;
    });
    const envKey = nonEmpty(env.CLEF_AGENT_AGE_KEY);
    if (stringListOption(values, 'age-identity').length === 0 && envKey !== undefined) ageIds.push(...parseAgeIdentityFile(envKey));
    const artifact = readInput(cwd, positionals[0] ?? '', 'artifact');
    const opts: ReadArtifactOptions = {
      ...(identity !== undefined && environment !== undefined ? { expect: { identity, environment } } : {}),
      ...(verifyKey === undefined ? { allowUnsigned: true } : { verifyKey: verifyKeyArg(cwd, verifyKey) }),
      ageIdentities: ageIds,
      ...(values['bind-context'] === true ? { bindEncryptionContext: true } : {}),
    };
    const minRevision = stringOption(values, 'min-revision');
    if (minRevision !== undefined) opts.minRevision = minRevision;
    const endpoint = stringOption(values, 'kms-endpoint');
    const caFile = stringOption(values, 'kms-ca');
    const clients: KMSClient[] = [];
    const agent = new Agent({ keepAlive: false, ...(caFile === undefined ? {} : { ca: readInput(cwd, caFile, 'KMS CA').toString('utf8') }) });
    opts.kmsDecrypt = sdkKmsDecryptDek((region) => {
      const c = new KMSClient({
        region,
        maxAttempts: 2,
        ...(endpoint === undefined ? {} : { endpoint }),
        requestHandler: new NodeHttpHandler({ httpsAgent: agent }),
        ...(env.AWS_ACCESS_KEY_ID !== undefined && env.AWS_SECRET_ACCESS_KEY !== undefined
          ? { credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, ...(env.AWS_SESSION_TOKEN === undefined ? {} : { sessionToken: env.AWS_SESSION_TOKEN }) } }
          : {}),
      });
      clients.push(c);
      return c;
    });
    try {
      const r = await readArtifact(artifact, opts);
      if (values.json === true) {
        writeJsonLine(stdout, { identity: r.artifact.identity, environment: r.artifact.environment, revision: r.revision, keys: r.keys, values: r.values });
      } else {
        stdout.write(`${JSON.stringify(r.values, null, 2)}\n`);
      }
      return EXIT_OK;
    } catch (e) {
      if (!isClefError(e)) throw e;
      if (values.json === true) writeJsonLine(stdout, { ok: false, code: e.code, message: e.message });
      stderr.write(`attested-pack open: ${e.code}: ${e.message}\n`);
      return EXIT_REFUSED;
    } finally {
      for (const c of clients) c.destroy();
      agent.destroy();
    }
  },
};
