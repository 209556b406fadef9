// Encrypting plaintext YAML/JSON into a SOPS file the real `sops` decrypts: one random
// data key, every leaf the rules select encrypted with its key path as AAD, the MAC over
// the plaintext, and the data key wrapped for each master key (age recipients, AWS KMS
// through an encrypt function). Used by tests and the demo; the enclave only decrypts.
import { randomBytes } from 'node:crypto';
import { Encrypter, armor } from 'age-encryption';
import { encryptValue } from './cipher.ts';
import { parsePlainBranches, type SopsWriteFormat } from './document.ts';
import { SopsError } from './errors.ts';
import { emitJsonBranch } from './json-store.ts';
import { MacBuilder } from './mac.ts';
import { metadataNode, type EncryptionRules, type MasterKey, type SopsMetadata } from './metadata.ts';
import { aadFor, encryptPredicate } from './rules.ts';
import { shamirSplit } from './shamir.ts';
import { DEFAULT_LIMITS, str, type SopsBranch, type SopsComment, type SopsLeaf } from './tree.ts';
import { walkBranch } from './walk.ts';
import { emitYamlBranches } from './yaml-store.ts';

/** Wraps a data key (or a Shamir share of it) for one master key. */
export interface SopsKeyWrapper {
  wrap(dataKey: Uint8Array): Promise<MasterKey>;
}

/** KMS Encrypt as sops calls it (KeyId = ARN, the context or an empty one). */
export type KmsEncryptFn = (req: {
  keyArn: string;
  plaintext: Uint8Array;
  encryptionContext: Record<string, string>;
}) => Promise<Uint8Array>;

export function ageKeyWrapper(recipient: string): SopsKeyWrapper {
  return {
    async wrap(dataKey) {
      const e = new Encrypter();
      e.addRecipient(recipient);
      return { type: 'age', recipient, enc: armor.encode(await e.encrypt(dataKey)) };
    },
  };
}

export function kmsKeyWrapper(opts: {
  arn: string;
  context?: Record<string, string>;
  role?: string;
  awsProfile?: string;
  encrypt: KmsEncryptFn;
  now?: () => Date;
}): SopsKeyWrapper {
  return {
    async wrap(dataKey) {
      const blob = await opts.encrypt({ keyArn: opts.arn, plaintext: dataKey, encryptionContext: { ...(opts.context ?? {}) } });
      const ctx = opts.context !== undefined && Object.keys(opts.context).length > 0 ? opts.context : undefined;
      return {
        type: 'kms',
        arn: opts.arn,
        ...(opts.role === undefined ? {} : { role: opts.role }),
        ...(ctx === undefined ? {} : { context: ctx }),
        createdAt: rfc3339Seconds((opts.now ?? (() => new Date()))()),
        enc: Buffer.from(blob).toString('base64'),
        awsProfile: opts.awsProfile ?? '',
      };
    },
  };
}

export interface EncryptSopsOptions extends EncryptionRules {
  format: SopsWriteFormat;
  fileName?: string;
  /** One key group (the usual case). */
  keys?: SopsKeyWrapper[];
  /** Several key groups: the data key is Shamir-split, one share per group. */
  keyGroups?: SopsKeyWrapper[][];
  shamirThreshold?: number;
  macOnlyEncrypted?: boolean;
  now?: Date;
  /** Written as sops.version (default the sops release we match, 3.12.2). */
  version?: string;
}

function rfc3339Seconds(d: Date): string {
  return `${d.toISOString().slice(0, 19)}Z`;
}

/** Encrypt plaintext YAML or JSON text; returns the SOPS file text. */
export async function encryptSops(plaintext: string, opts: EncryptSopsOptions): Promise<string> {
  const fileName = opts.fileName ?? '<input>';
  const branches = parsePlainBranches(plaintext, opts.format, fileName, DEFAULT_LIMITS);
  for (const b of branches) {
    if (b.items.some((it) => 'key' in it && it.key === 'sops')) {
      throw new SopsError('SOPS_ENCRYPT_FAILED', "the top-level key 'sops' is reserved for SOPS metadata", { fileName });
    }
  }
  const rules: EncryptionRules = {};
  for (const k of ['unencryptedSuffix', 'encryptedSuffix', 'unencryptedRegex', 'encryptedRegex'] as const) {
    const v = opts[k];
    if (v !== undefined && v !== '') rules[k] = v;
  }
  if (Object.keys(rules).length > 1) throw new SopsError('SOPS_ENCRYPT_FAILED', 'at most one encryption rule may be given', { fileName });
  if (Object.keys(rules).length === 0) rules.unencryptedSuffix = '_unencrypted';
  const groups = opts.keyGroups ?? (opts.keys === undefined ? [] : [opts.keys]);
  if (groups.length === 0 || groups.some((g) => g.length === 0)) {
    throw new SopsError('SOPS_ENCRYPT_FAILED', 'at least one master key is required', { fileName });
  }

  const key = randomBytes(32);
  try {
    const shouldEncrypt = encryptPredicate(rules, { fileName });
    const mac = new MacBuilder(opts.macOnlyEncrypted === true);
    const out: SopsBranch[] = branches.map((b) =>
      walkBranch(b, (node, path): SopsLeaf | SopsComment => {
        const encrypted = shouldEncrypt(path);
        if (node.kind === 'comment') {
          return encrypted ? { kind: 'comment', text: encryptValue('comment', node.text, key, aadFor(path)) } : node;
        }
        mac.add(encrypted, node.raw ?? node.text);
        return encrypted ? str(encryptValue(node.type, node.raw ?? node.text, key, aadFor(path))) : node;
      }),
    );
    const now = opts.now ?? new Date();
    const lastModified = rfc3339Seconds(now);
    const macEnc = encryptValue('str', mac.hex(), key, lastModified);

    let shares: Uint8Array[];
    if (groups.length === 1) shares = [key];
    else shares = shamirSplit(key, groups.length, opts.shamirThreshold ?? groups.length);
    const keyGroups: MasterKey[][] = [];
    try {
      for (let i = 0; i < groups.length; i++) {
        const share = shares[i];
        const g = groups[i];
        if (share === undefined || g === undefined) continue;
        keyGroups.push(await Promise.all(g.map((w) => w.wrap(share))));
      }
    } catch (e) {
      throw new SopsError('SOPS_ENCRYPT_FAILED', `wrapping the data key failed: ${(e as Error).message}`, { fileName });
    } finally {
      if (groups.length > 1) for (const s of shares) s.fill(0);
    }

    const metadata: SopsMetadata = {
      keyGroups,
      shamirThreshold: groups.length > 1 ? (opts.shamirThreshold ?? groups.length) : 0,
      lastModified,
      lastModifiedCanonical: lastModified,
      mac: macEnc,
      macOnlyEncrypted: opts.macOnlyEncrypted === true,
      version: opts.version ?? '3.12.2',
      ...rules,
    };
    const meta = metadataNode(metadata);
    // sops appends the metadata to every document (stores.SerializeMetadata).
    const withMeta: SopsBranch[] = out.map((b) => ({ kind: 'map', items: [...b.items, { key: 'sops', value: meta }] }));

    return opts.format === 'json' ? emitJsonBranch(withMeta[0] ?? { kind: 'map', items: [] }) : emitYamlBranches(withMeta);
  } finally {
    key.fill(0);
  }
}
