// authorizePack: the enclave's own decision whether a pack may happen, composed of the small
// checks beside this file. Either an OIDC token from a trusted CI issuer (signature against
// the issuer's JWKS, request-bound audience, claims under the trust policy, the repository's
// own rules read from the verified commit) or, where the policy allows it, an SSH signature
// over the commit by a listed signer. Only after this does clef.yaml at the commit count.
import { packRequestHash } from '../../verifier/pack-request.ts';
import type { EnvironmentPolicy, TrustedRepository, TrustPolicy } from '../../verifier/trust-policy.ts';
import { checkRepoRule, decideFromClaims } from './claims.ts';
import { AUTHZ_ERROR_CODES, AuthzError, authzFail, type AuthzErrorCode } from './errors.ts';
import { verifyOidcToken } from './oidc.ts';
import { parseRepoRules, REPO_RULES_PATH, ruleFor, type RepoRule } from './repo-rules.ts';
import type { AuthorizeInput, PackAuthorization, SshSignatureResult } from './types.ts';

export type { AuthorizeInput, PackAuthorization, PackProof, SshSignatureResult, VerifySshCommitSignature } from './types.ts';

const MAX_SSH_SIGNATURE_CHARS = 16 * 1024;

function repoRule(input: AuthorizeInput): RepoRule {
  const bytes = input.readRepoFile(REPO_RULES_PATH);
  if (bytes === null) authzFail('PACK_UNAUTHORIZED', `the commit has no ${REPO_RULES_PATH}, so the repository allows no packs`);
  return ruleFor(parseRepoRules(bytes), input.request.identity, input.request.environment);
}

/** SSH-signed commits have no issuer skew; this bounds their committer time instead. */
const SSHSIG_CLOCK_SKEW_SECONDS = 300;

/**
 * The committer sets the committer time; one in the future would make the age limit never
 * apply (re-runs of that commit would stay "young" forever), so it is refused outright.
 */
function checkCommitAge(env: EnvironmentPolicy, committerTime: number, nowMs: number, skewSeconds: number): void {
  const nowS = Math.floor(nowMs / 1000);
  if (committerTime > nowS + skewSeconds) authzFail('COMMIT_TIME_IN_FUTURE', `the commit's committer time ${committerTime} is ${committerTime - nowS} s ahead of the enclave's clock`);
  if (env.maxCommitAgeSeconds === null) return;
  const oldest = Math.floor(nowMs / 1000) - env.maxCommitAgeSeconds;
  if (committerTime < oldest) authzFail('COMMIT_TOO_OLD', `the commit's committer time ${committerTime} is more than ${env.maxCommitAgeSeconds} s before now`);
}

const EMPTY_FACTS = {
  issuer: null, ref: null, event: null, workflowRef: null, workflowSha: null, jobWorkflowRef: null, jobWorkflowSha: null,
  runId: null, runAttempt: null, actor: null, deploymentEnvironment: null, runnerEnvironment: null, issuedAt: null,
} as const;

async function authorizeOidc(input: AuthorizeInput, policy: TrustPolicy, token: string): Promise<PackAuthorization> {
  const verified = await verifyOidcToken({ token, policy, jwks: input.jwks, requestHash: packRequestHash(input.request), now: input.now });
  const decision = decideFromClaims(policy, verified.issuer, verified.claims, input.request);
  checkCommitAge(decision.environment, input.commit.committerTime, input.now(), verified.issuer.clockSkewSeconds);
  checkRepoRule(decision, repoRule(input));
  return {
    method: 'oidc',
    development: policy.development,
    trustPolicySha384: input.policyDigest,
    ...decision.facts,
    issuedAt: verified.issuedAt,
    committerTime: input.commit.committerTime,
    signerFingerprint: null,
    allowedKmsKeyArns: [...decision.environment.kmsKeyArns],
  };
}

/** Signers that may vouch for this identity+environment: listed identities, or any identity in a development policy. */
function candidateSigners(policy: TrustPolicy, identity: string, environment: string): Map<string, TrustedRepository> {
  const out = new Map<string, TrustedRepository>();
  for (const repo of policy.repositories) {
    for (const s of repo.sshSigners) {
      if (!s.environments.includes(environment)) continue;
      if (s.identities === null ? policy.development : s.identities.includes(identity)) out.set(s.publicKey, repo);
    }
  }
  return out;
}

async function authorizeSshsig(input: AuthorizeInput, policy: TrustPolicy, signature: string): Promise<PackAuthorization> {
  if (input.verifySshsig === undefined) authzFail('SSHSIG_INVALID', 'SSH commit signatures are not supported by this build');
  if (signature.length === 0 || signature.length > MAX_SSH_SIGNATURE_CHARS) authzFail('SSHSIG_INVALID', 'SSH signature must be a non-empty armored string');
  const { identity, environment } = input.request;
  const candidates = candidateSigners(policy, identity, environment);
  if (candidates.size === 0) authzFail('PACK_UNAUTHORIZED', `the trust policy lists no SSH signer for identity "${identity}" in environment "${environment}"`);
  let result: SshSignatureResult;
  try {
    result = await input.verifySshsig(input.commit.raw, signature, [...candidates.keys()]);
  } catch (e) {
    throw asAuthzError(e, 'SSHSIG_INVALID');
  }
  const repo = candidates.get(result.publicKey);
  if (repo === undefined) authzFail('SSHSIG_INVALID', 'the SSH signature verifier reported a key that is not an allowed signer');
  const env = repo.environments[environment];
  if (env === undefined) authzFail('PACK_UNAUTHORIZED', `repository ${repo.name} has no policy for environment "${environment}"`);
  checkCommitAge(env, input.commit.committerTime, input.now(), SSHSIG_CLOCK_SKEW_SECONDS);
  repoRule(input); // the repository must still opt in for this identity+environment
  return {
    method: 'sshsig',
    development: policy.development,
    trustPolicySha384: input.policyDigest,
    ...EMPTY_FACTS,
    repository: repo.name,
    repositoryId: repo.github?.repositoryId ?? repo.gitlab?.projectId ?? null,
    repositoryOwnerId: repo.github?.repositoryOwnerId ?? repo.gitlab?.namespaceId ?? null,
    sha: input.commit.id,
    committerTime: input.commit.committerTime,
    signerFingerprint: result.fingerprint,
    allowedKmsKeyArns: [...env.kmsKeyArns],
  };
}

/**
 * Errors from injected parts (the trusted clock, the sshsig verifier, the JWKS fetcher) keep
 * their code when it is one of ours; anything else becomes `fallback`.
 */
function asAuthzError(e: unknown, fallback: AuthzErrorCode): AuthzError {
  if (e instanceof AuthzError) return e;
  const code = (e as { code?: unknown } | null)?.code;
  const known = typeof code === 'string' && Object.hasOwn(AUTHZ_ERROR_CODES, code);
  return new AuthzError(known ? (code as AuthzErrorCode) : fallback, (e as Error | null)?.message?.slice(0, 300) ?? 'refused', { cause: e });
}

async function decide(input: AuthorizeInput): Promise<PackAuthorization> {
  const policy = input.policy;
  if (policy === null || policy === undefined) authzFail('TRUST_POLICY_MISSING', 'this image carries no pack trust policy; no pack can be authorized');
  // The request must name the commit the enclave computed; the proof is checked against both.
  if (input.request.commit !== input.commit.id) authzFail('COMMIT_NOT_TRUSTED', 'the pack request names another commit than the one the enclave computed');
  const proof = input.proof as Record<string, unknown>;
  const keys = typeof proof === 'object' && proof !== null ? Object.keys(proof) : [];
  if (keys.length === 1 && typeof proof.oidcToken === 'string') return authorizeOidc(input, policy, proof.oidcToken);
  if (keys.length === 1 && typeof proof.sshSignature === 'string') return authorizeSshsig(input, policy, proof.sshSignature);
  authzFail('PACK_UNAUTHORIZED', 'the request carries no proof (exactly one of oidcToken or sshSignature)');
}

/**
 * Decide whether this pack may happen. Resolves to the facts that go into the receipt;
 * throws AuthzError (closed code set, errors.ts) on the first failing check.
 */
export async function authorizePack(input: AuthorizeInput): Promise<PackAuthorization> {
  try {
    return await decide(input);
  } catch (e) {
    // Git errors (a missing object while reading the rules file) keep their own type.
    if (e instanceof Error && e.name === 'GitVerificationError') throw e;
    throw asAuthzError(e, 'PACK_UNAUTHORIZED');
  }
}
