import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { packRequestAudience, type CanonicalPackRequest } from '../../verifier/pack-request.ts';
import { canonicalTrustPolicyBytes, trustPolicyDigest, type TrustPolicy } from '../../verifier/trust-policy.ts';
import { DEV_KEY_ARN, PROD_KEY_ARN, TEST_SSH_KEY, withSigner } from '../../verifier/test-trust-policy.ts';
import { authorizePack, type AuthorizeInput } from './authorize.ts';
import { AuthzError } from './errors.ts';
import { JwksCache } from './jwks-cache.ts';
import { COMMIT, ecKey, FakeJwksServer, githubClaims, gitlabClaims, mint, NOW_MS, NOW_S, REPO_RULES_YAML, request, rsaKey, testPolicy, type TestKey } from './test-support.ts';
import type { JWTPayload } from 'jose';

let gh: TestKey;
let gl: TestKey;
const basePolicy = testPolicy();
const digest = trustPolicyDigest(canonicalTrustPolicyBytes(basePolicy));

beforeAll(() => {
  gh = rsaKey('gh');
  gl = ecKey('gl');
});

interface Case {
  policy?: TrustPolicy | null;
  req?: CanonicalPackRequest;
  files?: Record<string, string>;
  committerTime?: number;
  proof?: AuthorizeInput['proof'];
  verifySshsig?: AuthorizeInput['verifySshsig'];
}

function input(c: Case): AuthorizeInput {
  const policy = c.policy === undefined ? basePolicy : c.policy;
  const files = c.files ?? { '.attested-pack.yaml': REPO_RULES_YAML };
  const server = new FakeJwksServer([gh, gl]);
  return {
    policy,
    policyDigest: digest,
    proof: c.proof ?? { oidcToken: '' },
    request: c.req ?? request(),
    commit: { id: COMMIT, objectFormat: 'sha1', raw: new TextEncoder().encode('tree …'), committerTime: c.committerTime ?? NOW_S - 3600 },
    readRepoFile: (p) => (Object.hasOwn(files, p) ? new TextEncoder().encode(files[p]) : null),
    jwks: new JwksCache({ issuers: (policy ?? basePolicy).issuers, fetch: server.fetch, now: () => NOW_MS }),
    now: () => NOW_MS,
    ...(c.verifySshsig === undefined ? {} : { verifySshsig: c.verifySshsig }),
  };
}

async function github(over: JWTPayload, c: Case = {}) {
  const req = c.req ?? request();
  const token = await mint(githubClaims({ aud: packRequestAudience('attested-pack', req), ...over }), gh);
  return authorizePack(input({ ...c, proof: { oidcToken: token } }));
}

async function gitlab(over: JWTPayload, c: Case = {}) {
  const req = c.req ?? request();
  const token = await mint(gitlabClaims({ aud: packRequestAudience('attested-pack', req), ...over }), gl, 'ES256');
  return authorizePack(input({ ...c, proof: { oidcToken: token } }));
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(AuthzError);
    return (e as AuthzError).code;
  }
  throw new Error('expected a refusal');
}

describe('authorizePack: GitHub', () => {
  it('authorizes a push to main by the allowed workflow and records the proof', async () => {
    const a = await github({});
    expect(a).toEqual({
      method: 'oidc', development: false, trustPolicySha384: digest,
      issuer: 'https://token.actions.githubusercontent.com', repository: 'org/app', repositoryId: '123456', repositoryOwnerId: '7890',
      ref: 'refs/heads/main', sha: COMMIT, event: 'push',
      workflowRef: 'org/app/.github/workflows/deploy.yml@refs/heads/main', workflowSha: COMMIT,
      jobWorkflowRef: 'org/app/.github/workflows/deploy.yml@refs/heads/main', jobWorkflowSha: COMMIT,
      runId: '9000', runAttempt: 1, actor: 'alice', deploymentEnvironment: 'production', runnerEnvironment: 'github-hosted',
      issuedAt: NOW_S - 60, committerTime: NOW_S - 3600, signerFingerprint: null, allowedKmsKeyArns: [PROD_KEY_ARN],
    });
  });

  it('repository with the same name but another repository_id (or owner id) is refused', async () => {
    expect(await code(github({ repository_id: '999999' }))).toBe('PACK_UNAUTHORIZED');
    expect(await code(github({ repository_owner_id: '1' }))).toBe('PACK_UNAUTHORIZED');
    expect(await code(github({ repository_id: undefined }))).toBe('OIDC_INVALID');
    expect(await code(github({ repository_id: 123456 as unknown as string }))).toBe('OIDC_INVALID');
  });

  it('another ref (feature branch, PR merge ref, tag) is refused', async () => {
    expect(await code(github({ ref: 'refs/heads/feature' }))).toBe('REF_NOT_ALLOWED');
    expect(await code(github({ ref: 'refs/pull/7/merge' }))).toBe('REF_NOT_ALLOWED');
    expect(await code(github({ ref: 'refs/tags/main' }))).toBe('REF_NOT_ALLOWED');
  });

  it('a disallowed event (pull_request, pull_request_target, workflow_run) is refused', async () => {
    for (const e of ['pull_request', 'pull_request_target', 'workflow_run']) expect(await code(github({ event_name: e }))).toBe('EVENT_NOT_ALLOWED');
    await expect(github({ event_name: 'workflow_dispatch' })).resolves.toBeDefined();
  });

  it('run_attempt over the maximum, missing, or malformed', async () => {
    expect(await code(github({ run_attempt: '4' }))).toBe('RUN_ATTEMPT_EXCEEDED');
    expect(await code(github({ run_attempt: undefined }))).toBe('OIDC_INVALID');
    expect(await code(github({ run_attempt: '03' }))).toBe('OIDC_INVALID');
    await expect(github({ run_attempt: '3' })).resolves.toBeDefined();
  });

  it('a self-hosted runner is refused where github-hosted is required', async () => {
    expect(await code(github({ runner_environment: 'self-hosted' }))).toBe('RUNNER_NOT_ALLOWED');
    expect(await code(github({ runner_environment: undefined }))).toBe('OIDC_INVALID');
  });

  it('sha ≠ the computed commit, or no sha, is refused', async () => {
    expect(await code(github({ sha: 'f'.repeat(40) }))).toBe('COMMIT_NOT_TRUSTED');
    expect(await code(github({ sha: undefined }))).toBe('OIDC_INVALID');
  });

  it('a request naming another commit than the computed one is refused', async () => {
    const req = request({ commit: 'e'.repeat(40) });
    expect(await code(github({}, { req }))).toBe('COMMIT_NOT_TRUSTED');
  });

  it('a commit older than the environment allows is refused', async () => {
    expect(await code(github({}, { committerTime: NOW_S - 2592000 - 1 }))).toBe('COMMIT_TOO_OLD');
    await expect(github({}, { committerTime: NOW_S - 2592000 })).resolves.toBeDefined();
  });

  it('an environment the policy has no entry for is refused', async () => {
    const req = request({ environment: 'staging' });
    expect(await code(github({}, { req }))).toBe('PACK_UNAUTHORIZED');
  });

  it('a workflow (job_workflow_ref) not in the repository rules is refused', async () => {
    expect(await code(github({ job_workflow_ref: 'org/app/.github/workflows/evil.yml@refs/heads/main' }))).toBe('WORKFLOW_NOT_ALLOWED');
    expect(await code(github({ job_workflow_ref: 'org/app/.github/workflows/deploy.yml@refs/heads/feature' }))).toBe('WORKFLOW_NOT_ALLOWED');
  });

  it('a deployment environment not in the repository rules is refused', async () => {
    expect(await code(github({ environment: 'staging' }))).toBe('WORKFLOW_NOT_ALLOWED');
    expect(await code(github({ environment: undefined }))).toBe('WORKFLOW_NOT_ALLOWED');
  });

  it('missing .attested-pack.yaml, no rule for the identity, or a malformed file is refused', async () => {
    expect(await code(github({}, { files: {} }))).toBe('PACK_UNAUTHORIZED');
    const req = request({ identity: 'billing' });
    expect(await code(github({}, { req }))).toBe('PACK_UNAUTHORIZED');
    expect(await code(github({}, { files: { '.attested-pack.yaml': 'version: 1\nversion: 1\n' } }))).toBe('PACK_UNAUTHORIZED');
  });

  it('dev environment: default events, no runner or attempt requirement, dev keys', async () => {
    const req = request({ environment: 'dev' });
    const a = await github({ runner_environment: 'self-hosted', run_attempt: '9', environment: undefined }, { req });
    expect(a.allowedKmsKeyArns).toEqual([DEV_KEY_ARN]);
  });

  it('no trust policy: TRUST_POLICY_MISSING', async () => {
    expect(await code(github({}, { policy: null }))).toBe('TRUST_POLICY_MISSING');
  });

  it('no proof, or an ambiguous proof, is refused', async () => {
    expect(await code(authorizePack(input({ proof: {} as never })))).toBe('PACK_UNAUTHORIZED');
    expect(await code(authorizePack(input({ proof: { oidcToken: 'x', sshSignature: 'y' } as never })))).toBe('PACK_UNAUTHORIZED');
  });

  it('a token for another identity (replayed by the host) is refused', async () => {
    const token = await mint(githubClaims({ aud: packRequestAudience('attested-pack', request({ identity: 'web', environment: 'dev' })) }), gh);
    expect(await code(authorizePack(input({ proof: { oidcToken: token } })))).toBe('OIDC_REQUEST_MISMATCH');
  });
});

describe('authorizePack: GitLab', () => {
  it('authorizes a protected main pipeline; ref_path is the ref recorded', async () => {
    const a = await gitlab({});
    expect(a).toMatchObject({
      issuer: 'https://gitlab.example.com', repository: 'group/sub/app', repositoryId: '42', repositoryOwnerId: '99',
      ref: 'refs/heads/main', event: 'push', workflowRef: 'gitlab.example.com/group/sub/app//.gitlab-ci.yml@refs/heads/main',
      runAttempt: null, jobWorkflowRef: null, actor: 'alice', runnerEnvironment: 'gitlab-hosted',
    });
  });

  it('uses ref_path, not ref: a tag or branch called "main" elsewhere does not pass', async () => {
    expect(await code(gitlab({ ref: 'main', ref_path: 'refs/tags/main', ref_type: 'tag' }))).toBe('REF_NOT_ALLOWED');
    expect(await code(gitlab({ ref: 'main', ref_path: 'refs/heads/feature' }))).toBe('REF_NOT_ALLOWED');
    expect(await code(gitlab({ ref_path: undefined }))).toBe('OIDC_INVALID');
  });

  it('an unprotected ref or deployment environment is refused', async () => {
    expect(await code(gitlab({ ref_protected: 'false' }))).toBe('REF_NOT_ALLOWED');
    expect(await code(gitlab({ environment_protected: 'false' }))).toBe('PACK_UNAUTHORIZED');
    expect(await code(gitlab({ environment_protected: undefined }))).toBe('PACK_UNAUTHORIZED');
  });

  it('a fork merge-request pipeline (the fork\'s project_id) is refused', async () => {
    expect(await code(gitlab({ project_id: '4242', project_path: 'mallory/app', pipeline_source: 'merge_request_event' }))).toBe('PACK_UNAUTHORIZED');
    expect(await code(gitlab({ namespace_id: '1' }))).toBe('PACK_UNAUTHORIZED');
  });

  it('pipeline_source is the event: merge_request_event is refused by default', async () => {
    expect(await code(gitlab({ pipeline_source: 'merge_request_event' }))).toBe('EVENT_NOT_ALLOWED');
    await expect(gitlab({ pipeline_source: 'web' })).resolves.toBeDefined();
  });

  it('a CI config not in the repository rules is refused', async () => {
    expect(await code(gitlab({ ci_config_ref_uri: 'gitlab.example.com/group/sub/app//other.yml@refs/heads/main' }))).toBe('WORKFLOW_NOT_ALLOWED');
  });

  it('sha ≠ the computed commit is refused', async () => {
    expect(await code(gitlab({ sha: 'a'.repeat(40) }))).toBe('COMMIT_NOT_TRUSTED');
  });
});

describe('authorizePack: sshsig (development policies only)', () => {
  const signerPolicy = testPolicy(withSigner);
  const webDev = request({ identity: 'web', environment: 'dev' });
  const fingerprint = (line: string): string => `SHA256:${createHash('sha256').update(Buffer.from(line.split(' ')[1] as string, 'base64')).digest('base64').replace(/=+$/, '')}`;
  const good: AuthorizeInput['verifySshsig'] = (_raw, _sig, allowed) => ({ publicKey: allowed[0] as string, fingerprint: fingerprint(allowed[0] as string) });

  it('is refused when this build has no sshsig verifier', async () => {
    expect(await code(authorizePack(input({ policy: signerPolicy, req: webDev, proof: { sshSignature: 'embedded' } })))).toBe('SSHSIG_INVALID');
  });

  it('authorizes a listed signer for a listed identity and environment', async () => {
    let offered: readonly string[] = [];
    let sigSeen = '';
    const a = await authorizePack(input({ policy: signerPolicy, req: webDev, proof: { sshSignature: 'embedded' }, verifySshsig: (raw, sig, allowed) => { offered = allowed; sigSeen = sig; return good(raw, sig, allowed); } }));
    expect(offered).toEqual([TEST_SSH_KEY]);
    expect(sigSeen).toBe('embedded');
    expect(a).toMatchObject({ method: 'sshsig', issuer: null, repository: 'org/app', repositoryId: '123456', repositoryOwnerId: '7890', sha: COMMIT, signerFingerprint: fingerprint(TEST_SSH_KEY), allowedKmsKeyArns: [DEV_KEY_ARN], ref: null, issuedAt: null });
  });

  it('no signer for this identity or environment: PACK_UNAUTHORIZED', async () => {
    expect(await code(authorizePack(input({ policy: signerPolicy, proof: { sshSignature: 'embedded' }, verifySshsig: good })))).toBe('PACK_UNAUTHORIZED');
    expect(await code(authorizePack(input({ policy: signerPolicy, req: request({ identity: 'payments-api', environment: 'dev' }), proof: { sshSignature: 'embedded' }, verifySshsig: good })))).toBe('PACK_UNAUTHORIZED');
  });

  it('a signature that does not verify, or a fingerprint not offered, is SSHSIG_INVALID', async () => {
    const wrongNamespace = (): never => { throw Object.assign(new Error("signature namespace is 'file', not 'git'"), { code: 'SSHSIG_INVALID' }); };
    expect(await code(authorizePack(input({ policy: signerPolicy, req: webDev, proof: { sshSignature: 'embedded' }, verifySshsig: wrongNamespace })))).toBe('SSHSIG_INVALID');
    const crash = (): never => { throw new Error('boom'); };
    expect(await code(authorizePack(input({ policy: signerPolicy, req: webDev, proof: { sshSignature: 'embedded' }, verifySshsig: crash })))).toBe('SSHSIG_INVALID');
    const liar: AuthorizeInput['verifySshsig'] = () => ({ publicKey: 'ssh-ed25519 AAAAother', fingerprint: 'SHA256:other' });
    expect(await code(authorizePack(input({ policy: signerPolicy, req: webDev, proof: { sshSignature: 'embedded' }, verifySshsig: liar })))).toBe('SSHSIG_INVALID');
    expect(await code(authorizePack(input({ policy: signerPolicy, req: webDev, proof: { sshSignature: '' }, verifySshsig: good })))).toBe('SSHSIG_INVALID');
  });

  it('a committer time ahead of the enclave clock is COMMIT_TIME_IN_FUTURE (the signer chooses it)', async () => {
    expect(await code(authorizePack(input({ policy: signerPolicy, req: webDev, committerTime: NOW_S + 301, proof: { sshSignature: 'embedded' }, verifySshsig: good })))).toBe('COMMIT_TIME_IN_FUTURE');
  });

  it('still requires the repository rule and the commit age', async () => {
    expect(await code(authorizePack(input({ policy: signerPolicy, req: webDev, files: {}, proof: { sshSignature: 'embedded' }, verifySshsig: good })))).toBe('PACK_UNAUTHORIZED');
    const policy = testPolicy((p) => { withSigner(p); p.repositories[0].environments.dev.maxCommitAgeSeconds = 60; });
    expect(await code(authorizePack(input({ policy, req: webDev, proof: { sshSignature: 'embedded' }, verifySshsig: good })))).toBe('COMMIT_TOO_OLD');
  });

  it('a signer without identities works for any identity only in a development policy', async () => {
    const policy = testPolicy((p) => { withSigner(p); delete p.repositories[0].sshSigners[0].identities; });
    const a = await authorizePack(input({ policy, req: request({ identity: 'payments-api', environment: 'dev' }), proof: { sshSignature: 'embedded' }, verifySshsig: good }));
    expect(a.development).toBe(true);
  });
});

describe('authorizePack: errors from injected parts', () => {
  it('a clock that throws CLOCK_UNTRUSTED (another error class) keeps its code', async () => {
    const token = await mint(githubClaims(), gh);
    const i = input({ proof: { oidcToken: token } });
    let calls = 0;
    const clock = (): number => {
      if (++calls > 1) throw Object.assign(new Error('clocksource is tsc'), { code: 'CLOCK_UNTRUSTED' });
      return NOW_MS;
    };
    expect(await code(authorizePack({ ...i, now: clock }))).toBe('CLOCK_UNTRUSTED');
  });

  it('an unknown failure becomes PACK_UNAUTHORIZED; git errors pass through unchanged', async () => {
    const token = await mint(githubClaims(), gh);
    const i = input({ proof: { oidcToken: token } });
    expect(await code(authorizePack({ ...i, readRepoFile: () => { throw new TypeError('bug'); } }))).toBe('PACK_UNAUTHORIZED');
    const gitErr = Object.assign(new Error('object missing'), { name: 'GitVerificationError', code: 'GIT_OBJECT_MISSING' });
    await expect(authorizePack({ ...i, readRepoFile: () => { throw gitErr; } })).rejects.toBe(gitErr);
  });
});
