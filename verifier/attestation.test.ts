import { beforeAll, describe, expect, it } from 'vitest';
import { MAX_DOCUMENT_BYTES, parseAttestationDocument } from './attestation.ts';
import { VerificationError } from './errors.ts';
import { encode, makeChain, makeDocument, MODULE_ID, T0, type DocumentSpec, type Encodable, type TestChain } from './test-documents.ts';
import { codeOf as codeOfError } from '../test/error-codes.ts';

const codeOf = (fn: () => unknown): string => codeOfError(fn, VerificationError);

let chain: TestChain;
beforeAll(async () => {
  chain = await makeChain();
});

const pcrMap = (entries: Array<[Encodable, Encodable]>): Map<Encodable, Encodable> => new Map(entries);
const zeros = (n: number): Uint8Array => new Uint8Array(n);

describe('NSM payload: accepted shapes', () => {
  it('parses every field', () => {
    const doc = parseAttestationDocument(makeDocument(chain, { set: { user_data: Uint8Array.of(1, 2), nonce: zeros(1024), public_key: zeros(0) } })).document;
    expect(doc.moduleId).toBe(MODULE_ID);
    expect(doc.digest).toBe('SHA384');
    expect(doc.timestamp).toBe(T0);
    expect(doc.pcrs.size).toBe(16);
    expect(doc.cabundle.length).toBe(3);
    expect([...(doc.userData as Uint8Array)]).toEqual([1, 2]);
    expect(doc.nonce?.length).toBe(1024);
    expect(doc.publicKey?.length).toBe(0);
  });

  it('accepts an indefinite-length payload map, any key order, absent optional fields', () => {
    const doc = parseAttestationDocument(makeDocument(chain, { indefinite: true, remove: ['public_key', 'user_data', 'nonce'] })).document;
    expect(doc.publicKey).toBeNull();
    expect(doc.userData).toBeNull();
    expect(doc.nonce).toBeNull();
  });

  it.each([32, 48, 64])('accepts %d-byte PCR values', (n) => {
    const doc = parseAttestationDocument(makeDocument(chain, { set: { pcrs: pcrMap([[0, zeros(n)], [31, zeros(n)]]) } })).document;
    expect(doc.pcrs.get(31)?.length).toBe(n);
  });

  it('copies the input: changing the caller buffer afterwards changes nothing', () => {
    const bytes = makeDocument(chain);
    const parsed = parseAttestationDocument(bytes);
    bytes.fill(0);
    expect(parsed.document.moduleId).toBe(MODULE_ID);
    expect(parsed.document.certificate[0]).toBe(0x30);
  });
});

describe('NSM payload: refusals', () => {
  it('refuses input over the size limit with INPUT_TOO_LARGE, before decoding', () => {
    expect(codeOf(() => parseAttestationDocument(new Uint8Array(MAX_DOCUMENT_BYTES + 1)))).toBe('INPUT_TOO_LARGE');
  });

  it('refuses a NitroTPM document with NOT_ENCLAVE_DOCUMENT', () => {
    const tpm = pcrMap([[0, zeros(48)]]);
    expect(codeOf(() => parseAttestationDocument(makeDocument(chain, { remove: ['pcrs'], set: { nitrotpm_pcrs: tpm } })))).toBe('NOT_ENCLAVE_DOCUMENT');
    expect(codeOf(() => parseAttestationDocument(makeDocument(chain, { set: { nitrotpm_pcrs: tpm } })))).toBe('NOT_ENCLAVE_DOCUMENT');
  });

  it('refuses a payload that is not well-formed CBOR with MALFORMED_CBOR', () => {
    expect(codeOf(() => parseAttestationDocument(makeDocument(chain, { payloadBytes: Uint8Array.of(0xa1, 0x61, 0x61, 0x1c) })))).toBe('MALFORMED_CBOR');
    expect(codeOf(() => parseAttestationDocument(makeDocument(chain, { payloadBytes: Uint8Array.of(0xa0, 0x00) })))).toBe('MALFORMED_CBOR');
  });

  const cases: Array<[string, DocumentSpec]> = [
    ['payload is an array', { payloadBytes: encode([1, 2]) }],
    ['payload has an integer key', { payloadBytes: encode(new Map<Encodable, Encodable>([[1, 'x']])) }],
    ['unknown field', { set: { extra_field: 1 } }],
    ['module_id missing', { remove: ['module_id'] }],
    ['module_id empty', { set: { module_id: '' } }],
    ['module_id bytes', { set: { module_id: zeros(4) } }],
    ['module_id too long', { set: { module_id: 'i'.repeat(257) } }],
    ['digest missing', { remove: ['digest'] }],
    ['digest SHA256', { set: { digest: 'SHA256' } }],
    ['digest lower case', { set: { digest: 'sha384' } }],
    ['timestamp missing', { remove: ['timestamp'] }],
    ['timestamp zero', { set: { timestamp: 0 } }],
    ['timestamp negative', { set: { timestamp: -5 } }],
    ['timestamp text', { set: { timestamp: '1700000000000' } }],
    ['timestamp beyond 2^53', { set: { timestamp: 2 ** 60 } }],
    ['pcrs missing', { remove: ['pcrs'] }],
    ['pcrs empty', { set: { pcrs: pcrMap([]) } }],
    ['pcrs an array', { set: { pcrs: [zeros(48)] } }],
    ['PCR index 32', { set: { pcrs: pcrMap([[32, zeros(48)]]) } }],
    ['PCR index negative', { set: { pcrs: pcrMap([[-1, zeros(48)]]) } }],
    ['PCR index text', { set: { pcrs: pcrMap([['0', zeros(48)]]) } }],
    ['PCR value 47 bytes', { set: { pcrs: pcrMap([[0, zeros(47)]]) } }],
    ['PCR value text', { set: { pcrs: pcrMap([[0, 'x'.repeat(48)]]) } }],
    ['PCR values of mixed sizes', { set: { pcrs: pcrMap([[0, zeros(48)], [1, zeros(32)]]) } }],
    ['certificate missing', { remove: ['certificate'] }],
    ['certificate empty', { set: { certificate: zeros(0) } }],
    ['certificate too large', { set: { certificate: zeros(4097) } }],
    ['certificate as array', { set: { certificate: [zeros(10)] } }],
    ['cabundle missing', { remove: ['cabundle'] }],
    ['cabundle null', { set: { cabundle: null } }],
    ['cabundle empty', { set: { cabundle: [] } }],
    ['cabundle with 9 entries', { set: { cabundle: Array.from({ length: 9 }, () => zeros(10)) } }],
    ['cabundle entry text', { set: { cabundle: ['cert'] } }],
    ['public_key 1025 bytes', { set: { public_key: zeros(1025) } }],
    ['user_data 1025 bytes', { set: { user_data: zeros(1025) } }],
    ['nonce 1025 bytes', { set: { nonce: zeros(1025) } }],
    ['nonce text', { set: { nonce: 'abc' } }],
    ['user_data false', { set: { user_data: false } }],
    ['public_key undefined (0xf7)', { set: { public_key: undefined } }],
  ];
  it.each(cases)('refuses %s with MALFORMED_DOCUMENT', (_name, spec) => {
    expect(codeOf(() => parseAttestationDocument(makeDocument(chain, spec)))).toBe('MALFORMED_DOCUMENT');
  });

  it('refuses a duplicated payload key (as MALFORMED_CBOR)', () => {
    const dup = new Uint8Array([0xa2, ...encode('digest'), ...encode('SHA384'), ...encode('digest'), ...encode('SHA384')]);
    expect(codeOf(() => parseAttestationDocument(makeDocument(chain, { payloadBytes: dup })))).toBe('MALFORMED_CBOR');
  });
});
