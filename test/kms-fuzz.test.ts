// Every operation, fed thousands of randomly typed and mutated inputs, either answers or
// throws a KmsError (an AWS-shaped error) — never another exception, which the server
// would have to report as a 500. Deterministic PRNG, so failures reproduce.
import { describe, expect, it } from 'vitest';
import { KmsError } from '../simulator/kms/errors.ts';
import { OPERATIONS, type KmsEnvironment } from '../simulator/kms/operations.ts';
import type { RecipientVerifier } from '../simulator/kms/recipient.ts';

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MEMBERS = [
  'KeyId', 'Plaintext', 'CiphertextBlob', 'EncryptionContext', 'KeySpec', 'KeyUsage', 'NumberOfBytes', 'Policy', 'PolicyName',
  'AliasName', 'TargetKeyId', 'Message', 'MessageType', 'SigningAlgorithm', 'Signature', 'Recipient', 'Limit', 'Marker',
  'Description', 'BypassPolicyLockoutSafetyCheck', 'EncryptionAlgorithm', 'CustomerMasterKeySpec', 'Origin', 'CustomKeyStoreId',
];

describe('operation input fuzzing', () => {
  it('never throws anything but KmsError', () => {
    const rand = prng(20261123);
    const verify: RecipientVerifier = () => ({ publicKeySpki: new Uint8Array(10), pcrs: new Map(), moduleId: 'm' });
    const env: KmsEnvironment = {
      state: { accountId: '111122223333', region: 'us-east-1', keys: [], aliases: [] },
      save: () => undefined,
      accountId: '111122223333',
      region: 'us-east-1',
      verifyRecipient: verify,
      now: Date.now,
    };
    const call = { env, caller: { accessKeyId: 'A', secretAccessKey: 'S', principalArn: 'arn:aws:iam::111122223333:user/fuzz' } };
    const sym = (OPERATIONS.CreateKey!({}, call) as { KeyMetadata: { KeyId: string; Arn: string } }).KeyMetadata;
    const ecc = (OPERATIONS.CreateKey!({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }, call) as { KeyMetadata: { KeyId: string } }).KeyMetadata;
    OPERATIONS.CreateAlias!({ AliasName: 'alias/fuzz', TargetKeyId: sym.KeyId }, call);
    const blob = (OPERATIONS.Encrypt!({ KeyId: sym.KeyId, Plaintext: 'AAAA' }, call) as { CiphertextBlob: string }).CiphertextBlob;

    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
    const values = (): unknown => {
      const r = rand();
      if (r < 0.1) return null;
      if (r < 0.2) return Math.floor(rand() * 5000) - 100;
      if (r < 0.25) return rand() < 0.5;
      if (r < 0.3) return [pick(['a', 1, null]), {}];
      if (r < 0.35) return { KeyEncryptionAlgorithm: pick(['RSAES_OAEP_SHA_256', 'X', 3]), AttestationDocument: pick(['AAAA', '!!', 5, null]) };
      if (r < 0.4) return { a: pick(['b', 1, null, {}]) };
      if (r < 0.5) return Buffer.from(Array.from({ length: Math.floor(rand() * 64) }, () => Math.floor(rand() * 256))).toString('base64');
      if (r < 0.6) {
        const b = Buffer.from(blob, 'base64');
        const at = Math.floor(rand() * b.length);
        b[at] = (b[at] ?? 0) ^ (1 << Math.floor(rand() * 8));
        return b.subarray(0, Math.floor(rand() * b.length) + 1).toString('base64');
      }
      if (r < 0.7) return pick([sym.KeyId, sym.Arn, 'alias/fuzz', ecc.KeyId, `arn:aws:kms:us-east-1:111122223333:alias/fuzz`, 'arn:', 'alias/', '']);
      if (r < 0.8) return pick(['SYMMETRIC_DEFAULT', 'ECC_NIST_P256', 'AES_256', 'RAW', 'DIGEST', 'ECDSA_SHA_256', 'default', 'ENCRYPT_DECRYPT', 'SIGN_VERIFY']);
      if (r < 0.85) return JSON.stringify({ Statement: [{ Effect: pick(['Allow', 'Deny', 'x']), Principal: pick(['*', { AWS: 'x' }, 5]), Action: 'kms:*', Resource: '*', Condition: { [pick(['StringEquals', 'Bogus', 'ForAnyValue:StringLike'])]: { k: pick(['v', 1, []]) } } }] });
      return 'x'.repeat(Math.floor(rand() * 300));
    };

    const ops = Object.keys(OPERATIONS).filter((o) => o !== 'DisableKey');
    let answered = 0;
    let refused = 0;
    for (let i = 0; i < 4000; i++) {
      const op = pick(ops);
      const input: Record<string, unknown> = {};
      const n = Math.floor(rand() * 6);
      for (let j = 0; j < n; j++) input[pick(MEMBERS)] = values();
      try {
        OPERATIONS[op]!(input, call);
        answered++;
      } catch (e) {
        if (!(e instanceof KmsError)) throw new Error(`${op}(${JSON.stringify(input)}) threw ${String((e as Error).stack ?? e)}`);
        refused++;
      }
    }
    // Both outcomes occur, so the inputs really reached the operations.
    expect(answered).toBeGreaterThan(50);
    expect(refused).toBeGreaterThan(1000);
  });
});
