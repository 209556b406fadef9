// requestGithubActionsIdToken against a local stand-in for the runner's token service:
// the request it makes, and every refusal.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GithubOidcError, MAX_AUDIENCE_LENGTH, MAX_RESPONSE_BYTES, requestGithubActionsIdToken, tokenRequestUrl } from './github-oidc.ts';

const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOmFjbWUvYXBwIn0.c2lnbmF0dXJl';
const seen: Array<{ url: string; authorization: string | undefined }> = [];
/** path → how to answer */
const answers: Record<string, (res: http.ServerResponse) => void> = {
  '/token': (res) => json(res, 200, JSON.stringify({ count: 1, value: JWT })),
  '/forbidden': (res) => json(res, 403, '{"message":"no"}'),
  '/redirect': (res) => {
    res.writeHead(302, { location: '/token' });
    res.end();
  },
  '/big-declared': (res) => json(res, 200, ' '.repeat(MAX_RESPONSE_BYTES + 1)),
  '/big-chunked': (res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    for (let i = 0; i < 5; i++) res.write(' '.repeat(MAX_RESPONSE_BYTES / 4));
    res.end('{}');
  },
  '/not-json': (res) => json(res, 200, '<html>'),
  '/duplicate': (res) => json(res, 200, `{"value":"${JWT}","value":"a.b.c"}`),
  '/bom': (res) => json(res, 200, `\ufeff{"value":"${JWT}"}`),
  '/array': (res) => json(res, 200, `["${JWT}"]`),
  '/no-value': (res) => json(res, 200, '{"token":"x"}'),
  '/not-jwt': (res) => json(res, 200, '{"value":"not a jwt"}'),
  '/number': (res) => json(res, 200, '{"value":42}'),
};
function json(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

let server: http.Server;
let base: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    seen.push({ url: req.url ?? '', authorization: req.headers.authorization });
    (answers[url.pathname] ?? ((r) => json(r, 404, '{}')))(res);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((done) => server.close(() => done())));

const env = (path: string, token = 'runner-request-token'): NodeJS.ProcessEnv => ({
  ACTIONS_ID_TOKEN_REQUEST_URL: `${base}${path}?api-version=2.0`,
  ACTIONS_ID_TOKEN_REQUEST_TOKEN: token,
});

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof GithubOidcError) return e.code;
    throw e;
  }
  return 'no error';
}

describe('requestGithubActionsIdToken', () => {
  it('GETs the URL with &audience=<urlencoded> and "bearer <token>", returns the JWT', async () => {
    const token = await requestGithubActionsIdToken('attested-pack:ab/cd+ef', env('/token'));
    expect(token).toBe(JWT);
    const last = seen.at(-1);
    expect(last?.url).toBe('/token?api-version=2.0&audience=attested-pack%3Aab%2Fcd%2Bef');
    expect(last?.authorization).toBe('bearer runner-request-token');
  });

  it('builds the URL with ? when the service URL has no query', () => {
    expect(tokenRequestUrl('https://runner.example/token', 'aud').href).toBe('https://runner.example/token?audience=aud');
  });

  it('OIDC_UNAVAILABLE: no variables, empty variables, not a URL, plain http off loopback, audience already named', async () => {
    expect(await codeOf(requestGithubActionsIdToken('aud', {}))).toBe('OIDC_UNAVAILABLE');
    expect(await codeOf(requestGithubActionsIdToken('aud', { ...env('/token'), ACTIONS_ID_TOKEN_REQUEST_TOKEN: '' }))).toBe('OIDC_UNAVAILABLE');
    expect(await codeOf(requestGithubActionsIdToken('aud', { ...env('/token'), ACTIONS_ID_TOKEN_REQUEST_URL: 'not a url' }))).toBe('OIDC_UNAVAILABLE');
    expect(await codeOf(requestGithubActionsIdToken('aud', { ...env('/token'), ACTIONS_ID_TOKEN_REQUEST_URL: 'http://runner.example/token' }))).toBe('OIDC_UNAVAILABLE');
    expect(await codeOf(requestGithubActionsIdToken('aud', { ...env('/token'), ACTIONS_ID_TOKEN_REQUEST_URL: `${base}/token?audience=x` }))).toBe('OIDC_UNAVAILABLE');
    expect(await codeOf(requestGithubActionsIdToken('aud', { ...env('/token'), ACTIONS_ID_TOKEN_REQUEST_URL: `${base}/token#frag` }))).toBe('OIDC_UNAVAILABLE');
  });

  it('OIDC_BAD_AUDIENCE: empty, too long, spaces or control characters', async () => {
    for (const aud of ['', 'a'.repeat(MAX_AUDIENCE_LENGTH + 1), 'attested pack', 'aud\n', 'äud']) {
      expect(await codeOf(requestGithubActionsIdToken(aud, env('/token'))), JSON.stringify(aud)).toBe('OIDC_BAD_AUDIENCE');
    }
  });

  it('OIDC_REQUEST_FAILED: non-200, redirect, nothing listening', async () => {
    expect(await codeOf(requestGithubActionsIdToken('aud', env('/forbidden')))).toBe('OIDC_REQUEST_FAILED');
    expect(await codeOf(requestGithubActionsIdToken('aud', env('/redirect')))).toBe('OIDC_REQUEST_FAILED');
    const closed = http.createServer();
    await new Promise<void>((done) => closed.listen(0, '127.0.0.1', done));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((done) => closed.close(() => done()));
    expect(await codeOf(requestGithubActionsIdToken('aud', { ...env('/token'), ACTIONS_ID_TOKEN_REQUEST_URL: `http://127.0.0.1:${port}/token` }))).toBe('OIDC_REQUEST_FAILED');
  });

  it('OIDC_BAD_RESPONSE: too large (declared or streamed), not JSON, duplicate member, BOM, not an object, no value, not a JWT', async () => {
    for (const path of ['/big-declared', '/big-chunked', '/not-json', '/duplicate', '/bom', '/array', '/no-value', '/not-jwt', '/number']) {
      expect(await codeOf(requestGithubActionsIdToken('aud', env(path))), path).toBe('OIDC_BAD_RESPONSE');
    }
  });
});
