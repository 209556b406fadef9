// Verify a CI OIDC token (compact JWS, RFC 7519) against the trust policy. jose does the
// signature and time checks; the key comes only from our JwksSource (jose never fetches
// anything itself here, and jku/x5u/jwk/x5c headers are ignored). Around jose we add what it
// does not enforce: strict JSON (no duplicate claims), the issuer chosen by exact `iss`,
// exp/iat required, exp − iat capped, iat not in the future, and an `aud` that is exactly one
// value naming this pack request.
import { errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { parseStrictJson } from '../../verifier/strict-json.ts';
import type { TrustedIssuer, TrustPolicy } from '../../verifier/trust-policy.ts';
import { AuthzError, authzFail } from './errors.ts';
import type { JwksSource } from './jwks-cache.ts';

export const MAX_TOKEN_CHARS = 16 * 1024;
const COMPACT_JWS = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/;
/** Header members whose meaning we would have to honour; we honour none, so we refuse them. */
const REFUSED_HEADERS = ['crit', 'b64', 'zip', 'enc'];

export interface VerifyTokenInput {
  token: string;
  policy: TrustPolicy;
  jwks: JwksSource;
  /** packRequestHash of the request the enclave received. */
  requestHash: string;
  /** Trusted enclave clock, milliseconds. */
  now(): number;
}

export interface VerifiedToken {
  issuer: TrustedIssuer;
  claims: JWTPayload;
  /** `iat` (unix seconds). */
  issuedAt: number;
}

function decodePart(part: string, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = parseStrictJson(Buffer.from(part, 'base64url'), { maxDepth: 16 });
  } catch (e) {
    authzFail('OIDC_INVALID', `token ${what} is not strict JSON (${(e as Error).message.slice(0, 100)})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) authzFail('OIDC_INVALID', `token ${what} is not a JSON object`);
  return v as Record<string, unknown>;
}

/** Pick the issuer by exact `iss` and check the header before any key is looked up. */
function preflight(token: string, policy: TrustPolicy): { issuer: TrustedIssuer; alg: string } {
  if (typeof token !== 'string' || token.length > MAX_TOKEN_CHARS) authzFail('OIDC_INVALID', `token must be a string of at most ${MAX_TOKEN_CHARS} characters`);
  const m = COMPACT_JWS.exec(token);
  if (m === null) authzFail('OIDC_INVALID', 'token is not a compact JWS (three base64url parts)');
  const header = decodePart(m[1] as string, 'header');
  const payload = decodePart(m[2] as string, 'payload');
  if (typeof payload.iss !== 'string') authzFail('OIDC_INVALID', 'token has no "iss" claim');
  const issuer = policy.issuers.find((i) => i.issuer === payload.iss);
  if (issuer === undefined) authzFail('OIDC_ISSUER_UNTRUSTED', `token issuer "${payload.iss.slice(0, 200)}" is not in the trust policy`);
  for (const h of REFUSED_HEADERS) if (h in header) authzFail('OIDC_INVALID', `token header "${h}" is not supported`);
  const alg = header.alg;
  // Before jose, so "none" and HS* are refused by name whatever jose would do with them.
  if (typeof alg !== 'string' || !(issuer.algorithms as string[]).includes(alg)) {
    authzFail('OIDC_INVALID', `token algorithm "${String(alg).slice(0, 16)}" is not allowed for issuer "${issuer.id}" (allowed: ${issuer.algorithms.join(', ')})`);
  }
  return { issuer, alg };
}

function mapJoseError(e: unknown): never {
  if (e instanceof AuthzError) throw e;
  if (e instanceof joseErrors.JWTExpired) authzFail('OIDC_EXPIRED', 'token has expired');
  if (e instanceof joseErrors.JWTClaimValidationFailed) {
    if (e.claim === 'nbf' && e.reason === 'check_failed') authzFail('OIDC_EXPIRED', 'token is not yet valid (nbf)');
    authzFail('OIDC_INVALID', `token claim "${e.claim}" is not acceptable (${e.reason})`);
  }
  if (e instanceof joseErrors.JWSSignatureVerificationFailed) authzFail('OIDC_INVALID', 'token signature does not verify with the issuer key');
  if (e instanceof joseErrors.JOSEAlgNotAllowed) authzFail('OIDC_INVALID', 'token algorithm is not allowed');
  if (e instanceof joseErrors.JOSEError) authzFail('OIDC_INVALID', `token refused: ${e.message.slice(0, 200)}`);
  throw new AuthzError('OIDC_INVALID', `token refused: ${(e as Error).message?.slice(0, 200) ?? 'unknown error'}`, { cause: e });
}

/** `aud` must be one value `<audience>:<request hash>` (a string or a one-element array). */
function checkAudience(aud: unknown, issuer: TrustedIssuer, requestHash: string): void {
  const value = Array.isArray(aud) && aud.length === 1 ? aud[0] : aud;
  if (typeof value !== 'string') authzFail('OIDC_INVALID', 'token "aud" must be exactly one string');
  const prefix = `${issuer.audience}:`;
  if (!value.startsWith(prefix)) authzFail('OIDC_INVALID', `token "aud" does not start with the audience "${prefix}" the trust policy requires`);
  if (value.slice(prefix.length) !== requestHash) authzFail('OIDC_REQUEST_MISMATCH', 'token "aud" names another pack request (identity, environment, commit, nonce or options differ)');
}

function checkTimes(claims: JWTPayload, issuer: TrustedIssuer, nowMs: number): number {
  const { exp, iat } = claims;
  if (typeof exp !== 'number' || typeof iat !== 'number') authzFail('OIDC_INVALID', 'token must carry numeric "exp" and "iat"');
  if (iat > Math.floor(nowMs / 1000) + issuer.clockSkewSeconds) authzFail('OIDC_EXPIRED', 'token "iat" is in the future');
  if (exp <= iat) authzFail('OIDC_INVALID', 'token "exp" is not after "iat"');
  if (exp - iat > issuer.maxTokenLifetimeSeconds) authzFail('OIDC_INVALID', `token lifetime ${exp - iat} s exceeds the issuer's maximum of ${issuer.maxTokenLifetimeSeconds} s`);
  return iat;
}

/** Verify the token; throws AuthzError (OIDC_*, JWKS_UNAVAILABLE) on any failure. */
export async function verifyOidcToken(input: VerifyTokenInput): Promise<VerifiedToken> {
  const { issuer } = preflight(input.token, input.policy);
  const nowMs = input.now();
  let claims: JWTPayload;
  try {
    ({ payload: claims } = await jwtVerify(input.token, (header) => input.jwks.getKey(issuer.id, header.kid, header.alg), {
      algorithms: [...issuer.algorithms],
      issuer: issuer.issuer,
      requiredClaims: ['iss', 'aud', 'exp', 'iat'],
      currentDate: new Date(nowMs),
      clockTolerance: issuer.clockSkewSeconds,
    }));
  } catch (e) {
    mapJoseError(e);
  }
  const issuedAt = checkTimes(claims, issuer, nowMs);
  checkAudience(claims.aud, issuer, input.requestHash);
  return { issuer, claims, issuedAt };
}
