// The host ↔ enclave wire protocol: the one module of enclave/ that host/ imports.
//
// A frame is   u32 big-endian length N | N bytes: u8 protocol version | CBOR body.
// CBOR because pack requests carry raw git objects and attestation documents (byte strings)
// and because the enclave already speaks CBOR to the NSM. The length is checked before
// anything is buffered, so an oversize or garbage frame costs at most 4 bytes of reading.
// One connection may carry several requests; each response names the request id it
// answers. Messages are validated field by field into fresh objects (never trusted as
// decoded). Layout and limits are documented in enclave/README.md.
import { promises as fs } from 'node:fs';
import type net from 'node:net';
import { Decoder, Encoder } from 'cbor-x';

export const PROTOCOL_VERSION = 1;
/** Transport limit: no frame larger than this is buffered (the connection is closed). */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024;
/** Largest total size of the git objects in one pack request. */
export const DEFAULT_MAX_REQUEST_BYTES = 32 * 1024 * 1024;
/** Deadline used when a request names none, and the largest one the enclave grants. */
export const DEFAULT_DEADLINE_MS = 60_000;
export const MAX_DEADLINE_MS = 10 * 60_000;
const MAX_ID_LENGTH = 64;
const MAX_NONCE_BYTES = 512;
const MAX_OBJECTS = 100_000;
const MAX_TEXT = 1024;

export const ENCLAVE_ERROR_CODES = {
  FRAME_TOO_LARGE: 'a frame exceeds the frame size limit',
  BAD_VERSION: 'the frame carries an unsupported protocol version',
  MALFORMED_FRAME: 'the frame body is not well-formed CBOR',
  MALFORMED_MESSAGE: 'the message does not have the required fields and types',
  UNKNOWN_TYPE: 'the request type is not known',
  REQUEST_TOO_LARGE: 'the request exceeds the request size limit',
  DEADLINE_EXCEEDED: 'the request did not complete before its deadline',
  TOO_MANY_REQUESTS: 'too many requests in flight on one connection',
  NSM_UNAVAILABLE: 'the enclave runs without an NSM and cannot attest',
  NSM_ERROR: 'the NSM refused or failed the request',
  PACK_UNAVAILABLE: 'the enclave has no pack handler',
  PACK_REFUSED: 'the pack handler refused the request (see detail)',
  GIT_OBJECT_MISSING: 'a git object needed for the walk was not sent',
  GIT_COMMIT_MISMATCH: 'the commit objects sent do not hash to the requested commit',
  GIT_WRONG_TYPE: 'a git object has a different type than its use requires',
  GIT_MALFORMED: 'a git object cannot be parsed',
  GIT_PATH_INVALID: 'a requested path is not a safe relative path',
  GIT_TOO_LARGE: 'git objects exceed a size or count limit',
  SHA1_COLLISION: 'a sha1 git object carries a SHA-1 collision attack (SHA-1DC detection)',
  CONNECTION_CLOSED: 'the connection closed before the response arrived',
  ENCLAVE_UNREACHABLE: 'the enclave endpoint does not accept connections',
  INTERNAL: 'an unexpected internal error',
} as const;

export type EnclaveErrorCode = keyof typeof ENCLAVE_ERROR_CODES;

export function isEnclaveErrorCode(code: unknown): code is EnclaveErrorCode {
  return typeof code === 'string' && Object.hasOwn(ENCLAVE_ERROR_CODES, code);
}

export class EnclaveProtocolError extends Error {
  readonly code: EnclaveErrorCode;
  /** A finer code from a deeper layer (e.g. a SOPS error code under PACK_REFUSED). */
  readonly detail: string | undefined;

  constructor(code: EnclaveErrorCode, message: string, detail?: string) {
    super(message);
    this.name = 'EnclaveProtocolError';
    this.code = code;
    this.detail = detail;
  }
}

export type GitObjectFormat = 'sha1' | 'sha256';

/** AWS credentials handed to the enclave per request (from the parent's role). */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /** ms since epoch. */
  expiration?: number;
}

export interface PackRequestBody {
  identity: string;
  environment: string;
  /** The CI's fresh nonce; echoed in the receipt's attestation document. */
  nonce: Uint8Array;
  /** The commit the CI claims; the enclave recomputes it from the objects and refuses a mismatch. */
  commit: string;
  objectFormat: GitObjectFormat;
  /** Raw loose-object bytes `<type> <len>\0<content>`, uncompressed, any order. */
  objects: Uint8Array[];
  credentials: AwsCredentials;
  region: string;
  /** Free-form options (string, number or boolean values) for the pack handler. */
  options: Record<string, string | number | boolean>;
  /**
   * The caller's proof that CI made this request for this commit (docs/pack-policy.md): an
   * OIDC token whose audience binds the request, or `sshsig` = the commit's own SSH
   * signature. The host only forwards it; the enclave verifies it. Absent = refused there.
   */
  proof?: PackProof | null;
}

export type PackProof = { kind: 'oidc'; token: string } | { kind: 'sshsig' };

/** Largest OIDC token forwarded (GitHub's are ~1–2 KiB). */
export const MAX_PROOF_TOKEN_BYTES = 16 * 1024;

export interface PackResponseBody {
  artifact: Uint8Array;
  receipt: Uint8Array;
  /** The commit id the enclave computed. */
  commit: string;
}

export interface HealthResponseBody {
  status: 'ok';
  protocolVersion: number;
  nsm: 'hardware' | 'simulated' | 'none';
  packHandler: boolean;
  uptimeMs: number;
}

export interface DescribeRequestBody {
  nonce: Uint8Array;
  /** Optional, bound into the document's user_data / public_key (≤ 1024 bytes each, the NSM's limit). */
  userData?: Uint8Array | null;
  publicKey?: Uint8Array | null;
}


export interface DescribeResponseBody {
  /** COSE_Sign1 attestation document carrying the caller's nonce. */
  attestation: Uint8Array;
  nsm: 'hardware' | 'simulated';
}

export interface RequestBodies {
  health: Record<string, never>;
  describe: DescribeRequestBody;
  pack: PackRequestBody;
}

export interface ResponseBodies {
  health: HealthResponseBody;
  describe: DescribeResponseBody;
  pack: PackResponseBody;
}

export type RequestType = keyof RequestBodies;
export const REQUEST_TYPES: readonly RequestType[] = ['health', 'describe', 'pack'];

export type Request = {
  [T in RequestType]: { id: string; type: T; deadlineMs: number; body: RequestBodies[T] };
}[RequestType];

export interface WireError {
  code: EnclaveErrorCode;
  message: string;
  detail?: string;
}

export type Response =
  | { id: string; ok: true; type: RequestType; body: ResponseBodies[RequestType] }
  | { id: string; ok: false; error: WireError };

// --- frames ---------------------------------------------------------------------------

const encoder = new Encoder({ useRecords: false, tagUint8Array: false, variableMapSize: true });
const decoder = new Decoder({ useRecords: false, mapsAsObjects: true });

/** Drop undefined members so they do not travel as CBOR `undefined`. */
function stripUndefined(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripUndefined);
  if (value instanceof Uint8Array || value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = stripUndefined(v);
  return out;
}

export function encodeFrame(message: unknown, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES, version = PROTOCOL_VERSION): Uint8Array {
  const body = encoder.encode(stripUndefined(message));
  if (body.length + 1 > maxFrameBytes) {
    throw new EnclaveProtocolError('FRAME_TOO_LARGE', `frame of ${body.length + 1} bytes exceeds the limit of ${maxFrameBytes}`);
  }
  const frame = Buffer.allocUnsafe(5 + body.length);
  frame.writeUInt32BE(body.length + 1, 0);
  frame[4] = version;
  frame.set(body, 5);
  return frame;
}

/**
 * Incremental frame reader: push stream chunks, get decoded bodies. Throws
 * EnclaveProtocolError (FRAME_TOO_LARGE, BAD_VERSION, MALFORMED_FRAME); after a throw the
 * stream is out of sync and the connection must be closed.
 */
export class FrameDecoder {
  readonly #maxFrameBytes: number;
  #chunks: Buffer[] = [];
  #buffered = 0;

  constructor(maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {
    this.#maxFrameBytes = maxFrameBytes;
  }

  get bufferedBytes(): number {
    return this.#buffered;
  }

  push(chunk: Uint8Array): unknown[] {
    this.#chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.#buffered += chunk.byteLength;
    const out: unknown[] = [];
    for (;;) {
      if (this.#buffered < 4) return out;
      const head = this.#peek(4);
      const length = head.readUInt32BE(0);
      if (length > this.#maxFrameBytes) {
        throw new EnclaveProtocolError('FRAME_TOO_LARGE', `frame of ${length} bytes exceeds the limit of ${this.#maxFrameBytes}`);
      }
      if (length === 0) throw new EnclaveProtocolError('MALFORMED_FRAME', 'empty frame');
      if (this.#buffered < 4 + length) return out;
      const frame = this.#take(4 + length).subarray(4);
      if (frame[0] !== PROTOCOL_VERSION) {
        throw new EnclaveProtocolError('BAD_VERSION', `protocol version ${frame[0]} is not supported (this side speaks ${PROTOCOL_VERSION})`);
      }
      let value: unknown;
      try {
        value = decoder.decode(frame.subarray(1));
      } catch (e) {
        throw new EnclaveProtocolError('MALFORMED_FRAME', `frame body is not CBOR: ${(e as Error).message}`);
      }
      out.push(value);
    }
  }

  #peek(n: number): Buffer {
    const first = this.#chunks[0];
    if (first !== undefined && first.length >= n) return first;
    const joined = Buffer.concat(this.#chunks);
    this.#chunks = [joined];
    return joined;
  }

  #take(n: number): Buffer {
    const joined = this.#peek(n);
    const taken = joined.subarray(0, n);
    const rest = joined.subarray(n);
    this.#chunks = rest.length > 0 ? [rest] : [];
    this.#buffered -= n;
    return taken;
  }
}

// --- message validation ----------------------------------------------------------------

function bad(message: string): never {
  throw new EnclaveProtocolError('MALFORMED_MESSAGE', message);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function text(o: Record<string, unknown>, key: string, where: string, max = MAX_TEXT): string {
  const v = o[key];
  if (typeof v !== 'string' || v.length === 0 || v.length > max) bad(`${where}.${key} must be a non-empty string of at most ${max} characters`);
  return v;
}

function optionalText(o: Record<string, unknown>, key: string, where: string, max = 4096): string | undefined {
  if (o[key] === undefined || o[key] === null) return undefined;
  return text(o, key, where, max);
}

function bytes(o: Record<string, unknown>, key: string, where: string, max: number): Uint8Array {
  const v = o[key];
  if (!(v instanceof Uint8Array)) bad(`${where}.${key} must be a byte string`);
  if (v.length > max) bad(`${where}.${key} is longer than ${max} bytes`);
  return v;
}

/** The NSM refuses user_data / public_key longer than this (nsm-api; QEMU's virtio-nsm too). */
const MAX_ATTESTATION_FIELD_BYTES = 1024;

function optionalBytes(o: Record<string, unknown>, key: string, where: string, max: number): Uint8Array | null {
  return o[key] === undefined || o[key] === null ? null : bytes(o, key, where, max);
}

function requestId(o: Record<string, unknown>): string {
  const id = o.id;
  if (typeof id !== 'string' || !/^[A-Za-z0-9._:-]{1,64}$/.test(id)) bad(`id must match [A-Za-z0-9._:-]{1,${MAX_ID_LENGTH}}`);
  return id;
}

function parseCredentials(v: unknown): AwsCredentials {
  if (!isRecord(v)) bad('pack.credentials must be a map');
  const creds: AwsCredentials = {
    accessKeyId: text(v, 'accessKeyId', 'credentials', 128),
    secretAccessKey: text(v, 'secretAccessKey', 'credentials', 256),
  };
  const token = optionalText(v, 'sessionToken', 'credentials', 8192);
  if (token !== undefined) creds.sessionToken = token;
  if (v.expiration !== undefined) {
    if (typeof v.expiration !== 'number' || !Number.isSafeInteger(v.expiration)) bad('credentials.expiration must be an integer (ms)');
    creds.expiration = v.expiration;
  }
  return creds;
}

function parseOptions(v: unknown): Record<string, string | number | boolean> {
  if (v === undefined || v === null) return {};
  if (!isRecord(v)) bad('pack.options must be a map');
  const out: Record<string, string | number | boolean> = {};
  const entries = Object.entries(v);
  if (entries.length > 64) bad('pack.options has more than 64 entries');
  for (const [k, val] of entries) {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(k)) bad(`pack.options key '${k.slice(0, 64)}' is not allowed`);
    if (typeof val === 'string' ? val.length > MAX_TEXT : typeof val !== 'number' && typeof val !== 'boolean') {
      bad(`pack.options.${k} must be a short string, a number or a boolean`);
    }
    out[k] = val as string | number | boolean;
  }
  return out;
}

function parsePackBody(b: Record<string, unknown>, maxRequestBytes: number): PackRequestBody {
  const objectFormat = b.objectFormat;
  if (objectFormat !== 'sha1' && objectFormat !== 'sha256') bad("pack.objectFormat must be 'sha1' or 'sha256'");
  const commit = text(b, 'commit', 'pack', 64);
  if (!(objectFormat === 'sha1' ? /^[0-9a-f]{40}$/ : /^[0-9a-f]{64}$/).test(commit)) bad(`pack.commit must be a lowercase ${objectFormat} hex id`);
  const objects = b.objects;
  if (!Array.isArray(objects)) bad('pack.objects must be an array of byte strings');
  if (objects.length > MAX_OBJECTS) throw new EnclaveProtocolError('REQUEST_TOO_LARGE', `more than ${MAX_OBJECTS} git objects`);
  let total = 0;
  for (const o of objects) {
    if (!(o instanceof Uint8Array)) bad('pack.objects must be an array of byte strings');
    total += o.length;
  }
  if (total > maxRequestBytes) {
    throw new EnclaveProtocolError('REQUEST_TOO_LARGE', `git objects total ${total} bytes, over the limit of ${maxRequestBytes}`);
  }
  return {
    identity: text(b, 'identity', 'pack', 253),
    environment: text(b, 'environment', 'pack', 253),
    nonce: bytes(b, 'nonce', 'pack', MAX_NONCE_BYTES),
    commit,
    objectFormat,
    objects: objects as Uint8Array[],
    credentials: parseCredentials(b.credentials),
    region: text(b, 'region', 'pack', 64),
    options: parseOptions(b.options),
    proof: parseProof(b.proof),
  };
}

function parseProof(v: unknown): PackProof | null {
  if (v === undefined || v === null) return null;
  if (!isRecord(v)) bad('pack.proof must be a map');
  const keys = Object.keys(v).sort().join(',');
  if (v.kind === 'oidc' && keys === 'kind,token') {
    const token = v.token;
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_PROOF_TOKEN_BYTES || !/^[\x21-\x7e]+$/.test(token)) {
      bad(`pack.proof.token must be 1 to ${MAX_PROOF_TOKEN_BYTES} printable ASCII characters`);
    }
    return { kind: 'oidc', token };
  }
  if (v.kind === 'sshsig' && keys === 'kind') return { kind: 'sshsig' };
  return bad("pack.proof must be { kind: 'oidc', token } or { kind: 'sshsig' }");
}

/**
 * Validate a decoded request. Throws EnclaveProtocolError; when the id could be read it is
 * attached as `requestId` so the server can answer that request with the error.
 */
export function parseRequest(value: unknown, maxRequestBytes = DEFAULT_MAX_REQUEST_BYTES): Request {
  if (!isRecord(value)) bad('request must be a map');
  const id = requestId(value);
  try {
    const type = value.type;
    if (typeof type !== 'string') bad('request.type must be a string');
    let deadlineMs = DEFAULT_DEADLINE_MS;
    if (value.deadlineMs !== undefined) {
      const d = value.deadlineMs;
      if (typeof d !== 'number' || !Number.isSafeInteger(d) || d <= 0) bad('request.deadlineMs must be a positive integer');
      deadlineMs = Math.min(d, MAX_DEADLINE_MS);
    }
    const body = value.body ?? {};
    if (!isRecord(body)) bad('request.body must be a map');
    switch (type) {
      case 'health':
        return { id, type, deadlineMs, body: {} };
      case 'describe':
        return {
          id,
          type,
          deadlineMs,
          body: {
            nonce: bytes(body, 'nonce', 'describe', MAX_NONCE_BYTES),
            userData: optionalBytes(body, 'userData', 'describe', MAX_ATTESTATION_FIELD_BYTES),
            publicKey: optionalBytes(body, 'publicKey', 'describe', MAX_ATTESTATION_FIELD_BYTES),
          },
        };
      case 'pack':
        return { id, type, deadlineMs, body: parsePackBody(body, maxRequestBytes) };
      default:
        throw new EnclaveProtocolError('UNKNOWN_TYPE', `unknown request type '${type.slice(0, 64)}'`);
    }
  } catch (e) {
    if (e instanceof EnclaveProtocolError) Object.assign(e, { requestId: id });
    throw e;
  }
}

/** The request id attached by parseRequest to its errors, when it could be read. */
export function requestIdOf(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'requestId' in error && typeof error.requestId === 'string') return error.requestId;
  return undefined;
}

function parseResponseBody(type: RequestType, b: Record<string, unknown>): ResponseBodies[RequestType] {
  switch (type) {
    case 'health': {
      const nsm = b.nsm;
      if (nsm !== 'hardware' && nsm !== 'simulated' && nsm !== 'none') bad('health.nsm is invalid');
      if (b.status !== 'ok' || typeof b.protocolVersion !== 'number' || typeof b.uptimeMs !== 'number' || typeof b.packHandler !== 'boolean') {
        bad('health response is malformed');
      }
      return { status: 'ok', protocolVersion: b.protocolVersion, nsm, packHandler: b.packHandler, uptimeMs: b.uptimeMs };
    }
    case 'describe': {
      const nsm = b.nsm;
      if (nsm !== 'hardware' && nsm !== 'simulated') bad('describe.nsm is invalid');
      return { attestation: bytes(b, 'attestation', 'describe', 64 * 1024), nsm };
    }
    case 'pack':
      return {
        artifact: bytes(b, 'artifact', 'pack', DEFAULT_MAX_FRAME_BYTES),
        receipt: bytes(b, 'receipt', 'pack', DEFAULT_MAX_FRAME_BYTES),
        commit: text(b, 'commit', 'pack', 64),
      };
  }
}

/** Validate a decoded response (client side). */
export function parseResponse(value: unknown): Response {
  if (!isRecord(value)) bad('response must be a map');
  const id = requestId(value);
  if (value.ok === false) {
    const err = value.error;
    if (!isRecord(err)) bad('response.error must be a map');
    const code = isEnclaveErrorCode(err.code) ? err.code : 'INTERNAL';
    const message = typeof err.message === 'string' ? err.message.slice(0, 4096) : 'no message';
    const wire: WireError = { code, message };
    if (typeof err.detail === 'string') wire.detail = err.detail.slice(0, 256);
    return { id, ok: false, error: wire };
  }
  if (value.ok !== true) bad('response.ok must be a boolean');
  const type = value.type;
  if (typeof type !== 'string' || !(REQUEST_TYPES as readonly string[]).includes(type)) bad('response.type is invalid');
  const body = value.body;
  if (!isRecord(body)) bad('response.body must be a map');
  return { id, ok: true, type: type as RequestType, body: parseResponseBody(type as RequestType, body) };
}

/** Turn any thrown value into the error a response carries (no stack traces on the wire). */
export function toWireError(e: unknown): WireError {
  if (e instanceof EnclaveProtocolError) {
    return e.detail === undefined ? { code: e.code, message: e.message } : { code: e.code, message: e.message, detail: e.detail };
  }
  return { code: 'INTERNAL', message: 'internal error in the enclave' };
}

// --- outbound tunnel preamble -------------------------------------------------------------
//
// The enclave has no network. Its outbound streams (TLS to KMS) go through a Unix socket
// that socat bridges to the host's egress proxy. Before any TLS byte, the enclave writes one
// line naming where it wants to go; the proxy answers one line, then relays bytes verbatim:
//   enclave → proxy:  "AP-TUNNEL/1 <host> <port>\n"
//   proxy → enclave:  "OK\n"  or  "DENY <reason>\n" (and closes)
// TLS runs inside the enclave end to end, so the proxy sees only ciphertext.

export const TUNNEL_PREAMBLE_MAX_BYTES = 300;
const TUNNEL_HOST = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/;

export function encodeTunnelPreamble(host: string, port: number): string {
  if (!TUNNEL_HOST.test(host) || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new EnclaveProtocolError('MALFORMED_MESSAGE', `tunnel destination ${host.slice(0, 64)}:${port} is not a host name and port`);
  }
  return `AP-TUNNEL/1 ${host} ${port}\n`;
}

/** Parse the preamble line (without its newline); null when it is not a valid preamble. */
export function parseTunnelPreamble(line: string): { host: string; port: number } | null {
  const m = /^AP-TUNNEL\/1 (\S+) ([0-9]{1,5})$/.exec(line);
  if (m === null) return null;
  const host = (m[1] as string).toLowerCase();
  const port = Number(m[2]);
  if (!TUNNEL_HOST.test(host) || port < 1 || port > 65535) return null;
  return { host, port };
}

// --- Unix socket endpoints ----------------------------------------------------------------

/**
 * Both ends listen on Unix sockets (socat bridges vsock to them). Before listening, remove
 * a stale socket file left by a previous run — but never any other kind of file.
 */
export async function removeStaleSocket(socketPath: string): Promise<void> {
  try {
    const st = await fs.lstat(socketPath);
    if (!st.isSocket()) throw new Error(`${socketPath} exists and is not a socket; refusing to replace it`);
    await fs.unlink(socketPath);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

export interface ListeningSocket {
  server: net.Server;
  socketPath: string;
  /** Stop listening and drop open connections at once (close() alone would wait for them). */
  close(): Promise<void>;
}

/** Listen on a Unix socket path (after removeStaleSocket), tracking connections for a prompt close. */
export async function listenOnUnixSocket(server: net.Server, socketPath: string): Promise<ListeningSocket> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await removeStaleSocket(socketPath);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    server,
    socketPath,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
