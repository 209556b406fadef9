import { createHmac } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { packRequestHash } from '../../verifier/pack-request.ts';
import { AuthzError } from './errors.ts';
import { JwksCache } from './jwks-cache.ts';
import { verifyOidcToken } from './oidc.ts';
import { b64url, ecKey, FakeJwksServer, githubClaims, gitlabClaims, mint, NOW_MS, NOW_S, request, rsaKey, testPolicy, type TestKey } from './test-support.ts';

const policy = testPolicy(); // github: maxTokenLifetimeSeconds 3600, skew 60; gitlab: 7200, 30
let key: TestKey;
let attacker: TestKey;
let ec: TestKey;
let server: FakeJwksServer;
let cache: JwksCache;
const hash = packRequestHash(request());

beforeAll(() => {
  key = rsaKey('gh-1');
  attacker = rsaKey('gh-1'); // same kid, different key
  ec = ecKey('gl-ec');
  server = new FakeJwksServer([key, ec]);
  cache = new JwksCache({ issuers: policy.issuers, fetch: server.fetch, now: () => NOW_MS, unknownKidRefetchMs: 0 });
});

const verify = (token: string, requestHash = hash, now = NOW_MS) => verifyOidcToken({ token, policy, jwks: cache, requestHash, now: () => now });

async function refusal(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(AuthzError);
    return { code: (e as AuthzError).code, message: (e as Error).message };
  }
  throw new Error('expected a refusal');
}

function unsigned(header: Record<string, unknown>, claims: Record<string, unknown>, sig = 'AAAA'): string {
  return `${b64url(header)}.${b64url(claims)}.${sig}`;
}

describe('verifyOidcToken', () => {
  it('accepts a good GitHub token and returns the issuer, claims and iat', async () => {
    const v = await verify(await mint(githubClaims(), key));
    expect(v.issuer.id).toBe('github');
    expect(v.issuedAt).toBe(NOW_S - 60);
    expect(v.claims.repository_id).toBe('123456');
  });

  it('accepts ES256 where the issuer allows it (GitLab), and a one-element aud array', async () => {
    const v = await verify(await mint(gitlabClaims({ aud: [`attested-pack:${hash}`] }), ec, 'ES256'));
    expect(v.issuer.id).toBe('gitlab');
  });

  it('alg none is refused by name (with or without a signature part)', async () => {
    const r = await refusal(verify(unsigned({ alg: 'none', typ: 'JWT' }, githubClaims())));
    expect(r).toMatchObject({ code: 'OIDC_INVALID' });
    expect(r.message).toMatch(/algorithm "none" is not allowed/);
    expect((await refusal(verify(`${b64url({ alg: 'none' })}.${b64url(githubClaims())}.`))).code).toBe('OIDC_INVALID');
  });

  it('HS256 signed with the RSA public key as HMAC secret (key confusion) is refused', async () => {
    const secret = key.publicKey.export({ format: 'pem', type: 'spki' });
    const head = b64url({ alg: 'HS256', typ: 'JWT', kid: 'gh-1' });
    const body = b64url(githubClaims());
    const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
    const r = await refusal(verify(`${head}.${body}.${sig}`));
    expect(r.code).toBe('OIDC_INVALID');
    expect(r.message).toMatch(/"HS256" is not allowed/);
  });

  it('ES256 is refused for an issuer that allows only RS256', async () => {
    expect((await refusal(verify(await mint(githubClaims(), ec, 'ES256')))).code).toBe('OIDC_INVALID');
  });

  it('a token signed by a key not in the JWKS (same kid) is refused', async () => {
    const r = await refusal(verify(await mint(githubClaims(), attacker)));
    expect(r.code).toBe('OIDC_INVALID');
    expect(r.message).toMatch(/signature does not verify/);
  });

  it('a token with an unknown kid is refused', async () => {
    expect((await refusal(verify(await mint(githubClaims(), rsaKey('other'))))).code).toBe('OIDC_INVALID');
  });

  it('jku / x5u / jwk headers pointing at an attacker key set are ignored', async () => {
    const evil = rsaKey('gh-1');
    const calls = server.calls.length;
    const token = await mint(githubClaims(), evil, 'RS256', { jku: 'https://evil.example/jwks', x5u: 'https://evil.example/cert', jwk: evil.jwk });
    expect((await refusal(verify(token))).code).toBe('OIDC_INVALID');
    expect(server.calls.slice(calls).every((u) => !u.includes('evil'))).toBe(true);
    // ... and a genuine token carrying a jku header still verifies against the policy's JWKS only.
    await expect(verify(await mint(githubClaims(), key, 'RS256', { jku: 'https://evil.example/jwks' }))).resolves.toBeDefined();
  });

  it('expired, not yet valid, issued in the future', async () => {
    expect((await refusal(verify(await mint(githubClaims({ exp: NOW_S - 61, iat: NOW_S - 600 }), key)))).code).toBe('OIDC_EXPIRED');
    expect((await refusal(verify(await mint(githubClaims({ nbf: NOW_S + 120 }), key)))).code).toBe('OIDC_EXPIRED');
    expect((await refusal(verify(await mint(githubClaims({ iat: NOW_S + 120, nbf: undefined, exp: NOW_S + 300 }), key)))).code).toBe('OIDC_EXPIRED');
    // Within the 60 s skew: accepted.
    await expect(verify(await mint(githubClaims({ exp: NOW_S - 30 }), key))).resolves.toBeDefined();
  });

  it('iat or exp missing, exp − iat over the cap, exp not after iat, nbf not a number', async () => {
    expect((await refusal(verify(await mint(githubClaims({ iat: undefined }), key)))).message).toMatch(/"iat"/);
    expect((await refusal(verify(await mint(githubClaims({ exp: undefined }), key)))).message).toMatch(/"exp"/);
    const long = await refusal(verify(await mint(githubClaims({ iat: NOW_S - 60, exp: NOW_S - 60 + 3601 }), key)));
    expect(long).toMatchObject({ code: 'OIDC_INVALID' });
    expect(long.message).toMatch(/lifetime 3601 s exceeds/);
    expect((await refusal(verify(await mint(githubClaims({ iat: NOW_S, exp: NOW_S }), key)))).code).toBe('OIDC_INVALID');
    expect((await refusal(verify(await mint(githubClaims({ nbf: 'soon' as unknown as number }), key)))).code).toBe('OIDC_INVALID');
  });

  it('wrong or missing iss', async () => {
    expect((await refusal(verify(await mint(githubClaims({ iss: 'https://token.actions.githubusercontent.com/' }), key)))).code).toBe('OIDC_ISSUER_UNTRUSTED');
    expect((await refusal(verify(await mint(githubClaims({ iss: 'https://evil.example' }), key)))).code).toBe('OIDC_ISSUER_UNTRUSTED');
    expect((await refusal(verify(await mint(githubClaims({ iss: undefined }), key)))).code).toBe('OIDC_INVALID');
  });

  it('wrong aud, aud with another request hash, aud arrays', async () => {
    expect((await refusal(verify(await mint(githubClaims({ aud: 'sts.amazonaws.com' }), key)))).code).toBe('OIDC_INVALID');
    expect((await refusal(verify(await mint(githubClaims({ aud: `other-prefix:${hash}` }), key)))).code).toBe('OIDC_INVALID');
    expect((await refusal(verify(await mint(githubClaims({ aud: undefined }), key)))).code).toBe('OIDC_INVALID');
    const other = packRequestHash(request({ identity: 'web' }));
    expect((await refusal(verify(await mint(githubClaims({ aud: `attested-pack:${other}` }), key)))).code).toBe('OIDC_REQUEST_MISMATCH');
    expect((await refusal(verify(await mint(githubClaims(), key), packRequestHash(request({ environment: 'dev' }))))).code).toBe('OIDC_REQUEST_MISMATCH');
    expect((await refusal(verify(await mint(githubClaims({ aud: [`attested-pack:${hash}`, 'other'] }), key)))).code).toBe('OIDC_INVALID');
    expect((await refusal(verify(await mint(githubClaims({ aud: [] }), key)))).code).toBe('OIDC_INVALID');
  });

  it('malformed tokens', async () => {
    expect((await refusal(verify('not a jwt'))).code).toBe('OIDC_INVALID');
    expect((await refusal(verify('x'.repeat(16 * 1024 + 1)))).code).toBe('OIDC_INVALID');
    expect((await refusal(verify(unsigned({ alg: 'RS256' }, [] as unknown as Record<string, unknown>)))).message).toMatch(/not a JSON object/);
    // Duplicate claim names: JSON.parse would keep the last one; we refuse the token.
    const dup = `${b64url({ alg: 'RS256', kid: 'gh-1' })}.${b64url(`{"iss":"${githubClaims().iss}","sha":"a","sha":"b"}`)}.AAAA`;
    expect((await refusal(verify(dup))).message).toMatch(/not strict JSON/);
    expect((await refusal(verify(unsigned({ alg: 'RS256', kid: 'gh-1', crit: ['x'], x: 1 }, githubClaims())))).message).toMatch(/"crit" is not supported/);
    expect((await refusal(verify(unsigned({ alg: 'RS256', kid: 'gh-1', b64: false }, githubClaims())))).message).toMatch(/"b64"/);
  });

  it('an RSA key under 2048 bits in the JWKS cannot verify tokens', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const weak: TestKey = { kid: 'weak', ...small, jwk: { ...small.publicKey.export({ format: 'jwk' }), kid: 'weak' } };
    const srv = new FakeJwksServer([weak]);
    const c = new JwksCache({ issuers: policy.issuers, fetch: srv.fetch, now: () => NOW_MS });
    // jose will not even sign with it; sign by hand.
    const input = `${b64url({ alg: 'RS256', kid: 'weak' })}.${b64url(githubClaims())}`;
    const { sign } = await import('node:crypto');
    const token = `${input}.${sign('sha256', Buffer.from(input), small.privateKey).toString('base64url')}`;
    const r = await refusal(verifyOidcToken({ token, policy, jwks: c, requestHash: hash, now: () => NOW_MS }));
    expect(r.code).toBe('OIDC_INVALID');
    expect(r.message).toMatch(/2048/);
  });

  it('a tampered payload does not verify', async () => {
    const [h, , s] = (await mint(githubClaims(), key)).split('.');
    expect((await refusal(verify(`${h}.${b64url(githubClaims({ ref: 'refs/heads/evil' }))}.${s}`))).message).toMatch(/signature does not verify/);
  });
});
