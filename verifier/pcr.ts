// PCR rules: the expected measurements (from a build manifest or --pcr flags), debug-mode
// detection, and the extend operation NSM uses. A PCR policy must say something: an empty
// expectation is refused, never treated as "everything matches".
import { createHash, timingSafeEqual } from 'node:crypto';
import { fail } from './errors.ts';
import type { AttestationDocument, PcrExpectations } from './types.ts';

const SHA384_BYTES = 48;

/** extend(PCR, x) = SHA-384(PCR ‖ x), the TPM-style extend NSM implements. */
export function pcrExtend(prev: Uint8Array, data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha384').update(prev).update(data).digest());
}

/**
 * PCR4 of a real enclave: one extend of 48 zero bytes with the parent instance id as raw
 * ASCII (no inner hash). The instance id is module_id up to "-enc"
 * ("i-0123…-enc0123…" → "i-0123…").
 */
export function instanceIdPcr4(moduleId: string): Uint8Array {
  const at = moduleId.indexOf('-enc');
  if (at <= 0) fail('MALFORMED_DOCUMENT', `module_id "${moduleId}" does not have the form <instance id>-enc<enclave id>`);
  return pcrExtend(new Uint8Array(SHA384_BYTES), new TextEncoder().encode(moduleId.slice(0, at)));
}

function allZero(bytes: Uint8Array | undefined): boolean {
  return bytes !== undefined && bytes.every((b) => b === 0);
}

/** Debug-mode enclaves report PCR0, PCR1 and PCR2 as all zeros. */
export function isDebugDocument(doc: Pick<AttestationDocument, 'pcrs'>): boolean {
  return allZero(doc.pcrs.get(0)) && allZero(doc.pcrs.get(1)) && allZero(doc.pcrs.get(2));
}

/** Compare two byte strings without an early exit on the first difference. */
export function bytesEqualConstantTime(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Refuse debug-mode documents unless the caller allows them. */
export function checkDebugMode(doc: AttestationDocument, allowDebug: boolean): string {
  if (!isDebugDocument(doc)) return 'production enclave (PCR0/1/2 not all zero)';
  if (!allowDebug) {
    fail('DEBUG_MODE', 'document comes from a debug-mode enclave (PCR0, PCR1 and PCR2 are all zero); its memory is readable from the parent');
  }
  return 'debug-mode enclave allowed (allowDebug)';
}

/** Every expected PCR must be present and equal. Returns a short description. */
export function checkPcrs(doc: AttestationDocument, expectations: PcrExpectations): string {
  if (!(expectations.expected instanceof Map) || expectations.expected.size === 0) {
    fail('PCR_POLICY_EMPTY', 'no PCR expectations were given; refusing to report a pass (use an explicit skip to check only authenticity)');
  }
  const indexes = [...expectations.expected.keys()].sort((a, b) => a - b);
  for (const index of indexes) {
    const expected = expectations.expected.get(index) as Uint8Array;
    const actual = doc.pcrs.get(index);
    if (actual === undefined) fail('PCR_MISSING', `PCR${index} is expected but absent from the document`, { index });
    if (!bytesEqualConstantTime(actual, expected)) {
      fail('PCR_MISMATCH', `PCR${index} is ${Buffer.from(actual).toString('hex')}, expected ${Buffer.from(expected).toString('hex')}`, {
        index,
        actual: Buffer.from(actual).toString('hex'),
        expected: Buffer.from(expected).toString('hex'),
      });
    }
  }
  return `PCR${indexes.join(', PCR')} match`;
}
