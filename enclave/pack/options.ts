// The pack options a request may carry. They change what CI receives (a signature, an
// expiry, an encryption context), so they are typed, bounded, bound into the OIDC audience
// (verifier/pack-request.ts) and recorded in the receipt; anything else is refused.
import { EnclaveProtocolError } from '../protocol.ts';
import type { ReceiptPackOptions } from '../../verifier/statement.ts';
import { MAX_TTL_SECONDS } from '../../verifier/statement.ts';

const KNOWN = new Set(['signingKeyArn', 'ttlSeconds', 'bindEncryptionContext']);
const KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(?:key|alias)\/[A-Za-z0-9/_+=.@-]{1,256}$/;

export function refuse(detail: string, message: string): never {
  throw new EnclaveProtocolError('PACK_REFUSED', message, detail);
}

export function parsePackOptions(raw: Record<string, string | number | boolean>): ReceiptPackOptions {
  for (const k of Object.keys(raw)) {
    if (k === 'repository') refuse('UNKNOWN_OPTION', "the 'repository' option is gone: the repository comes from the verified OIDC claims");
    if (!KNOWN.has(k)) refuse('UNKNOWN_OPTION', `unknown pack option '${k}'`);
  }
  const signing = raw.signingKeyArn ?? null;
  const ttl = raw.ttlSeconds ?? null;
  const bind = raw.bindEncryptionContext ?? false;
  if (signing !== null && (typeof signing !== 'string' || !KEY_ARN.test(signing))) refuse('BAD_OPTION', 'signingKeyArn must be a KMS key or alias ARN');
  if (ttl !== null && (typeof ttl !== 'number' || !Number.isSafeInteger(ttl) || ttl < 0 || ttl > MAX_TTL_SECONDS)) {
    refuse('BAD_OPTION', `ttlSeconds must be an integer from 0 to ${MAX_TTL_SECONDS}`);
  }
  if (typeof bind !== 'boolean') refuse('BAD_OPTION', 'bindEncryptionContext must be a boolean');
  return { signingKeyArn: signing, ttlSeconds: ttl, bindEncryptionContext: bind };
}
