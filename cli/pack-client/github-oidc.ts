// The GitHub Actions OIDC token for a pack request: asks the runner's token service
// (ACTIONS_ID_TOKEN_REQUEST_URL / _TOKEN, present when the job has `permissions: id-token:
// write`) for a JWT with the given audience, exactly as @actions/core getIDToken does —
// GET `${URL}&audience=<urlencoded>` with `Authorization: bearer <request token>`, answer
// `{"value": "<jwt>"}` — but strictly: bounded request time and answer size, no redirects,
// HTTPS unless the service is on loopback, strict JSON, and a JWT-shaped value. Every
// failure is a GithubOidcError with a stable code (docs/errors.md).
import { parseStrictJson, StrictJsonError } from '../../verifier/strict-json.ts';

export type GithubOidcErrorCode = 'OIDC_UNAVAILABLE' | 'OIDC_BAD_AUDIENCE' | 'OIDC_REQUEST_FAILED' | 'OIDC_BAD_RESPONSE';

export class GithubOidcError extends Error {
  override readonly name = 'GithubOidcError';
  readonly code: GithubOidcErrorCode;

  constructor(code: GithubOidcErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** Longest audience we ask for (a request-bound audience is a prefix, ':' and a hash). */
export const MAX_AUDIENCE_LENGTH = 512;
/** Largest token-service answer read (GitHub's tokens are about 1–2 KB). */
export const MAX_RESPONSE_BYTES = 64 * 1024;
/** Longest JWT accepted from the token service. */
export const MAX_TOKEN_LENGTH = 16 * 1024;
export const REQUEST_TIMEOUT_MS = 30_000;

const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);

function fail(code: GithubOidcErrorCode, message: string): never {
  throw new GithubOidcError(code, message);
}

/** The token-service URL with the audience appended, as the Actions toolkit builds it. */
export function tokenRequestUrl(base: string, audience: string): URL {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    fail('OIDC_UNAVAILABLE', 'ACTIONS_ID_TOKEN_REQUEST_URL is not a URL');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname))) {
    fail('OIDC_UNAVAILABLE', `ACTIONS_ID_TOKEN_REQUEST_URL must be https (got ${url.protocol}//${url.host})`);
  }
  if (url.searchParams.has('audience')) fail('OIDC_UNAVAILABLE', 'ACTIONS_ID_TOKEN_REQUEST_URL already names an audience');
  if (url.hash !== '') fail('OIDC_UNAVAILABLE', 'ACTIONS_ID_TOKEN_REQUEST_URL has a fragment');
  const joiner = url.search === '' ? '?' : '&';
  return new URL(`${url.href}${joiner}audience=${encodeURIComponent(audience)}`);
}

function checkAudience(audience: string): void {
  if (audience.length === 0 || audience.length > MAX_AUDIENCE_LENGTH) {
    fail('OIDC_BAD_AUDIENCE', `the audience must be 1–${MAX_AUDIENCE_LENGTH} characters`);
  }
  if (!/^[\x21-\x7e]+$/.test(audience)) fail('OIDC_BAD_AUDIENCE', 'the audience must be printable ASCII without spaces');
}

async function readBounded(res: Response): Promise<Uint8Array> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > MAX_RESPONSE_BYTES) fail('OIDC_BAD_RESPONSE', `the token service's answer is larger than ${MAX_RESPONSE_BYTES} bytes`);
  if (res.body === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.length;
    if (size > MAX_RESPONSE_BYTES) fail('OIDC_BAD_RESPONSE', `the token service's answer is larger than ${MAX_RESPONSE_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function tokenFrom(body: Uint8Array): string {
  let json: unknown;
  try {
    json = parseStrictJson(body, { maxDepth: 4 });
  } catch (e) {
    if (e instanceof StrictJsonError) fail('OIDC_BAD_RESPONSE', `the token service's answer is not JSON: ${e.message}`);
    throw e;
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail('OIDC_BAD_RESPONSE', "the token service's answer is not a JSON object");
  const value = (json as Record<string, unknown>).value;
  if (typeof value !== 'string') fail('OIDC_BAD_RESPONSE', "the token service's answer has no string 'value'");
  if (value.length > MAX_TOKEN_LENGTH || !JWT.test(value)) fail('OIDC_BAD_RESPONSE', "the token service's 'value' is not a JWT");
  return value;
}

/**
 * A GitHub Actions OIDC token (JWT) for `audience`. Throws GithubOidcError: OIDC_UNAVAILABLE
 * outside Actions or without `id-token: write`, OIDC_BAD_AUDIENCE, OIDC_REQUEST_FAILED
 * (network, timeout, redirect, non-200), OIDC_BAD_RESPONSE.
 */
export async function requestGithubActionsIdToken(audience: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  checkAudience(audience);
  const base = env.ACTIONS_ID_TOKEN_REQUEST_URL;
  const bearer = env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
  if (base === undefined || base === '' || bearer === undefined || bearer === '') {
    fail('OIDC_UNAVAILABLE', 'ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN are not set: run inside GitHub Actions with `permissions: id-token: write`');
  }
  const url = tokenRequestUrl(base, audience);
  let res: Response;
  try {
    res = await fetch(url, {
      headers: { authorization: `bearer ${bearer}`, accept: 'application/json' },
      redirect: 'error',
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    fail('OIDC_REQUEST_FAILED', `cannot get a token from ${url.origin}: ${cause?.code ?? cause?.message ?? (e as Error).message}`);
  }
  if (res.status !== 200) {
    await res.body?.cancel();
    fail('OIDC_REQUEST_FAILED', `the token service at ${url.origin} answered ${res.status}`);
  }
  return tokenFrom(await readBounded(res));
}
