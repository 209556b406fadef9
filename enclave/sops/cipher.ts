// Value encryption as sops' aes/cipher.go does it: AES-256-GCM with a 32-byte random IV,
// 16-byte tag, the key path as AAD, and the plaintext type carried beside the ciphertext:
//   ENC[AES256_GCM,data:<b64>,iv:<b64>,tag:<b64>,type:<t>]
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { SopsError } from './errors.ts';
import {
  canonicalRfc3339, formatGoBool, formatGoFloat, parseGoAtoi, parseGoBool, parseGoFloat, stringValue,
} from './go-format.ts';
import type { LeafType } from './tree.ts';

export type EncType = LeafType | 'comment';

export interface EncValue {
  data: Uint8Array;
  iv: Uint8Array;
  tag: Uint8Array;
  type: EncType;
}

const B64 = '[A-Za-z0-9+/]+={0,2}';
const ENC_RE = new RegExp(`^ENC\\[AES256_GCM,data:(${B64}),iv:(${B64}),tag:(${B64}),type:([a-z]+)\\]$`);
const TYPES: ReadonlySet<string> = new Set(['str', 'int', 'float', 'bool', 'time', 'bytes', 'comment']);

/** IV lengths sops accepts on decrypt are arbitrary; we bound them to something sane. */
const MAX_IV = 256;
const TAG_LEN = 16;

export function looksEncrypted(s: string): boolean {
  return s.startsWith('ENC[');
}

function strictBase64(s: string): Uint8Array | undefined {
  const b = Buffer.from(s, 'base64');
  // Reject non-canonical encodings: Go's StdEncoding is strict about padding and bits.
  return b.toString('base64') === s ? b : undefined;
}

/** Parse an `ENC[...]` string; undefined when it does not have sops' shape. */
export function parseEncValue(s: string): EncValue | undefined {
  const m = ENC_RE.exec(s);
  if (m === null) return undefined;
  const [, d, i, t, type] = m;
  if (d === undefined || i === undefined || t === undefined || type === undefined || !TYPES.has(type)) return undefined;
  const data = strictBase64(d);
  const iv = strictBase64(i);
  const tag = strictBase64(t);
  if (data === undefined || iv === undefined || tag === undefined) return undefined;
  return { data, iv, tag, type: type as EncType };
}

export function formatEncValue(v: EncValue): string {
  const b = (x: Uint8Array): string => Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString('base64');
  return `ENC[AES256_GCM,data:${b(v.data)},iv:${b(v.iv)},tag:${b(v.tag)},type:${v.type}]`;
}

export interface DecryptedValue {
  type: EncType;
  /** Canonical text (what sops' ToBytes yields after its typed parse). */
  text: string;
  /** For strings that are not UTF-8: the exact plaintext bytes (`text` is then lossy). */
  raw?: Uint8Array;
}

/**
 * Decrypt one value and normalise it the way sops does (parse by type, then ToBytes), so
 * the caller can feed `text` to the MAC. Throws SOPS_VALUE_MALFORMED / SOPS_DECRYPT_FAILED.
 */
export function decryptValue(s: string, key: Uint8Array, aad: string, where: { fileName?: string; keyPath?: string }): DecryptedValue {
  const v = parseEncValue(s);
  if (v === undefined) {
    throw new SopsError('SOPS_VALUE_MALFORMED', 'value is not in sops\' ENC[AES256_GCM,...] format', where);
  }
  if (v.iv.length === 0 || v.iv.length > MAX_IV) {
    throw new SopsError('SOPS_VALUE_MALFORMED', `IV length ${v.iv.length} is out of range`, where);
  }
  if (v.tag.length !== TAG_LEN) {
    throw new SopsError('SOPS_VALUE_MALFORMED', `GCM tag must be ${TAG_LEN} bytes, got ${v.tag.length}`, where);
  }
  let plain: Buffer;
  try {
    const d = createDecipheriv('aes-256-gcm', key, v.iv, { authTagLength: TAG_LEN });
    d.setAAD(Buffer.from(aad, 'utf8'));
    d.setAuthTag(v.tag);
    plain = Buffer.concat([d.update(v.data), d.final()]);
  } catch {
    throw new SopsError('SOPS_DECRYPT_FAILED', 'AES-GCM authentication failed (tampered data, IV, tag or key path, or wrong data key)', where);
  }
  try {
    return normalise(v.type, plain, where);
  } finally {
    plain.fill(0);
  }
}

function normalise(type: EncType, plain: Buffer, where: { fileName?: string; keyPath?: string }): DecryptedValue {
  const text = plain.toString('utf8');
  const bad = (what: string): never => {
    throw new SopsError('SOPS_VALUE_MALFORMED', `decrypted ${type} value is not a valid ${what}`, where);
  };
  switch (type) {
    case 'str':
    case 'comment':
      return { type, ...stringValue(plain) };
    case 'bytes':
      // sops 3.12.2 cannot decrypt these (it panics hashing the []byte): neither do we.
      throw new SopsError('SOPS_UNSUPPORTED', 'ENC type bytes cannot be decrypted (sops itself fails on it)', where);
    case 'int': {
      const n = parseGoAtoi(text);
      return n === undefined ? bad('integer') : { type, text: n.toString() };
    }
    case 'float': {
      const f = parseGoFloat(text);
      return f === undefined ? bad('float') : { type, text: formatGoFloat(f) };
    }
    case 'bool': {
      const b = parseGoBool(text);
      return b === undefined ? bad('boolean') : { type, text: formatGoBool(b) };
    }
    case 'time': {
      const t = canonicalRfc3339(text);
      return t === undefined ? bad('RFC 3339 time') : { type, text: t };
    }
  }
}

/**
 * Encrypt the canonical text of a value (or its exact bytes, for strings that are not
 * UTF-8). Empty strings stay empty, as in sops.
 */
export function encryptValue(type: EncType, text: string | Uint8Array, key: Uint8Array, aad: string): string {
  if (text.length === 0 && (type === 'str' || type === 'comment')) return '';
  const iv = randomBytes(32);
  const c = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_LEN });
  c.setAAD(Buffer.from(aad, 'utf8'));
  const plain = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  const data = Buffer.concat([c.update(plain), c.final()]);
  return formatEncValue({ data, iv, tag: c.getAuthTag(), type });
}
