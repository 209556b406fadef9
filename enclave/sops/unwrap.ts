// Getting a file's data key back. A DataKeyUnwrapper turns the metadata into the 32-byte
// key; the stock one walks the key groups as sops does (age keys first, then the file's
// order; one success per group; Shamir-combine when there are several groups) and asks a
// per-backend function for each master key. Backends: AWS KMS through a decrypt function
// (so the enclave can call KMS Decrypt with Recipient), and age identities.
import { Decrypter, armor } from 'age-encryption';
import { SopsError } from './errors.ts';
import type { AgeMasterKey, KmsMasterKey, MasterKey, SopsMetadata } from './metadata.ts';
import { decryptAgeNative, nativeIdentity } from './age-native.ts';
import { shamirCombine } from './shamir.ts';

export interface DataKeyUnwrapper {
  /** Returns the file's data key (the caller zeroes it after use) or throws SopsError. */
  unwrap(meta: SopsMetadata, fileName: string): Promise<Uint8Array>;
}

/** KMS Decrypt as sops calls it: KeyId = the ARN, the file's context (empty when none). */
export type KmsDecryptFn = (req: {
  keyArn: string;
  ciphertextBlob: Uint8Array;
  encryptionContext: Record<string, string>;
}) => Promise<Uint8Array>;

/** Per-master-key attempt: a key, `undefined` for "not mine", or a thrown error. */
export type MasterKeyOpener = (key: MasterKey) => Promise<Uint8Array | undefined>;

const DATA_KEY_LEN = 32;

/** The recipient type of an age key: `X25519` (age1…), or the SSH key type sops accepts. */
function ageRecipientType(recipient: string): string {
  const m = /^(ssh-ed25519|ssh-rsa) /.exec(recipient);
  return m?.[1] ?? (recipient.startsWith('age1') ? 'X25519' : 'unknown');
}

function isSshAge(k: MasterKey): boolean {
  return k.type === 'age' && ageRecipientType(k.recipient).startsWith('ssh-');
}

function describe(k: MasterKey): string {
  switch (k.type) {
    case 'age': return `age (${ageRecipientType(k.recipient)}) ${k.recipient}`;
    case 'kms': return `kms ${k.arn}`;
    default: return k.type;
  }
}

async function openGroup(group: readonly MasterKey[], openers: readonly MasterKeyOpener[], errors: string[]): Promise<Uint8Array | undefined> {
  // sops' DefaultDecryptionOrder puts age (then pgp) first; the rest keep file order.
  const ordered = [...group.filter((k) => k.type === 'age'), ...group.filter((k) => k.type !== 'age')];
  for (const key of ordered) {
    for (const open of openers) {
      try {
        const part = await open(key);
        if (part !== undefined) return part;
      } catch (e) {
        errors.push(`${describe(key)}: ${(e as Error).message}`);
      }
    }
  }
  return undefined;
}

/**
 * age recipients may be SSH keys (`ssh-ed25519 …`, `ssh-rsa …`); we open neither (the
 * enclave unwraps through KMS only). When a group that could not be opened holds nothing
 * else, say so with a dedicated code rather than a bare "no data key".
 */
function refuseSshOnly(failed: ReadonlyArray<readonly MasterKey[]>, parts: Uint8Array[], fileName: string): void {
  const sshOnly = failed.find((g) => g.length > 0 && g.every(isSshAge));
  if (sshOnly === undefined) return;
  for (const p of parts) p.fill(0);
  const types = [...new Set(sshOnly.map((k) => (k.type === 'age' ? ageRecipientType(k.recipient) : k.type)))].join(', ');
  throw new SopsError(
    'SOPS_AGE_SSH_RECIPIENT_UNSUPPORTED',
    `the file's key group has only age recipients of type ${types}, which cannot be used here (supported: age X25519 recipients and AWS KMS keys)`,
    { fileName },
  );
}

/** The standard unwrapper: tries every opener on every master key, group by group. */
export function keyGroupUnwrapper(...openers: MasterKeyOpener[]): DataKeyUnwrapper {
  return {
    async unwrap(meta, fileName) {
      const errors: string[] = [];
      const parts: Uint8Array[] = [];
      const failed: Array<readonly MasterKey[]> = [];
      for (const g of meta.keyGroups) {
        const part = await openGroup(g, openers, errors);
        if (part !== undefined) parts.push(part);
        else failed.push(g);
      }
      const detail = errors.length === 0 ? '' : ` (${errors.join('; ')})`;
      const need = meta.keyGroups.length > 1 ? (meta.shamirThreshold > 0 ? meta.shamirThreshold : meta.keyGroups.length) : 1;
      if (parts.length < need) refuseSshOnly(failed, parts, fileName);
      let key: Uint8Array;
      if (meta.keyGroups.length > 1) {
        if (parts.length < need) {
          for (const p of parts) p.fill(0);
          throw new SopsError('SOPS_NO_DATA_KEY', `only ${parts.length} of ${need} required key groups could be opened${detail}`, { fileName });
        }
        try {
          key = shamirCombine(parts);
        } catch (e) {
          throw new SopsError('SOPS_NO_DATA_KEY', `cannot combine Shamir shares: ${(e as Error).message}`, { fileName });
        } finally {
          for (const p of parts) p.fill(0);
        }
      } else {
        const only = parts[0];
        if (only === undefined) {
          const kinds = [...new Set(meta.keyGroups.flat().map((k) => (k.type === 'age' ? `age ${ageRecipientType(k.recipient)}` : k.type)))].join(', ');
          throw new SopsError('SOPS_NO_DATA_KEY', `none of the file's master keys (${kinds}) could be opened${detail === '' ? ' (no matching key supplied)' : detail}`, { fileName });
        }
        key = only;
      }
      if (key.length !== DATA_KEY_LEN) {
        key.fill(0);
        throw new SopsError('SOPS_NO_DATA_KEY', `unwrapped data key is ${key.length} bytes, expected ${DATA_KEY_LEN}`, { fileName });
      }
      return key;
    },
  };
}

function strictBase64(s: string): Uint8Array {
  const t = s.replace(/\s+/g, '');
  const b = Buffer.from(t, 'base64');
  if (b.toString('base64') !== t || b.length === 0) throw new Error('enc is not valid base64');
  return b;
}

/** AWS KMS master keys, through a decrypt function (KMS Decrypt, or Decrypt+Recipient). */
export function kmsOpener(decrypt: KmsDecryptFn): MasterKeyOpener {
  return async (key) => {
    if (key.type !== 'kms') return undefined;
    const k: KmsMasterKey = key;
    // sops would AssumeRole `k.role` first; credentials are the decrypt function's job.
    const out = await decrypt({ keyArn: k.arn, ciphertextBlob: strictBase64(k.enc), encryptionContext: { ...(k.context ?? {}) } });
    return out;
  };
}

/** age master keys, with `AGE-SECRET-KEY-1…` identities (one file may hold several). */
export function ageOpener(identities: readonly string[]): MasterKeyOpener {
  const ids = identities.map((s) => s.trim()).filter((s) => s !== '');
  // X25519 identities go through node:crypto; anything else (or any file the native path
  // does not parse) through the age-encryption library.
  const native = ids.map(nativeIdentity);
  const nativeIds = native.filter((x) => x !== undefined);
  const allNative = native.every((x) => x !== undefined);
  return async (key) => {
    if (key.type !== 'age' || ids.length === 0) return undefined;
    const k: AgeMasterKey = key;
    let file: Uint8Array;
    try {
      file = armor.decode(k.enc);
    } catch (e) {
      throw new Error(`enc is not an armored age file: ${(e as Error).message}`);
    }
    const r = decryptAgeNative(file, nativeIds);
    if (r.kind === 'plaintext') return r.plaintext;
    if (r.kind === 'no-match' && allNative) return undefined;
    const d = new Decrypter();
    for (const id of ids) d.addIdentity(id);
    try {
      return await d.decrypt(file);
    } catch (e) {
      // "no identity matched" means not ours: try the next master key quietly.
      if (/no identity matched/i.test((e as Error).message)) return undefined;
      throw e;
    }
  };
}

export function ageUnwrapper(identities: readonly string[]): DataKeyUnwrapper {
  return keyGroupUnwrapper(ageOpener(identities));
}

export function kmsUnwrapper(decrypt: KmsDecryptFn): DataKeyUnwrapper {
  return keyGroupUnwrapper(kmsOpener(decrypt));
}

/** A fixed data key (tests, benchmarks, or a key obtained out of band). */
export function staticKeyUnwrapper(key: Uint8Array): DataKeyUnwrapper {
  return { unwrap: async () => Uint8Array.from(key) };
}

/** Parse an age identity file (comments and blank lines allowed), as SOPS_AGE_KEY_FILE is read. */
export function parseAgeIdentityFile(text: string): string[] {
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.startsWith('AGE-SECRET-KEY-'));
}
