// Pack authorization inside the enclave (issue 12; docs/pack-policy.md). Entry point:
// authorizePack. The trust policy format itself lives in verifier/trust-policy.ts.
export { authorizePack } from './authorize.ts';
export type { AuthorizeInput, PackAuthorization, PackProof, SshSignatureResult, VerifySshCommitSignature } from './types.ts';
export { AUTHZ_ERROR_CODES, AuthzError, isAuthzError, type AuthzErrorCode } from './errors.ts';
export { checkKeysAllowed, type SopsFileKeys } from './key-allowlist.ts';
export { JwksCache, UNKNOWN_KID_REFETCH_MS, type JwksCacheOptions, type JwksFetcher, type JwksSource, type VerificationKey } from './jwks-cache.ts';
export { parseJwks, MAX_JWKS_BYTES, MAX_JWKS_KEYS } from './jwks.ts';
export { verifyOidcToken, type VerifiedToken, type VerifyTokenInput } from './oidc.ts';
export { decideFromClaims, checkRepoRule, type ClaimDecision, type ClaimFacts } from './claims.ts';
export { parseRepoRules, ruleFor, REPO_RULES_PATH, type RepoRule, type RepoRules } from './repo-rules.ts';
