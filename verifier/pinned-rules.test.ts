// The rules docs/receipt.md and docs/build-manifest.md pin for a second implementation
// ("Pinned rules"), each at its boundary: length units, control characters, canonical SPKI,
// DER and high-S signatures, the payload limit's step and code, CBOR nesting depth, and
// certificate validity at the document's timestamp.
import { createECDH, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseBuildManifest, serializeBuildManifest } from './build-manifest.ts';
import { decodeCbor } from './cbor.ts';
import {
  IN_TOTO_PAYLOAD_TYPE, MAX_DSSE_PAYLOAD_BYTES, p384PublicKeyFromSpki, parseDsseEnvelope, signDsseEnvelope, verifyDsseSignature,
} from './dsse.ts';
import { isVerificationError } from './errors.ts';
import { buildReceiptStatement, type ReceiptPredicateInput } from './statement.ts';
import { NO_PACK_OPTIONS, sampleReceiptAuthorization } from './test-authorization.ts';
import { DAY, makeChain, makeDocument, T0, type TestChain } from './test-documents.ts';
import { verifyAttestationDocument } from './verify-attestation.ts';

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (isVerificationError(e)) return e.code;
    throw e;
  }
  return 'ok';
}

function input(name: string): ReceiptPredicateInput {
  return {
    artifactName: name,
    authorization: sampleReceiptAuthorization('1'.repeat(64)),
    source: { repository: 'example/secrets', commit: '1'.repeat(64), objectFormat: 'sha256', clefYaml: '2'.repeat(64), cells: [] },
    pack: { identity: 'api', environment: 'production', namespaces: ['db'], revision: '1795402800123-0a0b0c0d', packedAt: '2026-11-23T10:00:00.000Z', options: { ...NO_PACK_OPTIONS } },
    kms: { sopsDecryptKeys: [], envelopeKey: null, signingKey: null, calls: [] },
    artifactSha256: '4'.repeat(64),
    builderVersion: '0.1.0',
  };
}

const manifestJson = (name: string): string => JSON.stringify({
  schema: 'attested-pack/build-manifest/v1',
  project: { name, version: '0.1.0', sourceCommit: 'a'.repeat(40), sourceDirty: false },
  blobSet: { kind: 'development', description: 'test blobs' },
  sourceDateEpoch: 1_700_000_000,
  inputs: [],
  eif: { file: 'enclave.eif', sha384: '01'.repeat(48), size: 1 },
  pcrs: { '0': '10'.repeat(48), '1': '11'.repeat(48), '2': '12'.repeat(48) },
  trustPolicy: null,
});

describe('lengths count Unicode code points', () => {
  const emoji = '\u{1f510}'; // one code point, two UTF-16 units, four UTF-8 bytes
  it('statement: subject name of 256 code points (512 UTF-16 units) accepted, 257 refused', () => {
    expect(code(() => buildReceiptStatement(input(emoji.repeat(256))))).toBe('ok');
    expect(code(() => buildReceiptStatement(input(emoji.repeat(257))))).toBe('STATEMENT_MALFORMED');
  });
  it('build manifest: 4096 code points accepted, 4097 refused', () => {
    expect(code(() => parseBuildManifest(manifestJson(emoji.repeat(4096))))).toBe('ok');
    expect(code(() => parseBuildManifest(manifestJson(emoji.repeat(4097))))).toBe('MANIFEST_MALFORMED');
  });
});

describe('control characters are C0, DEL and C1', () => {
  it.each([['C0', '\u0001'], ['DEL', '\u007f'], ['C1', '\u0085'], ['C1 last', '\u009f']])('%s refused in a statement and a manifest', (_n, c) => {
    expect(code(() => buildReceiptStatement(input(`a${c}b`)))).toBe('STATEMENT_MALFORMED');
    expect(code(() => parseBuildManifest(manifestJson(`a${c}b`)))).toBe('MANIFEST_MALFORMED');
  });
  it('U+00A0 (after C1) is an ordinary character', () => {
    expect(code(() => buildReceiptStatement(input('a\u00a0b')))).toBe('ok');
    expect(serializeBuildManifest(parseBuildManifest(manifestJson('a\u00a0b')))).toContain('a\u00a0b');
  });
});

describe('DSSE: payload limit at dsse-structure, canonical SPKI, DER, high-S', () => {
  const key = generateKeyPairSync('ec', { namedCurve: 'P-384' });

  it('a payload of exactly the limit decodes; one byte more is DSSE_MALFORMED (not a statement error)', () => {
    const at = signDsseEnvelope(IN_TOTO_PAYLOAD_TYPE, new Uint8Array(MAX_DSSE_PAYLOAD_BYTES), key.privateKey);
    expect(parseDsseEnvelope(at).payload.length).toBe(MAX_DSSE_PAYLOAD_BYTES);
    const over = signDsseEnvelope(IN_TOTO_PAYLOAD_TYPE, new Uint8Array(MAX_DSSE_PAYLOAD_BYTES + 1), key.privateKey);
    expect(code(() => parseDsseEnvelope(over))).toBe('DSSE_MALFORMED');
  });

  it('a compressed-point SPKI of the same key is refused (uncompressed, named curve only)', () => {
    const ecdh = createECDH('secp384r1');
    ecdh.generateKeys();
    const prefix = Buffer.from('3046301006072a8648ce3d020106052b81040022033200', 'hex');
    const compressed = Buffer.concat([prefix, ecdh.getPublicKey(null, 'compressed')]);
    expect(createPublicKey({ key: compressed, format: 'der', type: 'spki' }).asymmetricKeyType).toBe('ec');
    expect(code(() => p384PublicKeyFromSpki(compressed, 'PUBLIC_KEY_MISMATCH', 'k'))).toBe('PUBLIC_KEY_MISMATCH');
  });

  it('low-S and high-S forms of one signature both verify (high-S is not refused)', () => {
    const n = BigInt('0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973');
    const env = signDsseEnvelope(IN_TOTO_PAYLOAD_TYPE, new TextEncoder().encode('{}'), key.privateKey);
    const parsed = parseDsseEnvelope(env);
    const der = Buffer.from(parsed.signature);
    const rLen = der[3] as number;
    const r = der.subarray(4, 4 + rLen);
    const s = BigInt(`0x${der.subarray(6 + rLen).toString('hex')}`);
    const intDer = (v: Buffer): Buffer => {
      const body = (v[0] as number) & 0x80 ? Buffer.concat([Buffer.of(0), v]) : v;
      return Buffer.concat([Buffer.of(0x02, body.length), body]);
    };
    const forms = [s, n - s].map((x) => {
      const hex = x.toString(16).padStart(96, '0').replace(/^(00)+(?=[0-9a-f]{2})/, '');
      const body = Buffer.concat([intDer(Buffer.from(r)), intDer(Buffer.from(hex, 'hex'))]);
      return Buffer.concat([Buffer.of(0x30, body.length), body]);
    });
    for (const sig of forms) {
      const e = { ...env, signatures: [{ keyid: env.signatures[0]!.keyid, sig: sig.toString('base64') }] };
      expect(() => verifyDsseSignature(parseDsseEnvelope(e), key.publicKey)).not.toThrow();
    }
    expect(forms.some((f) => f.equals(der))).toBe(true);
  });
});

describe('CBOR nesting depth', () => {
  it('the top-level item has depth 0; an item at depth 16 is accepted, at depth 17 refused', () => {
    const nested = (levels: number): Uint8Array => Buffer.from(`${'81'.repeat(levels)}00`, 'hex');
    expect(code(() => decodeCbor(nested(16)))).toBe('ok');
    expect(code(() => decodeCbor(nested(17)))).toBe('MALFORMED_CBOR');
    // Tags and map values count like arrays.
    expect(code(() => decodeCbor(Buffer.from(`${'c1'.repeat(16)}00`, 'hex')))).toBe('ok');
    expect(code(() => decodeCbor(Buffer.from(`${'a101'.repeat(17)}00`, 'hex')))).toBe('MALFORMED_CBOR');
  });
});

describe('module_id length counts code points too', () => {
  it('256 code points (512 UTF-16 units) accepted, 257 refused', async () => {
    const chain = await makeChain();
    const opts = { root: chain.root.der, time: { kind: 'fixed', at: T0 } as const, pcrs: 'skip' as const };
    const id = (n: number): string => `i-0abc-enc0${'\u{1f510}'.repeat(n - 11)}`;
    expect(code(() => verifyAttestationDocument(makeDocument(chain, { set: { module_id: id(256) } }), opts))).toBe('ok');
    expect(code(() => verifyAttestationDocument(makeDocument(chain, { set: { module_id: id(257) } }), opts))).toBe('MALFORMED_DOCUMENT');
  });
});

describe('certificates must be valid at the document timestamp too', () => {
  let chain: TestChain;
  beforeAll(async () => {
    chain = await makeChain();
  });
  it('a document stamped before its leaf was valid is refused even when checked at a valid time', () => {
    const doc = makeDocument(chain, { set: { timestamp: T0 - 40 * DAY } });
    expect(code(() => verifyAttestationDocument(doc, { root: chain.root.der, time: { kind: 'fixed', at: T0 }, pcrs: 'skip' }))).toBe('CERT_NOT_YET_VALID');
    const ok = makeDocument(chain, { set: { timestamp: T0 - DAY } });
    expect(code(() => verifyAttestationDocument(ok, { root: chain.root.der, time: { kind: 'fixed', at: T0 }, pcrs: 'skip' }))).toBe('ok');
  });
});
