// Every real (and labelled synthetic) AWS Nitro attestation document in test/fixtures/nitro
// is accepted or refused exactly as INDEX.json says, checked at its own timestamp.
// Expected values come from INDEX.json and from an independent CBOR decoder (cbor-x),
// never from the verifier under test.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Decoder, Tag } from 'cbor-x';
import { describe, expect, it } from 'vitest';
import {
  AWS_NITRO_ROOT_G1_SHA256,
  instanceIdPcr4,
  isVerificationError,
  verifyAttestationDocument,
  type VerifyErrorCode,
} from '../verifier/index.ts';

const FIXTURES = new URL('./fixtures/nitro/', import.meta.url);

interface IndexEntry {
  file: string;
  valid: boolean;
  doc_kind: string | null;
  module_id: string | null;
  timestamp_ms: number | null;
  debug: boolean;
  signature_valid: boolean;
  chain_valid: boolean;
  invalid_reason: string | null;
  pcr_indexes: number[] | null;
  pcr4_is_instance_id_extend: boolean;
  cabundle_len: number | null;
  has_public_key: boolean;
  has_user_data: boolean;
  has_nonce: boolean;
  tagged: boolean;
  leaf_not_after: string | null;
}

const INDEX: IndexEntry[] = JSON.parse(readFileSync(new URL('INDEX.json', FIXTURES), 'utf8'));
const valid = INDEX.filter((e) => e.valid);
const invalid = INDEX.filter((e) => !e.valid);
const load = (e: IndexEntry): Uint8Array => new Uint8Array(readFileSync(new URL(e.file, FIXTURES)));

/** What each invalid document must be refused with, derived from its INDEX entry. */
function expectedCode(e: IndexEntry): VerifyErrorCode {
  if (e.file === 'docs/cape-js-1.cbor') return 'MALFORMED_CBOR'; // trailing bytes after the item
  if (e.file === 'docs/blocky-nitrite-1.cbor') return 'MALFORMED_COSE'; // unprotected header is null
  if (e.doc_kind === 'nitrotpm') return 'NOT_ENCLAVE_DOCUMENT';
  if (e.invalid_reason?.includes('cabundle[0] is not the AWS Nitro root')) return 'CHAIN_UNTRUSTED_ROOT';
  if (!e.signature_valid && e.chain_valid) return 'COSE_SIGNATURE_INVALID';
  throw new Error(`no expected code for ${e.file}: ${e.invalid_reason}`);
}

/** Independent view of the payload (cbor-x), for expectations. */
const cborx = new Decoder({ mapsAsObjects: false, useRecords: false });
function independentPayload(bytes: Uint8Array): Map<string, unknown> {
  let cose = cborx.decode(bytes) as unknown;
  if (cose instanceof Tag) cose = cose.value;
  const payload = (cose as unknown[])[2] as Uint8Array;
  return cborx.decode(payload) as Map<string, unknown>;
}
function independentPcrs(bytes: Uint8Array): Map<number, Uint8Array> {
  return independentPayload(bytes).get('pcrs') as Map<number, Uint8Array>;
}

function refusal(fn: () => unknown): { code: string; checks: unknown } {
  try {
    fn();
  } catch (e) {
    if (!isVerificationError(e)) throw e;
    return { code: e.code, checks: e.detail?.checks };
  }
  throw new Error('expected a VerificationError, but verification passed');
}

describe('fixture set', () => {
  it('has the documented shape', () => {
    expect(INDEX.length).toBe(104);
    expect(valid.length).toBe(91);
    expect(valid.filter((e) => e.debug).length).toBe(34);
  });
});

describe('authenticity at the document timestamp (PCRs skipped)', () => {
  it.each(valid.map((e) => [e.file, e] as const))('accepts %s', (_file, e) => {
    const bytes = load(e);
    const r = verifyAttestationDocument(bytes, { time: { kind: 'document' }, pcrs: 'skip', allowDebug: true });
    expect(r.document.moduleId).toBe(e.module_id);
    expect(r.document.timestamp).toBe(e.timestamp_ms);
    expect(r.checkedAt).toBe(e.timestamp_ms);
    expect([...r.document.pcrs.keys()]).toEqual(e.pcr_indexes);
    expect(r.document.cabundle.length).toBe(e.cabundle_len);
    expect(r.document.publicKey !== null).toBe(e.has_public_key);
    expect(r.document.userData !== null).toBe(e.has_user_data);
    expect(r.document.nonce !== null).toBe(e.has_nonce);
    expect(r.debug).toBe(e.debug);
    expect(r.pcrsUnchecked).toBe(true);
    expect(r.trust).toMatchObject({ kind: 'aws', rootSha256: AWS_NITRO_ROOT_G1_SHA256 });
    const byName = new Map(r.checks.map((c) => [c.name, c.status]));
    for (const name of ['cose-structure', 'document-format', 'trust-anchor', 'chain', 'certificate-validity', 'cose-signature']) {
      expect(byName.get(name)).toBe('pass');
    }
    expect(byName.get('pcrs')).toBe('skipped');
    // PCR values as an independent decoder reads them.
    const pcrs = independentPcrs(bytes);
    for (const [i, v] of pcrs) expect(Buffer.from(r.document.pcrs.get(i) as Uint8Array).equals(v)).toBe(true);
  });

  it.each(invalid.map((e) => [e.file, e] as const))('refuses %s with the right code', (_file, e) => {
    const { code, checks } = refusal(() => verifyAttestationDocument(load(e), { time: { kind: 'document' }, pcrs: 'skip', allowDebug: true }));
    expect(code).toBe(expectedCode(e));
    // The failing check is the last one recorded.
    const list = checks as Array<{ status: string }>;
    expect(list.at(-1)?.status).toBe('fail');
  });

  it('a tagged copy verifies like the untagged original', () => {
    const tagged = INDEX.find((e) => e.file === 'docs/synthetic-tagged-1.cbor') as IndexEntry;
    const original = load(INDEX.find((e) => e.file === 'docs/tee-verifier-1.cbor') as IndexEntry);
    const bytes = load(tagged);
    expect(bytes[0]).toBe(0xd2);
    expect(Buffer.from(bytes.subarray(1)).equals(original)).toBe(true);
    const a = verifyAttestationDocument(bytes, { time: { kind: 'document' }, pcrs: 'skip', allowDebug: true });
    const b = verifyAttestationDocument(original, { time: { kind: 'document' }, pcrs: 'skip', allowDebug: true });
    expect(a.document.moduleId).toBe(b.document.moduleId);
  });
});

describe('PCR policy on real documents', () => {
  const debugDocs = valid.filter((e) => e.debug);
  const productionDocs = valid.filter((e) => !e.debug);

  it.each(debugDocs.map((e) => [e.file, e] as const))('refuses debug document %s with DEBUG_MODE unless allowed', (_f, e) => {
    const bytes = load(e);
    const expected = new Map([...independentPcrs(bytes)].filter(([i]) => i <= 4));
    expect(refusal(() => verifyAttestationDocument(bytes, { time: { kind: 'document' }, pcrs: { expected } })).code).toBe('DEBUG_MODE');
    const r = verifyAttestationDocument(bytes, { time: { kind: 'document' }, pcrs: { expected, allowDebug: true } });
    expect(r.debug).toBe(true);
    expect(r.pcrsUnchecked).toBe(false);
    // Skipping the PCR comparison does not let a debug-mode document through.
    const skipped = refusal(() => verifyAttestationDocument(bytes, { time: { kind: 'document' }, pcrs: 'skip' }));
    expect(skipped.code).toBe('DEBUG_MODE');
  });

  it.each(productionDocs.map((e) => [e.file, e] as const))('checks PCRs of %s', (_f, e) => {
    const bytes = load(e);
    const actual = independentPcrs(bytes);
    const expected = new Map([0, 1, 2].map((i) => [i, actual.get(i) as Uint8Array]));
    const r = verifyAttestationDocument(bytes, { time: { kind: 'document' }, pcrs: { expected } });
    expect(r.checks.find((c) => c.name === 'pcrs')?.status).toBe('pass');

    const wrong = new Uint8Array(actual.get(0) as Uint8Array);
    wrong[47] = (wrong[47] as number) ^ 1;
    expect(refusal(() => verifyAttestationDocument(bytes, { time: { kind: 'document' }, pcrs: { expected: new Map([[0, wrong]]) } })).code).toBe('PCR_MISMATCH');
    expect(refusal(() => verifyAttestationDocument(bytes, { time: { kind: 'document' }, pcrs: { expected: new Map([[31, wrong]]) } })).code).toBe('PCR_MISSING');
    expect(refusal(() => verifyAttestationDocument(bytes, { time: { kind: 'document' }, pcrs: { expected: new Map() } })).code).toBe('PCR_POLICY_EMPTY');
  });
});

describe('PCR4 is the instance-id extend on every real enclave document', () => {
  const withRule = valid.filter((e) => e.pcr4_is_instance_id_extend);
  it('covers every valid enclave document', () => {
    expect(withRule.length).toBe(valid.filter((e) => e.doc_kind === 'nitro-enclave').length);
  });
  it.each(withRule.map((e) => [e.file, e] as const))('%s', (_f, e) => {
    const bytes = load(e);
    const r = verifyAttestationDocument(bytes, { time: { kind: 'document' }, pcrs: 'skip', allowDebug: true });
    const instanceId = (e.module_id as string).split('-enc')[0] as string;
    const independent = createHash('sha384').update(Buffer.alloc(48)).update(instanceId, 'ascii').digest();
    expect(independent.equals(r.document.pcrs.get(4) as Uint8Array)).toBe(true);
    expect(Buffer.from(instanceIdPcr4(r.document.moduleId)).equals(independent)).toBe(true);
    // And a PCR4 expectation built from the rule passes the PCR policy.
    const ok = verifyAttestationDocument(bytes, { time: { kind: 'document' }, pcrs: { expected: new Map([[4, independent]]), allowDebug: true } });
    expect(ok.checks.find((c) => c.name === 'pcrs')?.status).toBe('pass');
  });
});

describe('verified "now", the same documents have long expired', () => {
  it.each(valid.map((e) => [e.file, e] as const))('%s → CERT_EXPIRED', (_f, e) => {
    const now = Date.now();
    expect(Date.parse(e.leaf_not_after as string)).toBeLessThan(now);
    expect(refusal(() => verifyAttestationDocument(load(e), { pcrs: 'skip' })).code).toBe('CERT_EXPIRED');
    expect(refusal(() => verifyAttestationDocument(load(e), { time: { kind: 'now', now: () => now }, pcrs: 'skip' })).code).toBe('CERT_EXPIRED');
  });
});

describe('bindings: nonce, user_data, public_key', () => {
  const fields = [
    ['nonce', 'has_nonce', 'expectedNonce', 'NONCE_MISMATCH'],
    ['user_data', 'has_user_data', 'expectedUserData', 'USER_DATA_MISMATCH'],
    ['public_key', 'has_public_key', 'expectedPublicKey', 'PUBLIC_KEY_MISMATCH'],
  ] as const;
  for (const [field, flag, option, code] of fields) {
    const docs = valid.filter((e) => e[flag]);
    it(`${field}: matches on ${docs.length} documents, refuses a changed value with ${code}`, () => {
      expect(docs.length).toBeGreaterThan(0);
      for (const e of docs) {
        const bytes = load(e);
        const value = independentPayload(bytes).get(field) as Uint8Array;
        const r = verifyAttestationDocument(bytes, { time: { kind: 'document' }, pcrs: 'skip', allowDebug: true, [option]: new Uint8Array(value) });
        expect(r.checks.find((c) => c.name === field.replace('_', '-'))?.status).toBe('pass');
        const changed = new Uint8Array([...value, 0]);
        expect(refusal(() => verifyAttestationDocument(bytes, { time: { kind: 'document' }, pcrs: 'skip', allowDebug: true, [option]: changed })).code).toBe(code);
      }
    });
    it(`${field}: an expectation refuses a document without the field`, () => {
      const e = valid.find((x) => !x[flag]) as IndexEntry;
      expect(refusal(() => verifyAttestationDocument(load(e), { time: { kind: 'document' }, pcrs: 'skip', allowDebug: true, [option]: new Uint8Array(1) })).code).toBe(code);
    });
  }
});
