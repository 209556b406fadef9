// When the chain is checked, and how old or new a document may be (VerificationTime in
// types.ts). Leaf certificates live ~3 hours, so "now" proves freshness, while "document"
// re-checks a long-expired document at its own timestamp for a historical audit.
import { fail } from './errors.ts';
import type { VerificationTime } from './types.ts';

/** Clock difference tolerated between the enclave and the verifier. */
export const MAX_FUTURE_SKEW_MS = 5 * 60 * 1000;

function validInstant(ms: unknown, what: string): number {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) throw new TypeError(`${what} must be milliseconds since the Unix epoch`);
  return ms;
}

/** The instant certificate validity is checked at (ms since the Unix epoch). */
export function verificationInstant(time: VerificationTime, documentTimestamp: number): number {
  switch (time.kind) {
    case 'now':
      return validInstant((time.now ?? Date.now)(), 'time.now()');
    case 'document':
      return documentTimestamp;
    case 'fixed':
      return validInstant(time.at, 'time.at');
    default:
      throw new TypeError(`unknown verification time kind ${JSON.stringify((time as { kind?: unknown }).kind)}`);
  }
}

/**
 * Age and future checks of the document timestamp against `checkedAt` ("now" and "fixed";
 * "document" mode has nothing to check). Returns a short description.
 */
export function checkDocumentTime(time: VerificationTime, documentTimestamp: number, checkedAt: number): string {
  if (time.kind === 'document') return 'checked at the document timestamp';
  if (documentTimestamp > checkedAt + MAX_FUTURE_SKEW_MS) {
    fail('DOCUMENT_FROM_FUTURE', `document timestamp ${new Date(documentTimestamp).toISOString()} is after the verification time ${new Date(checkedAt).toISOString()} (allowed skew ${MAX_FUTURE_SKEW_MS / 1000} s)`);
  }
  const age = checkedAt - documentTimestamp;
  if (time.kind === 'now' && time.maxAgeMs !== undefined) {
    if (age > time.maxAgeMs) {
      fail('DOCUMENT_TOO_OLD', `document is ${Math.round(age / 1000)} s old; the maximum age is ${Math.round(time.maxAgeMs / 1000)} s`);
    }
    return `age ${Math.max(0, Math.round(age / 1000))} s ≤ ${Math.round(time.maxAgeMs / 1000)} s`;
  }
  return `timestamp not after the verification time`;
}
