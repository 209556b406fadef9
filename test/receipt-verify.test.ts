// verifyReceipt end to end: receipts built with the enclave's builders and the simulated
// issuer, verified with the simulator's root passed explicitly; one test per refusal.
import type { BuildManifest } from '../verifier/build-manifest.ts';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TestCa } from '../simulator/attestation-issuer.ts';
import { isVerificationError, type VerificationError } from '../verifier/errors.ts';
import { MAX_RECEIPT_BYTES, parseReceipt, verifyReceipt, type VerifyReceiptOptions } from '../verifier/receipt.ts';
import type { CheckResult } from '../verifier/types.ts';
import { ARTIFACT, editReceipt, makeReceipt, newSigningKey, sampleInput, sampleManifest, testCa } from './receipt-fixtures.ts';

let ca: TestCa;
beforeAll(async () => {
  ca = await testCa();
});

type BuildManifestTrust = BuildManifest['trustPolicy'];

function opts(extra: Partial<VerifyReceiptOptions> = {}): VerifyReceiptOptions {
  return { manifest: sampleManifest(), root: ca.rootDer, ...extra };
}

function refusal(fn: () => unknown): VerificationError {
  try {
    fn();
  } catch (e) {
    if (isVerificationError(e)) return e;
    throw e;
  }
  throw new Error('expected a VerificationError, but verification passed');
}

function checkNames(checks: CheckResult[]): string[] {
  return checks.map((c) => c.name);
}

describe('verifyReceipt accepts a well-made receipt', () => {
  it('with artifact and nonce: every check passes, predicate returned', async () => {
    const { receipt, nonce } = await makeReceipt();
    const result = verifyReceipt(receipt, opts({ artifact: ARTIFACT, expectedNonce: nonce, expect: { commit: 'c'.repeat(40), repository: 'example/secrets' } }));
    expect(result.checks.every((c) => c.status === 'pass')).toBe(true);
    expect(checkNames(result.checks).slice(-3)).toEqual(['trust-policy', 'authorization', 'expectations']);
    expect(checkNames(result.checks)).toEqual(expect.arrayContaining([
      'receipt-structure', 'dsse-structure', 'cose-signature', 'chain', 'pcrs', 'nonce', 'user-data',
      'public-key', 'dsse-signature', 'statement', 'subject-digest', 'artifact-digest',
    ]));
    expect(result.attestation.trust.kind).toBe('simulated');
    expect(result.predicate.pack.identity).toBe('payments-api');
    expect(result.predicate.artifact.sha256).toBe(createHash('sha256').update(ARTIFACT).digest('hex'));
    expect(Buffer.from(result.nonce!)).toEqual(Buffer.from(nonce));
    expect(result.artifactChecked && result.nonceChecked).toBe(true);
  });

  it('without artifact and nonce: those checks are reported as skipped, not passed', async () => {
    const { receipt } = await makeReceipt();
    const result = verifyReceipt(receipt, opts());
    const byName = new Map(result.checks.map((c) => [c.name, c.status]));
    expect(byName.get('artifact-digest')).toBe('skipped');
    expect(byName.get('nonce')).toBe('skipped');
    expect(result.artifactChecked || result.nonceChecked).toBe(false);
  });

  it('definite-length and tagged documents verify too', async () => {
    for (const issue of [{ indefiniteLengthMap: false }, { tagged: true }]) {
      const { receipt } = await makeReceipt({ issue });
      expect(verifyReceipt(receipt, opts()).checks.at(-1)?.name).toBe('expectations');
    }
  });

  it('an expired document verifies at its own timestamp, not now', async () => {
    const old = Date.now() - 5 * 3600 * 1000;
    const { receipt } = await makeReceipt({ issue: { timestamp: old } });
    expect(refusal(() => verifyReceipt(receipt, opts())).code).toBe('CERT_EXPIRED');
    expect(verifyReceipt(receipt, opts({ time: { kind: 'document' } })).attestation.checkedAt).toBe(old);
  });

  it('parseReceipt reads the structure without crypto', async () => {
    const { receipt, document } = await makeReceipt();
    const parsed = parseReceipt(receipt);
    expect(Buffer.from(parsed.attestationDocument)).toEqual(Buffer.from(document));
    expect(parsed.dsse.envelope.payloadType).toBe('application/vnd.in-toto+json');
  });
});

describe('verifyReceipt refuses', () => {
  it("a receipt whose trust policy is not the manifest's (TRUST_POLICY_MISMATCH)", async () => {
    const { receipt } = await makeReceipt();
    const other = (tp: BuildManifestTrust) => refusal(() => verifyReceipt(receipt, opts({ manifest: { ...sampleManifest(), trustPolicy: tp } })));
    expect(other(null).code).toBe('TRUST_POLICY_MISMATCH');
    expect(other({ sha384: '8'.repeat(96), development: false, path: '/app/trust-policy.json' }).code).toBe('TRUST_POLICY_MISMATCH');
    expect(other({ sha384: '7'.repeat(96), development: true, path: '/app/trust-policy.json' }).code).toBe('TRUST_POLICY_MISMATCH');
  });

  it('a receipt that does not say what the auditor expects (EXPECTATION_MISMATCH)', async () => {
    const { receipt } = await makeReceipt();
    for (const expect_ of [{ repository: 'example/other' }, { ref: 'refs/heads/dev' }, { commit: 'd'.repeat(40) }]) {
      const e = refusal(() => verifyReceipt(receipt, opts({ expect: expect_ })));
      expect(e.code).toBe('EXPECTATION_MISMATCH');
      expect((e.detail?.checks as CheckResult[]).at(-1)?.name).toBe('expectations');
    }
  });

  it('a tampered statement payload (USER_DATA_MISMATCH)', async () => {
    const { receipt } = await makeReceipt();
    const tampered = editReceipt(receipt, (j) => {
      const dsse = j.dsse as { payload: string };
      const statement = JSON.parse(Buffer.from(dsse.payload, 'base64').toString()) as { predicate: { pack: { environment: string } } };
      statement.predicate.pack.environment = 'staging';
      dsse.payload = Buffer.from(JSON.stringify(statement)).toString('base64');
    });
    const e = refusal(() => verifyReceipt(tampered, opts()));
    expect(e.code).toBe('USER_DATA_MISMATCH');
    const checks = e.detail?.checks as CheckResult[];
    expect(checks.at(-1)).toMatchObject({ name: 'user-data', status: 'fail' });
    expect(checks[0]).toMatchObject({ name: 'receipt-structure', status: 'pass' });
  });

  it('a DSSE signature from a key other than the attested one (DSSE_SIGNATURE_INVALID)', async () => {
    const { receipt } = await makeReceipt({ signWith: newSigningKey() });
    expect(refusal(() => verifyReceipt(receipt, opts())).code).toBe('DSSE_SIGNATURE_INVALID');
  });

  it('a document whose user_data binds other bytes (USER_DATA_MISMATCH)', async () => {
    const { receipt } = await makeReceipt({ issue: { userData: new Uint8Array(randomBytes(48)) } });
    expect(refusal(() => verifyReceipt(receipt, opts())).code).toBe('USER_DATA_MISMATCH');
  });

  it('a document attesting another public key, none, or a non-P-384 key (PUBLIC_KEY_MISMATCH)', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'der', type: 'spki' });
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'der', type: 'spki' });
    for (const publicKey of [new Uint8Array(other), null, new Uint8Array(rsa)]) {
      const { receipt } = await makeReceipt({ issue: { publicKey } });
      const e = refusal(() => verifyReceipt(receipt, opts()));
      expect(e.code).toBe('PUBLIC_KEY_MISMATCH');
      expect((e.detail?.checks as CheckResult[]).at(-1)?.name).toBe('public-key');
    }
  });

  it('a keyid that does not name the attested key (PUBLIC_KEY_MISMATCH)', async () => {
    const { receipt } = await makeReceipt();
    const edited = editReceipt(receipt, (j) => {
      (j.dsse as { signatures: Array<{ keyid: string }> }).signatures[0]!.keyid = 'ab'.repeat(32);
    });
    expect(refusal(() => verifyReceipt(edited, opts())).code).toBe('PUBLIC_KEY_MISMATCH');
  });

  it('a nonce other than the caller\'s, or none (NONCE_MISMATCH)', async () => {
    const { receipt } = await makeReceipt();
    expect(refusal(() => verifyReceipt(receipt, opts({ expectedNonce: new Uint8Array(32) }))).code).toBe('NONCE_MISMATCH');
    const { receipt: noNonce } = await makeReceipt({ issue: { nonce: null } });
    expect(refusal(() => verifyReceipt(noNonce, opts({ expectedNonce: new Uint8Array(32) }))).code).toBe('NONCE_MISMATCH');
  });

  it('an artifact whose bytes differ from the receipt digest (ARTIFACT_DIGEST_MISMATCH)', async () => {
    const { receipt } = await makeReceipt();
    const changed = new Uint8Array(ARTIFACT);
    changed[10] = (changed[10] ?? 0) ^ 1;
    const e = refusal(() => verifyReceipt(receipt, opts({ artifact: changed })));
    expect(e.code).toBe('ARTIFACT_DIGEST_MISMATCH');
    expect((e.detail?.checks as CheckResult[]).at(-1)?.name).toBe('artifact-digest');
  });

  it('a statement whose subject digest differs from predicate.artifact (ARTIFACT_DIGEST_MISMATCH)', async () => {
    const statement = {
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: 'payments-api/production.json', digest: { sha256: '0'.repeat(64) } }],
      predicateType: 'https://attested-pack.dev/receipt/v1',
      predicate: (() => {
        const i = sampleInput();
        return { authorization: i.authorization, source: i.source, pack: i.pack, kms: i.kms, artifact: { sha256: i.artifactSha256 }, builder: { name: 'attested-pack', version: '0.1.0' } };
      })(),
    };
    const { receipt } = await makeReceipt({ rawPayload: new TextEncoder().encode(JSON.stringify(statement)) });
    const e = refusal(() => verifyReceipt(receipt, opts()));
    expect(e.code).toBe('ARTIFACT_DIGEST_MISMATCH');
    expect((e.detail?.checks as CheckResult[]).at(-1)?.name).toBe('subject-digest');
  });

  it('PCRs that differ from the build manifest (PCR_MISMATCH), never skipped', async () => {
    const { receipt } = await makeReceipt({ manifest: sampleManifest(0x40) });
    const e = refusal(() => verifyReceipt(receipt, opts()));
    expect(e.code).toBe('PCR_MISMATCH');
    expect((e.detail?.checks as CheckResult[]).at(-1)?.name).toBe('pcrs');
  });

  it('a manifest with PCR8 against an unsigned image (PCR_MISSING or PCR_MISMATCH)', async () => {
    const { receipt } = await makeReceipt();
    const m = sampleManifest();
    const withPcr8 = { ...m, pcrs: { ...m.pcrs, '8': 'ab'.repeat(48) }, signingCertificateSha256: 'cd'.repeat(32) };
    expect(['PCR_MISMATCH', 'PCR_MISSING']).toContain(refusal(() => verifyReceipt(receipt, opts({ manifest: withPcr8 }))).code);
  });

  it('a debug-mode document (DEBUG_MODE); allowing debug does not bypass the manifest PCRs', async () => {
    const { receipt } = await makeReceipt({ issue: { debug: true } });
    expect(refusal(() => verifyReceipt(receipt, opts())).code).toBe('DEBUG_MODE');
    expect(refusal(() => verifyReceipt(receipt, opts({ allowDebug: true }))).code).toBe('PCR_MISMATCH');
  });

  it('a NitroTPM document (NOT_ENCLAVE_DOCUMENT)', async () => {
    const { receipt } = await makeReceipt({ issue: { kind: 'nitrotpm' } });
    expect(refusal(() => verifyReceipt(receipt, opts())).code).toBe('NOT_ENCLAVE_DOCUMENT');
  });

  it('a simulated document when no root is passed (CHAIN_UNTRUSTED_ROOT)', async () => {
    const { receipt } = await makeReceipt();
    const e = refusal(() => verifyReceipt(receipt, { manifest: sampleManifest() }));
    expect(e.code).toBe('CHAIN_UNTRUSTED_ROOT');
  });

  it('malformed JSON, an unknown schema, unknown members, bad base64 (RECEIPT_MALFORMED)', async () => {
    const { receipt } = await makeReceipt();
    const cases: Uint8Array[] = [
      new TextEncoder().encode('{"schema": "attested-pack/receipt/v1",'),
      new TextEncoder().encode('[]'),
      new Uint8Array([0xff, 0xfe, 0x7b, 0x7d]),
      editReceipt(receipt, (j) => { j.schema = 'attested-pack/receipt/v2'; }),
      editReceipt(receipt, (j) => { j.extra = true; }),
      editReceipt(receipt, (j) => { delete j.dsse; }),
      // Non-canonical padding: stripped when the document has some, added when it has none.
      editReceipt(receipt, (j) => {
        const b64 = j.attestationDocument as string;
        j.attestationDocument = b64.endsWith('=') ? b64.replace(/=+$/, '') : `${b64}=`;
      }),
      editReceipt(receipt, (j) => { j.attestationDocument = Buffer.from(j.attestationDocument as string, 'base64').toString('base64url'); }),
    ];
    for (const bytes of cases) {
      const e = refusal(() => verifyReceipt(bytes, opts()));
      expect(e.code, new TextDecoder().decode(bytes).slice(0, 60)).toBe('RECEIPT_MALFORMED');
      expect((e.detail?.checks as CheckResult[])).toEqual([expect.objectContaining({ name: 'receipt-structure', status: 'fail' })]);
    }
  });

  it('an oversize receipt (INPUT_TOO_LARGE) before parsing it', () => {
    const big = new Uint8Array(MAX_RECEIPT_BYTES + 1).fill(0x20);
    expect(refusal(() => verifyReceipt(big, opts())).code).toBe('INPUT_TOO_LARGE');
  });

  it('a malformed DSSE envelope (DSSE_MALFORMED)', async () => {
    const { receipt, key } = await makeReceipt();
    const rawSig = (j: Record<string, unknown>): void => {
      const s = (j.dsse as { signatures: Array<{ sig: string }> }).signatures[0]!;
      // Same signature re-encoded as raw r‖s (IEEE P1363): refused, DER only.
      const der = Buffer.from(s.sig, 'base64');
      const p1363 = createHash('sha384').update(der).digest(); // 48 bytes is not a DER SEQUENCE either
      s.sig = Buffer.concat([p1363, p1363]).toString('base64');
    };
    const cases = [
      editReceipt(receipt, (j) => { (j.dsse as Record<string, unknown>).payloadType = 'application/json'; }),
      editReceipt(receipt, (j) => { const d = j.dsse as { signatures: unknown[] }; d.signatures = [d.signatures[0], d.signatures[0]]; }),
      editReceipt(receipt, (j) => { (j.dsse as { signatures: unknown[] }).signatures = []; }),
      editReceipt(receipt, (j) => { (j.dsse as Record<string, unknown>).extra = 1; }),
      editReceipt(receipt, rawSig),
      editReceipt(receipt, (j) => { (j.dsse as { signatures: Array<{ keyid: string }> }).signatures[0]!.keyid = ''; }),
    ];
    for (const bytes of cases) expect(refusal(() => verifyReceipt(bytes, opts())).code).toBe('DSSE_MALFORMED');
    expect(key.asymmetricKeyDetails?.namedCurve).toBe('secp384r1');
  });

  it('a signed statement that breaks the schema (STATEMENT_MALFORMED)', async () => {
    const good = sampleInput();
    const predicate = { source: good.source, pack: good.pack, kms: good.kms, artifact: { sha256: good.artifactSha256 }, builder: { name: 'attested-pack', version: '0.1.0' } };
    const statement = (p: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: 'x.json', digest: { sha256: good.artifactSha256 } }],
      predicateType: 'https://attested-pack.dev/receipt/v1',
      predicate: p,
    }));
    const payloads = [
      statement({ ...predicate, extra: 1 }),
      statement({ ...predicate, pack: { ...predicate.pack, identity: 'Payments API' } }),
      new TextEncoder().encode('not json'),
    ];
    for (const rawPayload of payloads) {
      const { receipt } = await makeReceipt({ rawPayload });
      const e = refusal(() => verifyReceipt(receipt, opts()));
      expect(e.code).toBe('STATEMENT_MALFORMED');
      // Parsed only after the signature and bindings verified.
      expect(checkNames(e.detail?.checks as CheckResult[])).toContain('dsse-signature');
    }
  });

  it('a receipt without a manifest (a programming error, not a pass)', async () => {
    const { receipt } = await makeReceipt();
    expect(() => verifyReceipt(receipt, {} as VerifyReceiptOptions)).toThrow(TypeError);
  });
});
