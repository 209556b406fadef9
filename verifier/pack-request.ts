// The canonical pack request and the request-bound OIDC audience (docs/pack-policy.md).
// CI hashes exactly what it asks for (identity, environment, commit, nonce, options) and
// asks its issuer for a token whose `aud` is `<audience prefix>:<hash>`; the enclave
// recomputes the hash from the request it actually received and refuses a mismatch. So a
// host holding CI's token cannot spend it on another identity, environment, commit or
// option set. The encoding is fixed key order, no whitespace — no general canonicaliser,
// so there is nothing for two implementations to disagree about.
import { createHash } from 'node:crypto';

export interface PackRequestOptions {
  signingKeyArn: string | null;
  ttlSeconds: number | null;
  bindEncryptionContext: boolean;
}

export interface CanonicalPackRequest {
  identity: string;
  environment: string;
  /** Lowercase hex commit id (40 or 64 digits). */
  commit: string;
  nonce: Uint8Array;
  options: PackRequestOptions;
}

const COMMIT = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/** Programming errors (a request the enclave/CLI should never have built) are TypeErrors. */
function check(r: CanonicalPackRequest): void {
  if (typeof r.identity !== 'string' || typeof r.environment !== 'string') throw new TypeError('identity and environment must be strings');
  if (!COMMIT.test(r.commit)) throw new TypeError('commit must be 40 or 64 lowercase hex digits');
  if (!(r.nonce instanceof Uint8Array)) throw new TypeError('nonce must be bytes');
  const o = r.options;
  if (o.signingKeyArn !== null && typeof o.signingKeyArn !== 'string') throw new TypeError('options.signingKeyArn must be a string or null');
  if (o.ttlSeconds !== null && !Number.isSafeInteger(o.ttlSeconds)) throw new TypeError('options.ttlSeconds must be an integer or null');
  if (typeof o.bindEncryptionContext !== 'boolean') throw new TypeError('options.bindEncryptionContext must be a boolean');
}

/**
 * UTF-8 of `{"v":1,"identity":…,"environment":…,"commit":…,"nonce":"<hex>","options":
 * {"signingKeyArn":…,"ttlSeconds":…,"bindEncryptionContext":…}}` — these keys, this order,
 * no whitespace; strings as JSON.stringify writes them.
 */
export function canonicalPackRequestBytes(r: CanonicalPackRequest): Uint8Array {
  check(r);
  const o = r.options;
  const json =
    `{"v":1,"identity":${JSON.stringify(r.identity)},"environment":${JSON.stringify(r.environment)},` +
    `"commit":${JSON.stringify(r.commit)},"nonce":${JSON.stringify(Buffer.from(r.nonce).toString('hex'))},` +
    `"options":{"signingKeyArn":${JSON.stringify(o.signingKeyArn)},"ttlSeconds":${JSON.stringify(o.ttlSeconds)},` +
    `"bindEncryptionContext":${JSON.stringify(o.bindEncryptionContext)}}}`;
  return new Uint8Array(Buffer.from(json, 'utf8'));
}

/** base64url (no padding) of SHA-256 over the canonical request bytes. */
export function packRequestHash(r: CanonicalPackRequest): string {
  return createHash('sha256').update(canonicalPackRequestBytes(r)).digest('base64url');
}

/** The `aud` CI must request: `<prefix>:<packRequestHash>`. */
export function packRequestAudience(prefix: string, r: CanonicalPackRequest): string {
  return `${prefix}:${packRequestHash(r)}`;
}
