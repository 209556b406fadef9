// The receipt store as the audit reads it: `<identity>/<environment>/<revision>.json`
// (docs/receipt-store.md; written by host/receipt-store.ts). Each receipt is verified in
// full (verifyReceipt, at the document's own time: leaf certificates live 3 hours) against
// every manifest given — a rollout has several — and must sit under the key its statement
// names. A receipt that fails is reported, and its KMS calls explain nothing.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import type { BuildManifest } from '../../verifier/build-manifest.ts';
import { isVerificationError } from '../../verifier/errors.ts';
import { MAX_RECEIPT_BYTES, verifyReceipt } from '../../verifier/receipt.ts';
import type { ReceiptPredicate } from '../../verifier/statement.ts';
import { auditFail } from './errors.ts';

export const MAX_RECEIPTS = 1_000_000;
const SEGMENT = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const REVISION_FILE = /^[0-9]{1,16}-[0-9a-f]{8}\.json$/;

export interface StoredReceipt {
  /** Path relative to the store, "/"-separated. */
  key: string;
  predicate: ReceiptPredicate;
  /** Index of the manifest whose PCRs the receipt's document carries. */
  manifest: number;
}

export interface FailedReceipt {
  key: string;
  code: string;
  message: string;
}

export interface ReceiptStoreContents {
  receipts: StoredReceipt[];
  failed: FailedReceipt[];
}

export interface ReadStoreOptions {
  manifests: BuildManifest[];
  /** Trust anchor (DER) instead of the AWS Nitro root G1 (the simulator's, in demos and tests). */
  root?: Uint8Array;
}

/** Every `<identity>/<environment>/<file>` under the store; anything else is refused. */
function listStore(dir: string): string[] {
  const out: string[] = [];
  const walk = (path: string, depth: number): void => {
    for (const name of readdirSync(path).sort()) {
      if (name.startsWith('.')) continue; // writers' temporaries
      const full = join(path, name);
      const isDir = statSync(full).isDirectory();
      if (depth < 2 && isDir && SEGMENT.test(name)) walk(full, depth + 1);
      else if (depth === 2 && !isDir) out.push(full);
      else auditFail('AUDIT_RECEIPT_STORE_MALFORMED', `${full}: not <identity>/<environment>/<revision>.json`);
      if (out.length > MAX_RECEIPTS) auditFail('AUDIT_INPUT_TOO_LARGE', `more than ${MAX_RECEIPTS} receipts`);
    }
  };
  try {
    walk(dir, 0);
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT' || (e as { code?: string }).code === 'ENOTDIR') auditFail('AUDIT_INPUT_UNREADABLE', `cannot read the receipt store ${dir}: ${(e as Error).message}`);
    throw e;
  }
  return out;
}

function verifyOne(bytes: Uint8Array, opts: ReadStoreOptions): { predicate: ReceiptPredicate; manifest: number } {
  let last: unknown;
  for (const [i, manifest] of opts.manifests.entries()) {
    try {
      const v = verifyReceipt(bytes, { manifest, time: { kind: 'document' }, ...(opts.root === undefined ? {} : { root: opts.root }) });
      return { predicate: v.predicate, manifest: i };
    } catch (e) {
      if (!isVerificationError(e)) throw e;
      last = e;
      // Only a PCR difference can be cured by another manifest.
      if (e.code !== 'PCR_MISMATCH' && e.code !== 'PCR_MISSING') break;
    }
  }
  throw last;
}

export function readReceiptStore(dir: string, opts: ReadStoreOptions): ReceiptStoreContents {
  const out: ReceiptStoreContents = { receipts: [], failed: [] };
  for (const file of listStore(dir)) {
    const key = relative(dir, file).split(sep).join('/');
    const fail = (code: string, message: string) => out.failed.push({ key, code, message });
    if (!REVISION_FILE.test(key.split('/')[2] ?? '')) {
      fail('RECEIPT_KEY_MISMATCH', 'file name is not <revision>.json');
      continue;
    }
    if (statSync(file).size > MAX_RECEIPT_BYTES) {
      fail('INPUT_TOO_LARGE', `larger than ${MAX_RECEIPT_BYTES} bytes`);
      continue;
    }
    try {
      const v = verifyOne(readFileSync(file), opts);
      const p = v.predicate.pack;
      const expected = `${p.identity}/${p.environment}/${p.revision}.json`;
      if (expected !== key) fail('RECEIPT_KEY_MISMATCH', `the receipt is for ${expected}`);
      else out.receipts.push({ key, predicate: v.predicate, manifest: v.manifest });
    } catch (e) {
      if (!isVerificationError(e)) throw e;
      fail(e.code, e.message);
    }
  }
  return out;
}
