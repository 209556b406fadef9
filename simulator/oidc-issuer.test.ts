import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SIMULATED_OIDC_HOST, startOidcIssuer, type SimulatedOidcIssuer } from './oidc-issuer.ts';

let issuer: SimulatedOidcIssuer;
const T0 = Date.UTC(2026, 11, 5, 12, 0, 0);

/** Run openssl with stdin closed; resolves with stdout+stderr, rejects on a non-zero exit. */
function openssl(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('openssl', args, { timeout: 20_000 }, (err, stdout, stderr) => (err === null ? resolve(`${stdout}${stderr}`) : reject(err)));
    child.stdin?.end();
  });
}

interface Reply { status: number; headers: Record<string, unknown>; body: string; peerSubject: string }

/** GET over loopback, verifying the certificate for the public host name against `ca`. */
function get(path: string, opts: { ca?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: issuer.port, path, agent: false, servername: SIMULATED_OIDC_HOST, ca: opts.ca ?? issuer.caPem, headers: opts.headers ?? {},
      checkServerIdentity: (_h, cert) => (cert.subjectaltname?.includes(`DNS:${SIMULATED_OIDC_HOST}`) ? undefined : new Error('wrong name')) }, (res) => {
      const chunks: Buffer[] = [];
      // The socket is detached from the response by 'end'; read the peer certificate now.
      const peerSubject = String((res.socket as TLSSocket).getPeerCertificate(true).issuerCertificate?.subject?.CN ?? '');
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), peerSubject }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function jwks(): Promise<JSONWebKeySet> {
  return JSON.parse((await get('/.well-known/jwks')).body) as JSONWebKeySet;
}

beforeAll(async () => {
  issuer = await startOidcIssuer({ clock: () => T0, currentJob: { sha: 'a'.repeat(40), environment: 'production' } });
}, 30_000);

afterAll(async () => issuer.close());

describe('the SIMULATED issuer over HTTPS', () => {
  it('serves discovery and JWKS with a certificate for its public name, from a SIMULATED CA', async () => {
    expect(issuer.issuerUrl).toBe(`https://${SIMULATED_OIDC_HOST}`);
    expect(new X509Certificate(issuer.caPem).subject).toMatch(/SIMULATED/);
    const conf = await get('/.well-known/openid-configuration');
    expect(conf.status).toBe(200);
    expect(conf.peerSubject).toMatch(/SIMULATED/);
    expect(JSON.parse(conf.body)).toMatchObject({ issuer: issuer.issuerUrl, jwks_uri: issuer.jwksUrl, id_token_signing_alg_values_supported: ['RS256'] });
    const set = await jwks();
    expect(set.keys).toHaveLength(1);
    expect(set.keys[0]).toMatchObject({ kty: 'RSA', kid: issuer.currentKid(), alg: 'RS256', use: 'sig' });
  });

  it('openssl s_client verifies the chain and the host name against the CA', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oidc-ca-'));
    try {
      writeFileSync(join(dir, 'ca.pem'), issuer.caPem);
      const base = ['s_client', '-connect', `127.0.0.1:${issuer.port}`, '-CAfile', join(dir, 'ca.pem'), '-verify_return_error', '-brief'];
      // Asynchronous: the server runs in this process, so a blocking child would deadlock it.
      await expect(openssl([...base, '-servername', SIMULATED_OIDC_HOST, '-verify_hostname', SIMULATED_OIDC_HOST])).resolves.toMatch(/Verification: OK/);
      await expect(openssl([...base, '-verify_ip', '127.0.0.1'])).resolves.toMatch(/Verification: OK/);
      await expect(openssl([...base, '-verify_hostname', 'token.actions.githubusercontent.com'])).rejects.toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is not trusted without its CA', async () => {
    const other = await startOidcIssuer();
    try {
      await expect(get('/.well-known/jwks', { ca: other.caPem })).rejects.toThrow();
    } finally {
      await other.close();
    }
  });

  it('answers 404 for unknown paths', async () => {
    expect((await get('/nope')).status).toBe(404);
  });
});

describe('minted tokens', () => {
  it('carry every GitHub claim and verify with jose against the served JWKS', async () => {
    const token = issuer.mintToken({ aud: 'attested-pack:abc' });
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(await jwks()), { issuer: issuer.issuerUrl, audience: 'attested-pack:abc', algorithms: ['RS256'], currentDate: new Date(T0) });
    expect(protectedHeader).toEqual({ alg: 'RS256', typ: 'JWT', kid: issuer.currentKid() });
    for (const claim of ['iss', 'aud', 'sub', 'ref', 'sha', 'repository', 'repository_id', 'repository_owner', 'repository_owner_id', 'event_name', 'ref_type', 'workflow_ref', 'workflow_sha',
      'job_workflow_ref', 'job_workflow_sha', 'run_id', 'run_number', 'run_attempt', 'actor', 'actor_id', 'environment', 'runner_environment', 'iat', 'nbf', 'exp', 'jti']) {
      expect(payload, claim).toHaveProperty(claim);
    }
    expect(payload).toMatchObject({ sha: 'a'.repeat(40), environment: 'production', sub: 'repo:example-org/payments:environment:production', iat: T0 / 1000, nbf: T0 / 1000, exp: T0 / 1000 + 300 });
  });

  it('claims, job and header are overridable; undefined removes a claim', () => {
    const token = issuer.mintToken({ sha: undefined, ref: 'refs/heads/feature' }, { job: { environment: undefined, event_name: 'pull_request' }, header: { kid: 'other' }, iat: 1000, lifetimeSeconds: 7200 });
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
    expect(payload).not.toHaveProperty('sha');
    expect(payload).not.toHaveProperty('environment');
    expect(payload).toMatchObject({ ref: 'refs/heads/feature', sub: 'repo:example-org/payments:pull_request', iat: 1000, exp: 8200 });
    expect(decodeProtectedHeader(token).kid).toBe('other');
  });

  it('alg none and HS256 (keyed with the public key) are minted for attack tests, and jose refuses them', async () => {
    const set = createLocalJWKSet(await jwks());
    for (const alg of ['none', 'HS256']) {
      const token = issuer.mintToken({}, { header: { alg } });
      expect(decodeProtectedHeader(token).alg).toBe(alg);
      await expect(jwtVerify(token, set, { currentDate: new Date(T0) })).rejects.toThrow();
    }
  });

  it('rotation: a new kid signs and is published next to the old; a removed key stops verifying', async () => {
    const oldKid = issuer.currentKid();
    const oldToken = issuer.mintToken();
    const newKid = issuer.rotateKey();
    const newToken = issuer.mintToken();
    expect(decodeProtectedHeader(newToken).kid).toBe(newKid);
    expect((await jwks()).keys.map((k) => k.kid)).toEqual([oldKid, newKid]);
    issuer.removeKey(oldKid);
    const set = createLocalJWKSet(await jwks());
    await expect(jwtVerify(newToken, set, { currentDate: new Date(T0) })).resolves.toBeDefined();
    await expect(jwtVerify(oldToken, set, { currentDate: new Date(T0) })).rejects.toThrow();
    expect(() => issuer.mintToken({}, { kid: oldKid })).toThrow(/no key/);
  });

  it('ES256 keys', async () => {
    const kid = issuer.rotateKey('ES256');
    const token = issuer.mintToken();
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'ES256', kid });
    await expect(jwtVerify(token, createLocalJWKSet(await jwks()), { algorithms: ['ES256'], currentDate: new Date(T0) })).resolves.toBeDefined();
    issuer.rotateKey('RS256');
  });
});

describe('the runner token endpoint (ACTIONS_ID_TOKEN_REQUEST_URL)', () => {
  it('returns {"value": jwt} for the current job with the requested audience', async () => {
    issuer.setCurrentJob({ ref: 'refs/heads/release', sha: 'b'.repeat(40) });
    const r = await get('/token?audience=attested-pack%3Axyz', { headers: { authorization: `Bearer ${issuer.requestToken}` } });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    const { value } = JSON.parse(r.body) as { value: string };
    const { payload } = await jwtVerify(value, createLocalJWKSet(await jwks()), { audience: 'attested-pack:xyz', currentDate: new Date(T0) });
    expect(payload).toMatchObject({ ref: 'refs/heads/release', sha: 'b'.repeat(40), sub: 'repo:example-org/payments:ref:refs/heads/release' });
  });

  it('defaults the audience to GitHub\'s (https://github.com/<owner>)', async () => {
    const r = await get('/token', { headers: { authorization: `Bearer ${issuer.requestToken}` } });
    const { value } = JSON.parse(r.body) as { value: string };
    const payload = JSON.parse(Buffer.from(value.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
    expect(payload['aud']).toBe('https://github.com/example-org');
  });

  it('refuses a missing or wrong request token (401)', async () => {
    expect((await get('/token?audience=x')).status).toBe(401);
    expect((await get('/token?audience=x', { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
  });

  it('JWKS answers can be overridden (for fetcher refusal tests) and are counted', async () => {
    const before = issuer.jwksRequests();
    issuer.overrideJwks({ status: 500, body: 'boom' });
    expect((await get('/.well-known/jwks')).status).toBe(500);
    issuer.overrideJwks(null);
    expect((await get('/.well-known/jwks')).status).toBe(200);
    expect(issuer.jwksRequests()).toBe(before + 2);
  });
});
