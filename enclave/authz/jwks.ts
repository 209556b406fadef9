// Strict reading of an issuer's JWKS document (RFC 7517) and import of one verification key.
// Only RSA and EC public keys are kept; a set that publishes private or symmetric key
// material, repeats a kid, or is not the shape we expect is refused as a whole — it is not
// an issuer we should trust today. Imported keys carry only their public members, so no
// x5u/x5c/jku in a JWK is ever consulted.
import type { webcrypto } from 'node:crypto';
import { importJWK } from 'jose';
import { parseStrictJson } from '../../verifier/strict-json.ts';
import type { TokenAlgorithm } from '../../verifier/trust-policy.ts';
import { AuthzError, authzFail } from './errors.ts';

export const MAX_JWKS_BYTES = 64 * 1024;
export const MAX_JWKS_KEYS = 32;

export interface PublicJwk {
  kid: string;
  kty: 'RSA' | 'EC';
  /** The JWK's own `alg`, if it names one. */
  alg: string | null;
  /** Only the public members: n/e or crv/x/y. */
  members: Record<string, string>;
}

const B64URL = /^[A-Za-z0-9_-]+$/;
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

function invalid(message: string): never {
  authzFail('JWKS_UNAVAILABLE', `JWKS refused: ${message}`);
}

function b64(v: unknown, what: string, max: number): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > max || !B64URL.test(v)) invalid(`${what} must be base64url`);
  return v;
}

function parseKey(v: unknown, i: number): PublicJwk | null {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) invalid(`keys[${i}] is not an object`);
  const k = v as Record<string, unknown>;
  for (const m of PRIVATE_MEMBERS) if (m in k) invalid(`keys[${i}] carries private or symmetric key material ("${m}")`);
  if (k.kty === 'oct') invalid(`keys[${i}] is a symmetric key`);
  if (k.kty !== 'RSA' && k.kty !== 'EC') return null; // e.g. OKP: never selectable for RS256/ES256
  if (typeof k.kid !== 'string' || k.kid.length === 0 || k.kid.length > 256) invalid(`keys[${i}].kid must be a string of 1 to 256 characters`);
  if (k.use !== undefined && k.use !== 'sig') return null; // an encryption key is not a signing key
  if (k.key_ops !== undefined && !(Array.isArray(k.key_ops) && k.key_ops.includes('verify'))) return null;
  if (k.alg !== undefined && typeof k.alg !== 'string') invalid(`keys[${i}].alg must be a string`);
  const members: Record<string, string> =
    k.kty === 'RSA'
      ? { n: b64(k.n, `keys[${i}].n`, 2048), e: b64(k.e, `keys[${i}].e`, 16) }
      : { crv: k.crv === 'P-256' ? 'P-256' : invalid(`keys[${i}].crv must be P-256`), x: b64(k.x, `keys[${i}].x`, 64), y: b64(k.y, `keys[${i}].y`, 64) };
  return { kid: k.kid, kty: k.kty, alg: (k.alg as string | undefined) ?? null, members };
}

/** Parse JWKS bytes: strict JSON, ≤ 64 KiB, exactly `{"keys":[…]}`, ≤ 32 keys, unique kids. */
export function parseJwks(bytes: Uint8Array): PublicJwk[] {
  if (bytes.length > MAX_JWKS_BYTES) invalid(`document is larger than ${MAX_JWKS_BYTES} bytes`);
  let doc: unknown;
  try {
    doc = parseStrictJson(bytes, { maxDepth: 8 });
  } catch (e) {
    invalid(`not strict JSON (${(e as Error).message})`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) invalid('document is not an object');
  const o = doc as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== 'keys') invalid(`unknown member "${k.slice(0, 64)}"`);
  if (!Array.isArray(o.keys) || o.keys.length > MAX_JWKS_KEYS) invalid(`"keys" must be an array of at most ${MAX_JWKS_KEYS} keys`);
  const keys = o.keys.map(parseKey).filter((k): k is PublicJwk => k !== null);
  if (new Set(keys.map((k) => k.kid)).size !== keys.length) invalid('two signing keys share a kid');
  return keys;
}

const KTY_FOR: Record<TokenAlgorithm, 'RSA' | 'EC'> = { RS256: 'RSA', ES256: 'EC' };

/** Whether this key may verify `alg` (key type matches; the JWK's own alg, if any, equals it). */
export function keyFits(key: PublicJwk, alg: TokenAlgorithm): boolean {
  return key.kty === KTY_FOR[alg] && (key.alg === null || key.alg === alg);
}

/** Import a key for exactly one algorithm (jose refuses a mismatch, e.g. an RSA key as ES256). */
export async function importVerificationKey(key: PublicJwk, alg: TokenAlgorithm): Promise<webcrypto.CryptoKey> {
  try {
    const k = await importJWK({ kty: key.kty, ...key.members, alg }, alg, { extractable: false });
    if (k instanceof Uint8Array) invalid('a symmetric key cannot verify tokens');
    return k;
  } catch (e) {
    if (e instanceof AuthzError) throw e;
    invalid(`key "${key.kid.slice(0, 64)}" cannot be imported for ${alg} (${(e as Error).message})`);
  }
}
