import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AWS_NITRO_ROOT_G1_DER, AWS_NITRO_ROOT_G1_SHA256, awsNitroRootG1, loadPinnedRoot, pemCertificateToDer } from './aws-root.ts';
import { VerificationError } from './errors.ts';

const FIXTURE_PEM = readFileSync(new URL('../test/fixtures/nitro/aws_nitro_root_g1.pem', import.meta.url), 'utf8');

describe('embedded AWS Nitro root G1', () => {
  it('is byte-identical to the published root and has the pinned fingerprint', () => {
    expect(Buffer.from(AWS_NITRO_ROOT_G1_DER).equals(pemCertificateToDer(FIXTURE_PEM) as Uint8Array)).toBe(true);
    expect(createHash('sha256').update(AWS_NITRO_ROOT_G1_DER).digest('hex')).toBe('641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b');
    expect(AWS_NITRO_ROOT_G1_SHA256).toBe('641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b');
    expect(awsNitroRootG1()).toBe(AWS_NITRO_ROOT_G1_DER);
    const cert = new X509Certificate(AWS_NITRO_ROOT_G1_DER);
    expect(cert.subject).toContain('CN=aws.nitro-enclaves');
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('secp384r1');
  });

  it('ROOT_FINGERPRINT_MISMATCH when the PEM does not match its pin', () => {
    // Change one base64 character inside the signature: still a certificate, different bytes.
    const tampered = FIXTURE_PEM.replace('IwLz3/Y=', 'IwLz4/Y=');
    expect(tampered).not.toBe(FIXTURE_PEM);
    const r = loadPinnedRoot(tampered, AWS_NITRO_ROOT_G1_SHA256);
    expect(r).toBeInstanceOf(VerificationError);
    expect((r as VerificationError).code).toBe('ROOT_FINGERPRINT_MISMATCH');
    const notPem = loadPinnedRoot('hello', AWS_NITRO_ROOT_G1_SHA256);
    expect((notPem as VerificationError).code).toBe('ROOT_FINGERPRINT_MISMATCH');
    expect(loadPinnedRoot(FIXTURE_PEM, AWS_NITRO_ROOT_G1_SHA256)).toBeInstanceOf(Uint8Array);
  });
});
