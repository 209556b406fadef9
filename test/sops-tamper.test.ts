// Tamper matrix for SOPS files: every field flipped is refused with the right code, the
// error names the file (and key path where there is one), and no plaintext comes back.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  SopsError, ageKeyWrapper, ageUnwrapper, decryptSops, encryptSops, parseSops, staticKeyUnwrapper, type SopsFormat,
} from '../enclave/sops/index.ts';
import { newAgeKey, type AgeKeyPair } from './sops-support.ts';

const PLAIN = `db:
    password: hunter2
    port: 5432
list:
    - first-secret
    - second-secret
other: value
`;

let alice: AgeKeyPair;
let mallory: AgeKeyPair;
let enc: string;

beforeAll(async () => {
  alice = await newAgeKey();
  mallory = await newAgeKey();
  enc = await encryptSops(PLAIN, { format: 'yaml', keys: [ageKeyWrapper(alice.recipient)] });
});

async function attempt(text: string, ids = [alice.identity], format: SopsFormat = 'yaml'): Promise<SopsError> {
  try {
    await decryptSops(parseSops(text, { format, fileName: 'secrets/app/prod.enc.yaml' }), ageUnwrapper(ids));
  } catch (e) {
    expect(e).toBeInstanceOf(SopsError);
    const err = e as SopsError;
    // Never leak plaintext through an error.
    expect(err.message).not.toMatch(/hunter2|first-secret|second-secret/);
    expect(err.message).toContain('secrets/app/prod.enc.yaml');
    return err;
  }
  throw new Error('tampered file was accepted');
}

function encField(line: string, field: 'data' | 'iv' | 'tag'): string {
  const m = new RegExp(`${field}:([^,]+)`).exec(line);
  if (m?.[1] === undefined) throw new Error('no field');
  const b = Buffer.from(m[1], 'base64');
  b[0] = (b[0] ?? 0) ^ 1;
  return line.replace(m[1], b.toString('base64'));
}

function editLine(text: string, startsWith: string, f: (line: string) => string): string {
  const lines = text.split('\n');
  const i = lines.findIndex((l) => l.trimStart().startsWith(startsWith));
  if (i < 0) throw new Error(`no line ${startsWith}`);
  lines[i] = f(lines[i] ?? '');
  return lines.join('\n');
}

describe('SOPS tamper matrix', () => {
  it('accepts the untampered file', async () => {
    const d = await decryptSops(parseSops(enc, { format: 'yaml', fileName: 'x' }), ageUnwrapper([alice.identity]));
    expect(d.data).toEqual({ db: { password: 'hunter2', port: 5432 }, list: ['first-secret', 'second-secret'], other: 'value' });
  });

  for (const field of ['data', 'iv', 'tag'] as const) {
    it(`refuses a flipped ${field} and names the key path`, async () => {
      const err = await attempt(editLine(enc, 'password:', (l) => encField(l, field)));
      expect(err.code).toBe('SOPS_DECRYPT_FAILED');
      expect(err.keyPath).toBe('db:password:');
    });
  }

  it('refuses a value moved to another key (AAD path)', async () => {
    const pw = /password: (ENC\[[^\]]+\])/.exec(enc)?.[1] ?? '';
    const err = await attempt(editLine(enc, 'other:', () => `other: ${pw}`));
    expect(err.code).toBe('SOPS_DECRYPT_FAILED');
    expect(err.keyPath).toBe('other:');
  });

  it('refuses a renamed key', async () => {
    const err = await attempt(enc.replace('    password:', '    passwd:'));
    expect(err).toMatchObject({ code: 'SOPS_DECRYPT_FAILED', keyPath: 'db:passwd:' });
  });

  it('refuses swapped list items (same AAD, different order) through the MAC', async () => {
    const lines = enc.split('\n');
    const i = lines.findIndex((l) => l.startsWith('    - '));
    const [a, b] = [lines[i] ?? '', lines[i + 1] ?? ''];
    lines[i] = b;
    lines[i + 1] = a;
    expect((await attempt(lines.join('\n'))).code).toBe('SOPS_MAC_MISMATCH');
  });

  it('refuses a removed key through the MAC', async () => {
    expect((await attempt(editLine(enc, 'other:', () => '')))).toMatchObject({ code: 'SOPS_MAC_MISMATCH' });
  });

  it('refuses a changed lastmodified', async () => {
    const err = await attempt(enc.replace(/lastmodified: "(\d{4})/, (_m, y: string) => `lastmodified: "${Number(y) - 1}`));
    expect(err.code).toBe('SOPS_MAC_MISMATCH');
  });

  it('refuses a changed or missing MAC', async () => {
    expect((await attempt(editLine(enc, 'mac:', (l) => encField(l, 'data')))).code).toBe('SOPS_MAC_MISMATCH');
    expect((await attempt(editLine(enc, 'mac:', () => '    mac: ""'))).code).toBe('SOPS_MAC_MISMATCH');
    // A valid MAC from another file with the same data key layout does not help either.
    const other = await encryptSops('other: thing\n', { format: 'yaml', keys: [ageKeyWrapper(alice.recipient)] });
    const otherMac = /\n {4}mac: .*/.exec(other)?.[0] ?? '';
    expect((await attempt(enc.replace(/\n {4}mac: .*/, otherMac))).code).toBe('SOPS_MAC_MISMATCH');
  });

  it('refuses rule changes that would expose a value as plaintext', async () => {
    const err = await attempt(enc.replace('unencrypted_suffix: "_unencrypted"', 'unencrypted_regex: "^password$"'));
    expect(err.code).toBe('SOPS_MAC_MISMATCH');
    const flip = await attempt(enc.replace('    lastmodified:', '    mac_only_encrypted: true\n    lastmodified:'));
    expect(flip.code).toBe('SOPS_MAC_MISMATCH');
  });

  it('refuses plaintext slipped under an encrypted key', async () => {
    expect(await attempt(editLine(enc, 'other:', () => 'other: injected'))).toMatchObject({ code: 'SOPS_VALUE_MALFORMED', keyPath: 'other:' });
    expect(await attempt(editLine(enc, 'other:', () => 'other: 42'))).toMatchObject({ code: 'SOPS_VALUE_MALFORMED', keyPath: 'other:' });
  });

  it('refuses a malformed ENC value and a non-16-byte tag', async () => {
    expect((await attempt(editLine(enc, 'other:', () => 'other: ENC[AES256_GCM,data:!!,iv:x,tag:y,type:str]'))).code).toBe('SOPS_VALUE_MALFORMED');
    const shortTag = editLine(enc, 'other:', (l) => l.replace(/tag:[^,]+/, 'tag:AAAA'));
    expect((await attempt(shortTag)).code).toBe('SOPS_VALUE_MALFORMED');
  });

  it('refuses a retyped value that no longer parses', async () => {
    const err = await attempt(editLine(enc, 'password:', (l) => l.replace('type:str', 'type:int')));
    expect(err).toMatchObject({ code: 'SOPS_VALUE_MALFORMED', keyPath: 'db:password:' });
  });

  it('refuses when no supplied identity opens the data key', async () => {
    expect((await attempt(enc, [mallory.identity])).code).toBe('SOPS_NO_DATA_KEY');
    expect((await attempt(enc, [])).code).toBe('SOPS_NO_DATA_KEY');
  });

  it('refuses a tampered age stanza', async () => {
    const t = enc.replace(/(-----BEGIN AGE ENCRYPTED FILE-----\\n)(.)/, (_m, h: string, c: string) => `${h}${c === 'Y' ? 'Z' : 'Y'}`);
    expect((await attempt(t)).code).toBe('SOPS_NO_DATA_KEY');
  });

  it('refuses a wrong data key', async () => {
    const p = parseSops(enc, { format: 'yaml', fileName: 'k.yaml' });
    await expect(decryptSops(p, staticKeyUnwrapper(new Uint8Array(32).fill(7)))).rejects.toMatchObject({ code: 'SOPS_DECRYPT_FAILED' });
    await expect(decryptSops(p, staticKeyUnwrapper(new Uint8Array(16)))).rejects.toMatchObject({ code: 'SOPS_NO_DATA_KEY' });
  });

  it('refuses files without or with broken metadata', async () => {
    expect((await attempt('a: 1\n')).code).toBe('SOPS_METADATA_INVALID');
    expect((await attempt(enc.replace(/lastmodified: "[^"]+"/, 'lastmodified: "yesterday"'))).code).toBe('SOPS_METADATA_INVALID');
    expect((await attempt(enc.replace('    version:', '    encrypted_regex: x\n    version:'))).code).toBe('SOPS_METADATA_INVALID');
    expect((await attempt(enc.replace('unencrypted_suffix: "_unencrypted"', 'encrypted_comment_regex: "x"'))).code).toBe('SOPS_UNSUPPORTED');
  });
});

describe('SOPS input limits', () => {
  it('refuses oversize files, deep nesting, too many values, alias bombs and duplicate keys', () => {
    const p = (text: string, limits = {}): unknown => parseSops(text, { format: 'yaml', fileName: 'l.yaml', limits });
    expect(() => p(enc, { maxBytes: 100 })).toThrow(expect.objectContaining({ code: 'SOPS_INPUT_TOO_LARGE' }));
    const deep = `${Array.from({ length: 70 }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n')} x\n`;
    expect(() => p(deep)).toThrow(expect.objectContaining({ code: 'SOPS_INPUT_TOO_LARGE' }));
    expect(() => p(enc, { maxValues: 3 })).toThrow(expect.objectContaining({ code: 'SOPS_INPUT_TOO_LARGE' }));
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let i = 0; i < 8; i++) bomb.push(`${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(',')}]`);
    expect(() => p(bomb.join('\n'))).toThrow(expect.objectContaining({ code: 'SOPS_INPUT_TOO_LARGE' }));
    expect(() => p('a: 1\na: 2\n')).toThrow(expect.objectContaining({ code: 'SOPS_MALFORMED' }));
    expect(() => parseSops('{"a":1,"a":2}', { format: 'json', fileName: 'd.json' })).toThrow(expect.objectContaining({ code: 'SOPS_MALFORMED' }));
    expect(() => parseSops(`${'['.repeat(100)}${']'.repeat(100)}`, { format: 'json', fileName: 'd.json' })).toThrow(expect.objectContaining({ code: 'SOPS_MALFORMED' }));
    expect(() => parseSops(`{"a":${'['.repeat(100)}${']'.repeat(100)}}`, { format: 'json', fileName: 'd.json' })).toThrow(expect.objectContaining({ code: 'SOPS_INPUT_TOO_LARGE' }));
  });
});
