// The emulator remembers a verified Recipient document (one per pack, reused by all its
// calls) — but never past the document's 5-minute window, and never for other bytes.
import { describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { attestationRecipientVerifier, RECIPIENT_MAX_AGE_MS } from '../simulator/kms/attested-recipient.ts';
import { createTestCa } from '../simulator/attestation-issuer.ts';
import { createSimulatedNsm } from '../simulator/nsm.ts';
import { fakeManifest } from './pack-world.ts';

describe('Recipient document reuse in the KMS emulator', () => {
  it('a reused document is accepted within its window and refused after it; altered bytes are never accepted', async () => {
    const ca = await createTestCa();
    const t0 = Date.now();
    const nsm = createSimulatedNsm({ ca, pcrs: fakeManifest(), clock: () => t0 });
    const spki = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'der' });
    const doc = await nsm.attest({ publicKey: spki });
    let now = t0;
    const verify = attestationRecipientVerifier(ca.rootDer, () => now);
    expect(Buffer.from(verify(doc).publicKeySpki).equals(spki)).toBe(true);
    now = t0 + 50_000;
    expect(verify(doc).moduleId).toBeTypeOf('string');
    const altered = Uint8Array.from(doc);
    altered[altered.length - 1] = (altered[altered.length - 1] as number) ^ 1;
    expect(() => verify(altered)).toThrow(/not valid/);
    now = t0 + RECIPIENT_MAX_AGE_MS + 1;
    expect(() => verify(doc)).toThrow(/not valid/);
  });
});
