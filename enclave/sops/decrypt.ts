// Decrypting a parsed SOPS file: unwrap the data key, decrypt every leaf the rules say is
// encrypted (anything else under an encrypted path is refused, so plaintext cannot be
// slipped into an encrypted file), recompute the MAC over all documents and compare it
// with the stored one. Nothing is returned unless every check passes.
import { decryptValue, looksEncrypted, parseEncValue } from './cipher.ts';
import type { ParsedSops } from './document.ts';
import { SopsError } from './errors.ts';
import { MacBuilder, macEquals } from './mac.ts';
import { aadFor, encryptPredicate } from './rules.ts';
import { toPlain, type PlainValue } from './plain.ts';
import { leaf, type SopsBranch, type SopsComment, type SopsLeaf } from './tree.ts';
import type { DataKeyUnwrapper } from './unwrap.ts';
import { walkBranch, type LeafPlace } from './walk.ts';

export interface DecryptedSops {
  readonly fileName: string;
  /** Decrypted documents, comments and types kept. */
  readonly branches: readonly SopsBranch[];
  /** The first document as plain JavaScript values (what `sops -d` output parses to). */
  readonly data: Record<string, PlainValue>;
  /** The verified MAC (uppercase hex). */
  readonly mac: string;
}

type Where = { fileName: string; keyPath?: string };

/**
 * A comment item: sops tries to decrypt every comment under an encrypted path and keeps
 * one that does not decrypt as it is (older files). One that decrypts to a value (an
 * encrypted value pasted into a comment) would enter sops' MAC and fail it: refused.
 */
function decryptComment(node: SopsComment, encrypted: boolean, key: Uint8Array, aad: string, where: Where): SopsComment {
  if (!encrypted || !looksEncrypted(node.text) || parseEncValue(node.text) === undefined) return node;
  let v;
  try {
    v = decryptValue(node.text, key, aad, where);
  } catch {
    return node;
  }
  if (v.type !== 'comment') throw new SopsError('SOPS_VALUE_MALFORMED', 'a comment holds an encrypted value', where);
  return { kind: 'comment', text: v.text };
}

/**
 * One leaf, as sops' Tree.Decrypt handles it. A list item that decrypts to a `comment` is
 * how sops stores a comment inside an encrypted list: it is a comment again, outside the
 * MAC and the values. Anywhere else a `comment` value is refused (sops would turn it into
 * a struct), as is any plaintext under a path the rules say is encrypted.
 */
function decryptLeaf(node: SopsLeaf, place: LeafPlace, key: Uint8Array, keyPath: string, mac: MacBuilder, where: Where): SopsLeaf | SopsComment {
  if (node.type !== 'str') {
    throw new SopsError('SOPS_VALUE_MALFORMED', `expected an encrypted value, found a plaintext ${node.type}`, where);
  }
  if (node.text === '') {
    mac.add(true, '');
    return node;
  }
  const v = decryptValue(node.text, key, keyPath, where);
  if (v.type === 'comment') {
    if (place === 'list') return { kind: 'comment', text: v.text };
    throw new SopsError('SOPS_VALUE_MALFORMED', 'a value is typed as a comment', where);
  }
  const out: SopsLeaf = v.raw === undefined ? leaf(v.type, v.text) : { kind: 'leaf', type: v.type, text: v.text, raw: v.raw };
  mac.add(true, out.raw ?? out.text);
  return out;
}

/** Decrypt with a data key already in hand (the caller keeps ownership of `key`). */
export function decryptSopsWithKey(parsed: ParsedSops, key: Uint8Array): DecryptedSops {
  const { fileName, metadata } = parsed;
  const shouldEncrypt = encryptPredicate(metadata, { fileName });
  const mac = new MacBuilder(metadata.macOnlyEncrypted);
  const branches = parsed.branches.map((b) =>
    walkBranch(b, (node, path, place): SopsLeaf | SopsComment => {
      const encrypted = shouldEncrypt(path);
      const keyPath = aadFor(path);
      if (node.kind === 'comment') return decryptComment(node, encrypted, key, keyPath, { fileName });
      if (encrypted) return decryptLeaf(node, place, key, keyPath, mac, { fileName, keyPath });
      mac.add(false, node.raw ?? node.text);
      return node;
    }),
  );
  const computed = mac.hex();
  let stored: string;
  try {
    const v = decryptValue(metadata.mac, key, metadata.lastModifiedCanonical, { fileName, keyPath: 'sops.mac' });
    if (v.type !== 'str') throw new SopsError('SOPS_MAC_MISMATCH', 'stored MAC is not a str value', { fileName });
    stored = v.text;
  } catch (e) {
    if (e instanceof SopsError && e.code === 'SOPS_MAC_MISMATCH') throw e;
    throw new SopsError(
      'SOPS_MAC_MISMATCH',
      metadata.mac === '' ? 'file has no MAC' : 'stored MAC does not decrypt (tampered mac or lastmodified, or wrong data key)',
      { fileName },
    );
  }
  if (!macEquals(stored, computed)) {
    throw new SopsError('SOPS_MAC_MISMATCH', 'MAC mismatch: the file contents were changed after encryption', { fileName });
  }
  const first = branches[0];
  return {
    fileName,
    branches,
    // Clef reads `sops -d --output-type json` for .json files, YAML otherwise: the two
    // spell bytes that are not UTF-8 differently.
    data: first === undefined ? {} : (toPlain(first, { goJson: fileName.endsWith('.json') }) as Record<string, PlainValue>),
    mac: computed,
  };
}

/** Unwrap the data key, decrypt and verify; the data key is zeroed before returning. */
export async function decryptSops(parsed: ParsedSops, unwrapper: DataKeyUnwrapper): Promise<DecryptedSops> {
  const key = await unwrapper.unwrap(parsed.metadata, parsed.fileName);
  try {
    if (key.length !== 32) throw new SopsError('SOPS_NO_DATA_KEY', `data key is ${key.length} bytes, expected 32`, { fileName: parsed.fileName });
    return decryptSopsWithKey(parsed, key);
  } finally {
    key.fill(0);
  }
}
