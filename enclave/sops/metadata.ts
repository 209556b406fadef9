// The `sops:` block: master keys (age, AWS KMS; others kept opaque), lastmodified, the
// encrypted MAC and the encryption rules. Field names and defaults follow sops'
// stores/stores.go; on write, keys are sorted as sops' mapstructure round trip sorts them.
import { SopsError } from './errors.ts';
import { canonicalLastModified } from './go-format.ts';
import { str, leaf, type SopsMap, type SopsMapItem, type SopsNode } from './tree.ts';

export interface AgeMasterKey {
  readonly type: 'age';
  readonly recipient: string;
  /** ASCII-armored age file holding the 32-byte data key. */
  readonly enc: string;
}

export interface KmsMasterKey {
  readonly type: 'kms';
  readonly arn: string;
  readonly role?: string;
  /** Sent as EncryptionContext on Encrypt and Decrypt; absent = empty. */
  readonly context?: Readonly<Record<string, string>>;
  readonly createdAt: string;
  /** base64 KMS CiphertextBlob of the raw data key. */
  readonly enc: string;
  readonly awsProfile: string;
}

/** Backends we do not unwrap (pgp, gcp_kms, azure_kv, hc_vault, hckms): kept for display. */
export interface OtherMasterKey {
  readonly type: 'pgp' | 'gcp_kms' | 'azure_kv' | 'hc_vault' | 'hckms';
  readonly fields: Readonly<Record<string, string>>;
}

export type MasterKey = AgeMasterKey | KmsMasterKey | OtherMasterKey;
export type KeyGroup = readonly MasterKey[];

export interface EncryptionRules {
  unencryptedSuffix?: string;
  encryptedSuffix?: string;
  unencryptedRegex?: string;
  encryptedRegex?: string;
  unencryptedCommentRegex?: string;
  encryptedCommentRegex?: string;
}

export interface SopsMetadata extends EncryptionRules {
  readonly keyGroups: readonly KeyGroup[];
  readonly shamirThreshold: number;
  /** As written in the file. */
  readonly lastModified: string;
  /** Re-formatted RFC 3339 (what sops uses as the MAC's AAD). */
  readonly lastModifiedCanonical: string;
  /** ENC[...] string holding the uppercase hex SHA-512 MAC. */
  readonly mac: string;
  readonly macOnlyEncrypted: boolean;
  readonly version: string;
}

const OTHER_BACKENDS = ['pgp', 'gcp_kms', 'azure_kv', 'hc_vault', 'hckms'] as const;

type Where = { fileName?: string };

function bad(where: Where, msg: string): never {
  throw new SopsError('SOPS_METADATA_INVALID', msg, where);
}

function entries(m: SopsMap): Map<string, SopsNode> {
  const out = new Map<string, SopsNode>();
  for (const it of m.items) if ('key' in it) out.set(it.key, it.value);
  return out;
}

function text(n: SopsNode | undefined, field: string, where: Where, required = true): string | undefined {
  if (n === undefined || n.kind === 'null') {
    if (required) bad(where, `sops.${field} is missing`);
    return undefined;
  }
  if (n.kind !== 'leaf') bad(where, `sops.${field} must be a scalar`);
  // mapstructure's WeaklyTypedInput turns numbers and bools into strings.
  return n.type === 'bool' ? (n.text === 'True' ? '1' : '0') : n.text;
}

function list(n: SopsNode | undefined, field: string, where: Where): SopsMap[] {
  if (n === undefined || n.kind === 'null') return [];
  if (n.kind !== 'list') bad(where, `sops.${field} must be a list`);
  return n.items.filter((x) => x.kind !== 'comment').map((x) => {
    if (x.kind !== 'map') bad(where, `sops.${field} entries must be maps`);
    return x;
  });
}

function parseGroup(m: Map<string, SopsNode>, where: Where, prefix: string): MasterKey[] {
  const keys: MasterKey[] = [];
  // sops builds a group in this order: kms, gcp_kms, hckms, azure_kv, hc_vault, pgp, age.
  for (const k of list(m.get('kms'), `${prefix}kms`, where)) {
    const e = entries(k);
    const ctxNode = e.get('context');
    let context: Record<string, string> | undefined;
    if (ctxNode !== undefined && ctxNode.kind === 'map') {
      context = {};
      for (const [ck, cv] of entries(ctxNode)) {
        if (cv.kind !== 'leaf') bad(where, `sops.${prefix}kms context values must be strings`);
        Object.defineProperty(context, ck, { value: cv.text, enumerable: true, writable: true, configurable: true });
      }
      if (Object.keys(context).length === 0) context = undefined;
    } else if (ctxNode !== undefined && ctxNode.kind !== 'null') {
      bad(where, `sops.${prefix}kms context must be a map`);
    }
    const role = text(e.get('role'), `${prefix}kms.role`, where, false);
    keys.push({
      type: 'kms',
      arn: text(e.get('arn'), `${prefix}kms.arn`, where) ?? '',
      ...(role === undefined || role === '' ? {} : { role }),
      ...(context === undefined ? {} : { context }),
      createdAt: text(e.get('created_at'), `${prefix}kms.created_at`, where) ?? '',
      enc: text(e.get('enc'), `${prefix}kms.enc`, where) ?? '',
      awsProfile: text(e.get('aws_profile'), `${prefix}kms.aws_profile`, where, false) ?? '',
    });
  }
  for (const backend of OTHER_BACKENDS) {
    for (const k of list(m.get(backend), `${prefix}${backend}`, where)) {
      const fields: Record<string, string> = {};
      for (const [fk, fv] of entries(k)) if (fv.kind === 'leaf') fields[fk] = fv.text;
      keys.push({ type: backend, fields });
    }
  }
  for (const k of list(m.get('age'), `${prefix}age`, where)) {
    const e = entries(k);
    keys.push({
      type: 'age',
      recipient: text(e.get('recipient'), `${prefix}age.recipient`, where) ?? '',
      enc: text(e.get('enc'), `${prefix}age.enc`, where) ?? '',
    });
  }
  return keys;
}

export function parseMetadata(node: SopsNode, where: Where): SopsMetadata {
  if (node.kind !== 'map') bad(where, 'the sops entry is not a map');
  const m = entries(node);
  const lastModified = text(m.get('lastmodified'), 'lastmodified', where) ?? '';
  const lastModifiedCanonical = canonicalLastModified(lastModified);
  if (lastModifiedCanonical === undefined) bad(where, `sops.lastmodified '${lastModified}' is not an RFC 3339 time`);
  const flat = parseGroup(m, where, '');
  const groups: MasterKey[][] = [];
  if (flat.length > 0) groups.push(flat);
  else {
    for (const g of list(m.get('key_groups'), 'key_groups', where)) groups.push(parseGroup(entries(g), where, 'key_groups.'));
  }
  if (groups.length === 0 || groups.every((g) => g.length === 0)) bad(where, 'no master keys found in the sops metadata');
  const rules: EncryptionRules = {};
  const ruleFields: Array<[keyof EncryptionRules, string]> = [
    ['unencryptedSuffix', 'unencrypted_suffix'], ['encryptedSuffix', 'encrypted_suffix'],
    ['unencryptedRegex', 'unencrypted_regex'], ['encryptedRegex', 'encrypted_regex'],
    ['unencryptedCommentRegex', 'unencrypted_comment_regex'], ['encryptedCommentRegex', 'encrypted_comment_regex'],
  ];
  for (const [prop, field] of ruleFields) {
    const v = text(m.get(field), field, where, false);
    if (v !== undefined && v !== '') rules[prop] = v;
  }
  const ruleCount = Object.keys(rules).length;
  if (ruleCount > 1) {
    bad(where, 'cannot use more than one of encrypted_suffix, unencrypted_suffix, encrypted_regex, unencrypted_regex, encrypted_comment_regex, or unencrypted_comment_regex in the same file');
  }
  if (ruleCount === 0) rules.unencryptedSuffix = '_unencrypted';
  const thr = text(m.get('shamir_threshold'), 'shamir_threshold', where, false);
  const shamirThreshold = thr === undefined ? 0 : Number(thr);
  if (!Number.isInteger(shamirThreshold) || shamirThreshold < 0) bad(where, 'sops.shamir_threshold must be a non-negative integer');
  const moe = m.get('mac_only_encrypted');
  let macOnlyEncrypted = false;
  if (moe !== undefined && moe.kind !== 'null') {
    const t = text(moe, 'mac_only_encrypted', where) ?? '';
    if (['True', '1', 'true', 't', 'T', 'TRUE'].includes(t)) macOnlyEncrypted = true;
    else if (!['False', '0', 'false', 'f', 'F', 'FALSE', ''].includes(t)) bad(where, 'sops.mac_only_encrypted must be a boolean');
  }
  return {
    keyGroups: groups,
    shamirThreshold,
    lastModified,
    lastModifiedCanonical,
    mac: text(m.get('mac'), 'mac', where, false) ?? '',
    macOnlyEncrypted,
    version: text(m.get('version'), 'version', where, false) ?? '',
    ...rules,
  };
}

// ---- writing --------------------------------------------------------------------------

function sortedMap(fields: Record<string, SopsNode | undefined>): SopsMap {
  const items: SopsMapItem[] = Object.keys(fields)
    .sort()
    .flatMap((k) => {
      const v = fields[k];
      return v === undefined ? [] : [{ key: k, value: v }];
    });
  return { kind: 'map', items };
}

function groupFields(group: KeyGroup): Record<string, SopsNode | undefined> {
  const kms = group.filter((k): k is KmsMasterKey => k.type === 'kms');
  const age = group.filter((k): k is AgeMasterKey => k.type === 'age');
  return {
    kms: kms.length === 0 ? undefined : {
      kind: 'list',
      items: kms.map((k) => sortedMap({
        arn: str(k.arn),
        role: k.role === undefined ? undefined : str(k.role),
        context: k.context === undefined ? undefined : sortedMap(Object.fromEntries(Object.entries(k.context).map(([a, b]) => [a, str(b)]))),
        created_at: str(k.createdAt),
        enc: str(k.enc),
        aws_profile: str(k.awsProfile),
      })),
    },
    age: age.length === 0 ? undefined : {
      kind: 'list',
      items: age.map((k) => sortedMap({ recipient: str(k.recipient), enc: str(k.enc) })),
    },
  };
}

/** The `sops` map as sops writes it (only age and kms keys; they are all we create). */
export function metadataNode(md: SopsMetadata): SopsMap {
  const single = md.keyGroups.length === 1 ? md.keyGroups[0] : undefined;
  const fields: Record<string, SopsNode | undefined> = {
    ...(single !== undefined ? groupFields(single) : {}),
    key_groups: single !== undefined ? undefined : { kind: 'list', items: md.keyGroups.map((g) => sortedMap(groupFields(g))) },
    shamir_threshold: md.shamirThreshold > 0 ? leaf('int', String(md.shamirThreshold)) : undefined,
    lastmodified: str(md.lastModified),
    mac: str(md.mac),
    mac_only_encrypted: md.macOnlyEncrypted ? leaf('bool', 'True') : undefined,
    unencrypted_suffix: md.unencryptedSuffix === undefined ? undefined : str(md.unencryptedSuffix),
    encrypted_suffix: md.encryptedSuffix === undefined ? undefined : str(md.encryptedSuffix),
    unencrypted_regex: md.unencryptedRegex === undefined ? undefined : str(md.unencryptedRegex),
    encrypted_regex: md.encryptedRegex === undefined ? undefined : str(md.encryptedRegex),
    version: str(md.version),
  };
  return sortedMap(fields);
}
