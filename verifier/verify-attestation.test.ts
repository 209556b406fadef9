import { beforeAll, describe, expect, it } from 'vitest';
import { clearChainCache } from './chain.ts';
import { isVerificationError } from './errors.ts';
import {
  DAY,
  defaultPcrs,
  encode,
  issue,
  makeChain,
  makeDocument,
  T0,
  type Encodable,
  type TestChain,
  x509,
} from './test-documents.ts';
import type { VerificationTime, VerifyAttestationOptions } from './types.ts';
import { verifyAttestationDocument } from './verify-attestation.ts';

function refusal(fn: () => unknown): { code: string; message: string; checks: Array<{ name: string; status: string }> } {
  try {
    fn();
  } catch (e) {
    if (!isVerificationError(e)) throw e;
    return { code: e.code, message: e.message, checks: (e.detail?.checks ?? []) as Array<{ name: string; status: string }> };
  }
  throw new Error('expected a refusal, but verification passed');
}

const at = (ms: number): VerificationTime => ({ kind: 'fixed', at: ms });

let chain: TestChain;
let rootDer: Uint8Array;
const opts = (extra: Partial<VerifyAttestationOptions> = {}): VerifyAttestationOptions => ({ root: rootDer, time: at(T0), pcrs: 'skip', ...extra });

beforeAll(async () => {
  chain = await makeChain();
  rootDer = chain.root.der;
});

describe('a well-formed document from a test chain', () => {
  it('verifies at a fixed time, at its own timestamp and "now" (injected clock)', () => {
    const doc = makeDocument(chain);
    for (const time of [at(T0), { kind: 'document' } as const, { kind: 'now', now: () => T0 + 60_000, maxAgeMs: 120_000 } as const]) {
      const r = verifyAttestationDocument(doc, opts({ time }));
      expect(r.checkedAt).toBe(time.kind === 'now' ? T0 + 60_000 : T0);
      expect(r.checks.filter((c) => c.status === 'fail')).toEqual([]);
    }
  });

  it('labels the trust anchor: SIMULATED in the root CN → simulated, otherwise custom', async () => {
    expect(verifyAttestationDocument(makeDocument(chain), opts()).trust.kind).toBe('simulated');
    const other = await makeChain({ root: { name: 'CN=Some Private CA' } });
    const r = verifyAttestationDocument(makeDocument(other), opts({ root: other.root.der }));
    expect(r.trust.kind).toBe('custom');
    expect(r.trust.rootSubject).toContain('Some Private CA');
    // Only the CN counts: "SIMULATED" elsewhere in the name does not make a root simulated.
    const elsewhere = await makeChain({ root: { name: 'O=SIMULATED Corp, CN=Private CA' } });
    expect(verifyAttestationDocument(makeDocument(elsewhere), opts({ root: elsewhere.root.der })).trust.kind).toBe('custom');
  });

  it('verifies tagged and indefinite-length documents', () => {
    expect(verifyAttestationDocument(makeDocument(chain, { tagged: true, indefinite: true }), opts()).document.moduleId).toBeTruthy();
  });

  it('accepts a non-critical unknown extension and a P-521/SHA-512-signed intermediate', async () => {
    const odd = await makeChain({
      intermediates: [{ curve: 'P-521' }, {}],
      leaf: { extensions: [new x509.Extension('1.3.6.1.4.1.99999.1', false, encode(null))] },
    });
    expect(verifyAttestationDocument(makeDocument(odd), opts({ root: odd.root.der })).trust.kind).toBe('simulated');
  });

  it('records every check in order', () => {
    const r = verifyAttestationDocument(makeDocument(chain, { set: { nonce: Uint8Array.of(1) } }), opts({ expectedNonce: Uint8Array.of(1) }));
    expect(r.checks.map((c) => `${c.name}:${c.status}`)).toEqual([
      'cose-structure:pass', 'document-format:pass', 'trust-anchor:pass', 'chain:pass', 'certificate-validity:pass',
      'cose-signature:pass', 'document-time:pass', 'debug-mode:pass', 'pcrs:skipped', 'nonce:pass', 'user-data:skipped', 'public-key:skipped',
    ]);
    expect(r.pcrsUnchecked).toBe(true);
  });
});

describe('trust anchor', () => {
  it('CHAIN_UNTRUSTED_ROOT: a test chain against the default AWS root', () => {
    const r = refusal(() => verifyAttestationDocument(makeDocument(chain), { time: at(T0), pcrs: 'skip' }));
    expect(r.code).toBe('CHAIN_UNTRUSTED_ROOT');
    expect(r.checks.at(-1)).toMatchObject({ name: 'trust-anchor', status: 'fail' });
  });

  it('CHAIN_UNTRUSTED_ROOT: a custom root that is not cabundle[0]', async () => {
    const other = await makeChain();
    expect(refusal(() => verifyAttestationDocument(makeDocument(chain), opts({ root: other.root.der }))).code).toBe('CHAIN_UNTRUSTED_ROOT');
  });

  it('CERT_MALFORMED: a root option that is not a certificate', () => {
    expect(refusal(() => verifyAttestationDocument(makeDocument(chain), opts({ root: Uint8Array.of(0x30, 0x00) }))).code).toBe('CERT_MALFORMED');
  });
});

describe('chain', () => {
  it('CHAIN_INVALID: intermediates out of order', () => {
    const [root, i1, i2] = chain.cabundle as [typeof chain.root, typeof chain.root, typeof chain.root];
    const doc = makeDocument(chain, { set: { cabundle: [root.der, i2.der, i1.der] } });
    expect(refusal(() => verifyAttestationDocument(doc, opts())).code).toBe('CHAIN_INVALID');
  });

  it('CHAIN_INVALID: an intermediate missing from the bundle', () => {
    const doc = makeDocument(chain, { set: { cabundle: [chain.root.der, (chain.cabundle[1] as typeof chain.root).der] } });
    expect(refusal(() => verifyAttestationDocument(doc, opts())).code).toBe('CHAIN_INVALID');
  });

  it('CHAIN_INVALID: a leaf whose issuer name is right but signature is by another key', async () => {
    const forged = await issue({ name: 'CN=forged leaf', signWithWrongKey: true }, chain.cabundle[2] as typeof chain.root);
    const doc = makeDocument({ ...chain, leaf: forged });
    const r = refusal(() => verifyAttestationDocument(doc, opts()));
    expect(r.code).toBe('CHAIN_INVALID');
    expect(r.message).toContain('signature');
  });

  it('CHAIN_INVALID: an intermediate that names the right issuer but is signed by another key', async () => {
    const bad = await makeChain({ intermediates: [{}, { signWithWrongKey: true }] });
    expect(refusal(() => verifyAttestationDocument(makeDocument(bad), opts({ root: bad.root.der }))).code).toBe('CHAIN_INVALID');
  });

  it('CHAIN_INVALID: issuer name that does not match the parent subject', async () => {
    const bad = await makeChain({ leaf: { issuerNameOverride: 'CN=Someone Else' } });
    expect(refusal(() => verifyAttestationDocument(makeDocument(bad), opts({ root: bad.root.der }))).code).toBe('CHAIN_INVALID');
  });

  it('CERT_MALFORMED: leaf or bundle entry that is not DER', () => {
    expect(refusal(() => verifyAttestationDocument(makeDocument(chain, { set: { certificate: new Uint8Array(100).fill(0x30) } }), opts())).code).toBe('CERT_MALFORMED');
    const trailing = new Uint8Array([...chain.leaf.der, 0]);
    expect(refusal(() => verifyAttestationDocument(makeDocument(chain, { set: { certificate: trailing } }), opts())).code).toBe('CERT_MALFORMED');
    const bundle = chain.cabundle.map((c) => c.der);
    bundle[1] = new Uint8Array((bundle[1] as Uint8Array).subarray(0, 200));
    expect(refusal(() => verifyAttestationDocument(makeDocument(chain, { set: { cabundle: bundle } }), opts())).code).toBe('CERT_MALFORMED');
  });

  const constraintCases: Array<[string, Parameters<typeof makeChain>[0]]> = [
    ['intermediate not a CA', { intermediates: [{}, { ca: { isCa: false } }] }],
    ['intermediate without basicConstraints', { intermediates: [{ ca: null }, {}] }],
    ['intermediate without keyCertSign', { intermediates: [{}, { keyUsage: x509.KeyUsageFlags.digitalSignature }] }],
    ['intermediate without keyUsage', { intermediates: [{ keyUsage: null }, {}] }],
    ['pathLenConstraint exceeded', { intermediates: [{ ca: { isCa: true, pathLength: 0 } }, {}] }],
    ['root pathLenConstraint exceeded', { root: { ca: { isCa: true, pathLength: 1 } } }],
    ['leaf is a CA', { leaf: { ca: { isCa: true } } }],
    ['leaf keyUsage without digitalSignature', { leaf: { keyUsage: x509.KeyUsageFlags.keyEncipherment } }],
    ['unknown critical extension', { leaf: { extensions: [new x509.Extension('1.3.6.1.4.1.99999.2', true, encode(null))] } }],
  ];
  it.each(constraintCases)('CERT_CONSTRAINTS: %s', async (_name, spec) => {
    const bad = await makeChain(spec);
    expect(refusal(() => verifyAttestationDocument(makeDocument(bad), opts({ root: bad.root.der }))).code).toBe('CERT_CONSTRAINTS');
  });

  it('a leaf without basicConstraints or keyUsage is acceptable (RFC 5280 defaults)', async () => {
    const ok = await makeChain({ leaf: { ca: null, keyUsage: null } });
    expect(verifyAttestationDocument(makeDocument(ok), opts({ root: ok.root.der })).checks.find((c) => c.name === 'chain')?.status).toBe('pass');
  });

  it.each(['P-256', 'P-521'] as const)('LEAF_KEY_INVALID: a %s leaf key', async (curve) => {
    const bad = await makeChain({ leaf: { curve } });
    const doc = makeDocument(bad, { signature: new Uint8Array(96) });
    expect(refusal(() => verifyAttestationDocument(doc, opts({ root: bad.root.der }))).code).toBe('LEAF_KEY_INVALID');
  });
});

describe('certificate validity at the verification time', () => {
  it('CERT_EXPIRED / CERT_NOT_YET_VALID for the whole chain', () => {
    const doc = makeDocument(chain);
    expect(refusal(() => verifyAttestationDocument(doc, opts({ time: at(T0 + 31 * DAY) }))).code).toBe('CERT_EXPIRED');
    expect(refusal(() => verifyAttestationDocument(doc, opts({ time: at(T0 - 31 * DAY) }))).code).toBe('CERT_NOT_YET_VALID');
  });

  it('a short-lived leaf: valid at the document time, expired three hours later', async () => {
    const short = await makeChain({ leaf: { notBefore: new Date(T0 - 60_000), notAfter: new Date(T0 + 3 * 3_600_000) } });
    const doc = makeDocument(short);
    expect(verifyAttestationDocument(doc, opts({ root: short.root.der, time: { kind: 'document' } })).checkedAt).toBe(T0);
    const r = refusal(() => verifyAttestationDocument(doc, opts({ root: short.root.der, time: { kind: 'now', now: () => T0 + 4 * 3_600_000 } })));
    expect(r.code).toBe('CERT_EXPIRED');
    expect(r.message).toContain('leaf certificate');
  });

  it('the link cache never skips the time check', () => {
    clearChainCache();
    const doc = makeDocument(chain);
    verifyAttestationDocument(doc, opts());
    verifyAttestationDocument(doc, opts());
    expect(refusal(() => verifyAttestationDocument(doc, opts({ time: at(T0 + 31 * DAY) }))).code).toBe('CERT_EXPIRED');
  });

  it('the link cache never skips the leaf signature', async () => {
    verifyAttestationDocument(makeDocument(chain), opts());
    const forged = await issue({ name: 'CN=forged leaf', signWithWrongKey: true }, chain.cabundle[2] as typeof chain.root);
    expect(refusal(() => verifyAttestationDocument(makeDocument({ ...chain, leaf: forged }), opts())).code).toBe('CHAIN_INVALID');
  });
});

describe('COSE signature', () => {
  it('COSE_SIGNATURE_INVALID: signed by another P-384 key', async () => {
    const other = await makeChain();
    const r = refusal(() => verifyAttestationDocument(makeDocument(chain, { signingKey: other.leaf.privateKey }), opts()));
    expect(r.code).toBe('COSE_SIGNATURE_INVALID');
    expect(r.checks.map((c) => c.status)).toEqual(['pass', 'pass', 'pass', 'pass', 'pass', 'fail']);
  });

  it('COSE_SIGNATURE_INVALID: one flipped signature bit, or a signature over a re-encoded payload', () => {
    const doc = makeDocument(chain);
    const flipped = new Uint8Array(doc);
    flipped[flipped.length - 1] = (flipped[flipped.length - 1] as number) ^ 1;
    expect(refusal(() => verifyAttestationDocument(flipped, opts())).code).toBe('COSE_SIGNATURE_INVALID');
    // Signed as a definite map, shipped as the indefinite encoding of the same map.
    const definite = makeDocument(chain);
    const sig = definite.subarray(definite.length - 96);
    expect(refusal(() => verifyAttestationDocument(makeDocument(chain, { indefinite: true, signature: new Uint8Array(sig) }), opts())).code).toBe('COSE_SIGNATURE_INVALID');
  });
});

describe('document time', () => {
  it('DOCUMENT_TOO_OLD when older than maxAgeMs', () => {
    const doc = makeDocument(chain);
    const r = refusal(() => verifyAttestationDocument(doc, opts({ time: { kind: 'now', now: () => T0 + 10 * 60_000, maxAgeMs: 5 * 60_000 } })));
    expect(r.code).toBe('DOCUMENT_TOO_OLD');
    expect(r.checks.at(-1)).toMatchObject({ name: 'document-time', status: 'fail' });
  });

  it('DOCUMENT_FROM_FUTURE beyond the allowed skew, for "now" and "fixed"', () => {
    const doc = makeDocument(chain);
    expect(refusal(() => verifyAttestationDocument(doc, opts({ time: { kind: 'now', now: () => T0 - 10 * 60_000 } }))).code).toBe('DOCUMENT_FROM_FUTURE');
    expect(refusal(() => verifyAttestationDocument(doc, opts({ time: at(T0 - 10 * 60_000) }))).code).toBe('DOCUMENT_FROM_FUTURE');
    expect(verifyAttestationDocument(doc, opts({ time: at(T0 - 60_000) })).checkedAt).toBe(T0 - 60_000);
  });
});

describe('PCR policy and bindings', () => {
  const debugPcrs = (): Map<Encodable, Encodable> => {
    const p = defaultPcrs();
    for (const i of [0, 1, 2]) p.set(i, new Uint8Array(48));
    p.set(4, new Uint8Array(48).fill(4));
    return p;
  };

  it('passes matching PCRs and refuses PCR_MISMATCH / PCR_MISSING / PCR_POLICY_EMPTY', () => {
    const doc = makeDocument(chain);
    const pcr0 = new Uint8Array(48).fill(0x10);
    expect(verifyAttestationDocument(doc, opts({ pcrs: { expected: new Map([[0, pcr0]]) } })).pcrsUnchecked).toBe(false);
    expect(refusal(() => verifyAttestationDocument(doc, opts({ pcrs: { expected: new Map([[0, new Uint8Array(48)]]) } }))).code).toBe('PCR_MISMATCH');
    expect(refusal(() => verifyAttestationDocument(doc, opts({ pcrs: { expected: new Map([[20, pcr0]]) } }))).code).toBe('PCR_MISSING');
    expect(refusal(() => verifyAttestationDocument(doc, opts({ pcrs: { expected: new Map() } }))).code).toBe('PCR_POLICY_EMPTY');
  });

  it('DEBUG_MODE for a debug document whatever the PCR policy, skip included; allowDebug accepts', () => {
    const doc = makeDocument(chain, { set: { pcrs: debugPcrs() } });
    const expected = new Map([[4, new Uint8Array(48).fill(4)]]);
    expect(refusal(() => verifyAttestationDocument(doc, opts({ pcrs: { expected } }))).code).toBe('DEBUG_MODE');
    expect(verifyAttestationDocument(doc, opts({ pcrs: { expected, allowDebug: true } })).debug).toBe(true);
    expect(verifyAttestationDocument(doc, opts({ pcrs: { expected }, allowDebug: true })).debug).toBe(true);
    const skipped = refusal(() => verifyAttestationDocument(doc, opts()));
    expect(skipped.code).toBe('DEBUG_MODE');
    const allowed = verifyAttestationDocument(doc, opts({ allowDebug: true }));
    expect(allowed.debug).toBe(true);
    expect(allowed.checks.find((c) => c.name === 'debug-mode')?.status).toBe('pass');
    expect(allowed.checks.find((c) => c.name === 'pcrs')?.status).toBe('skipped');
  });

  it.each([
    ['nonce', 'expectedNonce', 'NONCE_MISMATCH'],
    ['user_data', 'expectedUserData', 'USER_DATA_MISMATCH'],
    ['public_key', 'expectedPublicKey', 'PUBLIC_KEY_MISMATCH'],
  ] as const)('%s: match passes, difference → %s, absence → %s', (field, option, code) => {
    const value = Uint8Array.of(1, 2, 3);
    const doc = makeDocument(chain, { set: { [field]: value } });
    expect(verifyAttestationDocument(doc, opts({ [option]: Uint8Array.of(1, 2, 3) })).checks.at(-1)?.status).not.toBe('fail');
    expect(refusal(() => verifyAttestationDocument(doc, opts({ [option]: Uint8Array.of(1, 2, 4) }))).code).toBe(code);
    expect(refusal(() => verifyAttestationDocument(doc, opts({ [option]: Uint8Array.of(1, 2) }))).code).toBe(code);
    expect(refusal(() => verifyAttestationDocument(makeDocument(chain), opts({ [option]: value }))).code).toBe(code);
  });
});

describe('options are checked before the document', () => {
  it('throws TypeError for malformed options (a programming error, not a verdict)', () => {
    const doc = makeDocument(chain);
    expect(() => verifyAttestationDocument(doc, { pcrs: new Map() } as unknown as VerifyAttestationOptions)).toThrow(TypeError);
    expect(() => verifyAttestationDocument(doc, opts({ time: { kind: 'later' } as unknown as VerifyAttestationOptions['time'] }))).toThrow(TypeError);
    expect(() => verifyAttestationDocument(doc, opts({ root: 'pem' as unknown as Uint8Array }))).toThrow(TypeError);
    expect(() => verifyAttestationDocument(doc, opts({ time: { kind: 'now', now: () => Number.NaN } }))).toThrow(TypeError);
    expect(() => verifyAttestationDocument(doc, opts({ time: { kind: 'now', maxAgeMs: -1 } }))).toThrow(TypeError);
    expect(() => verifyAttestationDocument(doc, opts({ time: { kind: 'fixed', at: Number.POSITIVE_INFINITY } }))).toThrow(TypeError);
  });

  it('refuses non-bytes input with a coded error', () => {
    expect(refusal(() => verifyAttestationDocument('abc' as unknown as Uint8Array, opts())).code).toBe('MALFORMED_CBOR');
  });
});
