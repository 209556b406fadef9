// Verified token claims → a decision under the trust policy. GitHub and GitLab differ in
// names and meanings: GitHub's `ref` is a full ref, GitLab's `ref` is a short name (so we use
// `ref_path`); GitLab's event is `pipeline_source`; GitLab marks protection in string claims.
// A repository is found only by immutable ids — a renamed or re-created repository with the
// same name has other ids, and a fork MR pipeline carries the fork's project_id.
import type { CanonicalPackRequest } from '../../verifier/pack-request.ts';
import type { EnvironmentPolicy, IssuerKind, TrustedIssuer, TrustedRepository, TrustPolicy } from '../../verifier/trust-policy.ts';
import { authzFail } from './errors.ts';
import type { RepoRule } from './repo-rules.ts';
import type { PackAuthorization } from './types.ts';

export type ClaimFacts = Pick<
  PackAuthorization,
  'issuer' | 'repository' | 'repositoryId' | 'repositoryOwnerId' | 'ref' | 'sha' | 'event' | 'workflowRef' | 'workflowSha' |
  'jobWorkflowRef' | 'jobWorkflowSha' | 'runId' | 'runAttempt' | 'actor' | 'deploymentEnvironment' | 'runnerEnvironment'
>;

export interface ClaimDecision {
  kind: IssuerKind;
  repository: TrustedRepository;
  environment: EnvironmentPolicy;
  facts: ClaimFacts;
}

type Claims = Record<string, unknown>;

function claim(c: Claims, name: string, required: true): string;
function claim(c: Claims, name: string, required: boolean): string | null;
function claim(c: Claims, name: string, required: boolean): string | null {
  const v = c[name];
  if (v === undefined || v === null) {
    if (required) authzFail('OIDC_INVALID', `token lacks the "${name}" claim`);
    return null;
  }
  if (typeof v !== 'string' || v.length === 0 || v.length > 1024) authzFail('OIDC_INVALID', `token claim "${name}" must be a string of 1 to 1024 characters`);
  return v;
}

function environmentOf(repo: TrustedRepository, name: string): EnvironmentPolicy {
  const env = Object.hasOwn(repo.environments, name) ? repo.environments[name] : undefined;
  if (env === undefined) authzFail('PACK_UNAUTHORIZED', `the trust policy allows repository ${repo.name} no packs for environment "${name}"`);
  return env;
}

function checkCommon(env: EnvironmentPolicy, sha: string, commit: string, ref: string, event: string): void {
  if (sha !== commit) authzFail('COMMIT_NOT_TRUSTED', `token "sha" ${sha.slice(0, 64)} is not the commit the enclave computed (${commit})`);
  if (!env.refs.includes(ref)) authzFail('REF_NOT_ALLOWED', `ref "${ref.slice(0, 200)}" is not allowed (allowed: ${env.refs.join(', ')})`);
  if (!env.events.includes(event)) authzFail('EVENT_NOT_ALLOWED', `event "${event.slice(0, 64)}" is not allowed (allowed: ${env.events.join(', ')})`);
}

function runAttempt(c: Claims, env: EnvironmentPolicy): number | null {
  const raw = claim(c, 'run_attempt', env.maxRunAttempt !== null);
  if (raw === null) return null;
  if (!/^[1-9][0-9]{0,8}$/.test(raw)) authzFail('OIDC_INVALID', 'token claim "run_attempt" is not a positive decimal number');
  const n = Number(raw);
  if (env.maxRunAttempt !== null && n > env.maxRunAttempt) authzFail('RUN_ATTEMPT_EXCEEDED', `run attempt ${n} is above the maximum of ${env.maxRunAttempt}`);
  return n;
}

function decideGithub(policy: TrustPolicy, issuer: TrustedIssuer, c: Claims, request: CanonicalPackRequest): ClaimDecision {
  const repositoryId = claim(c, 'repository_id', true);
  const ownerId = claim(c, 'repository_owner_id', true);
  const repo = policy.repositories.find((r) => r.issuer === issuer.id && r.github?.repositoryId === repositoryId && r.github.repositoryOwnerId === ownerId);
  if (repo === undefined) authzFail('PACK_UNAUTHORIZED', `repository_id ${repositoryId} (owner ${ownerId}, "${claim(c, 'repository', false)?.slice(0, 200) ?? '?'}") is not a trusted repository of issuer "${issuer.id}"`);
  const env = environmentOf(repo, request.environment);
  const ref = claim(c, 'ref', true);
  const event = claim(c, 'event_name', true);
  checkCommon(env, claim(c, 'sha', true), request.commit, ref, event);
  const attempt = runAttempt(c, env);
  const runner = claim(c, 'runner_environment', env.requireGithubHostedRunner);
  if (env.requireGithubHostedRunner && runner !== 'github-hosted') authzFail('RUNNER_NOT_ALLOWED', `runner_environment "${runner?.slice(0, 64)}" is not "github-hosted"`);
  return {
    kind: 'github',
    repository: repo,
    environment: env,
    facts: {
      issuer: issuer.issuer, repository: claim(c, 'repository', true), repositoryId, repositoryOwnerId: ownerId, ref, sha: request.commit, event,
      workflowRef: claim(c, 'workflow_ref', false), workflowSha: claim(c, 'workflow_sha', false),
      jobWorkflowRef: claim(c, 'job_workflow_ref', true), jobWorkflowSha: claim(c, 'job_workflow_sha', false),
      runId: claim(c, 'run_id', false), runAttempt: attempt, actor: claim(c, 'actor', false),
      deploymentEnvironment: claim(c, 'environment', false), runnerEnvironment: runner,
    },
  };
}

function decideGitlab(policy: TrustPolicy, issuer: TrustedIssuer, c: Claims, request: CanonicalPackRequest): ClaimDecision {
  const projectId = claim(c, 'project_id', true);
  const namespaceId = claim(c, 'namespace_id', true);
  const repo = policy.repositories.find((r) => r.issuer === issuer.id && r.gitlab?.projectId === projectId && r.gitlab.namespaceId === namespaceId);
  if (repo === undefined) authzFail('PACK_UNAUTHORIZED', `project_id ${projectId} (namespace ${namespaceId}, "${claim(c, 'project_path', false)?.slice(0, 200) ?? '?'}") is not a trusted project of issuer "${issuer.id}"`);
  const env = environmentOf(repo, request.environment);
  // `ref` is the short name ("main" could be a branch or a tag); `ref_path` is the full ref.
  const ref = claim(c, 'ref_path', true);
  const event = claim(c, 'pipeline_source', true);
  checkCommon(env, claim(c, 'sha', true), request.commit, ref, event);
  const deployment = claim(c, 'environment', false);
  if (env.requireProtected) {
    if (claim(c, 'ref_protected', true) !== 'true') authzFail('REF_NOT_ALLOWED', `ref "${ref.slice(0, 200)}" is not protected (ref_protected is not "true")`);
    if (claim(c, 'environment_protected', false) !== 'true') authzFail('PACK_UNAUTHORIZED', 'the job\'s deployment environment is not protected (environment_protected is not "true")');
  }
  return {
    kind: 'gitlab',
    repository: repo,
    environment: env,
    facts: {
      issuer: issuer.issuer, repository: claim(c, 'project_path', true), repositoryId: projectId, repositoryOwnerId: namespaceId, ref, sha: request.commit, event,
      workflowRef: claim(c, 'ci_config_ref_uri', true), workflowSha: claim(c, 'ci_config_sha', false),
      jobWorkflowRef: null, jobWorkflowSha: null,
      runId: claim(c, 'pipeline_id', false), runAttempt: null, actor: claim(c, 'user_login', false),
      deploymentEnvironment: deployment, runnerEnvironment: claim(c, 'runner_environment', false),
    },
  };
}

/** Apply the trust policy to verified claims. Throws AuthzError with the first failing check. */
export function decideFromClaims(policy: TrustPolicy, issuer: TrustedIssuer, claims: Claims, request: CanonicalPackRequest): ClaimDecision {
  return issuer.kind === 'github' ? decideGithub(policy, issuer, claims, request) : decideGitlab(policy, issuer, claims, request);
}

/** The repository's own rule: the workflow (and deployment environment, if listed) must be named. */
export function checkRepoRule(decision: ClaimDecision, rule: RepoRule): void {
  const f = decision.facts;
  const [workflow, allowed, what] = decision.kind === 'github'
    ? [f.jobWorkflowRef, rule.jobWorkflowRefs, 'job_workflow_ref']
    : [f.workflowRef, rule.ciConfigRefUris, 'ci_config_ref_uri'];
  if (workflow === null || !allowed.includes(workflow)) authzFail('WORKFLOW_NOT_ALLOWED', `${what} "${workflow?.slice(0, 300) ?? ''}" is not allowed by the repository rules`);
  if (rule.deploymentEnvironments !== null && (f.deploymentEnvironment === null || !rule.deploymentEnvironments.includes(f.deploymentEnvironment))) {
    authzFail('WORKFLOW_NOT_ALLOWED', `deployment environment "${f.deploymentEnvironment?.slice(0, 200) ?? '(none)'}" is not allowed by the repository rules`);
  }
}
