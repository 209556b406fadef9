import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { VerificationError } from './errors.ts';
import { canonicalTrustPolicyBytes, parseTrustPolicy, trustPolicyDigest, MAX_TRUST_POLICY_BYTES } from './trust-policy.ts';
import { DEV_KEY_ARN, NOT_CA_PEM, PROD_KEY_ARN, samplePolicyBytes, samplePolicyValue, TEST_CA_PEM, withSigner, TEST_SSH_KEY, TEST_SSH_KEY_2 } from './test-trust-policy.ts';

type P = Record<string, any>;

function refused(bytes: Uint8Array, match: RegExp): void {
  let err: unknown;
  try {
    parseTrustPolicy(bytes);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(VerificationError);
  expect((err as VerificationError).code).toBe('TRUST_POLICY_INVALID');
  expect((err as Error).message).toMatch(match);
}

const mutated = (f: (p: P) => void): Uint8Array => samplePolicyBytes(f);
const gh = (p: P): P => p.repositories[0];
const prod = (p: P): P => p.repositories[0].environments.production;

describe('parseTrustPolicy: a valid policy', () => {
  it('parses and fills in defaults', () => {
    const p = parseTrustPolicy(samplePolicyBytes());
    expect(p.development).toBe(false);
    const env = p.repositories[0]!.environments.production!;
    expect(env.events).toEqual(['push', 'workflow_dispatch']);
    expect(env.tagRulesExist).toBe(false);
    expect(env.requireGithubHostedRunner).toBe(true);
    expect(env.requireProtected).toBe(false);
    expect(env.maxRunAttempt).toBe(3);
    expect(p.repositories[0]!.environments.dev!.maxRunAttempt).toBeNull();
    expect(p.repositories[0]!.sshSigners).toEqual([]);
    expect(parseTrustPolicy(mutated(withSigner)).repositories[0]!.sshSigners[0]!.publicKey).toBe(TEST_SSH_KEY);
    const gl = p.repositories[1]!;
    expect(gl.github).toBeNull();
    expect(gl.gitlab).toEqual({ projectId: '42', namespaceId: '99' });
    expect(gl.environments.production!.requireProtected).toBe(true);
    expect(gl.environments.production!.events).toEqual(['push', 'web']);
    expect(gl.sshSigners).toEqual([]);
  });

  it('environments have a null prototype ("constructor" is not an environment)', () => {
    const p = parseTrustPolicy(samplePolicyBytes());
    expect(p.repositories[0]!.environments['constructor']).toBeUndefined();
  });

  it('canonical bytes: sorted keys, no whitespace, trailing newline, round trip, requireCanonical', () => {
    const p = parseTrustPolicy(samplePolicyBytes());
    const c = canonicalTrustPolicyBytes(p);
    const text = new TextDecoder().decode(c);
    expect(text.endsWith('}\n')).toBe(true);
    expect(text.startsWith('{"development":false,"issuers":[{"algorithms":["RS256"],"audience":"attested-pack","caBundlePem":')).toBe(true);
    expect(text.slice(0, -1)).not.toMatch(/\n(?!")|": |, "/);
    const again = parseTrustPolicy(c, { requireCanonical: true });
    expect(again).toEqual(p);
    expect(canonicalTrustPolicyBytes(again)).toEqual(c);
    expect(() => parseTrustPolicy(samplePolicyBytes(), { requireCanonical: true })).toThrow(/canonical form/);
  });

  it('digest is SHA-384 hex of the canonical bytes', () => {
    const c = canonicalTrustPolicyBytes(parseTrustPolicy(samplePolicyBytes()));
    expect(trustPolicyDigest(c)).toBe(createHash('sha384').update(c).digest('hex'));
    expect(trustPolicyDigest(c)).toMatch(/^[0-9a-f]{96}$/);
  });

  it('one changed value changes the digest', () => {
    const a = trustPolicyDigest(canonicalTrustPolicyBytes(parseTrustPolicy(samplePolicyBytes())));
    const b = trustPolicyDigest(canonicalTrustPolicyBytes(parseTrustPolicy(mutated((p) => { prod(p).maxRunAttempt = 4; }))));
    expect(a).not.toBe(b);
  });

  it('accepts tags with tagRulesExist, explicit events, and sshSigners without identities in development', () => {
    const p = parseTrustPolicy(mutated((x) => {
      withSigner(x);
      prod(x).refs = ['refs/tags/v1.2.3'];
      prod(x).tagRulesExist = true;
      prod(x).events = ['push', 'pull_request'];
      delete gh(x).sshSigners[0].identities;
      x.repositories[1].environments.production.requireProtected = false;
    }));
    expect(p.repositories[0]!.environments.production!.refs).toEqual(['refs/tags/v1.2.3']);
    expect(p.repositories[0]!.sshSigners[0]!.identities).toBeNull();
  });
});

describe('parseTrustPolicy: refusals', () => {
  const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
  it('input framing', () => {
    refused(new Uint8Array(MAX_TRUST_POLICY_BYTES + 1), /larger than/);
    refused(enc('\ufeff' + JSON.stringify(samplePolicyValue())), /byte order mark/);
    refused(enc('{"version":1,"version":1}'), /duplicate member/);
    refused(enc('version: 1'), /not strict JSON/);
    refused(new Uint8Array([0xff, 0xfe]), /UTF-8/);
  });

  const cases: [string, (p: P) => void, RegExp][] = [
    ['unknown top-level member', (p) => { p.extra = 1; }, /unknown member "extra"/],
    ['unknown issuer member', (p) => { p.issuers[0].jku = 'x'; }, /unknown member "jku"/],
    ['unknown environment member', (p) => { prod(p).branches = []; }, /unknown member "branches"/],
    ['missing development', (p) => { delete p.development; }, /lacks "development"/],
    ['development not boolean', (p) => { p.development = 'false'; }, /true or false/],
    ['version 2', (p) => { p.version = 2; }, /version must be 1/],
    ['no issuers', (p) => { p.issuers = []; }, /issuers must be an array of 1/],
    ['bad issuer id', (p) => { p.issuers[0].id = 'GitHub'; }, /issuers\[0\]\.id/],
    ['bad kind', (p) => { p.issuers[0].kind = 'bitbucket'; }, /"github" or "gitlab"/],
    ['alg none', (p) => { p.issuers[0].algorithms = ['none']; }, /never none or HS/],
    ['alg HS256', (p) => { p.issuers[0].algorithms = ['RS256', 'HS256']; }, /never none or HS/],
    ['no algorithms', (p) => { p.issuers[0].algorithms = []; }, /algorithms must be an array of 1/],
    ['repeated algorithm', (p) => { p.issuers[0].algorithms = ['RS256', 'RS256']; }, /repeat/],
    ['http issuer', (p) => { p.issuers[0].issuer = 'http://token.actions.githubusercontent.com'; }, /must use https/],
    ['issuer with query', (p) => { p.issuers[0].issuer = 'https://x.example/?a=1'; }, /must not have a query/],
    ['issuer not a URL', (p) => { p.issuers[0].issuer = 'token.actions'; }, /not an absolute URL/],
    ['http jwks', (p) => { p.issuers[0].jwksUrl = 'http://x.example/jwks'; }, /must use https/],
    ['jwks with credentials', (p) => { p.issuers[0].jwksUrl = 'https://u:p@x.example/jwks'; }, /credentials/],
    ['jwks with fragment', (p) => { p.issuers[0].jwksUrl = 'https://x.example/jwks#a'; }, /fragment/],
    ['url with space', (p) => { p.issuers[0].jwksUrl = 'https://x.example/a b'; }, /whitespace/],
    ['audience with a space', (p) => { p.issuers[0].audience = 'a b'; }, /audience/],
    ['audience with a colon', (p) => { p.issuers[0].audience = 'https://x'; }, /audience/],
    ['lifetime over cap', (p) => { p.issuers[0].maxTokenLifetimeSeconds = 86401; }, /from 1 to 86400/],
    ['skew over cap', (p) => { p.issuers[0].clockSkewSeconds = 301; }, /from 0 to 300/],
    ['jwks age under floor', (p) => { p.issuers[0].jwksMaxAgeSeconds = 59; }, /from 60 to 86400/],
    ['non-integer', (p) => { p.issuers[0].clockSkewSeconds = 1.5; }, /integer/],
    ['duplicate issuer id', (p) => { p.issuers[1].id = 'github'; }, /issuers\[\]\.id repeats/],
    ['duplicate issuer URL', (p) => { p.issuers[1].issuer = p.issuers[0].issuer; }, /issuers\[\]\.issuer repeats/],
    ['CA bundle with no certificate', (p) => { p.issuers[0].caBundlePem = 'hello'; }, /outside PEM|no certificate/],
    ['CA bundle not a CA', (p) => { p.issuers[0].caBundlePem = NOT_CA_PEM; }, /not a CA certificate/],
    ['CA bundle with a key block', (p) => { p.issuers[0].caBundlePem = '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'; }, /only CERTIFICATE blocks/],
    ['CA bundle with junk between', (p) => { p.issuers[0].caBundlePem = TEST_CA_PEM + 'junk\n' + TEST_CA_PEM; }, /outside PEM/],
    ['CA bundle CRLF', (p) => { p.issuers[0].caBundlePem = TEST_CA_PEM.replace(/\n/g, '\r\n'); }, /LF line endings/],
    ['CA bundle garbage DER', (p) => { p.issuers[0].caBundlePem = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'; }, /does not parse/],
    ['CA bundle non-canonical base64', (p) => { p.issuers[0].caBundlePem = '-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n'; }, /canonical base64/],
    ['CA bundle not a string', (p) => { p.issuers[0].caBundlePem = ['x']; }, /caBundlePem must be a string/],
    ['no repositories', (p) => { p.repositories = []; }, /repositories must be an array of 1/],
    ['unknown issuer reference', (p) => { gh(p).issuer = 'gitea'; }, /not an issuers\[\]\.id/],
    ['github repo with gitlab ids', (p) => { gh(p).gitlab = { projectId: '1', namespaceId: '2' }; }, /has "gitlab" ids but its issuer is a github issuer/],
    ['github ids missing', (p) => { delete gh(p).github; }, /github must be an object/],
    ['repository id not decimal', (p) => { gh(p).github.repositoryId = '0x10'; }, /repositoryId/],
    ['repository id leading zero', (p) => { gh(p).github.repositoryOwnerId = '0123'; }, /repositoryOwnerId/],
    ['repository id as number', (p) => { gh(p).github.repositoryId = 123456; }, /repositoryId must be a string/],
    ['bad repository name', (p) => { gh(p).name = 'app'; }, /name has the wrong format/],
    ['duplicate repository id', (p) => { p.repositories.push({ ...samplePolicyValue().repositories[0], name: 'other/name', sshSigners: [] }); }, /repositories \(issuer/],
    ['no environments', (p) => { gh(p).environments = {}; }, /1 to 64 environments/],
    ['bad environment name', (p) => { gh(p).environments.Prod = gh(p).environments.dev; }, /environments key has the wrong format/],
    ['wildcard ref', (p) => { prod(p).refs = ['refs/heads/*']; }, /no wildcards/],
    ['glob ref', (p) => { prod(p).refs = ['refs/heads/release-?']; }, /no wildcards/],
    ['short ref', (p) => { prod(p).refs = ['main']; }, /no wildcards/],
    ['pull ref', (p) => { prod(p).refs = ['refs/pull/1/merge']; }, /no wildcards/],
    ['ref with ..', (p) => { prod(p).refs = ['refs/heads/a..b']; }, /no wildcards/],
    ['ref ending in /', (p) => { prod(p).refs = ['refs/heads/a/']; }, /no wildcards/],
    ['ref ending in .lock', (p) => { prod(p).refs = ['refs/heads/a.lock']; }, /no wildcards/],
    ['tag without tagRulesExist', (p) => { prod(p).refs = ['refs/tags/v1']; }, /tagRulesExist/],
    ['empty refs', (p) => { prod(p).refs = []; }, /refs must be an array of 1/],
    ['repeated ref', (p) => { prod(p).refs = ['refs/heads/main', 'refs/heads/main']; }, /repeat/],
    ['bad event', (p) => { prod(p).events = ['Push']; }, /events\[0\]/],
    ['empty events', (p) => { prod(p).events = []; }, /events must be an array of 1/],
    ['alias ARN', (p) => { prod(p).kmsKeyArns = ['arn:aws:kms:eu-west-1:111122223333:alias/prod']; }, /kmsKeyArns\[0\]/],
    ['key id not an ARN', (p) => { prod(p).kmsKeyArns = ['11111111-2222-3333-4444-555555555555']; }, /kmsKeyArns\[0\]/],
    ['non-KMS ARN', (p) => { prod(p).kmsKeyArns = ['arn:aws:iam::111122223333:role/x']; }, /kmsKeyArns\[0\]/],
    ['no KMS keys', (p) => { prod(p).kmsKeyArns = []; }, /kmsKeyArns must be an array of 1/],
    ['runner rule on gitlab', (p) => { p.repositories[1].environments.production.requireGithubHostedRunner = true; }, /GitHub issuers only/],
    ['protected rule on github', (p) => { prod(p).requireProtected = true; }, /GitLab issuers only/],
    ['gitlab unprotected in production policy', (p) => { p.repositories[1].environments.production.requireProtected = false; }, /only in a development policy/],
    ['run attempt on gitlab', (p) => { p.repositories[1].environments.production.maxRunAttempt = 2; }, /GitHub issuers only/],
    ['run attempt 0', (p) => { prod(p).maxRunAttempt = 0; }, /maxRunAttempt/],
    ['commit age too small', (p) => { prod(p).maxCommitAgeSeconds = 1; }, /maxCommitAgeSeconds/],
    ['control character', (p) => { gh(p).name = 'org/a\u0007'; }, /control characters/],
    ['signers in a production policy', (p) => { withSigner(p); p.development = false; }, /allowed only in a development policy/],
    ['signer for an unknown environment', (p) => { withSigner(p); gh(p).sshSigners[0].environments = ['staging']; }, /no policy for/],
    ['signer environment "toString"', (p) => { withSigner(p); gh(p).sshSigners[0].environments = ['tostring']; }, /no policy for/],
    ['signer key type', (p) => { withSigner(p); gh(p).sshSigners[0].publicKey = 'ssh-dss AAAA'; }, /key type/],
    ['signer key without blob', (p) => { withSigner(p); gh(p).sshSigners[0].publicKey = 'ssh-ed25519'; }, /<type> <base64>/],
    ['signer key blob type mismatch', (p) => { withSigner(p); gh(p).sshSigners[0].publicKey = `ssh-rsa ${TEST_SSH_KEY.split(' ')[1]}`; }, /differs/],
    ['signer key bad base64', (p) => { withSigner(p); gh(p).sshSigners[0].publicKey = 'ssh-ed25519 AAAA*'; }, /canonical base64/],
    ['signer key truncated', (p) => { withSigner(p); gh(p).sshSigners[0].publicKey = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA=='; }, /truncated|32 bytes/],
    ['signer key reused in another repository', (p) => { withSigner(p); p.repositories[1].sshSigners = [{ publicKey: TEST_SSH_KEY, identities: ['x'], environments: ['production'] }]; }, /sshSigners\[\]\.publicKey repeats/],
    ['bad signer identity', (p) => { withSigner(p); gh(p).sshSigners[0].identities = ['Web']; }, /identities\[0\]/],
  ];
  for (const [name, mutate, match] of cases) {
    it(name, () => refused(mutated(mutate), match));
  }

  it('a second distinct signer key is fine', () => {
    expect(() => parseTrustPolicy(mutated((p) => { withSigner(p); p.repositories[1].sshSigners = [{ publicKey: TEST_SSH_KEY_2, identities: ['x'], environments: ['production'] }]; }))).not.toThrow();
  });

  it('exports the key ARNs used by other tests as valid', () => {
    expect(() => parseTrustPolicy(mutated((p) => { prod(p).kmsKeyArns = [PROD_KEY_ARN, DEV_KEY_ARN]; }))).not.toThrow();
  });
});

describe('verifier stays standalone', () => {
  it('the trust policy and pack request modules import only node: modules and each other', () => {
    for (const f of ['trust-policy.ts', 'trust-policy-values.ts', 'pack-request.ts', 'strict-json.ts', 'errors.ts']) {
      const src = readFileSync(new URL(f, import.meta.url), 'utf8');
      const specifiers = [...src.matchAll(/^import[^'"]*['"]([^'"]+)['"]/gm)].map((m) => m[1] as string);
      for (const s of specifiers) expect(s.startsWith('node:') || /^\.\/[a-z-]+\.ts$/.test(s), `${f} imports ${s}`).toBe(true);
    }
  });
});
