// The host keeps every receipt it returns (docs/receipt-store.md): stored under
// <identity>/<environment>/<revision>.json before the CI client gets its copy, and when the
// store fails the pack is withheld (503 RECEIPT_STORE_UNAVAILABLE), logged.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { collectGitObjects } from '../cli/pack-client/git-objects.ts';
import type { PackHandler } from '../enclave/server.ts';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { S3Client } from '@aws-sdk/client-s3';
import { directoryReceiptStore, receiptStoreKey, s3ReceiptStore } from '../host/receipt-store.ts';
import { parseHostConfig } from '../host/config.ts';
import { makeGitRepo } from './enclave-support.ts';
import { TOKEN_DEV, startHarness, type Harness } from './host-support.ts';
import { makeReceipt } from './receipt-fixtures.ts';

const repo = makeGitRepo({ 'clef.yaml': 'version: 1\n' });
let receipt: Uint8Array;
const handler: PackHandler = async () => ({ artifact: Buffer.from('artifact'), receipt });

async function pack(h: Harness): Promise<Response> {
  const c = await collectGitObjects({ repoDir: repo, paths: ['clef.yaml'] });
  return fetch(`${h.url}/v1/pack`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN_DEV}` },
    body: JSON.stringify({
      identity: 'api-svc', environment: 'dev', nonce: randomBytes(32).toString('base64'), commit: c.commit, objectFormat: c.objectFormat,
      objects: c.objects.map((o) => Buffer.from(o).toString('base64')),
    }),
  });
}

describe('host receipt store', () => {
  let h: Harness;
  beforeAll(async () => {
    receipt = (await makeReceipt()).receipt;
    h = await startHarness({ handler, extraConfig: 'receiptStore: { dir: receipts }' });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('stores the receipt under identity/environment/revision before returning it', async () => {
    const res = await pack(h);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { receipt: string };
    const key = 'payments-api/production/1795402800123-1a2b3c4d.json';
    expect(receiptStoreKey(receipt)).toBe(key);
    expect(readFileSync(join(h.dir, 'receipts', key))).toEqual(Buffer.from(body.receipt, 'base64'));
  });

  it('withholds the pack when the store fails: 503 RECEIPT_STORE_UNAVAILABLE, logged', async () => {
    const other = (await makeReceipt()).receipt; // same key, other bytes: never overwritten
    const saved = receipt;
    receipt = other;
    try {
      const res = await pack(h);
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('RECEIPT_STORE_UNAVAILABLE');
      expect(h.logs.join('')).toContain('receipt store unavailable: pack withheld');
    } finally {
      receipt = saved;
    }
  });

  it('an unwritable directory refuses too', async () => {
    const dir = join(h.dir, 'ro');
    mkdirSync(dir);
    chmodSync(dir, 0o500);
    const store = directoryReceiptStore(dir);
    // root ignores permissions; a file where a directory must go fails for everyone
    writeFileSync(join(dir, 'payments-api'), 'not a directory');
    await expect(store.put('payments-api/production/1-00000000.json', receipt)).rejects.toThrow();
  });

  it('config: exactly one of dir and s3; bucket and prefix checked', () => {
    const base = `region: eu-west-1\nmanifest: ${join(h.dir, 'manifest.json')}\nenclave: { socketPath: e.sock }\ncredentials: { source: static, accessKeyId: A, secretAccessKey: B }\nauth: { tokens: [ { name: t, sha256: ${'a'.repeat(64)}, identities: ['*'], environments: ['*'] } ] }\n`;
    const parse = (extra: string) => parseHostConfig(base + extra, h.dir).receiptStore;
    expect(parse('receiptStore: { s3: { bucket: my-receipts, prefix: "packs/" } }')).toEqual({ s3: { bucket: 'my-receipts', prefix: 'packs/' } });
    expect(() => parse('receiptStore: { dir: a, s3: { bucket: b } }')).toThrow(/exactly one/);
    expect(() => parse('receiptStore: { s3: { bucket: "Bad_Bucket" } }')).toThrow(/bucket/);
    expect(() => parse('receiptStore: { s3: { bucket: okbucket, prefix: "no-slash" } }')).toThrow(/prefix/);
    expect(() => parse('receiptStore: { tape: x }')).toThrow(/unknown key/);
  });

  it('S3: one PutObject with If-None-Match: *, under the prefix; an S3 error rejects', async () => {
    const seen: Array<{ method?: string; url?: string; ifNoneMatch?: string; body: Buffer }> = [];
    let status = 200;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, ifNoneMatch: req.headers['if-none-match'] as string | undefined, body: Buffer.concat(chunks) });
        res.writeHead(status, status === 200 ? { etag: '"x"' } : { 'content-type': 'application/xml' });
        res.end(status === 200 ? '' : '<Error><Code>PreconditionFailed</Code><Message>exists</Message></Error>');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const client = new S3Client({
      region: 'eu-west-1', endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, forcePathStyle: true, maxAttempts: 1,
      credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' },
    });
    try {
      const store = s3ReceiptStore({ bucket: 'receipts-bucket', prefix: 'packs/', region: 'eu-west-1', client });
      await store.put('a/b/1-00000000.json', receipt);
      expect(seen).toHaveLength(1);
      expect(seen[0]!.method).toBe('PUT');
      expect(seen[0]!.url?.split('?')[0]).toBe('/receipts-bucket/packs/a/b/1-00000000.json');
      expect(seen[0]!.ifNoneMatch).toBe('*');
      status = 412;
      await expect(store.put('a/b/1-00000000.json', receipt)).rejects.toThrow();
    } finally {
      client.destroy();
      server.close();
    }
  });
});
