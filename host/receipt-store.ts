// Where the host keeps every receipt it returns (docs/receipt-store.md), so none can be
// quietly dropped: a directory locally, an S3 bucket (versioned, Object Lock in compliance
// mode, the host role may only PutObject) in AWS. Keyed `<identity>/<environment>/<revision>.json`
// from the statement (read, not verified: the key only files it; the audit verifies).
// A receipt that cannot be stored is never returned (host/app.ts answers 503).
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { parseReceipt } from '../verifier/receipt.ts';
import { parseStatement } from '../verifier/statement.ts';

export interface ReceiptStore {
  /** For logs: "dir /var/lib/…" or "s3://bucket/prefix". */
  readonly description: string;
  /** Store the receipt under `key`; rejects when it is not durably stored. */
  put(key: string, receipt: Uint8Array): Promise<void>;
}

export class ReceiptStoreError extends Error {
  override readonly name = 'ReceiptStoreError';
}

/** `<identity>/<environment>/<revision>.json` of a receipt, from its statement. */
export function receiptStoreKey(receipt: Uint8Array): string {
  const p = parseStatement(parseReceipt(receipt).dsse.payload).predicate.pack;
  return `${p.identity}/${p.environment}/${p.revision}.json`;
}

/** A directory: write-then-rename; an existing key is never overwritten with other bytes. */
export function directoryReceiptStore(dir: string): ReceiptStore {
  return {
    description: `dir ${dir}`,
    async put(key, receipt) {
      const file = join(dir, ...key.split('/'));
      let existing: Buffer | undefined;
      try {
        existing = readFileSync(file);
      } catch {
        existing = undefined;
      }
      if (existing !== undefined) {
        if (Buffer.compare(existing, Buffer.from(receipt)) === 0) return;
        throw new ReceiptStoreError(`${key} already holds another receipt`);
      }
      mkdirSync(dirname(file), { recursive: true });
      const tmp = join(dirname(file), `.${randomUUID()}.tmp`);
      writeFileSync(tmp, receipt, { flag: 'wx' });
      renameSync(tmp, file);
    },
  };
}

export interface S3ReceiptStoreOptions {
  bucket: string;
  /** Key prefix, e.g. "receipts/" (may be empty). */
  prefix: string;
  region: string;
  /** For tests: a client (endpoint, credentials) instead of the default chain. */
  client?: S3Client;
}

/**
 * S3: PutObject only (the host role has nothing else), `If-None-Match: *` so a key is never
 * replaced (versioning and Object Lock keep every version regardless), with the SDK's
 * default checksum, which Object Lock requires on PUT.
 */
export function s3ReceiptStore(opts: S3ReceiptStoreOptions): ReceiptStore {
  const client = opts.client ?? new S3Client({ region: opts.region, maxAttempts: 3 });
  return {
    description: `s3://${opts.bucket}/${opts.prefix}`,
    async put(key, receipt) {
      await client.send(new PutObjectCommand({
        Bucket: opts.bucket, Key: `${opts.prefix}${key}`, Body: receipt, ContentType: 'application/json', IfNoneMatch: '*',
      }));
    },
  };
}
