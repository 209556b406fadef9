// The enclave's JWKS fetcher end to end: host egress proxy (allowlist mapping the issuer's
// public name to the SIMULATED issuer on loopback) + TLS in the "enclave" against the
// pinned CA. In test/ because it joins enclave/, host/ and simulator/.
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEgressProxy, parseEgressRule, type RunningEgressProxy } from '../host/egress.ts';
import { createTunnelJwksFetcher, JWKS_MAX_BODY_BYTES } from '../enclave/authz/jwks-fetch.ts';
import { AuthzEdgeError } from '../enclave/authz/edge-error.ts';
import { SIMULATED_OIDC_HOST, startOidcIssuer, type SimulatedOidcIssuer } from '../simulator/oidc-issuer.ts';

let dir: string;
let issuer: SimulatedOidcIssuer;
let impostor: SimulatedOidcIssuer;
let silent: net.Server;
const silentSockets: net.Socket[] = [];
let silentClosed = 0;
const proxies: RunningEgressProxy[] = [];

/** An egress proxy whose allowlist maps the issuer host to `port` on loopback. */
async function egressTo(name: string, port: number): Promise<string> {
  const socketPath = join(dir, `${name}.sock`);
  proxies.push(await startEgressProxy(socketPath, { allow: [parseEgressRule(`${SIMULATED_OIDC_HOST}:443=127.0.0.1:${port}`)] }));
  return socketPath;
}

async function refusal(p: Promise<unknown>): Promise<AuthzEdgeError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(AuthzEdgeError);
    expect((e as AuthzEdgeError).code).toBe('JWKS_UNAVAILABLE');
    return e as AuthzEdgeError;
  }
  throw new Error('expected JWKS_UNAVAILABLE');
}

let tunnel: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'jwks-fetch-'));
  issuer = await startOidcIssuer();
  // The host answering in the issuer's place: same name, its own (not the pinned) CA.
  impostor = await startOidcIssuer();
  silent = net.createServer((s) => { // accepts, never speaks TLS
    silentSockets.push(s);
    s.on('close', () => silentClosed++);
    s.on('error', () => {});
    s.resume();
  });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
  tunnel = await egressTo('issuer', issuer.port);
}, 60_000);

afterAll(async () => {
  issuer.overrideJwks(null);
  for (const p of proxies) await p.close();
  await issuer.close();
  await impostor.close();
  for (const s of silentSockets) s.destroy();
  await new Promise<void>((r) => silent.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

describe('createTunnelJwksFetcher', () => {
  it('fetches the JWKS through the egress tunnel with TLS against the pinned CA', async () => {
    const fetcher = createTunnelJwksFetcher({ tunnelSocket: tunnel });
    const body = await fetcher(issuer.jwksUrl, issuer.caPem);
    const jwks = JSON.parse(Buffer.from(body).toString('utf8')) as { keys: { kid: string }[] };
    expect(jwks.keys.map((k) => k.kid)).toEqual([issuer.currentKid()]);
  });

  it('refuses a JWKS served by the host (certificate not from the pinned CA)', async () => {
    const fetcher = createTunnelJwksFetcher({ tunnelSocket: await egressTo('impostor', impostor.port) });
    const e = await refusal(fetcher(issuer.jwksUrl, issuer.caPem));
    expect(e.message).toMatch(/certificate|SELF_SIGNED|UNABLE_TO_VERIFY/i);
    // The impostor's own CA would have worked: the refusal is the pin, not the plumbing.
    await expect(fetcher(issuer.jwksUrl, impostor.caPem)).resolves.toBeInstanceOf(Uint8Array);
  });

  it('refuses redirects, non-200 answers, non-JSON content types and oversized bodies', async () => {
    const fetcher = createTunnelJwksFetcher({ tunnelSocket: tunnel });
    const cases: [Parameters<SimulatedOidcIssuer['overrideJwks']>[0], RegExp][] = [
      [{ status: 302, headers: { location: 'https://evil.example/jwks', 'content-type': 'application/json' } }, /302 \(redirects are not followed\)/],
      [{ status: 500, body: '{}' }, /answered 500/],
      [{ status: 200, headers: { 'content-type': 'text/html' }, body: '{"keys":[]}' }, /content type is 'text\/html'/],
      [{ status: 200, headers: { 'content-type': 'application/json' }, body: 'x'.repeat(JWKS_MAX_BODY_BYTES + 1) }, /exceeds/],
      [{ status: 200, headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, body: 'y'.repeat(JWKS_MAX_BODY_BYTES * 2) }, /exceeds/],
    ];
    try {
      for (const [override, message] of cases) {
        issuer.overrideJwks(override);
        expect((await refusal(fetcher(issuer.jwksUrl, issuer.caPem))).message).toMatch(message);
      }
    } finally {
      issuer.overrideJwks(null);
    }
  });

  it('refuses when the issuer never answers (deadline)', async () => {
    const address = silent.address() as net.AddressInfo;
    const fetcher = createTunnelJwksFetcher({ tunnelSocket: await egressTo('silent', address.port), timeoutMs: 500 });
    expect((await refusal(fetcher(issuer.jwksUrl, issuer.caPem))).message).toMatch(/did not finish in 500 ms/);
    // The abandoned TLS attempt is torn down: the silent server sees its connection close.
    await expect.poll(() => silentSockets.length > 0 && silentClosed === silentSockets.length, { timeout: 5000 }).toBe(true);
  });

  it('refuses a destination the host does not allow (tunnel denied)', async () => {
    const fetcher = createTunnelJwksFetcher({ tunnelSocket: tunnel });
    expect((await refusal(fetcher('https://token.actions.githubusercontent.com/.well-known/jwks', issuer.caPem))).message).toMatch(/TUNNEL_DENIED/);
  });

  it('refuses non-https URLs, credentials, and an empty or broken CA bundle (never the system roots)', async () => {
    const fetcher = createTunnelJwksFetcher({ tunnelSocket: tunnel });
    await refusal(fetcher(`http://${SIMULATED_OIDC_HOST}/.well-known/jwks`, issuer.caPem));
    await refusal(fetcher(`https://user:pw@${SIMULATED_OIDC_HOST}/.well-known/jwks`, issuer.caPem));
    await refusal(fetcher('not a url', issuer.caPem));
    expect((await refusal(fetcher(issuer.jwksUrl, ''))).message).toMatch(/no certificate/);
    await refusal(fetcher(issuer.jwksUrl, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'));
  });
});
