import { describe, expect, it } from 'vitest';
import { isVerificationError } from './errors.ts';
import { checkDevelopmentPolicy, checkReceiptExpectations, type ReceiptExpectations } from './receipt-expectations.ts';
import { buildReceiptStatement, type ReceiptPredicate } from './statement.ts';
import { NO_PACK_OPTIONS, sampleReceiptAuthorization } from './test-authorization.ts';

const COMMIT = 'ab'.repeat(20);

function predicate(): ReceiptPredicate {
  return buildReceiptStatement({
    artifactName: 'api/production.json',
    authorization: sampleReceiptAuthorization(COMMIT, 'org/app'),
    source: { repository: 'org/app', commit: COMMIT, objectFormat: 'sha1', clefYaml: 'cd'.repeat(20), cells: [] },
    pack: { identity: 'api', environment: 'production', namespaces: ['db'], revision: '1795402800123-0a0b0c0d', packedAt: '2026-11-23T10:00:00.000Z', options: { ...NO_PACK_OPTIONS, ttlSeconds: 3600 } },
    kms: { sopsDecryptKeys: [], envelopeKey: null, signingKey: null, calls: [] },
    artifactSha256: '4'.repeat(64),
    builderVersion: '0.1.0',
  }).predicate;
}

function field(e: ReceiptExpectations): string {
  try {
    checkReceiptExpectations(predicate(), e);
  } catch (err) {
    if (isVerificationError(err) && err.code === 'EXPECTATION_MISMATCH') return String(err.detail?.field);
    throw err;
  }
  return 'ok';
}

describe('receipt expectations', () => {
  it('accepts what the receipt says, by name or by repository id, commit in any case', () => {
    expect(field({ repository: 'org/app', ref: 'refs/heads/main', commit: COMMIT.toUpperCase(), identity: 'api', environment: 'production' })).toBe('ok');
    expect(field({ repository: '123456789' })).toBe('ok');
    expect(field({ options: { signingKeyArn: null, ttlSeconds: 3600, bindEncryptionContext: false } })).toBe('ok');
  });

  it('names the first field that differs', () => {
    expect(field({ repository: 'org/other' })).toBe('repository');
    expect(field({ repository: '42' })).toBe('repositoryId');
    expect(field({ ref: 'refs/heads/feature' })).toBe('ref');
    expect(field({ commit: 'ef'.repeat(20) })).toBe('commit');
    expect(field({ identity: 'web' })).toBe('identity');
    expect(field({ environment: 'dev' })).toBe('environment');
    // a host that shortened the TTL, dropped the signing key or the context binding
    expect(field({ options: { signingKeyArn: null, ttlSeconds: 60, bindEncryptionContext: false } })).toBe('options.ttlSeconds');
    expect(field({ options: { signingKeyArn: 'arn:aws:kms:eu-west-1:111122223333:key/x', ttlSeconds: 3600, bindEncryptionContext: false } })).toBe('options.signingKeyArn');
    expect(field({ options: { signingKeyArn: null, ttlSeconds: 3600, bindEncryptionContext: true } })).toBe('options.bindEncryptionContext');
  });

  it('refuses a DEVELOPMENT policy under the AWS root, and only there', () => {
    expect(() => checkDevelopmentPolicy(true, 'aws')).toThrow(expect.objectContaining({ code: 'DEVELOPMENT_POLICY' }));
    expect(() => checkDevelopmentPolicy(true, 'simulated')).not.toThrow();
    expect(() => checkDevelopmentPolicy(false, 'aws')).not.toThrow();
  });
});
