// GitHub Actions OIDC tokens at the host (the first gate; the enclave decides), with a
// locally generated JWKS: valid, expired, no exp, wrong issuer, audience without the
// request-hash suffix, foreign key, unmapped repository id, renamed repository, out-of-scope
// environment; the token is forwarded to the enclave as the pack's proof.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAuthenticator } from '../host/auth.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import type { PackHandler } from '../enclave/server.ts';
import { collectGitObjects } from '../cli/pack-client/git-objects.ts';
import { makeGitRepo } from './enclave-support.ts';
import { startHarness, type Harness } from './host-support.ts';

const ISSUER = 'https://token.actions.githubusercontent.com';
const AUDIENCE = 'attested-pack';
const repo = makeGitRepo({ 'clef.yaml': 'version: 1\n' });
const seenOptions: Array<Record<string, unknown>> = [];
const seenProofs: unknown[] = [];
const REQUEST_AUD = `${AUDIENCE}:${'A'.repeat(43)}`;
const handler: PackHandler = async (input) => {
  seenOptions.push(input.options);
  seenProofs.push(input.proof);
  return { artifact: Buffer.from('a'), receipt: Buffer.from('r') };
};

let h: Harness;
let key: CryptoKey;
let publicKey: CryptoKey;
let foreignKey: CryptoKey;

beforeAll(async () => {
  const pair = await generateKeyPair('RS256');
  key = pair.privateKey;
  publicKey = pair.publicKey;
  foreignKey = (await generateKeyPair('RS256')).privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  h = await startHarness({
    handler,
    extraConfig: `  githubOidc:
    issuer: ${ISSUER}
    audience: ${AUDIENCE}
    jwksFile: ${writeJwks({ keys: [jwk] })}
    rules:
      - { repositoryId: '101', repositoryOwnerId: '202', repository: org/app, ref: refs/heads/main, identities: [api-svc], environments: [production] }
      - { repositoryId: '101', repositoryOwnerId: '202', ref: 'refs/tags/v*', identities: [api-svc], environments: [staging] }`,
  });
});
afterAll(async () => {
  await h.close();
});

function writeJwks(jwks: unknown): string {
  const file = join(mkdtempSync(join(tmpdir(), 'ap-jwks-')), 'jwks.json');
  writeFileSync(file, JSON.stringify(jwks));
  return file;
}

async function token(claims: Record<string, unknown>, opts: { iss?: string; aud?: string; exp?: number | null; signer?: CryptoKey } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ repository: 'org/app', repository_id: '101', repository_owner_id: '202', ref: 'refs/heads/main', ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
    .setIssuer(opts.iss ?? ISSUER)
    .setAudience(opts.aud ?? REQUEST_AUD)
    .setIssuedAt(now - 60);
  if (opts.exp !== null) jwt.setExpirationTime(opts.exp ?? now + 300);
  return jwt.sign(opts.signer ?? key);
}

async function pack(jwt: string, environment: string, options?: Record<string, string>) {
  const c = await collectGitObjects({ repoDir: repo, paths: ['clef.yaml'] });
  const res = await fetch(`${h.url}/v1/pack`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${jwt}` },
    body: JSON.stringify({
      identity: 'api-svc',
      environment,
      nonce: Buffer.alloc(32, 1).toString('base64'),
      commit: c.commit,
      objectFormat: c.objectFormat,
      objects: c.objects.map((o) => Buffer.from(o).toString('base64')),
      ...(options === undefined ? {} : { options }),
    }),
  });
  const json = (await res.json()) as { error?: { code: string; message: string } };
  return { status: res.status, code: json.error?.code, message: json.error?.message };
}

describe('GitHub Actions OIDC', () => {
  it('also fetches the JWKS from a URL', async () => {
    const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }] });
    const server = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(jwks));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks`;
    const auth = createAuthenticator({
      tokens: [],
      githubOidc: { issuer: ISSUER, audience: AUDIENCE, jwks: { url }, rules: [{ repositoryId: '101', repositoryOwnerId: '202', identities: ['api-svc'], environments: ['dev'] }] },
    });
    try {
      const p = await auth(`Bearer ${await token({})}`);
      expect(p).toMatchObject({ kind: 'github-oidc', name: 'repo:org/app@refs/heads/main', identities: ['api-svc'], environments: ['dev'] });
      await expect(auth(`Bearer ${await token({}, { signer: foreignKey })}`)).rejects.toMatchObject({ status: 401, code: 'TOKEN_INVALID' });
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('accepts a valid token whose repository ids/ref map to the scope, and forwards it as the proof', async () => {
    const jwt = await token({});
    expect((await pack(jwt, 'production')).status).toBe(200);
    expect(seenProofs.at(-1)).toEqual({ kind: 'oidc', token: jwt });
    // refs/tags/v* is a prefix rule: any tag starting with "v", refs/tags/vanything too
    expect((await pack(await token({ ref: 'refs/tags/v1.2.0' }), 'staging')).status).toBe(200);
    expect((await pack(await token({ ref: 'refs/tags/vanything' }), 'staging')).status).toBe(200);
    // options pass through unchanged: the enclave (not the host) owns them
    expect((await pack(await token({}), 'production', { ttlSeconds: '60' })).status).toBe(200);
    expect(seenOptions.at(-1)).toEqual({ ttlSeconds: '60' });
  });

  it('401 for a token without exp', async () => {
    expect(await pack(await token({}, { exp: null }), 'production')).toMatchObject({ status: 401, code: 'TOKEN_INVALID' });
  });

  it('a renamed or recreated repository is matched by id, not by name', async () => {
    // same name, another id: a recreated repository
    expect(await pack(await token({ repository_id: '999' }), 'production')).toMatchObject({ status: 403, code: 'NO_MATCHING_RULE' });
    // another name, same ids: a renamed repository keeps its rule
    expect((await pack(await token({ repository: 'org/renamed' }), 'production')).status).toBe(200);
  });

  it('401 for an expired token', async () => {
    const r = await pack(await token({}, { exp: Math.floor(Date.now() / 1000) - 3600 }), 'production');
    expect(r).toMatchObject({ status: 401, code: 'TOKEN_EXPIRED' });
  });

  it('401 for a wrong issuer or audience', async () => {
    const iss = await pack(await token({}, { iss: 'https://evil.example.com' }), 'production');
    expect(iss).toMatchObject({ status: 401, code: 'TOKEN_INVALID' });
    expect(iss.message).toContain('iss');
    expect(await pack(await token({}, { aud: 'someone-else' }), 'production')).toMatchObject({ status: 401, code: 'TOKEN_INVALID' });
    // the bare prefix (no request hash) is not a request-bound audience
    expect(await pack(await token({}, { aud: AUDIENCE }), 'production')).toMatchObject({ status: 401, code: 'TOKEN_INVALID' });
  });

  it('401 for a token signed by a key outside the JWKS', async () => {
    expect(await pack(await token({}, { signer: foreignKey }), 'production')).toMatchObject({ status: 401, code: 'TOKEN_INVALID' });
  });

  it('403 when no rule maps the repository/ref, or the environment is outside the mapped scope', async () => {
    expect(await pack(await token({ repository_owner_id: '303' }), 'production')).toMatchObject({ status: 403, code: 'NO_MATCHING_RULE' });
    expect(await pack(await token({ ref: 'refs/heads/feature' }), 'production')).toMatchObject({ status: 403, code: 'NO_MATCHING_RULE' });
    expect(await pack(await token({}), 'staging')).toMatchObject({ status: 403, code: 'FORBIDDEN_SCOPE' });
  });
});
