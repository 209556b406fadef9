import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KmsStateError, LOCK_FILE, lockStateDir, loadState, parseState, saveState, serializeState, STATE_FILE, STATE_FORMAT, type KmsState } from './state.ts';
import { codeOf as codeOfError } from '../../test/error-codes.ts';

const dirs: string[] = [];
const temp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'kms-state-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const sample = (): KmsState => ({
  accountId: '111122223333',
  region: 'us-east-1',
  keys: [{ keyId: '11111111-2222-4333-8444-555555555555', creationDate: 1, description: 'd', keySpec: 'SYMMETRIC_DEFAULT', keyUsage: 'ENCRYPT_DECRYPT', enabled: true, policy: '{}', material: new Uint8Array(32).fill(9) }],
  aliases: [{ aliasName: 'alias/a', targetKeyId: '11111111-2222-4333-8444-555555555555', creationDate: 2 }],
});

const codeOf = (fn: () => unknown): string => codeOfError(fn, KmsStateError);

describe('emulator state', () => {
  it('round-trips through the file and leaves no temp files', () => {
    const dir = temp();
    saveState(dir, sample());
    const back = loadState(dir, '111122223333', 'us-east-1');
    expect(back).toEqual(sample());
    expect(readdirSync(dir)).toEqual([STATE_FILE]);
  });

  it('creates an empty state when there is none', () => {
    const dir = join(temp(), 'nested');
    expect(loadState(dir, '111122223333', 'eu-west-1')).toEqual({ accountId: '111122223333', region: 'eu-west-1', keys: [], aliases: [] });
    expect(JSON.parse(readFileSync(join(dir, STATE_FILE), 'utf8')).format).toBe(STATE_FORMAT);
  });

  it('refuses corrupt content with STATE_CORRUPT', () => {
    const good = JSON.parse(serializeState(sample()));
    const variants: unknown[] = [
      { ...good, keys: 'x' },
      { ...good, accountId: '12' },
      { ...good, keys: [{ ...good.keys[0], keyId: 'nope' }] },
      { ...good, keys: [{ ...good.keys[0], material: Buffer.alloc(16).toString('base64') }] },
      { ...good, keys: [{ ...good.keys[0], keySpec: 'RSA_2048' }] },
      { ...good, keys: [good.keys[0], good.keys[0]] },
      { ...good, aliases: [{ ...good.aliases[0], targetKeyId: '99999999-2222-4333-8444-555555555555' }] },
      { ...good, aliases: [{ ...good.aliases[0], aliasName: 'a' }] },
    ];
    for (const v of variants) expect(codeOf(() => parseState(JSON.stringify(v)))).toBe('STATE_CORRUPT');
    expect(codeOf(() => parseState('{not json'))).toBe('STATE_CORRUPT');
    expect(codeOf(() => parseState('[]'))).toBe('STATE_CORRUPT');
  });

  it('refuses files that are not ours, or for another account/region, with STATE_FOREIGN', () => {
    expect(codeOf(() => parseState('{"format":"other"}'))).toBe('STATE_FOREIGN');
    expect(codeOf(() => parseState('{"keys":[]}'))).toBe('STATE_FOREIGN');
    const dir = temp();
    saveState(dir, sample());
    expect(codeOf(() => loadState(dir, '444455556666', 'us-east-1'))).toBe('STATE_FOREIGN');
    expect(codeOf(() => loadState(dir, '111122223333', 'us-west-2'))).toBe('STATE_FOREIGN');
    // Never overwritten by a refused load.
    expect(parseState(readFileSync(join(dir, STATE_FILE), 'utf8'))).toEqual(sample());
  });

  it('an unreadable state path is STATE_UNREADABLE', () => {
    // A directory where the state file should be.
    const dir = temp();
    mkdirSync(join(dir, STATE_FILE));
    expect(codeOf(() => loadState(dir, '111122223333', 'us-east-1'))).toBe('STATE_UNREADABLE');
  });

  it('one emulator per state directory: a live lock refuses, a stale one is taken over', () => {
    const dir = temp();
    const release = lockStateDir(dir);
    expect(codeOf(() => lockStateDir(dir))).toBe('STATE_LOCKED');
    release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    // A lock left by a process that no longer exists.
    writeFileSync(join(dir, LOCK_FILE), '2147483646\n');
    const again = lockStateDir(dir);
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8').trim()).toBe(String(process.pid));
    again();
  });
});
