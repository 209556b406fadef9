// The receipt's KMS call log: each answered key-material call is recorded with KMS's request
// id; an answer without one (or without a key id) refuses the pack (KMS_NO_REQUEST_ID).
import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { EncryptCommand, GenerateRandomCommand, KMSClient } from '@aws-sdk/client-kms';
import { KmsCallLog, KmsCallLogError } from './kms-calls.ts';

const KEY = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

/** A KMS client whose "network" answers with the given headers and JSON body. */
function fakeKms(headers: Record<string, string>, body: Record<string, unknown>, log: KmsCallLog): KMSClient {
  const client = new KMSClient({
    region: 'eu-west-1', maxAttempts: 1, credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' },
    requestHandler: {
      handle: async () => ({ response: { statusCode: 200, headers: { 'content-type': 'application/x-amz-json-1.1', ...headers }, body: Readable.from([Buffer.from(JSON.stringify(body))]) } }),
    } as unknown as KMSClient['config']['requestHandler'],
  });
  log.attach(client);
  return client;
}

describe('KmsCallLog', () => {
  it('records operation, the key ARN KMS answered with and x-amzn-RequestId', async () => {
    const log = new KmsCallLog();
    const kms = fakeKms({ 'x-amzn-requestid': 'b4a65126-30d5-4b28-98b9-9153da559963' }, { KeyId: KEY, CiphertextBlob: 'AAAA' }, log);
    await kms.send(new EncryptCommand({ KeyId: 'alias/clef', Plaintext: new Uint8Array(32) }));
    expect(log.calls).toEqual([{ operation: 'Encrypt', keyArn: KEY, requestId: 'b4a65126-30d5-4b28-98b9-9153da559963' }]);
  });

  it('does not record calls that release no key material', async () => {
    const log = new KmsCallLog();
    const kms = fakeKms({ 'x-amzn-requestid': 'b4a65126-30d5-4b28-98b9-9153da559963' }, { Plaintext: 'AAAA' }, log);
    await kms.send(new GenerateRandomCommand({ NumberOfBytes: 16 }));
    expect(log.calls).toEqual([]);
  });

  it('refuses an answer without a request id (KMS_NO_REQUEST_ID)', async () => {
    const log = new KmsCallLog();
    const kms = fakeKms({}, { KeyId: KEY, CiphertextBlob: 'AAAA' }, log);
    const err = await kms.send(new EncryptCommand({ KeyId: KEY, Plaintext: new Uint8Array(32) })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KmsCallLogError);
    expect((err as KmsCallLogError).code).toBe('KMS_NO_REQUEST_ID');
    expect(log.calls).toEqual([]);
  });

  it('refuses an answer without a key id', () => {
    expect(() => new KmsCallLog().record('Decrypt', undefined, 'b4a65126-30d5-4b28-98b9-9153da559963')).toThrow(/without a key id/);
  });
});
