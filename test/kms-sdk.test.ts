// The KMS emulator through the real AWS SDK (@aws-sdk/client-kms, SigV4-signed HTTPS):
// every supported operation round-trips, and authentication failures surface as the
// SDK's own error types.
import { createHash, createPublicKey, verify as nodeVerify } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateAliasCommand, CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand, GenerateDataKeyCommand,
  GenerateRandomCommand, GetKeyPolicyCommand, GetPublicKeyCommand, IncorrectKeyException, InvalidCiphertextException,
  KMSInvalidSignatureException, KMSServiceException, ListAliasesCommand, ListKeysCommand, NotFoundException,
  PutKeyPolicyCommand, SignCommand, VerifyCommand, AlreadyExistsException, InvalidKeyUsageException, DisableKeyCommand,
  EnableKeyCommand, DisabledException, MalformedPolicyDocumentException, KMSClient,
} from '@aws-sdk/client-kms';
import { readFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { generateCa, issueServerCertificate } from '../simulator/kms/tls.ts';
import { ACCOUNT, ADMIN, OUTSIDER, rejection, startHarness, type Harness } from './kms-harness.ts';

let h: Harness;
let kms: KMSClient;
let symKeyId: string;
let symArn: string;

beforeAll(async () => {
  h = await startHarness();
  kms = h.client();
  const created = await kms.send(new CreateKeyCommand({ Description: 'sdk test key' }));
  symKeyId = created.KeyMetadata!.KeyId!;
  symArn = created.KeyMetadata!.Arn!;
});
afterAll(async () => h.close());

describe('key management', () => {
  it('CreateKey returns metadata with a sops-compatible ARN', async () => {
    expect(symArn).toMatch(/^arn:aws:kms:us-east-1:\d{12}:key\/[0-9a-f-]{36}$/);
    expect(symArn).toBe(`arn:aws:kms:us-east-1:${ACCOUNT}:key/${symKeyId}`);
    const d = await kms.send(new DescribeKeyCommand({ KeyId: symKeyId }));
    expect(d.KeyMetadata).toMatchObject({
      KeyId: symKeyId, Arn: symArn, AWSAccountId: ACCOUNT, KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT',
      KeyState: 'Enabled', Enabled: true, Description: 'sdk test key', EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
    });
    expect(d.KeyMetadata!.CreationDate).toBeInstanceOf(Date);
    expect(Math.abs(d.KeyMetadata!.CreationDate!.getTime() - Date.now())).toBeLessThan(10 * 60_000);
  });

  it('aliases resolve everywhere a KeyId is taken (id, key ARN, alias, alias ARN)', async () => {
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/sdk-test', TargetKeyId: symArn }));
    const aliasArn = `arn:aws:kms:us-east-1:${ACCOUNT}:alias/sdk-test`;
    for (const id of [symKeyId, symArn, 'alias/sdk-test', aliasArn]) {
      const d = await kms.send(new DescribeKeyCommand({ KeyId: id }));
      expect(d.KeyMetadata!.KeyId).toBe(symKeyId);
    }
    const enc = await kms.send(new EncryptCommand({ KeyId: 'alias/sdk-test', Plaintext: Buffer.from('via alias') }));
    expect(enc.KeyId).toBe(symArn);
    const aliases = await kms.send(new ListAliasesCommand({}));
    expect(aliases.Aliases).toContainEqual(expect.objectContaining({ AliasName: 'alias/sdk-test', AliasArn: aliasArn, TargetKeyId: symKeyId }));
    const filtered = await kms.send(new ListAliasesCommand({ KeyId: symKeyId }));
    expect(filtered.Aliases!.map((a) => a.AliasName)).toEqual(['alias/sdk-test']);
    const dup = await rejection(kms.send(new CreateAliasCommand({ AliasName: 'alias/sdk-test', TargetKeyId: symKeyId })));
    expect(dup).toBeInstanceOf(AlreadyExistsException);
  });

  it('unknown keys, aliases and foreign ARNs are NotFoundException', async () => {
    for (const id of ['alias/nope', '00000000-0000-4000-8000-000000000000', `arn:aws:kms:eu-west-1:${ACCOUNT}:key/${symKeyId}`, 'not-a-key']) {
      const e = await rejection(kms.send(new DescribeKeyCommand({ KeyId: id })));
      expect(e).toBeInstanceOf(NotFoundException);
    }
  });

  it('ListKeys lists created keys and paginates', async () => {
    await kms.send(new CreateKeyCommand({}));
    const all = await kms.send(new ListKeysCommand({}));
    expect(all.Keys).toContainEqual({ KeyId: symKeyId, KeyArn: symArn });
    const first = await kms.send(new ListKeysCommand({ Limit: 1 }));
    expect(first.Keys).toHaveLength(1);
    expect(first.Truncated).toBe(true);
    const second = await kms.send(new ListKeysCommand({ Limit: 1, Marker: first.NextMarker }));
    expect(second.Keys![0]!.KeyId).not.toBe(first.Keys![0]!.KeyId);
  });

  it('GetKeyPolicy returns the AWS default policy; PutKeyPolicy replaces it', async () => {
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({}));
    const got = await kms.send(new GetKeyPolicyCommand({ KeyId: KeyMetadata!.KeyId, PolicyName: 'default' }));
    const policy = JSON.parse(got.Policy!);
    expect(policy.Statement).toEqual([
      expect.objectContaining({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' }),
    ]);
    const next = {
      Version: '2012-10-17',
      Statement: [
        { Sid: 'Admin', Effect: 'Allow', Principal: { AWS: ADMIN.principalArn }, Action: 'kms:*', Resource: '*' },
      ],
    };
    await kms.send(new PutKeyPolicyCommand({ KeyId: KeyMetadata!.KeyId, PolicyName: 'default', Policy: JSON.stringify(next) }));
    const again = await kms.send(new GetKeyPolicyCommand({ KeyId: KeyMetadata!.KeyId }));
    expect(JSON.parse(again.Policy!)).toEqual(next);
  });

  it('PutKeyPolicy refuses malformed policies and ones that lock the caller out', async () => {
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({}));
    const bad = await rejection(kms.send(new PutKeyPolicyCommand({ KeyId: KeyMetadata!.KeyId, PolicyName: 'default', Policy: '{"Statement": [{"Effect": "Maybe"}]}' })));
    expect(bad).toBeInstanceOf(MalformedPolicyDocumentException);
    const lockout = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: OUTSIDER.principalArn }, Action: 'kms:*', Resource: '*' }] });
    const locked = await rejection(kms.send(new PutKeyPolicyCommand({ KeyId: KeyMetadata!.KeyId, PolicyName: 'default', Policy: lockout })));
    expect(locked).toBeInstanceOf(MalformedPolicyDocumentException);
    await kms.send(new PutKeyPolicyCommand({ KeyId: KeyMetadata!.KeyId, PolicyName: 'default', Policy: lockout, BypassPolicyLockoutSafetyCheck: true }));
    const denied = await rejection(kms.send(new DescribeKeyCommand({ KeyId: KeyMetadata!.KeyId })));
    expect(denied.name).toBe('AccessDeniedException');
  });

  it('a disabled key refuses cryptographic operations until enabled again', async () => {
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({}));
    await kms.send(new DisableKeyCommand({ KeyId: KeyMetadata!.KeyId }));
    const e = await rejection(kms.send(new EncryptCommand({ KeyId: KeyMetadata!.KeyId, Plaintext: Buffer.from('x') })));
    expect(e).toBeInstanceOf(DisabledException);
    await kms.send(new EnableKeyCommand({ KeyId: KeyMetadata!.KeyId }));
    await kms.send(new EncryptCommand({ KeyId: KeyMetadata!.KeyId, Plaintext: Buffer.from('x') }));
  });
});

describe('symmetric cryptography', () => {
  it('Encrypt → Decrypt round-trips with the encryption context bound', async () => {
    const ctx = { identity: 'payments', environment: 'production' };
    const enc = await kms.send(new EncryptCommand({ KeyId: symKeyId, Plaintext: Buffer.from('secret value'), EncryptionContext: ctx }));
    expect(enc.KeyId).toBe(symArn);
    expect(enc.EncryptionAlgorithm).toBe('SYMMETRIC_DEFAULT');
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { environment: 'production', identity: 'payments' } }));
    expect(Buffer.from(dec.Plaintext!).toString()).toBe('secret value');
    expect(dec.KeyId).toBe(symArn);

    const wrongContexts: Record<string, string>[] = [{}, { identity: 'payments' }, { ...ctx, environment: 'staging' }, { ...ctx, extra: 'x' }];
    for (const wrong of wrongContexts) {
      const e = await rejection(kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: wrong })));
      expect(e).toBeInstanceOf(InvalidCiphertextException);
    }
  });

  it('ciphertexts are tamper-evident and tied to their key', async () => {
    const enc = await kms.send(new EncryptCommand({ KeyId: symKeyId, Plaintext: Buffer.from('tamper me') }));
    const blob = Buffer.from(enc.CiphertextBlob!);
    for (const i of [0, 10, blob.length - 1, 60]) {
      const t = Buffer.from(blob);
      t[i] = (t[i] ?? 0) ^ 1;
      const e = await rejection(kms.send(new DecryptCommand({ CiphertextBlob: t })));
      expect(e).toBeInstanceOf(InvalidCiphertextException);
    }
    const truncated = await rejection(kms.send(new DecryptCommand({ CiphertextBlob: blob.subarray(0, 20) })));
    expect(truncated).toBeInstanceOf(InvalidCiphertextException);
    const other = await kms.send(new CreateKeyCommand({}));
    const wrongKey = await rejection(kms.send(new DecryptCommand({ CiphertextBlob: blob, KeyId: other.KeyMetadata!.KeyId })));
    expect(wrongKey).toBeInstanceOf(IncorrectKeyException);
    const right = await kms.send(new DecryptCommand({ CiphertextBlob: blob, KeyId: symArn }));
    expect(Buffer.from(right.Plaintext!).toString()).toBe('tamper me');
  });

  it('GenerateDataKey returns a key and its wrapped form', async () => {
    for (const [params, len] of [[{ KeySpec: 'AES_256' as const }, 32], [{ KeySpec: 'AES_128' as const }, 16], [{ NumberOfBytes: 64 }, 64]] as const) {
      const gdk = await kms.send(new GenerateDataKeyCommand({ KeyId: 'alias/sdk-test', ...params, EncryptionContext: { purpose: 'dek' } }));
      expect(gdk.Plaintext).toHaveLength(len);
      expect(gdk.KeyId).toBe(symArn);
      const dec = await kms.send(new DecryptCommand({ CiphertextBlob: gdk.CiphertextBlob, EncryptionContext: { purpose: 'dek' } }));
      expect(Buffer.from(dec.Plaintext!).equals(Buffer.from(gdk.Plaintext!))).toBe(true);
    }
  });

  it('GenerateRandom returns the requested number of fresh bytes', async () => {
    const a = await kms.send(new GenerateRandomCommand({ NumberOfBytes: 48 }));
    const b = await kms.send(new GenerateRandomCommand({ NumberOfBytes: 48 }));
    expect(a.Plaintext).toHaveLength(48);
    expect(Buffer.from(a.Plaintext!).equals(Buffer.from(b.Plaintext!))).toBe(false);
  });

  it('a symmetric key cannot sign and has no public key', async () => {
    const e = await rejection(kms.send(new SignCommand({ KeyId: symKeyId, Message: Buffer.from('m'), SigningAlgorithm: 'ECDSA_SHA_256' })));
    expect(e).toBeInstanceOf(InvalidKeyUsageException);
    const p = await rejection(kms.send(new GetPublicKeyCommand({ KeyId: symKeyId })));
    expect(p.name).toBe('UnsupportedOperationException');
  });
});

describe('ECC_NIST_P256 signing', () => {
  it('Sign / Verify / GetPublicKey (RAW and DIGEST), checked independently with node:crypto', async () => {
    const created = await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }));
    const keyId = created.KeyMetadata!.KeyId!;
    expect(created.KeyMetadata!.SigningAlgorithms).toEqual(['ECDSA_SHA_256']);
    const pub = await kms.send(new GetPublicKeyCommand({ KeyId: keyId }));
    expect(pub.KeySpec).toBe('ECC_NIST_P256');
    const publicKey = createPublicKey({ key: Buffer.from(pub.PublicKey!), format: 'der', type: 'spki' });
    expect(publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');

    const message = Buffer.from('artifact payload');
    const raw = await kms.send(new SignCommand({ KeyId: keyId, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' }));
    expect(nodeVerify('sha256', message, publicKey, Buffer.from(raw.Signature!))).toBe(true);
    const digest = createHash('sha256').update(message).digest();
    const dig = await kms.send(new SignCommand({ KeyId: keyId, Message: digest, MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256' }));
    expect(nodeVerify('sha256', message, publicKey, Buffer.from(dig.Signature!))).toBe(true);

    const ok = await kms.send(new VerifyCommand({ KeyId: keyId, Message: message, Signature: raw.Signature, SigningAlgorithm: 'ECDSA_SHA_256' }));
    expect(ok.SignatureValid).toBe(true);
    const okDigest = await kms.send(new VerifyCommand({ KeyId: keyId, Message: digest, MessageType: 'DIGEST', Signature: raw.Signature, SigningAlgorithm: 'ECDSA_SHA_256' }));
    expect(okDigest.SignatureValid).toBe(true);
    const bad = await rejection(kms.send(new VerifyCommand({ KeyId: keyId, Message: Buffer.from('other'), Signature: raw.Signature, SigningAlgorithm: 'ECDSA_SHA_256' })));
    expect(bad).toBeInstanceOf(KMSInvalidSignatureException);
    const shortDigest = await rejection(kms.send(new SignCommand({ KeyId: keyId, Message: digest.subarray(0, 20), MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256' })));
    expect(shortDigest.name).toBe('ValidationException');
    const encrypt = await rejection(kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') })));
    expect(encrypt).toBeInstanceOf(InvalidKeyUsageException);
  });
});

describe('authentication (SigV4)', () => {
  it('a wrong secret key is InvalidSignatureException, as the SDK reports it', async () => {
    const bad = h.client({ accessKeyId: ADMIN.accessKeyId, secretAccessKey: 'wrong-secret' });
    const e = await rejection(bad.send(new ListKeysCommand({})));
    expect(e).toBeInstanceOf(KMSServiceException);
    expect(e.name).toBe('InvalidSignatureException');
    expect(e.message).toMatch(/signature we calculated does not match/);
    expect(e.$metadata?.httpStatusCode).toBe(400);
  });

  it('an unknown access key is UnrecognizedClientException', async () => {
    const e = await rejection(h.client({ accessKeyId: 'AKIANOTCONFIGURED000', secretAccessKey: 'x' }).send(new ListKeysCommand({})));
    expect(e).toBeInstanceOf(KMSServiceException);
    expect(e.name).toBe('UnrecognizedClientException');
  });

  it('a missing or wrong session token is UnrecognizedClientException', async () => {
    const e = await rejection(h.client({ ...ADMIN, sessionToken: 'unexpected' }).send(new ListKeysCommand({})));
    expect(e.name).toBe('UnrecognizedClientException');
  });

  it('a signature scoped to another region is InvalidSignatureException', async () => {
    const e = await rejection(h.client(ADMIN, { region: 'eu-west-1' }).send(new ListKeysCommand({})));
    expect(e.name).toBe('InvalidSignatureException');
    expect(e.message).toMatch(/region/);
  });

  it('a request signed 20 minutes in the past is refused as expired', async () => {
    const e = await rejection(h.client(ADMIN, { systemClockOffset: -20 * 60_000 }).send(new ListKeysCommand({})));
    expect(e.name).toBe('InvalidSignatureException');
    expect(e.message).toMatch(/Signature expired/);
  });

  it('a principal of another account is denied by the default key policy', async () => {
    const e = await rejection(h.client(OUTSIDER).send(new EncryptCommand({ KeyId: symArn, Plaintext: Buffer.from('x') })));
    expect(e.name).toBe('AccessDeniedException');
    expect(e.message).toContain(OUTSIDER.principalArn);
  });
});

describe('TLS identity', () => {
  it('uses a caller-provided certificate; clients must trust its CA explicitly', async () => {
    const ca = await generateCa();
    const tls = await issueServerCertificate(ca, ['127.0.0.1']);
    const own = await startHarness({ tls });
    try {
      expect(own.emulator.caPem).toBe(ca.caPem);
      expect(readFileSync(own.emulator.caFile, 'utf8')).toBe(ca.caPem);
      const r = await own.client().send(new ListKeysCommand({}));
      expect(r.Keys).toEqual([]);
      // Without the CA the TLS handshake fails: nothing trusts the emulator by default.
      const untrusting = new KMSClient({
        endpoint: own.emulator.endpoint,
        region: own.emulator.region,
        credentials: ADMIN,
        maxAttempts: 1,
      });
      const e = await rejection(untrusting.send(new ListKeysCommand({})));
      expect(e.message).toMatch(/certificate/i);
      untrusting.destroy();
    } finally {
      await own.close();
    }
  });

  it('the generated certificate also names kms.<region>.amazonaws.com and extra tlsHostNames', async () => {
    const named = await startHarness({ tlsHostNames: ['kms.emulator.test'] });
    try {
      const port = Number(new URL(named.emulator.endpoint).port);
      for (const servername of ['kms.us-east-1.amazonaws.com', 'kms.emulator.test', 'localhost']) {
        const authorized = await new Promise<boolean>((resolve, reject) => {
          const socket = tlsConnect({ host: '127.0.0.1', port, servername, ca: named.emulator.caPem }, () => {
            resolve(socket.authorized);
            socket.destroy();
          });
          socket.on('error', reject);
        });
        expect(authorized).toBe(true);
      }
      const wrongName = await new Promise<string>((resolve) => {
        const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'kms.eu-west-1.amazonaws.com', ca: named.emulator.caPem }, () => resolve('connected'));
        socket.on('error', (e) => resolve(String((e as NodeJS.ErrnoException).code)));
      });
      expect(wrongName).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    } finally {
      await named.close();
    }
  });
});
