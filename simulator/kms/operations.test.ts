import { describe, expect, it } from 'vitest';
import { KmsError } from './errors.ts';
import { OPERATIONS, type KmsEnvironment } from './operations.ts';

function env(): KmsEnvironment & { failSave: boolean; saves: number } {
  const e = {
    state: { accountId: '111122223333', region: 'us-east-1', keys: [], aliases: [] },
    failSave: false,
    saves: 0,
    save() {
      if (e.failSave) throw new Error('ENOSPC: no space left on device');
      e.saves++;
    },
    accountId: '111122223333',
    region: 'us-east-1',
    verifyRecipient: () => {
      throw new Error('unused');
    },
    now: Date.now,
  } as KmsEnvironment & { failSave: boolean; saves: number };
  return e;
}

const caller = { accessKeyId: 'A', secretAccessKey: 'S', principalArn: 'arn:aws:iam::111122223333:user/a' };

function typeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof KmsError ? e.type : 'other';
  }
  return undefined;
}

describe('state changes are saved, or undone when saving fails', () => {
  it('CreateKey, CreateAlias, PutKeyPolicy, DisableKey', () => {
    const e = env();
    const call = { env: e, caller };
    const keyId = (OPERATIONS.CreateKey!({}, call) as { KeyMetadata: { KeyId: string } }).KeyMetadata.KeyId;
    expect(e.saves).toBe(1);
    e.failSave = true;
    expect(typeOf(() => OPERATIONS.CreateKey!({}, call))).toBe('KMSInternalException');
    expect(e.state.keys).toHaveLength(1);
    expect(typeOf(() => OPERATIONS.CreateAlias!({ AliasName: 'alias/x', TargetKeyId: keyId }, call))).toBe('KMSInternalException');
    expect(e.state.aliases).toHaveLength(0);
    const before = e.state.keys[0]!.policy;
    const policy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: 'kms:*', Resource: '*' }] });
    expect(typeOf(() => OPERATIONS.PutKeyPolicy!({ KeyId: keyId, Policy: policy }, call))).toBe('KMSInternalException');
    expect(e.state.keys[0]!.policy).toBe(before);
    expect(typeOf(() => OPERATIONS.DisableKey!({ KeyId: keyId }, call))).toBe('KMSInternalException');
    expect(e.state.keys[0]!.enabled).toBe(true);
    e.failSave = false;
    OPERATIONS.CreateAlias!({ AliasName: 'alias/x', TargetKeyId: keyId }, call);
    expect(e.state.aliases).toHaveLength(1);
  });
});
