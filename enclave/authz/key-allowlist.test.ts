import { describe, expect, it } from 'vitest';
import { DEV_KEY_ARN, PROD_KEY_ARN } from '../../verifier/test-trust-policy.ts';
import { AuthzError } from './errors.ts';
import { checkKeysAllowed } from './key-allowlist.ts';

function refusal(f: () => void): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(AuthzError);
    expect((e as AuthzError).code).toBe('KEY_NOT_ALLOWED_FOR_ENVIRONMENT');
    return (e as Error).message;
  }
  throw new Error('expected a refusal');
}

describe('checkKeysAllowed', () => {
  it('passes when every file uses only allowed KMS keys (other recipient types alongside are fine)', () => {
    expect(() => checkKeysAllowed([
      { path: 'secrets/db/dev.enc.yaml', kmsArns: [DEV_KEY_ARN], otherRecipientTypes: [] },
      { path: 'secrets/api/dev.enc.yaml', kmsArns: [DEV_KEY_ARN], otherRecipientTypes: ['age'] },
    ], [DEV_KEY_ARN])).not.toThrow();
    expect(() => checkKeysAllowed([], [DEV_KEY_ARN])).not.toThrow();
  });

  it('a production-key file at a dev path is refused, naming the file and the key', () => {
    const m = refusal(() => checkKeysAllowed([
      { path: 'secrets/db/dev.enc.yaml', kmsArns: [DEV_KEY_ARN], otherRecipientTypes: [] },
      { path: 'secrets/payments/dev.enc.yaml', kmsArns: [PROD_KEY_ARN], otherRecipientTypes: [] },
    ], [DEV_KEY_ARN]));
    expect(m).toContain('secrets/payments/dev.enc.yaml');
    expect(m).toContain(PROD_KEY_ARN);
  });

  it('a file with an allowed key AND a disallowed one is refused', () => {
    refusal(() => checkKeysAllowed([{ path: 'a', kmsArns: [DEV_KEY_ARN, PROD_KEY_ARN], otherRecipientTypes: [] }], [DEV_KEY_ARN]));
  });

  it('a file without any KMS key is refused', () => {
    expect(refusal(() => checkKeysAllowed([{ path: 'b.enc.yaml', kmsArns: [], otherRecipientTypes: ['age', 'age', 'pgp'] }], [DEV_KEY_ARN]))).toMatch(/b\.enc\.yaml: the file has no KMS master key \(other key types: age, pgp\)/);
    expect(refusal(() => checkKeysAllowed([{ path: 'c', kmsArns: [], otherRecipientTypes: [] }], [DEV_KEY_ARN]))).toMatch(/none/);
  });

  it('matching is exact: an alias or a differently cased ARN is not the key', () => {
    refusal(() => checkKeysAllowed([{ path: 'a', kmsArns: ['arn:aws:kms:eu-west-1:111122223333:alias/dev'], otherRecipientTypes: [] }], [DEV_KEY_ARN]));
    refusal(() => checkKeysAllowed([{ path: 'a', kmsArns: [DEV_KEY_ARN.toUpperCase()], otherRecipientTypes: [] }], [DEV_KEY_ARN]));
    refusal(() => checkKeysAllowed([{ path: 'a', kmsArns: [DEV_KEY_ARN] , otherRecipientTypes: [] }], []));
  });
});
