// Who is calling and what they may pack. Two kinds of bearer credential:
//  - static tokens from the config (only their SHA-256 is kept; compared in constant time),
//  - GitHub Actions OIDC tokens (JWT checked with jose against the configured issuer,
//    audience and JWKS; repository/ref/environment claims mapped to scopes by rules).
// 401 = we do not know who you are; 403 = we do, and you may not pack that.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { GithubOidcConfig, OidcRule, Scope, TokenRule } from './config.ts';

export interface Principal extends Scope {
  kind: 'token' | 'github-oidc';
  /** Token name, or `repo:<owner/name>@<ref>` for OIDC. */
  name: string;
  /** OIDC only: the repository the token was minted for (for logs). */
  repository?: string;
  /** OIDC only: the raw token, forwarded to the enclave as the pack's proof when the body has none. */
  token?: string;
}

/** `aud` is `<prefix>:<43 base64url characters>` (a string, or an array of exactly that one). */
export function audienceHasPrefix(aud: unknown, prefix: string): boolean {
  const single = Array.isArray(aud) && aud.length === 1 ? aud[0] : aud;
  return typeof single === 'string' && single.startsWith(`${prefix}:`) && /^[A-Za-z0-9_-]{43}$/.test(single.slice(prefix.length + 1));
}

export type AuthErrorCode = 'UNAUTHENTICATED' | 'TOKEN_INVALID' | 'TOKEN_EXPIRED' | 'NO_MATCHING_RULE' | 'FORBIDDEN_SCOPE';

export class AuthError extends Error {
  readonly status: 401 | 403;
  readonly code: AuthErrorCode;

  constructor(status: 401 | 403, code: AuthErrorCode, message: string) {
    super(message);
    this.name = 'AuthError';
    this.status = status;
    this.code = code;
  }
}

const JWT_SHAPE = /^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

function refMatches(pattern: string | undefined, ref: string): boolean {
  if (pattern === undefined) return true;
  return pattern.endsWith('*') ? ref.startsWith(pattern.slice(0, -1)) : ref === pattern;
}

export interface OidcClaims {
  repositoryId: string;
  repositoryOwnerId: string;
  ref: string;
  environment?: string;
}

export function ruleMatches(rule: OidcRule, claims: OidcClaims): boolean {
  return (
    rule.repositoryId === claims.repositoryId &&
    rule.repositoryOwnerId === claims.repositoryOwnerId &&
    refMatches(rule.ref, claims.ref) &&
    (rule.environment === undefined || rule.environment === claims.environment)
  );
}

export type Authenticator = (authorization: string | undefined) => Promise<Principal>;

export function createAuthenticator(auth: { tokens: TokenRule[]; githubOidc?: GithubOidcConfig }, now?: () => number): Authenticator {
  const tokens = auth.tokens.map((t) => ({ rule: t, digest: Buffer.from(t.sha256, 'hex') }));
  const oidc = auth.githubOidc;
  let keys: JWTVerifyGetKey | undefined;
  if (oidc !== undefined) {
    keys = 'url' in oidc.jwks ? createRemoteJWKSet(new URL(oidc.jwks.url)) : createLocalJWKSet(JSON.parse(readFileSync(oidc.jwks.file, 'utf8')));
  }

  const byToken = (token: string): Principal | undefined => {
    const digest = createHash('sha256').update(token, 'utf8').digest();
    let found: TokenRule | undefined;
    // Compare against every entry so timing does not reveal which one matched.
    for (const t of tokens) if (timingSafeEqual(t.digest, digest) && found === undefined) found = t.rule;
    return found === undefined ? undefined : { kind: 'token', name: found.name, identities: found.identities, environments: found.environments };
  };

  const byOidc = async (token: string): Promise<Principal> => {
    if (oidc === undefined || keys === undefined) throw new AuthError(401, 'TOKEN_INVALID', 'unknown bearer token (GitHub OIDC is not enabled on this host)');
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer: oidc.issuer,
        algorithms: ['RS256', 'ES256'],
        requiredClaims: ['exp', 'iat', 'aud'],
        clockTolerance: 30,
        ...(now === undefined ? {} : { currentDate: new Date(now()) }),
      }));
    } catch (e) {
      if (e instanceof joseErrors.JWTExpired) throw new AuthError(401, 'TOKEN_EXPIRED', 'the OIDC token has expired');
      if (e instanceof joseErrors.JWTClaimValidationFailed) throw new AuthError(401, 'TOKEN_INVALID', `the OIDC token was refused: ${e.claim} claim: ${e.reason}`);
      throw new AuthError(401, 'TOKEN_INVALID', `the OIDC token was refused: ${(e as Error).message}`);
    }
    // The enclave checks the request hash after the prefix; the host checks the prefix only.
    if (!audienceHasPrefix(payload.aud, oidc.audience)) {
      throw new AuthError(401, 'TOKEN_INVALID', `the OIDC token's audience is not "${oidc.audience}:<request hash>"`);
    }
    const { repository, repository_id: repositoryId, repository_owner_id: repositoryOwnerId, ref } = payload;
    if (typeof repository !== 'string' || typeof ref !== 'string' || typeof repositoryId !== 'string' || typeof repositoryOwnerId !== 'string') {
      throw new AuthError(401, 'TOKEN_INVALID', 'the OIDC token lacks repository, repository_id, repository_owner_id or ref');
    }
    const environment = typeof payload.environment === 'string' ? payload.environment : undefined;
    const claims: OidcClaims = { repositoryId, repositoryOwnerId, ref, ...(environment === undefined ? {} : { environment }) };
    const rules = oidc.rules.filter((r) => ruleMatches(r, claims));
    if (rules.length === 0) throw new AuthError(403, 'NO_MATCHING_RULE', `no rule allows repository ${repository} (id ${repositoryId}) at ${ref}`);
    // Several matching rules: the union of their scopes.
    return {
      kind: 'github-oidc',
      name: `repo:${repository}@${ref}`,
      repository,
      token,
      identities: [...new Set(rules.flatMap((r) => r.identities))],
      environments: [...new Set(rules.flatMap((r) => r.environments))],
    };
  };

  return async (authorization) => {
    if (authorization === undefined || authorization === '') throw new AuthError(401, 'UNAUTHENTICATED', 'missing Authorization: Bearer <token>');
    const m = /^Bearer ([\x21-\x7e]{1,8192})$/.exec(authorization);
    if (m === null) throw new AuthError(401, 'UNAUTHENTICATED', 'Authorization header must be "Bearer <token>"');
    const token = m[1] as string;
    const principal = byToken(token);
    if (principal !== undefined) return principal;
    if (JWT_SHAPE.test(token)) return byOidc(token);
    throw new AuthError(401, 'TOKEN_INVALID', 'unknown bearer token');
  };
}

/** Throws 403 unless the principal may pack `identity` for `environment`. */
export function authorize(principal: Principal, identity: string, environment: string): void {
  const ok = (list: string[], v: string) => list.includes('*') || list.includes(v);
  if (!ok(principal.identities, identity)) throw new AuthError(403, 'FORBIDDEN_SCOPE', `${principal.name} may not pack identity '${identity}'`);
  if (!ok(principal.environments, environment)) throw new AuthError(403, 'FORBIDDEN_SCOPE', `${principal.name} may not pack environment '${environment}'`);
}
