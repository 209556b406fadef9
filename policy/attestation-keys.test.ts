import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { classifyAttestationKey, measuredPcr, pcr3ForRoleArn, pcrConditionKey } from './attestation-keys.ts';

describe('PCR3 from the parent role ARN', () => {
  it('matches the AWS Nitro Enclaves user guide example (arn:aws:iam::123456789012:role/Webserver)', () => {
    // Expected value printed in the guide's "PCR3" section; not computed by our code.
    expect(pcr3ForRoleArn('arn:aws:iam::123456789012:role/Webserver')).toBe(
      '78fce75db17cd4e0a3fb8dad3ad128ca5e77edbb2b2c7f75329dccd99aa5f6ef4fc1f1a452e315b9e98f9e312e6921e6',
    );
  });

  it('is one extend of the raw ARN, not of its hash', () => {
    const arn = 'arn:aws:iam::111122223333:role/enclave';
    const hashedFirst = createHash('sha384').update(Buffer.alloc(48)).update(createHash('sha384').update(arn).digest()).digest('hex');
    expect(pcr3ForRoleArn(arn)).not.toBe(hashedFirst);
    expect(pcr3ForRoleArn(arn)).toMatch(/^[0-9a-f]{96}$/);
  });
});

describe('attestation condition keys', () => {
  it('names PCR keys the way KMS documents them', () => {
    expect(pcrConditionKey(8)).toBe('kms:RecipientAttestation:PCR8');
  });

  it('classifies keys case-insensitively, ImageSha384 as PCR0', () => {
    expect(classifyAttestationKey('kms:recipientattestation:imagesha384')).toEqual({ kind: 'image', index: 0 });
    expect(classifyAttestationKey('KMS:RecipientAttestation:PCR12')).toEqual({ kind: 'pcr', index: 12 });
    expect(classifyAttestationKey('kms:RecipientAttestation:NitroTPMPCR4')).toEqual({ kind: 'nitrotpm', index: 4 });
    expect(classifyAttestationKey('kms:RecipientAttestation:ImageSha256')).toEqual({ kind: 'unknown' });
    expect(classifyAttestationKey('kms:EncryptionContext:x')).toBeUndefined();
    expect(measuredPcr('kms:RecipientAttestation:ImageSha384')).toBe(0);
    expect(measuredPcr('kms:RecipientAttestation:NitroTPMPCR0')).toBeUndefined();
  });
});
