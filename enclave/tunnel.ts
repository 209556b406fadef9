// The enclave's way out: an https.Agent whose connections are Unix-socket streams to the
// outbound tunnel (socat → vsock → host egress proxy), with TLS run *here*, inside the
// enclave, against a pinned CA bundle and SNI = the real service host. The host relays
// ciphertext only. Used as the request handler of @aws-sdk/client-kms.
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { TUNNEL_PREAMBLE_MAX_BYTES, encodeTunnelPreamble } from './protocol.ts';

export interface TunnelOptions {
  /** The tunnel endpoint inside the enclave (Unix socket). */
  socketPath: string;
  /** PEM CA bundle the service certificate must chain to (no system roots are added). */
  caPem: string;
  /** Time allowed for the tunnel handshake and TLS (ms). */
  connectTimeoutMs?: number;
  /** Abandons a connection still in progress (the raw stream is destroyed, never leaked). */
  signal?: AbortSignal;
  /** Connections kept per agent (default 8): as many as KMS calls a pack makes at once. */
  maxSockets?: number;
}

export class TunnelError extends Error {
  readonly code: 'TUNNEL_UNREACHABLE' | 'TUNNEL_DENIED' | 'TUNNEL_PROTOCOL' | 'TUNNEL_TIMEOUT';

  constructor(code: TunnelError['code'], message: string) {
    super(message);
    this.name = 'TunnelError';
    this.code = code;
  }
}

/** Open a tunnel stream to host:port (plaintext stream; wrap it in TLS). */
export function openTunnel(socketPath: string, host: string, port: number, timeoutMs = 10_000): Promise<net.Socket> {
  const preamble = encodeTunnelPreamble(host, port);
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    let reply = Buffer.alloc(0);
    let done = false;
    const fail = (e: TunnelError) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      reject(e);
    };
    const timer = setTimeout(() => fail(new TunnelError('TUNNEL_TIMEOUT', `tunnel to ${host}:${port} did not open in ${timeoutMs} ms`)), timeoutMs);
    socket.once('connect', () => socket.write(preamble));
    socket.on('error', (e: NodeJS.ErrnoException) => fail(new TunnelError('TUNNEL_UNREACHABLE', `tunnel endpoint: ${e.code ?? e.message}`)));
    socket.on('close', () => fail(new TunnelError('TUNNEL_DENIED', `tunnel to ${host}:${port} closed: ${reply.toString('utf8').trim() || 'no reply'}`)));
    const onData = (chunk: Buffer) => {
      reply = Buffer.concat([reply, chunk]);
      const nl = reply.indexOf(0x0a);
      if (nl < 0) {
        if (reply.length > TUNNEL_PREAMBLE_MAX_BYTES) fail(new TunnelError('TUNNEL_PROTOCOL', 'tunnel reply line too long'));
        return;
      }
      const line = reply.toString('utf8', 0, nl);
      if (line !== 'OK') return fail(new TunnelError('TUNNEL_DENIED', `tunnel to ${host}:${port} refused: ${line.slice(0, 200)}`));
      socket.off('data', onData);
      socket.removeAllListeners('close');
      socket.removeAllListeners('error');
      // The proxy sends nothing after OK before the server speaks; anything here is a protocol error.
      if (reply.length > nl + 1) return fail(new TunnelError('TUNNEL_PROTOCOL', 'unexpected bytes after the tunnel reply'));
      done = true;
      clearTimeout(timer);
      resolve(socket);
    };
    socket.on('data', onData);
  });
}

/** TLS over a tunnel stream, verified against the pinned CA; SNI only for host names. */
export function connectTlsThroughTunnel(opts: TunnelOptions, host: string, port: number): Promise<tls.TLSSocket> {
  return openTunnel(opts.socketPath, host, port, opts.connectTimeoutMs).then(
    (raw) =>
      new Promise<tls.TLSSocket>((resolve, reject) => {
        const secure = tls.connect({
          socket: raw,
          host,
          ...(net.isIP(host) === 0 ? { servername: host } : {}),
          ca: opts.caPem,
          rejectUnauthorized: true,
          minVersion: 'TLSv1.2',
          ALPNProtocols: ['http/1.1'],
        });
        const onAbort = () => secure.destroy(new TunnelError('TUNNEL_TIMEOUT', `TLS to ${host}:${port} abandoned`));
        if (opts.signal?.aborted === true) onAbort();
        opts.signal?.addEventListener('abort', onAbort, { once: true });
        secure.once('secureConnect', () => {
          opts.signal?.removeEventListener('abort', onAbort);
          resolve(secure);
        });
        secure.once('error', (e) => {
          opts.signal?.removeEventListener('abort', onAbort);
          raw.destroy();
          reject(e);
        });
      }),
  );
}

/** An https.Agent whose sockets are TLS-over-tunnel streams. */
export function createTunnelAgent(opts: TunnelOptions): https.Agent {
  const agent = new https.Agent({ keepAlive: true, maxSockets: opts.maxSockets ?? 8 });
  // Node's Agent accepts a stream through this callback (http.Agent#createConnection).
  (agent as unknown as {
    createConnection: (o: { host?: string; hostname?: string; port?: number | string }, cb: (err: Error | null, s?: Duplex) => void) => undefined;
  }).createConnection = (o, cb) => {
    const host = o.hostname ?? o.host ?? 'localhost';
    const port = Number(o.port ?? 443);
    connectTlsThroughTunnel(opts, host, port).then(
      (s) => cb(null, s),
      (e: Error) => cb(e),
    );
    return undefined;
  };
  return agent;
}

/** The request handler to give @aws-sdk/client-kms (`new KMSClient({ requestHandler })`). */
export function createTunnelHttpHandler(opts: TunnelOptions & { requestTimeoutMs?: number }): NodeHttpHandler {
  return new NodeHttpHandler({
    httpsAgent: createTunnelAgent(opts),
    connectionTimeout: opts.connectTimeoutMs ?? 10_000,
    requestTimeout: opts.requestTimeoutMs ?? 30_000,
  });
}
