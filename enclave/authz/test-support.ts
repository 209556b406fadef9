// TEST SUPPORT only (imported by *.test.ts beside it, never by the enclave): keys, a JWKS
// "server" (an in-memory fetcher with a call log), token minting with jose, and claims
// shaped like GitHub's and GitLab's real ID tokens.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SignJWT, type JWTPayload } from 'jose';
import { packRequestAudience, type CanonicalPackRequest } from '../../verifier/pack-request.ts';
import { parseTrustPolicy, type TrustPolicy } from '../../verifier/trust-policy.ts';
import { samplePolicyBytes } from '../../verifier/test-trust-policy.ts';
import type { JwksFetcher } from './jwks-cache.ts';

export const NOW_MS = 1_800_000_000_000;
export const NOW_S = NOW_MS / 1000;
export const COMMIT = '0123456789abcdef0123456789abcdef01234567';
export const GITHUB_ISS = 'https://token.actions.githubusercontent.com';
export const GITLAB_ISS = 'https://gitlab.example.com';

export interface TestKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  jwk: Record<string, unknown>;
}

export function rsaKey(kid: string): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid, privateKey, publicKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' } };
}

export function ecKey(kid: string): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { kid, privateKey, publicKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'ES256' } };
}

export function jwksBytes(keys: readonly TestKey[]): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ keys: keys.map((k) => k.jwk) }));
}

/** An in-memory JWKS endpoint: `serve` sets what the next fetches return; `calls` counts them. */
export class FakeJwksServer {
  calls: string[] = [];
  body: Uint8Array | Error;
  constructor(keys: readonly TestKey[]) {
    this.body = jwksBytes(keys);
  }
  serve(keys: readonly TestKey[] | Error | Uint8Array): void {
    this.body = keys instanceof Error || keys instanceof Uint8Array ? keys : jwksBytes(keys);
  }
  readonly fetch: JwksFetcher = async (url) => {
    this.calls.push(url);
    if (this.body instanceof Error) throw this.body;
    return this.body;
  };
}

export function testPolicy(mutate?: Parameters<typeof samplePolicyBytes>[0]): TrustPolicy {
  return parseTrustPolicy(samplePolicyBytes(mutate));
}

export function request(over: Partial<CanonicalPackRequest> = {}): CanonicalPackRequest {
  return {
    identity: 'payments-api',
    environment: 'production',
    commit: COMMIT,
    nonce: new Uint8Array([1, 2, 3, 4]),
    options: { signingKeyArn: null, ttlSeconds: null, bindEncryptionContext: false },
    ...over,
  };
}

/** Claims as GitHub Actions issues them for a push to main of org/app (ids as in the policy). */
export function githubClaims(over: JWTPayload = {}): JWTPayload {
  return {
    iss: GITHUB_ISS,
    aud: packRequestAudience('attested-pack', request()),
    iat: NOW_S - 60,
    nbf: NOW_S - 60,
    exp: NOW_S + 240,
    sub: 'repo:org/app:ref:refs/heads/main',
    repository: 'org/app',
    repository_id: '123456',
    repository_owner: 'org',
    repository_owner_id: '7890',
    ref: 'refs/heads/main',
    ref_type: 'branch',
    sha: COMMIT,
    event_name: 'push',
    workflow_ref: 'org/app/.github/workflows/deploy.yml@refs/heads/main',
    workflow_sha: COMMIT,
    job_workflow_ref: 'org/app/.github/workflows/deploy.yml@refs/heads/main',
    job_workflow_sha: COMMIT,
    run_id: '9000',
    run_attempt: '1',
    actor: 'alice',
    environment: 'production',
    runner_environment: 'github-hosted',
    ...over,
  };
}

/** Claims as GitLab issues them in a CI job `id_tokens` entry for project group/sub/app. */
export function gitlabClaims(over: JWTPayload = {}): JWTPayload {
  return {
    iss: GITLAB_ISS,
    aud: packRequestAudience('attested-pack', request()),
    iat: NOW_S - 60,
    nbf: NOW_S - 60,
    exp: NOW_S + 240,
    sub: 'project_path:group/sub/app:ref_type:branch:ref:main',
    namespace_id: '99',
    namespace_path: 'group/sub',
    project_id: '42',
    project_path: 'group/sub/app',
    user_login: 'alice',
    pipeline_id: '777',
    pipeline_source: 'push',
    ref: 'main',
    ref_type: 'branch',
    ref_path: 'refs/heads/main',
    ref_protected: 'true',
    environment: 'production',
    environment_protected: 'true',
    runner_environment: 'gitlab-hosted',
    sha: COMMIT,
    ci_config_ref_uri: 'gitlab.example.com/group/sub/app//.gitlab-ci.yml@refs/heads/main',
    ci_config_sha: COMMIT,
    ...over,
  };
}

/** Sign `claims` (undefined members dropped) with `key` as `alg`, extra header members allowed. */
export async function mint(claims: JWTPayload, key: TestKey, alg = 'RS256', header: Record<string, unknown> = {}): Promise<string> {
  const payload = Object.fromEntries(Object.entries(claims).filter(([, v]) => v !== undefined));
  return new SignJWT(payload).setProtectedHeader({ alg, kid: key.kid, typ: 'JWT', ...header }).sign(key.privateKey);
}

export function b64url(v: unknown): string {
  return Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
}

export const REPO_RULES_YAML = `version: 1
identities:
  payments-api:
    production:
      jobWorkflowRefs: ["org/app/.github/workflows/deploy.yml@refs/heads/main"]
      ciConfigRefUris: ["gitlab.example.com/group/sub/app//.gitlab-ci.yml@refs/heads/main"]
      deploymentEnvironments: ["production"]
    dev:
      jobWorkflowRefs: ["org/app/.github/workflows/deploy.yml@refs/heads/main"]
  web:
    dev: {}
`;
