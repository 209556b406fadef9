// The emulator's persistent state: keys (with their material — this is a test tool),
// key policies and aliases, in one JSON file inside the state directory. Writes are
// atomic (temp file + rename). A file that is not ours, not for this account/region, or
// not well-formed is reported, never silently replaced: losing keys would make every
// ciphertext made with them undecryptable.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync, openSync, fsyncSync, closeSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';

export const STATE_FORMAT = 'attested-pack/kms-emulator-state/v1';
export const STATE_FILE = 'kms-state.json';

export type KmsStateErrorCode = 'STATE_UNREADABLE' | 'STATE_CORRUPT' | 'STATE_FOREIGN' | 'STATE_LOCKED';

export class KmsStateError extends Error {
  readonly code: KmsStateErrorCode;
  constructor(code: KmsStateErrorCode, message: string) {
    super(message);
    this.name = 'KmsStateError';
    this.code = code;
  }
}

export type KeySpec = 'SYMMETRIC_DEFAULT' | 'ECC_NIST_P256';
export type KeyUsage = 'ENCRYPT_DECRYPT' | 'SIGN_VERIFY';

export interface KeyRecord {
  keyId: string;
  /** ms since epoch */
  creationDate: number;
  description: string;
  keySpec: KeySpec;
  keyUsage: KeyUsage;
  enabled: boolean;
  policy: string;
  /** SYMMETRIC_DEFAULT: 32 raw bytes; ECC_NIST_P256: PKCS#8 DER. Base64 in the file. */
  material: Uint8Array;
}

export interface AliasRecord {
  aliasName: string;
  targetKeyId: string;
  creationDate: number;
}

export interface KmsState {
  accountId: string;
  region: string;
  keys: KeyRecord[];
  aliases: AliasRecord[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ALIAS = /^alias\/[a-zA-Z0-9/_-]{1,250}$/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function corrupt(file: string, what: string): never {
  throw new KmsStateError('STATE_CORRUPT', `KMS emulator state ${file} is corrupt: ${what}. Fix or move the file away; it is never reset automatically.`);
}

function parseKey(file: string, raw: unknown, i: number): KeyRecord {
  if (!isRecord(raw)) corrupt(file, `keys[${i}] is not an object`);
  const { keyId, creationDate, description, keySpec, keyUsage, enabled, policy, material } = raw;
  if (typeof keyId !== 'string' || !UUID.test(keyId)) corrupt(file, `keys[${i}].keyId is not a key id`);
  if (typeof creationDate !== 'number' || !Number.isSafeInteger(creationDate)) corrupt(file, `keys[${i}].creationDate`);
  if (typeof description !== 'string') corrupt(file, `keys[${i}].description`);
  if (!(keySpec === 'SYMMETRIC_DEFAULT' && keyUsage === 'ENCRYPT_DECRYPT') && !(keySpec === 'ECC_NIST_P256' && keyUsage === 'SIGN_VERIFY')) {
    corrupt(file, `keys[${i}] has an unsupported keySpec/keyUsage`);
  }
  if (typeof enabled !== 'boolean') corrupt(file, `keys[${i}].enabled`);
  if (typeof policy !== 'string' || policy.length === 0) corrupt(file, `keys[${i}].policy`);
  if (typeof material !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(material)) corrupt(file, `keys[${i}].material`);
  const bytes = new Uint8Array(Buffer.from(material, 'base64'));
  if (keySpec === 'SYMMETRIC_DEFAULT' && bytes.length !== 32) corrupt(file, `keys[${i}].material must be 32 bytes`);
  return { keyId, creationDate, description, keySpec, keyUsage, enabled, policy, material: bytes };
}

export function parseState(text: string, file = STATE_FILE): KmsState {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    corrupt(file, `not JSON (${(e as Error).message})`);
  }
  if (!isRecord(raw)) corrupt(file, 'not a JSON object');
  if (raw.format !== STATE_FORMAT) {
    throw new KmsStateError('STATE_FOREIGN', `${file} is not a KMS emulator state file (format ${JSON.stringify(raw.format)}, expected "${STATE_FORMAT}")`);
  }
  if (typeof raw.accountId !== 'string' || !/^\d{12}$/.test(raw.accountId)) corrupt(file, 'accountId');
  if (typeof raw.region !== 'string' || raw.region === '') corrupt(file, 'region');
  if (!Array.isArray(raw.keys) || !Array.isArray(raw.aliases)) corrupt(file, 'keys/aliases must be arrays');
  const keys = raw.keys.map((k, i) => parseKey(file, k, i));
  const ids = new Set(keys.map((k) => k.keyId));
  if (ids.size !== keys.length) corrupt(file, 'duplicate key id');
  const aliases = raw.aliases.map((a, i): AliasRecord => {
    if (!isRecord(a)) corrupt(file, `aliases[${i}] is not an object`);
    const { aliasName, targetKeyId, creationDate } = a;
    if (typeof aliasName !== 'string' || !ALIAS.test(aliasName)) corrupt(file, `aliases[${i}].aliasName`);
    if (typeof targetKeyId !== 'string' || !ids.has(targetKeyId)) corrupt(file, `aliases[${i}].targetKeyId names no key`);
    if (typeof creationDate !== 'number' || !Number.isSafeInteger(creationDate)) corrupt(file, `aliases[${i}].creationDate`);
    return { aliasName, targetKeyId, creationDate };
  });
  return { accountId: raw.accountId, region: raw.region, keys, aliases };
}

export function serializeState(state: KmsState): string {
  return `${JSON.stringify(
    {
      format: STATE_FORMAT,
      accountId: state.accountId,
      region: state.region,
      keys: state.keys.map((k) => ({ ...k, material: Buffer.from(k.material).toString('base64') })),
      aliases: state.aliases,
    },
    null,
    2,
  )}\n`;
}

/** Load the state of `dir`, creating an empty one when absent. */
export function loadState(dir: string, accountId: string, region: string): KmsState {
  const file = join(dir, STATE_FILE);
  mkdirSync(dir, { recursive: true });
  if (!existsSync(file)) {
    const state: KmsState = { accountId, region, keys: [], aliases: [] };
    saveState(dir, state);
    return state;
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new KmsStateError('STATE_UNREADABLE', `cannot read ${file}: ${(e as Error).message}`);
  }
  const state = parseState(text, file);
  if (state.accountId !== accountId || state.region !== region) {
    throw new KmsStateError(
      'STATE_FOREIGN',
      `${file} belongs to account ${state.accountId} in ${state.region}, not ${accountId} in ${region}; key ARNs would change. Use another --state directory.`,
    );
  }
  return state;
}

export function saveState(dir: string, state: KmsState): void {
  const file = join(dir, STATE_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, serializeState(state), { mode: 0o600 });
  const fd = openSync(tmp, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

export const LOCK_FILE = 'kms-state.lock';

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * One emulator per state directory: two would each hold the state in memory and the
 * last writer would silently drop the other's keys. A lock left by a dead process is
 * taken over. Returns the release function.
 */
export function lockStateDir(dir: string): () => void {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeFileSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(file, 'utf8').trim() === String(process.pid)) unlinkSync(file);
        } catch {
          // already gone
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new KmsStateError('STATE_UNREADABLE', `cannot create ${file}: ${(e as Error).message}`);
      }
      const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
      if (Number.isSafeInteger(pid) && pid > 0 && processAlive(pid)) {
        throw new KmsStateError('STATE_LOCKED', `${dir} is in use by another KMS emulator (pid ${pid}); use another --state directory`);
      }
      unlinkSync(file); // stale lock from a process that is gone
    }
  }
  throw new KmsStateError('STATE_LOCKED', `cannot lock ${dir}`);
}
