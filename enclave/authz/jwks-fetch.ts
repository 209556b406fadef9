// Fetch an issuer's JWKS from inside the enclave: one HTTPS GET through the outbound tunnel
// (enclave/tunnel.ts), TLS terminating here against the trust policy's CA bundle only (never
// the system roots) with SNI = the URL's host, so the host relays ciphertext and cannot
// answer in the issuer's place. Deliberately small and strict: https only, no redirects
// (a 3xx is an error, not a hint), 200 only, a JSON content type, a bounded body and an
// overall deadline. Parsing the JWKS is the cache's job (jwks-cache.ts); this returns bytes.
import http from 'node:http';
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { connectTlsThroughTunnel } from '../tunnel.ts';
import { AuthzEdgeError, edgeFail } from './edge-error.ts';

export const JWKS_MAX_BODY_BYTES = 64 * 1024;
export const JWKS_FETCH_TIMEOUT_MS = 10_000;
const JSON_TYPES = new Set(['application/json', 'application/jwk-set+json']);

export interface TunnelJwksFetcherOptions {
  /** The enclave's outbound tunnel endpoint (Unix socket). */
  tunnelSocket: string;
  /** Deadline for tunnel, TLS, request and body together (ms). */
  timeoutMs?: number;
}

export type JwksFetcher = (url: string, caBundlePem: string) => Promise<Uint8Array>;

/** The URL parts we allow: https, a host, optional port, path and query; nothing else. */
function checkUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return edgeFail('JWKS_UNAVAILABLE', 'the JWKS URL is not a URL');
  }
  if (u.protocol !== 'https:') edgeFail('JWKS_UNAVAILABLE', `the JWKS URL must be https, not ${u.protocol}`);
  if (u.username !== '' || u.password !== '' || u.hash !== '') edgeFail('JWKS_UNAVAILABLE', 'the JWKS URL must not carry credentials or a fragment');
  return u;
}

/** At least one certificate, every PEM block parseable: an empty bundle must never mean "system roots". */
function checkCaBundle(pem: string): void {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) edgeFail('JWKS_UNAVAILABLE', 'the issuer CA bundle holds no certificate');
  for (const b of blocks) {
    try {
      new X509Certificate(b);
    } catch {
      edgeFail('JWKS_UNAVAILABLE', 'the issuer CA bundle holds an unparsable certificate');
    }
  }
}

function contentTypeIsJson(header: string | undefined): boolean {
  const type = (header ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  return JSON_TYPES.has(type);
}

/** One GET over an established TLS stream; resolves with the body or rejects with a reason. */
function getOverSocket(socket: TLSSocket, u: URL): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      method: 'GET',
      path: `${u.pathname}${u.search}`,
      headers: { host: u.host, accept: 'application/json', 'user-agent': 'attested-pack-enclave' },
      createConnection: () => socket,
    }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400) return reject(new AuthzEdgeError('JWKS_UNAVAILABLE', `the JWKS URL answered ${status} (redirects are not followed)`));
      if (status !== 200) return reject(new AuthzEdgeError('JWKS_UNAVAILABLE', `the JWKS URL answered ${status}`));
      if (!contentTypeIsJson(res.headers['content-type'])) return reject(new AuthzEdgeError('JWKS_UNAVAILABLE', `the JWKS content type is '${String(res.headers['content-type'] ?? '').slice(0, 64)}', not JSON`));
      const declared = Number(res.headers['content-length'] ?? 0);
      if (declared > JWKS_MAX_BODY_BYTES) return reject(new AuthzEdgeError('JWKS_UNAVAILABLE', `the JWKS body (${declared} bytes) exceeds ${JWKS_MAX_BODY_BYTES}`));
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > JWKS_MAX_BODY_BYTES) {
          reject(new AuthzEdgeError('JWKS_UNAVAILABLE', `the JWKS body exceeds ${JWKS_MAX_BODY_BYTES} bytes`));
          res.destroy();
        } else chunks.push(c);
      });
      res.on('end', () => resolve(new Uint8Array(Buffer.concat(chunks))));
      res.on('error', (e) => reject(e));
    });
    req.on('error', reject);
    req.end();
  });
}

function asUnavailable(e: unknown, host: string): AuthzEdgeError {
  if (e instanceof AuthzEdgeError) return e;
  const err = e as NodeJS.ErrnoException;
  // TLS verification failures carry OpenSSL's reason (e.g. UNABLE_TO_VERIFY_LEAF_SIGNATURE).
  return new AuthzEdgeError('JWKS_UNAVAILABLE', `cannot fetch the JWKS from ${host}: ${err.code ?? 'error'}: ${err.message}`.slice(0, 300));
}

/** A fetcher for JwksCache that goes through the enclave's tunnel with TLS in the enclave. */
export function createTunnelJwksFetcher(opts: TunnelJwksFetcherOptions): JwksFetcher {
  const timeoutMs = opts.timeoutMs ?? JWKS_FETCH_TIMEOUT_MS;
  return async (url, caBundlePem) => {
    const u = checkUrl(url);
    checkCaBundle(caBundlePem);
    const port = u.port === '' ? 443 : Number(u.port);
    let socket: TLSSocket | undefined;
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const abandon = new AbortController();
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        abandon.abort();
        reject(new AuthzEdgeError('JWKS_UNAVAILABLE', `the JWKS fetch from ${u.hostname} did not finish in ${timeoutMs} ms`));
      }, timeoutMs);
    });
    try {
      const work = connectTlsThroughTunnel({ socketPath: opts.tunnelSocket, caPem: caBundlePem, connectTimeoutMs: timeoutMs, signal: abandon.signal }, u.hostname, port).then((s) => {
        socket = s;
        if (settled) s.destroy(); // the deadline passed while connecting
        return getOverSocket(s, u);
      });
      work.catch(() => {}); // a late failure after the deadline is already reported
      return await Promise.race([work, deadline]);
    } catch (e) {
      throw asUnavailable(e, u.hostname);
    } finally {
      settled = true;
      abandon.abort();
      clearTimeout(timer);
      socket?.destroy();
    }
  };
}
