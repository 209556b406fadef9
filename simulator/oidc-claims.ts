// GitHub Actions OIDC token claims for the SIMULATED issuer: the "current job" a runner
// would be in, and the claim set GitHub puts in its ID tokens for it (GitHub docs, "About
// security hardening with OpenID Connect": standard claims iss, aud, sub, iat, nbf, exp,
// jti; custom claims actor, actor_id, base_ref, environment, event_name, head_ref,
// job_workflow_ref, job_workflow_sha, ref, ref_protected, ref_type, repository,
// repository_id, repository_owner, repository_owner_id, repository_visibility, run_attempt,
// run_id, run_number, runner_environment, sha, workflow, workflow_ref, workflow_sha).
// GitHub sends every value as a string.

/** The job a simulated runner is in; everything a token says about it. */
export interface GithubJob {
  repository: string;
  repository_id: string;
  repository_owner: string;
  repository_owner_id: string;
  repository_visibility: string;
  ref: string;
  ref_type: 'branch' | 'tag';
  ref_protected: 'true' | 'false';
  sha: string;
  event_name: string;
  head_ref: string;
  base_ref: string;
  workflow: string;
  workflow_ref: string;
  workflow_sha: string;
  job_workflow_ref: string;
  job_workflow_sha: string;
  run_id: string;
  run_number: string;
  run_attempt: string;
  actor: string;
  actor_id: string;
  /** The deployment environment of the job, if it has one. */
  environment?: string;
  runner_environment: 'github-hosted' | 'self-hosted';
}

export const DEFAULT_GITHUB_JOB: Readonly<GithubJob> = Object.freeze({
  repository: 'example-org/payments',
  repository_id: '123456789',
  repository_owner: 'example-org',
  repository_owner_id: '987654',
  repository_visibility: 'private',
  ref: 'refs/heads/main',
  ref_type: 'branch',
  ref_protected: 'true',
  sha: '0000000000000000000000000000000000000000',
  event_name: 'push',
  head_ref: '',
  base_ref: '',
  workflow: 'deploy',
  workflow_ref: 'example-org/payments/.github/workflows/deploy.yml@refs/heads/main',
  workflow_sha: '0000000000000000000000000000000000000000',
  job_workflow_ref: 'example-org/payments/.github/workflows/deploy.yml@refs/heads/main',
  job_workflow_sha: '0000000000000000000000000000000000000000',
  run_id: '4242424242',
  run_number: '17',
  run_attempt: '1',
  actor: 'octocat',
  actor_id: '583231',
  runner_environment: 'github-hosted',
});

/** GitHub's default `sub`: environment, then pull_request, then ref. */
export function githubSubject(job: GithubJob): string {
  const repo = `repo:${job.repository}`;
  if (job.environment !== undefined) return `${repo}:environment:${job.environment}`;
  if (job.event_name === 'pull_request' || job.event_name === 'pull_request_target') return `${repo}:pull_request`;
  return `${repo}:ref:${job.ref}`;
}

export interface TimeClaims {
  iat: number;
  nbf: number;
  exp: number;
}

/** The full claim set of one token: job claims, registered claims, then overrides. */
export function githubClaims(
  job: GithubJob,
  base: { iss: string; aud: string; jti: string } & TimeClaims,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return { jti: base.jti, sub: githubSubject(job), aud: base.aud, ...job, iss: base.iss, nbf: base.nbf, exp: base.exp, iat: base.iat, ...overrides };
}
