// Calls the enclave over its stream endpoint (a Unix socket; in production socat bridges it
// to vsock). One connection per request keeps failures independent: a confused stream can
// only ever fail the request it carried.
import net from 'node:net';
import { randomUUID } from 'node:crypto';
import {
  DEFAULT_MAX_FRAME_BYTES,
  EnclaveProtocolError,
  FrameDecoder,
  encodeFrame,
  parseResponse,
  type RequestBodies,
  type RequestType,
  type ResponseBodies,
} from '../enclave/protocol.ts';

export type EnclaveEndpoint = { socketPath: string } | { host: string; port: number };

export interface EnclaveCallOptions {
  /** Budget for the whole call; also sent to the enclave as the request's deadline. */
  deadlineMs: number;
  maxFrameBytes?: number;
  signal?: AbortSignal;
  requestId?: string;
}

export async function callEnclave<T extends RequestType>(
  endpoint: EnclaveEndpoint,
  type: T,
  body: RequestBodies[T],
  opts: EnclaveCallOptions,
): Promise<ResponseBodies[T]> {
  const id = opts.requestId ?? randomUUID();
  const frame = encodeFrame({ id, type, deadlineMs: opts.deadlineMs, body }, opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES);
  return new Promise<ResponseBodies[T]>((resolve, reject) => {
    const socket = 'socketPath' in endpoint ? net.connect(endpoint.socketPath) : net.connect(endpoint.port, endpoint.host);
    const decoder = new FrameDecoder(opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES);
    let connected = false;
    let settled = false;
    const finish = (err: Error | null, value?: ResponseBodies[T]) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      if (err !== null) reject(err);
      else resolve(value as ResponseBodies[T]);
    };
    // A little grace over the enclave's own deadline so its DEADLINE_EXCEEDED answer wins.
    const timer = setTimeout(
      () => finish(new EnclaveProtocolError('DEADLINE_EXCEEDED', `no answer from the enclave within ${opts.deadlineMs} ms`)),
      opts.deadlineMs + 250,
    );
    // The caller's reason wins when it is a protocol error (e.g. its own DEADLINE_EXCEEDED).
    const onAbort = () => {
      const reason: unknown = opts.signal?.reason;
      finish(reason instanceof EnclaveProtocolError ? reason : new EnclaveProtocolError('CONNECTION_CLOSED', 'the call was cancelled'));
    };
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('connect', () => {
      connected = true;
      socket.write(frame);
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      finish(
        connected
          ? new EnclaveProtocolError('CONNECTION_CLOSED', `connection to the enclave failed: ${e.code ?? e.message}`)
          : new EnclaveProtocolError('ENCLAVE_UNREACHABLE', `cannot connect to the enclave: ${e.code ?? e.message}`),
      );
    });
    socket.on('close', () => finish(new EnclaveProtocolError('CONNECTION_CLOSED', 'the enclave closed the connection without answering')));
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const value of decoder.push(chunk)) {
          const res = parseResponse(value);
          if (res.id !== id && res.id !== '-') continue;
          if (!res.ok) return finish(new EnclaveProtocolError(res.error.code, res.error.message, res.error.detail));
          if (res.type !== type) return finish(new EnclaveProtocolError('MALFORMED_MESSAGE', `asked ${type}, got a ${res.type} answer`));
          return finish(null, res.body as ResponseBodies[T]);
        }
      } catch (e) {
        finish(e instanceof Error ? e : new Error(String(e)));
      }
    });
  });
}
