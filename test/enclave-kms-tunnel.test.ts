// @aws-sdk/client-kms inside the "enclave" → tunnel → host egress proxy → the KMS emulator
// (TLS, SigV4, key policies) on 127.0.0.1. Every relayed byte is recorded: neither the
// plaintext nor its base64 (how KMS JSON carries it) ever crosses the host.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateKeyCommand, DecryptCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { startKmsEmulator, type KmsEmulator } from '../simulator/kms/server.ts';
import { createTunnelHttpHandler } from '../enclave/tunnel.ts';
import { startEgressProxy, type RunningEgressProxy } from '../host/egress.ts';
import { tempSocketPath } from './enclave-support.ts';

const PLAINTEXT = Buffer.from('TUNNEL-PLAINTEXT-MARKER-93b1e2 very secret value');
const principal = { accessKeyId: 'AKIATUNNELTEST0001', secretAccessKey: 'tunnel-test-secret-key', principalArn: 'arn:aws:iam::111122223333:user/parent' };
let kms: KmsEmulator;
let proxy: RunningEgressProxy;
const tunnel = tempSocketPath('tunnel.sock');
const relayed: Buffer[] = [];

beforeAll(async () => {
  kms = await startKmsEmulator({ stateDir: mkdtempSync(join(tmpdir(), 'ap-kms-')), region: 'eu-west-1', principals: [principal] });
  const port = new URL(kms.endpoint).port;
  proxy = await startEgressProxy(tunnel, { allow: [{ host: '127.0.0.1', port: Number(port) }], onRelay: (_d, c) => relayed.push(Buffer.from(c)) });
});
afterAll(async () => {
  await proxy.close();
  await kms.close();
});

describe('KMS through the tunnel', () => {
  it('encrypts and decrypts with the KMS emulator; the host relays only ciphertext', async () => {
    const client = new KMSClient({
      region: 'eu-west-1',
      endpoint: kms.endpoint,
      credentials: { accessKeyId: principal.accessKeyId, secretAccessKey: principal.secretAccessKey },
      requestHandler: createTunnelHttpHandler({ socketPath: tunnel, caPem: kms.caPem }),
      maxAttempts: 1,
    });
    try {
      const key = await client.send(new CreateKeyCommand({ Description: 'tunnel test' }));
      const keyId = key.KeyMetadata?.KeyId as string;
      const enc = await client.send(new EncryptCommand({ KeyId: keyId, Plaintext: PLAINTEXT }));
      const dec = await client.send(new DecryptCommand({ KeyId: keyId, CiphertextBlob: enc.CiphertextBlob }));
      expect(Buffer.from(dec.Plaintext ?? []).equals(PLAINTEXT)).toBe(true);
    } finally {
      client.destroy();
    }
    const all = Buffer.concat(relayed);
    expect(all.length).toBeGreaterThan(1000);
    expect(all.includes(PLAINTEXT)).toBe(false);
    expect(all.includes(Buffer.from(PLAINTEXT.toString('base64')))).toBe(false);
  });
});
