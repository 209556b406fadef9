// The KMS emulator's HTTPS server: AWS JSON 1.1 (`X-Amz-Target: TrentService.<Op>`) with
// SigV4 verified against configured test credentials. One request never takes the
// process down: every failure becomes an AWS-shaped JSON error.
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { KmsError, kmsFail } from './errors.ts';
import { checkRecipientAllowed, OPERATIONS, type KmsEnvironment } from './operations.ts';
import { attestationRecipientVerifier } from './attested-recipient.ts';
import type { AttestedRecipient, RecipientVerifier } from './recipient.ts';
import { CloudTrailWriter, type KmsCallRecord } from './cloudtrail.ts';
import { verifySigV4, type Credentials } from './sigv4.ts';
import { KmsStateError, loadState, lockStateDir, saveState } from './state.ts';
import { certificateCovers, generateCa, issueServerCertificate, type TlsMaterial } from './tls.ts';
import { latencyDelay, type LatencyModel } from '../latency.ts';

export interface KmsPrincipal {
  accessKeyId: string;
  secretAccessKey: string;
  /** e.g. arn:aws:iam::111122223333:role/ci, arn:aws:sts::111122223333:assumed-role/enclave/i-… */
  principalArn: string;
  sessionToken?: string;
  /** For a session: the role ARN with its path (aws:PrincipalArn); derived without one when absent. */
  roleArn?: string;
}

export interface KmsEmulatorOptions {
  stateDir: string;
  /** Default 127.0.0.1 (loopback only). */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  region?: string;
  accountId?: string;
  principals: KmsPrincipal[];
  /**
   * DER root certificate Recipient attestation documents must chain to. Default: the AWS
   * Nitro root G1 (as real KMS); tests pass the simulated root explicitly.
   */
  attestationRoot?: Uint8Array;
  /** Overrides the attestation check entirely (tests of the emulator itself). */
  recipientVerifier?: RecipientVerifier;
  /** Extra DNS names / IPs for the generated server certificate. */
  tlsHostNames?: string[];
  /** TLS identity to use instead of the CA generated into the state directory. */
  tls?: TlsMaterial;
  /** Server clock (ms since epoch) for SigV4 freshness and attestation freshness. */
  now?: () => number;
  /** Request body limit in bytes; default MAX_BODY_BYTES. */
  maxBodyBytes?: number;
  /** Write a SIMULATED CloudTrail event for every answered call here (simulator/kms/cloudtrail.ts). */
  cloudTrailDir?: string;
  /**
   * Simulated network + service time: every request waits one delay of this seeded model
   * before it is answered (benchmarks: wall time under real-KMS round trips). Default none.
   */
  latency?: LatencyModel;
}

export interface KmsEmulator {
  endpoint: string;
  region: string;
  accountId: string;
  port: number;
  caPem: string;
  /** Path of the CA certificate (PEM) clients should trust (SSL_CERT_FILE for sops). */
  caFile: string;
  /** Change the simulated round trip from the next request on (benchmarks: 0 and 15 ms rows). */
  setLatency(model: LatencyModel | undefined): void;
  close(): Promise<void>;
}

export const DEFAULT_REGION = 'us-east-1';
export const DEFAULT_ACCOUNT_ID = '111122223333';
/**
 * No valid KMS request comes near this: the largest member is
 * Recipient.AttestationDocument (≤ 262,144 bytes, ~350 KB in base64), policies ≤ 32 KB.
 * AWS's own front-end limit is not documented for KMS; bigger bodies get 413.
 */
export const MAX_BODY_BYTES = 1024 * 1024;
const TARGET_PREFIX = 'TrentService.';
/** Real KMS operations (API reference) the emulator leaves out: told apart from typos. */
const UNIMPLEMENTED_KMS_OPERATIONS = new Set([
  'CancelKeyDeletion', 'ConnectCustomKeyStore', 'CreateCustomKeyStore', 'CreateGrant', 'DeleteAlias', 'DeleteCustomKeyStore',
  'DeleteImportedKeyMaterial', 'DeriveSharedSecret', 'DescribeCustomKeyStores', 'DisableKeyRotation', 'DisconnectCustomKeyStore',
  'EnableKeyRotation', 'GenerateDataKeyPair', 'GenerateDataKeyPairWithoutPlaintext', 'GenerateMac', 'GetKeyRotationStatus',
  'GetParametersForImport', 'ImportKeyMaterial', 'ListGrants', 'ListKeyRotations', 'ListResourceTags', 'ListRetirableGrants',
  'ReEncrypt', 'ReplicateKey', 'RetireGrant', 'RevokeGrant', 'RotateKeyOnDemand', 'ScheduleKeyDeletion', 'TagResource',
  'UntagResource', 'UpdateAlias', 'UpdateCustomKeyStore', 'UpdateKeyDescription', 'UpdatePrimaryRegion', 'VerifyMac',
]);

/** TLS for the emulator: reuse the state directory's CA (generating it once). */
async function tlsFor(stateDir: string, hosts: string[]): Promise<TlsMaterial & { caFile: string }> {
  const caFile = join(stateDir, 'ca.pem');
  const caKeyFile = join(stateDir, 'ca-key.pem');
  const certFile = join(stateDir, 'server.pem');
  const keyFile = join(stateDir, 'server-key.pem');
  let ca: { caPem: string; caKeyPem: string };
  if (existsSync(caFile) && existsSync(caKeyFile)) {
    ca = { caPem: readFileSync(caFile, 'utf8'), caKeyPem: readFileSync(caKeyFile, 'utf8') };
  } else {
    ca = await generateCa();
    writeFileSync(caKeyFile, ca.caKeyPem, { mode: 0o600 });
    writeFileSync(caFile, ca.caPem);
  }
  if (existsSync(certFile) && existsSync(keyFile)) {
    const certPem = readFileSync(certFile, 'utf8');
    if (hosts.every((h) => certificateCovers(certPem, h))) return { certPem, keyPem: readFileSync(keyFile, 'utf8'), caPem: ca.caPem, caFile };
  }
  let material: TlsMaterial;
  try {
    material = await issueServerCertificate(ca, ['127.0.0.1', '::1', 'localhost', ...hosts]);
  } catch (e) {
    throw new KmsStateError('STATE_CORRUPT', `${caFile} / ${caKeyFile} cannot issue a server certificate (${(e as Error).message}); move them away to get a new CA`);
  }
  writeFileSync(keyFile, material.keyPem, { mode: 0o600 });
  writeFileSync(certFile, material.certPem);
  return { ...material, caFile };
}

function lowerHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : v;
  }
  return out;
}

function send(res: ServerResponse, status: number, body: unknown, extraHeaders: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.1',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
    // SDKs use the server's Date to correct client clock skew after a signature-expired error.
    date: new Date().toUTCString(),
    ...extraHeaders,
  });
  res.end(text);
}

function sendError(res: ServerResponse, err: KmsError, extraHeaders: Record<string, string> = {}): void {
  send(res, err.status, err.toBody(), extraHeaders);
}

/** Read the body up to `limit` bytes; undefined when over the limit (already answered). */
function readBody(req: IncomingMessage, res: ServerResponse, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const tooLarge = (): void => {
      sendError(res, new KmsError('RequestEntityTooLargeException', `Request body exceeds the ${limit}-byte limit.`), { connection: 'close' });
      req.resume();
      resolve(undefined);
    };
    const declared = Number(req.headers['content-length'] ?? '0');
    if (Number.isFinite(declared) && declared > limit) return tooLarge();
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        tooLarge();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!done) {
        done = true;
        resolve(Buffer.concat(chunks));
      }
    });
    req.on('error', () => {
      if (!done) {
        done = true;
        resolve(undefined);
      }
    });
  });
}

/** What the trail needs of a request that passed SigV4 and named a known operation. */
function callRecord(
  requestId: string, now: () => number, operation: string, caller: Credentials, where: { region: string; accountId: string },
  req: IncomingMessage, input: Record<string, unknown>, verifyRecipient: RecipientVerifier,
): Omit<KmsCallRecord, 'output' | 'error'> {
  let recipient: AttestedRecipient | undefined;
  const doc = (input.Recipient as { AttestationDocument?: unknown } | undefined)?.AttestationDocument;
  if (typeof doc === 'string') {
    try {
      recipient = verifyRecipient(Buffer.from(doc, 'base64'));
    } catch {
      recipient = undefined; // an invalid document carries no trustworthy measurements
    }
  }
  return {
    requestId, time: new Date(now()), operation, callerArn: caller.principalArn, accessKeyId: caller.accessKeyId,
    ...where, sourceIp: req.socket.remoteAddress ?? '127.0.0.1', clientUserAgent: String(req.headers['user-agent'] ?? ''), input,
    ...(recipient === undefined ? {} : { recipient }),
  };
}

export async function startKmsEmulator(opts: KmsEmulatorOptions): Promise<KmsEmulator> {
  const host = opts.host ?? '127.0.0.1';
  const region = opts.region ?? DEFAULT_REGION;
  const accountId = opts.accountId ?? DEFAULT_ACCOUNT_ID;
  const now = opts.now ?? Date.now;
  const maxBody = opts.maxBodyBytes ?? MAX_BODY_BYTES;
  if (!/^\d{12}$/.test(accountId)) throw new Error(`accountId must be 12 digits, got "${accountId}"`);
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region)) throw new Error(`region "${region}" does not look like an AWS region`);

  const principals = new Map<string, Credentials>();
  for (const p of opts.principals) {
    if (principals.has(p.accessKeyId)) throw new Error(`access key ${p.accessKeyId} is configured twice`);
    if (!/^arn:aws:(iam|sts)::\d{12}:.+/.test(p.principalArn)) throw new Error(`principalArn "${p.principalArn}" is not an IAM/STS ARN`);
    principals.set(p.accessKeyId, { ...p });
  }

  const unlock = lockStateDir(opts.stateDir);
  try {
    return await serve(opts, { host, region, accountId, now, maxBody, principals, unlock });
  } catch (e) {
    unlock();
    throw e;
  }
}

interface ServeSettings {
  host: string;
  region: string;
  accountId: string;
  now: () => number;
  maxBody: number;
  principals: Map<string, Credentials>;
  unlock: () => void;
}

async function serve(opts: KmsEmulatorOptions, { host, region, accountId, now, maxBody, principals, unlock }: ServeSettings): Promise<KmsEmulator> {
  const state = loadState(opts.stateDir, accountId, region);
  const env: KmsEnvironment = {
    state,
    save: () => saveState(opts.stateDir, state),
    accountId,
    region,
    verifyRecipient: opts.recipientVerifier ?? attestationRecipientVerifier(opts.attestationRoot, now),
    now,
  };

  let tls: TlsMaterial & { caFile: string };
  if (opts.tls !== undefined) {
    // Kept apart from the generated CA (ca.pem + ca-key.pem), which must stay a pair.
    const caFile = join(opts.stateDir, 'provided-ca.pem');
    writeFileSync(caFile, opts.tls.caPem);
    tls = { ...opts.tls, caFile };
  } else {
    // The real endpoint name is included so an enclave that keeps its default
    // `kms.<region>.amazonaws.com` (host maps it to the emulator) still verifies TLS.
    tls = await tlsFor(opts.stateDir, [host, `kms.${region}.amazonaws.com`, ...(opts.tlsHostNames ?? [])]);
  }

  const trail = opts.cloudTrailDir === undefined ? undefined : new CloudTrailWriter(opts.cloudTrailDir);
  let roundTrip = latencyDelay(opts.latency);
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readBody(req, res, maxBody);
    if (body === undefined) return;
    await roundTrip();
    const requestId = randomUUID();
    // The emulator's clock is the server's clock: SDKs correct their skew from Date.
    const idHeader = { 'x-amzn-requestid': requestId, date: new Date(now()).toUTCString() };
    let logged: Omit<KmsCallRecord, 'output' | 'error'> | undefined;
    try {
      const headers = lowerHeaders(req);
      if (req.method !== 'POST') kmsFail('UnknownOperationException', `${req.method ?? ''} is not supported; KMS takes POST with X-Amz-Target.`);
      const caller = verifySigV4(
        { method: req.method, url: req.url ?? '/', headers, body },
        { region, service: 'kms', lookup: (id) => principals.get(id), now },
      );
      const target = headers['x-amz-target'] ?? '';
      const op = target.startsWith(TARGET_PREFIX) ? OPERATIONS[target.slice(TARGET_PREFIX.length)] : undefined;
      if (op === undefined || !Object.hasOwn(OPERATIONS, target.slice(TARGET_PREFIX.length))) {
        if (target.startsWith(TARGET_PREFIX) && UNIMPLEMENTED_KMS_OPERATIONS.has(target.slice(TARGET_PREFIX.length))) {
          kmsFail('UnsupportedOperationException', `${target.slice(TARGET_PREFIX.length)} is a KMS operation this emulator does not implement.`);
        }
        kmsFail('UnknownOperationException', target === '' ? 'Missing X-Amz-Target header.' : `Unknown operation ${target}`);
      }
      let input: unknown = {};
      const text = body.toString('utf8');
      if (text.trim() !== '') {
        try {
          input = JSON.parse(text);
        } catch {
          kmsFail('SerializationException', 'Request body is not valid JSON.');
        }
      }
      if (typeof input !== 'object' || input === null || Array.isArray(input)) kmsFail('SerializationException', 'Request body must be a JSON object.');
      checkRecipientAllowed(target.slice(TARGET_PREFIX.length), input as Record<string, unknown>);
      if (trail !== undefined) {
        logged = callRecord(requestId, now, target.slice(TARGET_PREFIX.length), caller, { region, accountId }, req, input as Record<string, unknown>, env.verifyRecipient);
      }
      const output = op(input as Record<string, unknown>, { env, caller });
      if (logged !== undefined) trail?.write({ ...logged, output });
      send(res, 200, output, idHeader);
    } catch (e) {
      if (e instanceof KmsError) {
        if (logged !== undefined) trail?.write({ ...logged, error: e });
        return sendError(res, e, idHeader);
      }
      process.stderr.write(`kms-emulator: internal error: ${(e as Error).stack ?? String(e)}\n`);
      sendError(res, new KmsError('KMSInternalException', 'Internal error in the KMS emulator.'));
    }
  };

  const server: Server = createServer(
    { cert: tls.certPem, key: tls.keyPem, requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 5_000, noDelay: true },
    (req, res) => {
      handle(req, res).catch((e: unknown) => {
        process.stderr.write(`kms-emulator: ${(e as Error).message}\n`);
        if (!res.headersSent) sendError(res, new KmsError('KMSInternalException', 'Internal error in the KMS emulator.'));
      });
    },
  );
  server.on('clientError', (_err, socket) => socket.destroy());
  server.on('tlsClientError', () => undefined);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // After listening, server errors (e.g. EMFILE on accept) are logged, never fatal.
  server.on('error', (e) => process.stderr.write(`kms-emulator: server error: ${e.message}\n`));
  const port = (server.address() as AddressInfo).port;
  const hostForUrl = host.includes(':') ? `[${host}]` : host;
  return {
    endpoint: `https://${hostForUrl}:${port}`,
    region,
    accountId,
    port,
    caPem: tls.caPem,
    caFile: tls.caFile,
    setLatency: (model) => {
      roundTrip = latencyDelay(model);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          unlock();
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}

