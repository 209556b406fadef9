// "Packs from refs or repositories outside the trust policy": the enclave enforced the policy
// measured into its image; the auditor's copy may be newer or stricter (a repository removed,
// a ref no longer allowed). Repositories are matched by their numeric ids (names can be
// re-registered), SSH-signed packs by name since they carry no ids.
import type { TrustPolicy } from '../../verifier/trust-policy.ts';
import type { ReceiptPredicate } from '../../verifier/statement.ts';

/** Why a receipt falls outside the policy, or null when it is inside. */
export function outsideTrustPolicy(policy: TrustPolicy, p: ReceiptPredicate): string | null {
  const a = p.authorization;
  const repo = policy.repositories.find((r) => {
    if (a.repositoryId !== null) {
      return (r.github !== null && r.github.repositoryId === a.repositoryId && r.github.repositoryOwnerId === a.repositoryOwnerId)
        || (r.gitlab !== null && r.gitlab.projectId === a.repositoryId && r.gitlab.namespaceId === a.repositoryOwnerId);
    }
    return r.name === a.repository;
  });
  if (repo === undefined) return `repository ${a.repository}${a.repositoryId === null ? '' : ` (id ${a.repositoryId})`} is not in the trust policy`;
  const env = repo.environments[p.pack.environment];
  if (env === undefined) return `environment ${p.pack.environment} is not allowed for ${a.repository}`;
  if (a.ref !== null && !env.refs.includes(a.ref)) return `ref ${a.ref} is not allowed for ${a.repository} ${p.pack.environment}`;
  return null;
}
