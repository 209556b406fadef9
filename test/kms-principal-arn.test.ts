// Issue 14 item 13: the KMS emulator sets aws:PrincipalArn for a role session as AWS does —
// the role's ARN (with its path), never the session ARN — so policies written with
// ArnEquals on the role work, and ones written against the session ARN do not.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateKeyCommand, EncryptCommand, type KMSClient } from '@aws-sdk/client-kms';
import type { KmsPrincipal } from '../simulator/kms/server.ts';
import { rejection, startHarness, type Harness } from './kms-harness.ts';

const ACCOUNT = '111122223333';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/team/enclave`;
const SESSION: KmsPrincipal = { accessKeyId: 'AKIAPRINCIPALARN0001', secretAccessKey: 'principal-arn-secret-for-tests-only-0000', principalArn: `arn:aws:sts::${ACCOUNT}:assumed-role/enclave/i-0abc`, roleArn: ROLE };
const ADMIN: KmsPrincipal = { accessKeyId: 'AKIAPRINCIPALARNADM1', secretAccessKey: 'principal-arn-admin-secret-for-tests-only', principalArn: `arn:aws:iam::${ACCOUNT}:user/admin` };

let h: Harness;
let admin: KMSClient;
let session: KMSClient;
beforeAll(async () => {
  h = await startHarness({ accountId: ACCOUNT, principals: [SESSION, ADMIN] });
  admin = h.client(ADMIN);
  session = h.client(SESSION);
});
afterAll(async () => h.close());

async function keyWith(condition: object): Promise<string> {
  const policy = {
    Version: '2012-10-17',
    Statement: [
      { Sid: 'Admin', Effect: 'Allow', Principal: { AWS: ADMIN.principalArn }, Action: 'kms:*', Resource: '*' },
      { Sid: 'ByPrincipalArn', Effect: 'Allow', Principal: '*', Action: 'kms:Encrypt', Resource: '*', Condition: condition },
    ],
  };
  return (await admin.send(new CreateKeyCommand({ Policy: JSON.stringify(policy) }))).KeyMetadata?.KeyId as string;
}

describe('aws:PrincipalArn of a role session', () => {
  it('is the role ARN with its path', async () => {
    const keyId = await keyWith({ ArnEquals: { 'aws:PrincipalArn': ROLE }, StringEquals: { 'aws:PrincipalType': 'AssumedRole' } });
    await session.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') }));
  });

  it('is not the session ARN', async () => {
    const keyId = await keyWith({ ArnLike: { 'aws:PrincipalArn': `arn:aws:sts::${ACCOUNT}:assumed-role/enclave/*` } });
    expect((await rejection(session.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') })))).name).toBe('AccessDeniedException');
  });
});
