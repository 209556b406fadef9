// Hostile and malformed requests get AWS-shaped JSON errors (right `__type`, right HTTP
// status) and the emulator keeps serving. Requests are built by hand and signed with our
// SigV4 signer so every byte of the body is under the test's control.
import { request } from 'node:https';
import { connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateKeyCommand, EncryptCommand, GenerateRandomCommand, ListKeysCommand, type KMSClient } from '@aws-sdk/client-kms';
import { signSigV4 } from '../simulator/kms/sigv4.ts';
import { MAX_BODY_BYTES } from '../simulator/kms/server.ts';
import { ADMIN, rejection, startHarness, type Harness } from './kms-harness.ts';

let h: Harness;
let kms: KMSClient;
let keyId: string;
let blob: Buffer;

beforeAll(async () => {
  h = await startHarness();
  kms = h.client();
  keyId = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
  blob = Buffer.from((await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') }))).CiphertextBlob!);
});
afterAll(async () => h.close());

interface Reply {
  status: number;
  type: string | undefined;
  message: string | undefined;
  raw: string;
}

function send(opts: { body: string | Buffer; target?: string | null; sign?: boolean; method?: string; at?: number; headers?: Record<string, string> }): Promise<Reply> {
  const url = new URL(h.emulator.endpoint);
  const body = typeof opts.body === 'string' ? Buffer.from(opts.body) : opts.body;
  let headers: Record<string, string> = {
    host: url.host,
    'content-type': 'application/x-amz-json-1.1',
    ...(opts.target === null ? {} : { 'x-amz-target': opts.target ?? 'TrentService.ListKeys' }),
    ...(opts.headers ?? {}),
  };
  if (opts.sign !== false) {
    headers = signSigV4({ method: opts.method ?? 'POST', url: '/', headers, body }, ADMIN, h.emulator.region, 'kms', opts.at ?? Date.now());
  }
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path: '/', method: opts.method ?? 'POST', headers: { ...headers, 'content-length': String(body.length) }, ca: h.emulator.caPem },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => {
          let parsed: { __type?: string; message?: string } = {};
          try {
            parsed = JSON.parse(text);
          } catch {
            // not JSON: leave fields undefined so the assertion shows the raw text
          }
          resolve({ status: res.statusCode ?? 0, type: parsed.__type, message: parsed.message, raw: text });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function stillServing(): Promise<void> {
  const r = await kms.send(new ListKeysCommand({}));
  expect(r.Keys!.length).toBeGreaterThan(0);
}

describe('malformed requests', () => {
  it('a well-formed hand-signed request works (the harness is right)', async () => {
    const r = await send({ body: '{}' });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.raw).Keys).toBeDefined();
  });

  it('malformed JSON → 400 SerializationException', async () => {
    for (const body of ['{', '{"KeyId": }', 'null', '[1,2]', '"text"', '\u0000\u0001']) {
      const r = await send({ body });
      expect([r.status, r.type]).toEqual([400, 'SerializationException']);
    }
    await stillServing();
  });

  it('wrong member types → SerializationException; constraint violations → ValidationException', async () => {
    const typed = await send({ target: 'TrentService.Encrypt', body: JSON.stringify({ KeyId: 42, Plaintext: 'eA==' }) });
    expect([typed.status, typed.type]).toEqual([400, 'SerializationException']);
    const ctx = await send({ target: 'TrentService.Encrypt', body: JSON.stringify({ KeyId: keyId, Plaintext: 'eA==', EncryptionContext: { a: 1 } }) });
    expect(ctx.type).toBe('SerializationException');
    const tooBig = await send({ target: 'TrentService.Encrypt', body: JSON.stringify({ KeyId: keyId, Plaintext: Buffer.alloc(4097).toString('base64') }) });
    expect([tooBig.status, tooBig.type]).toEqual([400, 'ValidationException']);
    expect(tooBig.message).toMatch(/less than or equal to 4096/);
    const missing = await send({ target: 'TrentService.Encrypt', body: JSON.stringify({ KeyId: keyId }) });
    expect(missing.type).toBe('ValidationException');
    const badEnum = await send({ target: 'TrentService.GenerateDataKey', body: JSON.stringify({ KeyId: keyId, KeySpec: 'AES_512' }) });
    expect(badEnum.type).toBe('ValidationException');
    await stillServing();
  });

  it('bad base64 in a blob member → SerializationException', async () => {
    for (const b64 of ['not base64!', 'abc', '====', 'YWJj\n']) {
      const r = await send({ target: 'TrentService.Decrypt', body: JSON.stringify({ CiphertextBlob: b64 }) });
      expect([r.status, r.type]).toEqual([400, 'SerializationException']);
    }
    await stillServing();
  });

  it('truncated or foreign ciphertexts → InvalidCiphertextException', async () => {
    for (const bad of [blob.subarray(0, 4), blob.subarray(0, blob.length - 1), Buffer.alloc(100, 7), Buffer.concat([blob, Buffer.of(0)])]) {
      const r = await send({ target: 'TrentService.Decrypt', body: JSON.stringify({ CiphertextBlob: bad.toString('base64') }) });
      expect([r.status, r.type]).toEqual([400, 'InvalidCiphertextException']);
    }
    await stillServing();
  });

  it('unknown operations and missing targets → UnknownOperationException', async () => {
    for (const target of ['TrentService.DeleteEverything', 'TrentService.constructor', 'TrentService.__proto__', 'DynamoDB_20120810.ListTables', '']) {
      const r = await send({ target, body: '{}' });
      expect([r.status, r.type]).toEqual([400, 'UnknownOperationException']);
    }
    const real = await send({ target: 'TrentService.ReEncrypt', body: '{}' });
    expect([real.status, real.type]).toEqual([400, 'UnsupportedOperationException']);
    const none = await send({ target: null, body: '{}' });
    expect(none.type).toBe('UnknownOperationException');
    await stillServing();
  });

  it('Encrypt refuses a Recipient (KMS accepts it only on Decrypt/GenerateDataKey*/GenerateRandom)', async () => {
    const r = await send({ target: 'TrentService.Encrypt', body: JSON.stringify({ KeyId: keyId, Plaintext: 'eA==', Recipient: { AttestationDocument: 'eA==' } }) });
    expect(r.type).toBe('ValidationException');
    expect(r.message).toMatch(/does not accept a Recipient/);
    const wp = await send({ target: 'TrentService.GenerateDataKeyWithoutPlaintext', body: JSON.stringify({ KeyId: keyId, KeySpec: 'AES_256', Recipient: { AttestationDocument: 'eA==' } }) });
    expect(wp.message).toMatch(/does not accept a Recipient/);
  });

  it(`bodies over ${MAX_BODY_BYTES} bytes → 413 RequestEntityTooLargeException`, async () => {
    const huge = Buffer.alloc(MAX_BODY_BYTES + 1, 0x20);
    const r = await send({ body: huge });
    expect([r.status, r.type]).toEqual([413, 'RequestEntityTooLargeException']);
    await stillServing();
  });

  it('GET → UnknownOperationException', async () => {
    const r = await send({ method: 'GET', body: '' });
    expect(r.status).toBe(400);
    expect(r.type).toBe('UnknownOperationException');
  });
});

describe('authentication failures on the wire', () => {
  it('no Authorization → MissingAuthenticationTokenException', async () => {
    const r = await send({ body: '{}', sign: false });
    expect([r.status, r.type]).toEqual([400, 'MissingAuthenticationTokenException']);
  });

  it('garbled Authorization → IncompleteSignatureException', async () => {
    for (const auth of ['AWS4-HMAC-SHA256 Credential=x', 'Basic Zm9vOmJhcg==', 'AWS4-HMAC-SHA256 Credential=A/B, SignedHeaders=host, Signature=00']) {
      const r = await send({ body: '{}', sign: false, headers: { authorization: auth, 'x-amz-date': '20260101T000000Z' } });
      expect(r.status).toBe(400);
      expect(r.type).toBe('IncompleteSignatureException');
    }
  });

  it('a body changed after signing → InvalidSignatureException', async () => {
    const url = new URL(h.emulator.endpoint);
    const headers = signSigV4({ method: 'POST', url: '/', headers: { host: url.host, 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.ListKeys' }, body: Buffer.from('{}') }, ADMIN, h.emulator.region, 'kms', Date.now());
    const r = await send({ body: '{"Limit":1}', sign: false, headers });
    expect([r.status, r.type]).toEqual([400, 'InvalidSignatureException']);
  });

  it('a changed signed header (X-Amz-Target) → InvalidSignatureException', async () => {
    const url = new URL(h.emulator.endpoint);
    const headers = signSigV4({ method: 'POST', url: '/', headers: { host: url.host, 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.ListKeys' }, body: Buffer.from('{}') }, ADMIN, h.emulator.region, 'kms', Date.now());
    const r = await send({ body: '{}', sign: false, headers: { ...headers, 'x-amz-target': 'TrentService.CreateKey' } });
    expect(r.type).toBe('InvalidSignatureException');
  });

  it('stale and future dates → InvalidSignatureException (expired / not yet current)', async () => {
    const old = await send({ body: '{}', at: Date.now() - 16 * 60_000 });
    expect(old.type).toBe('InvalidSignatureException');
    expect(old.message).toMatch(/^Signature expired: \d{8}T\d{6}Z is now earlier than/);
    const future = await send({ body: '{}', at: Date.now() + 16 * 60_000 });
    expect(future.type).toBe('InvalidSignatureException');
    expect(future.message).toMatch(/^Signature not yet current/);
    const slightlyOff = await send({ body: '{}', at: Date.now() - 5 * 60_000 });
    expect(slightlyOff.status).toBe(200);
  });

  it('a signature for another service → InvalidSignatureException', async () => {
    const url = new URL(h.emulator.endpoint);
    const headers = signSigV4({ method: 'POST', url: '/', headers: { host: url.host, 'x-amz-target': 'TrentService.ListKeys' }, body: Buffer.from('{}') }, ADMIN, h.emulator.region, 'dynamodb', Date.now());
    const r = await send({ body: '{}', sign: false, headers });
    expect(r.type).toBe('InvalidSignatureException');
    expect(r.message).toMatch(/correct service: 'kms'/);
  });
});

describe('connection-level garbage', () => {
  it('plain TCP garbage and a TLS client that hangs up do not take the server down', async () => {
    const url = new URL(h.emulator.endpoint);
    await new Promise<void>((resolve) => {
      const s = connect(Number(url.port), url.hostname, () => s.end('GET / HTTP/1.1\r\n\r\n\u0000\u0001garbage'));
      s.on('close', () => resolve());
      s.on('error', () => resolve());
    });
    await new Promise<void>((resolve) => {
      const s = tlsConnect({ host: url.hostname, port: Number(url.port), ca: h.emulator.caPem }, () => {
        s.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{"partial');
        s.destroy();
        resolve();
      });
      s.on('error', () => resolve());
    });
    await stillServing();
  });
});

describe('internal failures', () => {
  it('an unexpected exception inside an operation is a 500 KMSInternalException, and the server keeps serving', async () => {
    const broken = await startHarness({
      recipientVerifier: () => {
        throw new Error('injected failure');
      },
    });
    const stderrWrite = process.stderr.write.bind(process.stderr);
    const seen: string[] = [];
    process.stderr.write = ((chunk: string) => {
      seen.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      const client = broken.client();
      const e = await rejection(client.send(new GenerateRandomCommand({ NumberOfBytes: 8, Recipient: { AttestationDocument: new Uint8Array([1]) } })));
      expect(e.name).toBe('KMSInternalException');
      expect(e.$metadata?.httpStatusCode).toBe(500);
      expect(seen.join('')).toMatch(/injected failure/);
      expect((await client.send(new GenerateRandomCommand({ NumberOfBytes: 8 }))).Plaintext).toHaveLength(8);
    } finally {
      process.stderr.write = stderrWrite;
      await broken.close();
    }
  });
});
