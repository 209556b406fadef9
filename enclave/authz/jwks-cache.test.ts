import { beforeAll, describe, expect, it } from 'vitest';
import { AuthzError } from './errors.ts';
import { JwksCache } from './jwks-cache.ts';
import { parseJwks } from './jwks.ts';
import { ecKey, FakeJwksServer, rsaKey, testPolicy, type TestKey } from './test-support.ts';

const policy = testPolicy(); // github: RS256, jwksMaxAgeSeconds 3600; gitlab: RS256+ES256, 600
const T0 = 1_800_000_000_000;

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(AuthzError);
    return (e as AuthzError).code;
  }
  throw new Error('expected a refusal');
}

let k1: TestKey;
let k2: TestKey;
let ec: TestKey;
beforeAll(() => {
  k1 = rsaKey('k1');
  k2 = rsaKey('k2');
  ec = ecKey('e1');
});

function setup(keys: TestKey[]): { cache: JwksCache; server: FakeJwksServer; clock: { t: number } } {
  const server = new FakeJwksServer(keys);
  const clock = { t: T0 };
  return { cache: new JwksCache({ issuers: policy.issuers, fetch: server.fetch, now: () => clock.t }), server, clock };
}

describe('JwksCache', () => {
  it('fetches once, then serves from cache within the max age; URL and CA come from the policy', async () => {
    const { cache, server, clock } = setup([k1]);
    const key = await cache.getKey('github', 'k1', 'RS256');
    expect(key.type).toBe('public');
    clock.t += 3599_000;
    await cache.getKey('github', 'k1', 'RS256');
    expect(server.calls).toEqual(['https://token.actions.githubusercontent.com/.well-known/jwks']);
  });

  it('passes the issuer CA bundle to the fetcher', async () => {
    let seen = '';
    const cache = new JwksCache({ issuers: policy.issuers, now: () => T0, fetch: async (_u, ca) => { seen = ca; return new TextEncoder().encode(JSON.stringify({ keys: [k1.jwk] })); } });
    await cache.getKey('github', 'k1', 'RS256');
    expect(seen).toBe(policy.issuers[0]!.caBundlePem);
  });

  it('rotation: a new kid is fetched and accepted', async () => {
    const { cache, server, clock } = setup([k1]);
    await cache.getKey('github', 'k1', 'RS256');
    server.serve([k1, k2]);
    clock.t += 31_000;
    await expect(cache.getKey('github', 'k2', 'RS256')).resolves.toBeDefined();
    expect(server.calls).toHaveLength(2);
  });

  it('rotation: a removed key stops working once the max age has passed', async () => {
    const { cache, server, clock } = setup([k1, k2]);
    await cache.getKey('github', 'k1', 'RS256');
    server.serve([k2]);
    clock.t += 3599_000;
    await expect(cache.getKey('github', 'k1', 'RS256')).resolves.toBeDefined(); // still within max age
    clock.t += 1_000;
    expect(await code(cache.getKey('github', 'k1', 'RS256'))).toBe('OIDC_INVALID');
    await expect(cache.getKey('github', 'k2', 'RS256')).resolves.toBeDefined();
  });

  it('never stale on error: a failed fetch after expiry is JWKS_UNAVAILABLE, and stays so', async () => {
    const { cache, server, clock } = setup([k1]);
    await cache.getKey('github', 'k1', 'RS256');
    clock.t += 3600_000;
    server.serve(new Error('connection refused'));
    expect(await code(cache.getKey('github', 'k1', 'RS256'))).toBe('JWKS_UNAVAILABLE');
    expect(await code(cache.getKey('github', 'k1', 'RS256'))).toBe('JWKS_UNAVAILABLE');
    server.serve([k1]);
    await expect(cache.getKey('github', 'k1', 'RS256')).resolves.toBeDefined();
  });

  it('a malformed JWKS after expiry is JWKS_UNAVAILABLE (the old set is not kept)', async () => {
    const { cache, server, clock } = setup([k1]);
    await cache.getKey('github', 'k1', 'RS256');
    clock.t += 3600_000;
    server.serve(new TextEncoder().encode('{"keys": 5}'));
    expect(await code(cache.getKey('github', 'k1', 'RS256'))).toBe('JWKS_UNAVAILABLE');
  });

  it('a clock that goes backwards invalidates the cached set', async () => {
    const { cache, server, clock } = setup([k1]);
    await cache.getKey('github', 'k1', 'RS256');
    clock.t -= 1000;
    await cache.getKey('github', 'k1', 'RS256');
    expect(server.calls).toHaveLength(2);
  });

  it('unknown kid: one refetch, then at most one per 30 s per issuer', async () => {
    const { cache, server, clock } = setup([k1]);
    await cache.getKey('github', 'k1', 'RS256');
    clock.t += 30_000;
    expect(await code(cache.getKey('github', 'nope', 'RS256'))).toBe('OIDC_INVALID'); // refetched
    expect(server.calls).toHaveLength(2);
    for (let i = 0; i < 20; i++) expect(await code(cache.getKey('github', `made-up-${i}`, 'RS256'))).toBe('OIDC_INVALID');
    expect(server.calls).toHaveLength(2); // rate-limited: no amplification
    // The limit is per issuer: gitlab still fetches (its first set, then one unknown-kid refetch).
    expect(await code(cache.getKey('gitlab', 'nope', 'RS256'))).toBe('OIDC_INVALID');
    expect(server.calls).toHaveLength(4);
    clock.t += 30_000;
    server.serve([k1, k2]);
    await expect(cache.getKey('github', 'k2', 'RS256')).resolves.toBeDefined();
    expect(server.calls).toHaveLength(5);
  });

  it('rotation: the first token with a newly published kid is accepted at once (only unknown-kid refetches are rate-limited)', async () => {
    const { cache, server } = setup([k1]);
    await cache.getKey('github', 'k1', 'RS256');
    server.serve([k1, k2]);
    await expect(cache.getKey('github', 'k2', 'RS256')).resolves.toBeDefined();
    expect(server.calls).toHaveLength(2);
  });

  it('unknown kid refetch that fails is JWKS_UNAVAILABLE but keeps the fresh set for known kids', async () => {
    const { cache, server, clock } = setup([k1]);
    await cache.getKey('github', 'k1', 'RS256');
    clock.t += 31_000;
    server.serve(new Error('down'));
    expect(await code(cache.getKey('github', 'k9', 'RS256'))).toBe('JWKS_UNAVAILABLE');
    await expect(cache.getKey('github', 'k1', 'RS256')).resolves.toBeDefined();
  });

  it('concurrent requests share one fetch', async () => {
    const { cache, server } = setup([k1]);
    await Promise.all([cache.getKey('github', 'k1', 'RS256'), cache.getKey('github', 'k1', 'RS256'), cache.getKey('github', 'k1', 'RS256')]);
    expect(server.calls).toHaveLength(1);
  });

  it('refuses an issuer not in the policy, an algorithm the issuer does not allow, a missing kid, a key of the wrong type', async () => {
    const { cache } = setup([k1, ec]);
    expect(await code(cache.getKey('gitea', 'k1', 'RS256'))).toBe('OIDC_ISSUER_UNTRUSTED');
    expect(await code(cache.getKey('github', 'k1', 'ES256'))).toBe('OIDC_INVALID');
    expect(await code(cache.getKey('github', 'k1', 'HS256'))).toBe('OIDC_INVALID');
    expect(await code(cache.getKey('github', 'k1', 'none'))).toBe('OIDC_INVALID');
    expect(await code(cache.getKey('github', undefined, 'RS256'))).toBe('OIDC_INVALID');
    expect(await code(cache.getKey('gitlab', 'e1', 'RS256'))).toBe('OIDC_INVALID'); // EC key used as RS256
    await expect(cache.getKey('gitlab', 'e1', 'ES256')).resolves.toBeDefined();
  });

  it('refuses a JWK whose own alg differs from the token alg', async () => {
    const { cache } = setup([{ ...k1, jwk: { ...k1.jwk, alg: 'RS512' } }]);
    expect(await code(cache.getKey('github', 'k1', 'RS256'))).toBe('OIDC_INVALID');
  });

  it('refuses a key whose members cannot be imported', async () => {
    const { cache } = setup([{ ...ec, jwk: { ...ec.jwk, x: 'AAAA' } }]);
    expect(await code(cache.getKey('gitlab', 'e1', 'ES256'))).toBe('JWKS_UNAVAILABLE');
  });
});

describe('parseJwks (strict)', () => {
  const enc = (v: unknown): Uint8Array => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));
  const refused = (v: unknown, m: RegExp): void => {
    try {
      parseJwks(enc(v));
    } catch (e) {
      expect((e as AuthzError).code).toBe('JWKS_UNAVAILABLE');
      expect((e as Error).message).toMatch(m);
      return;
    }
    throw new Error('expected a refusal');
  };

  it('keeps RSA/EC signing keys; skips encryption keys and other key types', () => {
    const keys = parseJwks(enc({ keys: [k1.jwk, ec.jwk, { ...k2.jwk, use: 'enc' }, { kty: 'OKP', crv: 'Ed25519', x: 'AAAA', kid: 'o' }, { ...k2.jwk, kid: 'ops', key_ops: ['encrypt'] }] }));
    expect(keys.map((k) => k.kid)).toEqual(['k1', 'e1']);
    expect(Object.keys(keys[0]!.members).sort()).toEqual(['e', 'n']);
  });

  it('refusals', () => {
    refused('x'.repeat(64 * 1024 + 1), /larger than/);
    refused('{"keys":[],"keys":[]}', /strict JSON/);
    refused('\ufeff{"keys":[]}', /strict JSON/);
    refused([], /not an object/);
    refused({ keys: [], extra: 1 }, /unknown member/);
    refused({ keys: {} }, /array/);
    refused({ keys: Array.from({ length: 33 }, () => k1.jwk) }, /at most 32/);
    refused({ keys: [5] }, /not an object/);
    refused({ keys: [{ ...k1.jwk, d: 'AAAA' }] }, /private/);
    refused({ keys: [{ kty: 'oct', k: 'c2VjcmV0', kid: 'h' }] }, /private or symmetric|symmetric/);
    refused({ keys: [{ kty: 'oct', kid: 'h' }] }, /symmetric/);
    refused({ keys: [k1.jwk, { ...k2.jwk, kid: 'k1' }] }, /share a kid/);
    refused({ keys: [{ ...k1.jwk, kid: '' }] }, /kid/);
    refused({ keys: [{ ...k1.jwk, n: 'a+b/' }] }, /base64url/);
    refused({ keys: [{ ...ec.jwk, crv: 'P-384' }] }, /P-256/);
    refused({ keys: [{ ...k1.jwk, alg: 5 }] }, /alg must be a string/);
  });
});
