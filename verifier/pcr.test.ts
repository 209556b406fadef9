import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { VerificationError } from './errors.ts';
import { bytesEqualConstantTime, checkDebugMode, checkPcrs, instanceIdPcr4, isDebugDocument, pcrExtend } from './pcr.ts';
import type { AttestationDocument } from './types.ts';
import { codeOf as codeOfError } from '../test/error-codes.ts';

const codeOf = (fn: () => unknown): string => codeOfError(fn, VerificationError);

function doc(pcrs: Array<[number, number]>): AttestationDocument {
  return {
    moduleId: 'i-0abc-enc0def',
    digest: 'SHA384',
    timestamp: 1,
    pcrs: new Map(pcrs.map(([i, fill]) => [i, new Uint8Array(48).fill(fill)])),
    certificate: new Uint8Array(1),
    cabundle: [new Uint8Array(1)],
    publicKey: null,
    userData: null,
    nonce: null,
  };
}

describe('pcrExtend', () => {
  it('is SHA-384(prev ‖ data)', () => {
    const prev = new Uint8Array(48).fill(1);
    const data = new TextEncoder().encode('measurement');
    const want = createHash('sha384').update(Buffer.concat([prev, data])).digest();
    expect(Buffer.from(pcrExtend(prev, data)).equals(want)).toBe(true);
  });

  it('matches the published value for an empty second ramdisk (PCR2 = extend(0, SHA-384("")))', () => {
    const v = pcrExtend(new Uint8Array(48), createHash('sha384').update('').digest());
    expect(Buffer.from(v).toString('hex')).toMatch(/^21b9efbc.*fc500a$/);
  });
});

describe('instanceIdPcr4', () => {
  it('extends 48 zero bytes with the raw ASCII instance id taken from module_id', () => {
    const want = createHash('sha384').update(Buffer.alloc(48)).update('i-078824548edcf6519').digest();
    expect(Buffer.from(instanceIdPcr4('i-078824548edcf6519-enc01784234ec227b58')).equals(want)).toBe(true);
  });
  it('refuses a module_id without "-enc" (MALFORMED_DOCUMENT)', () => {
    expect(codeOf(() => instanceIdPcr4('i-0123-tpm0000000000000000'))).toBe('MALFORMED_DOCUMENT');
    expect(codeOf(() => instanceIdPcr4('-enc123'))).toBe('MALFORMED_DOCUMENT');
  });
});

describe('debug mode', () => {
  it('is PCR0, PCR1 and PCR2 all zero', () => {
    expect(isDebugDocument(doc([[0, 0], [1, 0], [2, 0], [4, 9]]))).toBe(true);
    expect(isDebugDocument(doc([[0, 0], [1, 0], [2, 1]]))).toBe(false);
    expect(isDebugDocument(doc([[1, 0], [2, 0]]))).toBe(false); // PCR0 absent: not a debug document, but PCR0 will be missing
  });
  it('DEBUG_MODE unless allowed', () => {
    const d = doc([[0, 0], [1, 0], [2, 0]]);
    expect(codeOf(() => checkDebugMode(d, false))).toBe('DEBUG_MODE');
    expect(checkDebugMode(d, true)).toContain('allowed');
    expect(checkDebugMode(doc([[0, 1]]), false)).toContain('production');
  });
});

describe('checkPcrs', () => {
  const d = doc([[0, 1], [1, 2], [2, 3], [4, 4]]);
  it('passes when every expected PCR matches', () => {
    expect(checkPcrs(d, { expected: new Map([[0, new Uint8Array(48).fill(1)], [4, new Uint8Array(48).fill(4)]]) })).toBe('PCR0, PCR4 match');
  });
  it('PCR_POLICY_EMPTY for an empty policy', () => {
    expect(codeOf(() => checkPcrs(d, { expected: new Map() }))).toBe('PCR_POLICY_EMPTY');
  });
  it('PCR_MISSING for an index the document lacks', () => {
    expect(codeOf(() => checkPcrs(d, { expected: new Map([[8, new Uint8Array(48)]]) }))).toBe('PCR_MISSING');
  });
  it('PCR_MISMATCH for a different value or a different length', () => {
    expect(codeOf(() => checkPcrs(d, { expected: new Map([[0, new Uint8Array(48).fill(2)]]) }))).toBe('PCR_MISMATCH');
    expect(codeOf(() => checkPcrs(d, { expected: new Map([[0, new Uint8Array(32).fill(1)]]) }))).toBe('PCR_MISMATCH');
  });
  it('compares without throwing on length differences', () => {
    expect(bytesEqualConstantTime(Uint8Array.of(1), Uint8Array.of(1, 2))).toBe(false);
    expect(bytesEqualConstantTime(Uint8Array.of(1, 2), Uint8Array.of(1, 2))).toBe(true);
  });
});
