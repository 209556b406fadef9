// The receipt path the enclave takes, through the Nsm interface (contract C) backed by the
// simulated issuer: a receipt from an NSM "running" the manifest's image verifies; one from
// an NSM running another image, or in debug mode, does not.
import { createHash, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createSimulatedNsm } from '../simulator/nsm.ts';
import type { Nsm } from '../enclave/nsm/nsm.ts';
import { VerificationError } from '../verifier/errors.ts';
import { assembleReceipt, receiptPublicKey, receiptUserData, signReceiptStatement, verifyReceipt } from '../verifier/receipt.ts';
import { buildReceiptStatement } from '../verifier/statement.ts';
import { ARTIFACT, sampleInput, sampleManifest, testCa } from './receipt-fixtures.ts';
import { codeOf as codeOfError } from './error-codes.ts';

async function packReceipt(nsm: Nsm, nonce: Uint8Array): Promise<Uint8Array> {
  const statement = buildReceiptStatement(sampleInput());
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const envelope = signReceiptStatement(statement, privateKey);
  const document = await nsm.attest({ publicKey: receiptPublicKey(privateKey), userData: receiptUserData(envelope), nonce });
  return assembleReceipt(envelope, document);
}

const codeOf = (fn: () => unknown): string => codeOfError(fn, VerificationError);

describe('receipts through the simulated NSM', () => {
  it('verify against the manifest the NSM runs, not against another', async () => {
    const ca = await testCa();
    const manifest = sampleManifest(0x20);
    const nonce = new Uint8Array(createHash('sha256').update('nonce').digest());
    const receipt = await packReceipt(createSimulatedNsm({ ca, pcrs: manifest }), nonce);
    const r = verifyReceipt(receipt, { manifest, root: ca.rootDer, artifact: ARTIFACT, expectedNonce: nonce, expect: { ref: 'refs/heads/main' } });
    expect(r.attestation.trust.kind).toBe('simulated');
    expect(r.checks.filter((c) => c.status !== 'pass')).toEqual([]);
    expect(codeOf(() => verifyReceipt(receipt, { manifest: sampleManifest(0x30), root: ca.rootDer }))).toBe('PCR_MISMATCH');
  });

  it('a debug-mode simulated enclave is refused', async () => {
    const ca = await testCa();
    const manifest = sampleManifest(0x20);
    const receipt = await packReceipt(createSimulatedNsm({ ca, pcrs: manifest, debug: true }), new Uint8Array(16));
    expect(codeOf(() => verifyReceipt(receipt, { manifest, root: ca.rootDer }))).toBe('DEBUG_MODE');
  });
});
