// The enclave's service: a stream server (Unix socket; socat bridges vsock to it inside
// the image) speaking enclave/protocol.ts. It answers health and describe itself and hands
// pack requests — after the git objects are verified — to a PackHandler, the seam where
// the real pack (SOPS decrypt through KMS, Clef artifact, receipt) plugs in.
import net from 'node:net';
import {
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAX_REQUEST_BYTES,
  EnclaveProtocolError,
  FrameDecoder,
  PROTOCOL_VERSION,
  encodeFrame,
  parseRequest,
  listenOnUnixSocket,
  requestIdOf,
  toWireError,
  type AwsCredentials,
  type ListeningSocket,
  type GitObjectFormat,
  type PackProof,
  type Request,
  type Response,
  type ResponseBodies,
} from './protocol.ts';
import { GitVerificationError, openCommit, type GitSnapshot } from './git/index.ts';
import type { Nsm } from './nsm/nsm.ts';

/** Version of this enclave service, recorded as the builder version in receipts. */
export const SERVICE_VERSION = '0.1.0';

/** The NSM the server attests with (enclave/nsm/nsm.ts): hardware or simulated. */
export type EnclaveNsm = Nsm;

/** What a pack handler receives: inputs whose commit has been recomputed from the objects. */
export interface PackInput {
  identity: string;
  environment: string;
  nonce: Uint8Array;
  /** Commit id computed from the verified objects (equals the requested one). */
  commit: string;
  objectFormat: GitObjectFormat;
  /** Verified read access to the commit's tree (only paths whose objects were sent). */
  tree: GitSnapshot;
  credentials: AwsCredentials;
  region: string;
  options: Record<string, string | number | boolean>;
  /** The caller's proof, unverified: the pack handler's authorizer decides (enclave/authz). */
  proof: PackProof | null;
}

export interface PackContext {
  nsm: EnclaveNsm;
  /** Aborted when the request's deadline passes or the connection goes away. */
  signal: AbortSignal;
  requestId: string;
}

export interface PackOutput {
  artifact: Uint8Array;
  receipt: Uint8Array;
}

/**
 * The pack seam. Throw an EnclaveProtocolError (e.g. PACK_REFUSED with a detail code) to
 * refuse with a reason the host passes on; any other error is reported as INTERNAL without
 * its message, so secrets in messages cannot leak.
 */
export type PackHandler = (input: PackInput, ctx: PackContext) => Promise<PackOutput>;

export interface EnclaveServerEvent {
  event: 'request' | 'response' | 'protocol-error' | 'handler-error';
  requestId?: string;
  type?: string;
  code?: string;
  ms?: number;
}

export interface EnclaveServerOptions {
  /** null = no NSM (health-only, e.g. an image smoke test); describe and pack then fail NSM_UNAVAILABLE. */
  nsm: EnclaveNsm | null;
  packHandler?: PackHandler;
  maxFrameBytes?: number;
  maxRequestBytes?: number;
  /** Requests one connection may have in flight (TOO_MANY_REQUESTS beyond). */
  maxInFlightPerConnection?: number;
  /** Close a connection that sends nothing for this long while holding no requests (ms). */
  idleTimeoutMs?: number;
  /** Structured events (never contains request bodies). */
  log?: (event: EnclaveServerEvent) => void;
}

const startedAt = Date.now();

async function withDeadline<T>(work: (signal: AbortSignal) => Promise<T>, deadlineMs: number, outer: AbortSignal): Promise<T> {
  const controller = new AbortController();
  const onOuter = () => controller.abort(outer.reason);
  outer.addEventListener('abort', onOuter, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new EnclaveProtocolError('DEADLINE_EXCEEDED', `request did not complete within ${deadlineMs} ms`);
      controller.abort(err);
      reject(err);
    }, deadlineMs);
  });
  try {
    return await Promise.race([work(controller.signal), deadline]);
  } finally {
    clearTimeout(timer);
    outer.removeEventListener('abort', onOuter);
  }
}

async function handle(req: Request, opts: EnclaveServerOptions, signal: AbortSignal): Promise<ResponseBodies[Request['type']]> {
  switch (req.type) {
    case 'health':
      return {
        status: 'ok',
        protocolVersion: PROTOCOL_VERSION,
        nsm: opts.nsm?.kind ?? 'none',
        packHandler: opts.packHandler !== undefined,
        uptimeMs: Date.now() - startedAt,
      };
    case 'describe': {
      const nsm = opts.nsm;
      if (nsm === null) throw new EnclaveProtocolError('NSM_UNAVAILABLE', 'this enclave runs without an NSM');
      let attestation: Uint8Array;
      try {
        attestation = await nsm.attest({ nonce: req.body.nonce, userData: req.body.userData ?? null, publicKey: req.body.publicKey ?? null });
      } catch (e) {
        throw new EnclaveProtocolError('NSM_ERROR', `NSM attestation failed: ${(e as Error).message}`);
      }
      return { attestation, nsm: nsm.kind };
    }
    case 'pack': {
      const nsm = opts.nsm;
      if (nsm === null) throw new EnclaveProtocolError('NSM_UNAVAILABLE', 'this enclave runs without an NSM');
      const handler = opts.packHandler;
      if (handler === undefined) throw new EnclaveProtocolError('PACK_UNAVAILABLE', 'no pack handler is installed in this enclave');
      const b = req.body;
      try {
        const tree: GitSnapshot = openCommit({
          objects: b.objects,
          format: b.objectFormat,
          commit: b.commit,
          maxTotalBytes: opts.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES,
        });
        const out = await handler(
        {
          identity: b.identity,
          environment: b.environment,
          nonce: b.nonce,
          commit: tree.commit,
          objectFormat: b.objectFormat,
          tree,
          credentials: b.credentials,
          region: b.region,
          options: b.options,
          proof: b.proof ?? null,
        },
          { nsm, signal, requestId: req.id },
        );
        return { artifact: out.artifact, receipt: out.receipt, commit: tree.commit };
      } catch (e) {
        // The handler reads files lazily, so git refusals can come from inside it too.
        if (e instanceof GitVerificationError) throw new EnclaveProtocolError(e.code, e.message);
        throw e;
      }
    }
  }
}

/** Create the enclave server (not yet listening). */
export function createEnclaveServer(opts: EnclaveServerOptions): net.Server {
  const maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const maxRequestBytes = opts.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
  const maxInFlight = opts.maxInFlightPerConnection ?? 8;
  const log = opts.log ?? (() => {});
  return net.createServer((socket) => {
    const decoder = new FrameDecoder(maxFrameBytes);
    const closed = new AbortController();
    let inFlight = 0;
    socket.setTimeout(opts.idleTimeoutMs ?? 120_000);
    socket.on('timeout', () => {
      if (inFlight === 0) socket.destroy();
    });
    socket.on('close', () => closed.abort(new EnclaveProtocolError('CONNECTION_CLOSED', 'connection closed')));
    socket.on('error', () => {});
    const send = (response: Response) => {
      if (socket.destroyed) return;
      let frame: Uint8Array;
      try {
        frame = encodeFrame(response, maxFrameBytes);
      } catch (e) {
        frame = encodeFrame({ id: response.id, ok: false, error: toWireError(e) } satisfies Response, maxFrameBytes);
      }
      socket.write(frame);
    };
    const fatal = (e: unknown) => {
      const error = toWireError(e);
      log({ event: 'protocol-error', code: error.code });
      // '-' answers no particular request: the stream is unusable and is closed.
      send({ id: '-', ok: false, error });
      socket.end();
      socket.pause();
    };
    const run = (value: unknown) => {
      let req: Request;
      try {
        req = parseRequest(value, maxRequestBytes);
      } catch (e) {
        const id = requestIdOf(e);
        if (id === undefined) return fatal(e);
        log({ event: 'protocol-error', requestId: id, code: toWireError(e).code });
        return send({ id, ok: false, error: toWireError(e) });
      }
      if (inFlight >= maxInFlight) {
        return send({ id: req.id, ok: false, error: { code: 'TOO_MANY_REQUESTS', message: `more than ${maxInFlight} requests in flight on one connection` } });
      }
      inFlight++;
      const started = Date.now();
      log({ event: 'request', requestId: req.id, type: req.type });
      withDeadline((signal) => handle(req, opts, signal), req.deadlineMs, closed.signal)
        .then(
          (body) => {
            log({ event: 'response', requestId: req.id, type: req.type, ms: Date.now() - started });
            send({ id: req.id, ok: true, type: req.type, body } as Response);
          },
          (e: unknown) => {
            const error = toWireError(e);
            log({ event: e instanceof EnclaveProtocolError ? 'response' : 'handler-error', requestId: req.id, type: req.type, code: error.code, ms: Date.now() - started });
            send({ id: req.id, ok: false, error });
          },
        )
        .finally(() => {
          inFlight--;
        });
    };
    socket.on('data', (chunk: Buffer) => {
      let messages: unknown[];
      try {
        messages = decoder.push(chunk);
      } catch (e) {
        return fatal(e);
      }
      for (const m of messages) run(m);
    });
  });
}

export type RunningEnclaveServer = ListeningSocket;

/**
 * Create the server and listen on a Unix socket path. A stale socket file left by a
 * previous run is removed; any other kind of file at that path is refused, not deleted.
 */
export async function startEnclaveServer(socketPath: string, opts: EnclaveServerOptions): Promise<RunningEnclaveServer> {
  return listenOnUnixSocket(createEnclaveServer(opts), socketPath);
}
