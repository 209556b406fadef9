// `attested-pack kms-emulator`: run the KMS emulator (AWS JSON 1.1 + SigV4 over TLS) until
// interrupted. For tests, the demo and local sops/SDK use; it never talks to AWS.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pemCertificateToDer, sha256Hex } from '../../verifier/index.ts';
import { startKmsEmulator, DEFAULT_ACCOUNT_ID, DEFAULT_REGION, type KmsPrincipal } from '../../simulator/kms/server.ts';
import { KmsStateError } from '../../simulator/kms/state.ts';
import { checkLatencyModel, LatencyModelError, type LatencyModel } from '../../simulator/latency.ts';
import { CommandError, EXIT_OK, EXIT_USAGE, UsageError, stringListOption, stringOption, type Command, shutdownSignal } from '../command.ts';

const PRINCIPALS_FILE = 'principals.json';

/** --latency-ms / --latency-jitter-ms / --latency-seed → a checked model (undefined = none). */
function latencyOptions(values: Parameters<typeof stringOption>[0]): LatencyModel | undefined {
  const int = (name: string): number | undefined => {
    const text = stringOption(values, name);
    if (text === undefined) return undefined;
    if (!/^\d{1,10}$/.test(text)) throw new UsageError(`--${name} must be a non-negative integer, got "${text}"`);
    return Number(text);
  };
  const fixedMs = int('latency-ms');
  const jitterMs = int('latency-jitter-ms');
  const seed = int('latency-seed');
  if (fixedMs === undefined) {
    if (jitterMs !== undefined || seed !== undefined) throw new UsageError('--latency-jitter-ms and --latency-seed need --latency-ms');
    return undefined;
  }
  const model: LatencyModel = { fixedMs, ...(jitterMs === undefined ? {} : { jitterMs }), ...(seed === undefined ? {} : { seed }) };
  try {
    return checkLatencyModel(model);
  } catch (e) {
    if (e instanceof LatencyModelError) throw new UsageError(e.message);
    throw e;
  }
}

function parsePrincipals(text: string, file: string): KmsPrincipal[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new UsageError(`${file} is not JSON`);
  }
  if (!Array.isArray(raw) || raw.length === 0) throw new UsageError(`${file} must be a non-empty JSON array of {accessKeyId, secretAccessKey, principalArn[, sessionToken]}`);
  return raw.map((p: unknown, i): KmsPrincipal => {
    const o = p as Record<string, unknown>;
    if (typeof o !== 'object' || o === null || typeof o.accessKeyId !== 'string' || typeof o.secretAccessKey !== 'string' || typeof o.principalArn !== 'string') {
      throw new UsageError(`${file}[${i}] needs string accessKeyId, secretAccessKey and principalArn`);
    }
    if (o.sessionToken !== undefined && typeof o.sessionToken !== 'string') throw new UsageError(`${file}[${i}].sessionToken must be a string`);
    return {
      accessKeyId: o.accessKeyId,
      secretAccessKey: o.secretAccessKey,
      principalArn: o.principalArn,
      ...(typeof o.sessionToken === 'string' ? { sessionToken: o.sessionToken } : {}),
    };
  });
}

/** One admin principal kept in the state directory, so restarts keep working credentials. */
function defaultPrincipals(stateDir: string, accountId: string): KmsPrincipal[] {
  const file = join(stateDir, PRINCIPALS_FILE);
  if (existsSync(file)) return parsePrincipals(readFileSync(file, 'utf8'), file);
  const admin: KmsPrincipal = {
    accessKeyId: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`,
    secretAccessKey: randomBytes(30).toString('base64url'),
    principalArn: `arn:aws:iam::${accountId}:user/kms-emulator-admin`,
  };
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(file, `${JSON.stringify([admin], null, 2)}\n`, { mode: 0o600 });
  return [admin];
}

export const kmsEmulatorCommand: Command = {
  path: ['kms-emulator'],
  summary: 'run a local AWS KMS emulator (SigV4, TLS, key policies, Recipient) — SIMULATED',
  help: `Usage: attested-pack kms-emulator --state DIR [options]

Serves the AWS KMS wire protocol (AWS JSON 1.1 over HTTPS, SigV4 verified) on loopback, with
key policies (including kms:RecipientAttestation:* conditions) and Recipient →
CiphertextForRecipient. State (keys, policies, aliases, its TLS CA) persists in DIR.
Runs until interrupted (Ctrl-C / SIGTERM). Test tool: key material is stored in clear.

Options:
  --state DIR              state directory (created if missing)          (required)
  --host ADDR              listen address (default 127.0.0.1)
  --port N                 port (default 0 = any free port)
  --region R               region in ARNs and the SigV4 scope (default ${DEFAULT_REGION})
  --account ID             12-digit account id in ARNs (default ${DEFAULT_ACCOUNT_ID})
  --principals FILE        JSON [{accessKeyId, secretAccessKey, principalArn[, sessionToken]}]
                           (default: DIR/${PRINCIPALS_FILE}, one admin generated on first run)
  --attestation-root PEM   root certificate Recipient documents must chain to
                           (default: the AWS Nitro root G1; the simulator's root is written
                           by the simulated enclave as simulated-nitro-root.pem)
  --tls-name NAME          extra DNS name / IP for the generated server certificate
                           (repeatable; 127.0.0.1, localhost and kms.<region>.amazonaws.com
                           are always included)
  --cloudtrail-dir DIR     write a SIMULATED CloudTrail event (gzipped {"Records":[…]}, as
                           CloudTrail delivers to S3) for every answered call, for
                           \`attested-pack audit --cloudtrail DIR\`
  --latency-ms N           wait N ms before answering each request (simulated round
                           trip; default 0)
  --latency-jitter-ms J    plus a uniform jitter in [-J, +J] ms (0 ≤ J ≤ N; default 0)
  --latency-seed S         seed of the jitter sequence (default 1: runs are reproducible)
  --json                   print the startup information as one JSON line

Clients: endpoint https://HOST:PORT, trust DIR/ca.pem (SSL_CERT_FILE for sops; an
https.Agent({ ca }) for the AWS SDK), credentials from the principals file.

Example:
  attested-pack kms-emulator --state .kms --port 4599
  AWS_ENDPOINT_URL_KMS=https://127.0.0.1:4599 SSL_CERT_FILE=.kms/ca.pem sops encrypt --kms <arn> f.yaml
`,
  options: {
    state: { type: 'string' },
    host: { type: 'string' },
    port: { type: 'string' },
    region: { type: 'string' },
    account: { type: 'string' },
    principals: { type: 'string' },
    'attestation-root': { type: 'string' },
    'tls-name': { type: 'string', multiple: true },
    'cloudtrail-dir': { type: 'string' },
    'latency-ms': { type: 'string' },
    'latency-jitter-ms': { type: 'string' },
    'latency-seed': { type: 'string' },
    json: { type: 'boolean' },
  },
  async run({ values, stdout, stderr, cwd }) {
    const stateOpt = stringOption(values, 'state');
    if (stateOpt === undefined || stateOpt === '') throw new UsageError('--state is required');
    const stateDir = resolve(cwd, stateOpt);
    const portText = stringOption(values, 'port') ?? '0';
    const port = Number(portText);
    if (!/^\d+$/.test(portText) || port > 65535) throw new UsageError(`--port must be 0..65535, got "${portText}"`);
    const region = stringOption(values, 'region') ?? DEFAULT_REGION;
    const accountId = stringOption(values, 'account') ?? DEFAULT_ACCOUNT_ID;
    if (!/^\d{12}$/.test(accountId)) throw new UsageError('--account must be 12 digits');
    const principalsFile = stringOption(values, 'principals');
    let principals: KmsPrincipal[];
    if (principalsFile !== undefined) {
      const file = resolve(cwd, principalsFile);
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (e) {
        throw new UsageError(`cannot read --principals ${file}: ${(e as Error).message}`);
      }
      principals = parsePrincipals(text, file);
    } else {
      principals = defaultPrincipals(stateDir, accountId);
    }
    let attestationRoot: Uint8Array | undefined;
    const rootFile = stringOption(values, 'attestation-root');
    if (rootFile !== undefined) {
      let text: string;
      try {
        text = readFileSync(resolve(cwd, rootFile), 'utf8');
      } catch (e) {
        throw new UsageError(`cannot read --attestation-root: ${(e as Error).message}`);
      }
      attestationRoot = pemCertificateToDer(text);
      if (attestationRoot === undefined) throw new UsageError(`--attestation-root ${rootFile} holds no PEM certificate`);
    }

    const latency = latencyOptions(values);
    let emulator;
    try {
      emulator = await startKmsEmulator({
        ...(latency === undefined ? {} : { latency }),
        stateDir,
        host: stringOption(values, 'host') ?? '127.0.0.1',
        port,
        region,
        accountId,
        principals,
        tlsHostNames: stringListOption(values, 'tls-name'),
        ...(attestationRoot === undefined ? {} : { attestationRoot }),
        ...(stringOption(values, 'cloudtrail-dir') === undefined ? {} : { cloudTrailDir: resolve(cwd, stringOption(values, 'cloudtrail-dir') ?? '') }),
      });
    } catch (e) {
      if (e instanceof KmsStateError) throw new CommandError(e.code, e.message, EXIT_USAGE);
      if (e instanceof Error && /EADDRINUSE|EACCES|must be|does not look|configured twice|is not an IAM/.test(e.message)) {
        throw new UsageError(e.message);
      }
      throw e;
    }
    // Handlers go in before the startup line: whoever reads it may signal at once, and
    // a signal with no handler installed yet would kill the process uncleanly.
    const stopped = shutdownSignal();
    const info = {
      endpoint: emulator.endpoint,
      region: emulator.region,
      accountId: emulator.accountId,
      caFile: emulator.caFile,
      stateDir,
      principals: principals.map((p) => ({ accessKeyId: p.accessKeyId, principalArn: p.principalArn })),
      attestationRoot: attestationRoot === undefined ? 'aws-nitro-root-g1' : `sha256:${sha256Hex(attestationRoot)}`,
      ...(latency === undefined ? {} : { latency }),
    };
    if (values.json === true) {
      stdout.write(`${JSON.stringify(info)}\n`);
    } else {
      stdout.write(
        [
          'KMS emulator (SIMULATED — not AWS) listening',
          `  endpoint:          ${info.endpoint}`,
          `  region / account:  ${info.region} / ${info.accountId}`,
          `  CA certificate:    ${info.caFile}`,
          `  principals:        ${info.principals.map((p) => `${p.accessKeyId} → ${p.principalArn}`).join('\n                     ')}`,
          `  attestation root:  ${info.attestationRoot}`,
          '',
        ].join('\n'),
      );
    }
    await stopped;
    await emulator.close();
    return EXIT_OK;
  },
};
