// dotenv, ini and binary SOPS files, read as sops 3.12.2 reads them (the format chosen
// from the file name, as sops chooses it), and age SSH recipients refused with their own
// code. Every file here was written by the real sops; we must reproduce its MAC and the
// values `sops decrypt` gives.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ageUnwrapper, decryptSops, formatForFileName, kmsUnwrapper, parseSops, type SopsFormat,
} from '../enclave/sops/index.ts';
import { newAgeKey, runSops, scratch, type AgeKeyPair, type Scratch } from './sops-support.ts';

let s: Scratch;
let alice: AgeKeyPair;
let bob: AgeKeyPair;
beforeAll(async () => {
  s = scratch();
  alice = await newAgeKey();
  bob = await newAgeKey();
});
afterAll(() => s.cleanup());

function sopsEncrypt(name: string, text: string, flags: string[] = [], config?: string): string {
  const r = runSops(['encrypt', ...flags, s.write(name, text)], { cwd: s.dir, ...(config === undefined ? {} : { config }) });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r.stdout;
}

/** `sops decrypt --output-type json`, parsed: the values sops yields. */
function sopsValues(name: string, text: string): unknown {
  const r = runSops(['decrypt', '--output-type', 'json', s.write(name, text)], { cwd: s.dir, ageIdentities: [alice.identity, bob.identity] });
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout);
}

async function ours(name: string, text: string): Promise<unknown> {
  const d = await decryptSops(parseSops(text, { format: formatForFileName(name), fileName: name }), ageUnwrapper([alice.identity, bob.identity]));
  return d.data;
}

async function code(name: string, text: string, format: SopsFormat = formatForFileName(name)): Promise<string | undefined> {
  try {
    await decryptSops(parseSops(text, { format, fileName: name }), ageUnwrapper([alice.identity]));
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

const DOTENV = '# a comment\nDB_PASSWORD=hunter2\nMULTI=line1\\nline2\nEMPTY=\n SPACED = x \nNUM=123\nX_unencrypted=vis\nCRLF=value\r\nURL=postgres://u:p@h/db?x=1\n';
const INI = 'top = level\n; section comment\n[db]\npassword = hunter2 ; inline\nport: 5432\n# above name\nname = "quoted"\nsingle = \'it\'\nempty =\nx_unencrypted = visible\n[other]\nk=v\n';

describe('the format is chosen as sops chooses it', () => {
  it('from the extension: .yaml/.yml, .json, .env, .ini, anything else binary', () => {
    expect(['a.yaml', 'a.yml', 'a.json', 'a.env', 'a.ini', 'a.enc', 'a.yaml.bak'].map(formatForFileName))
      .toEqual(['yaml', 'yaml', 'json', 'dotenv', 'ini', 'binary', 'binary']);
  });
});

describe('dotenv', () => {
  it('decrypts a sops-written .env file to sops\' values (comments, \\n, spaces, \\r, unencrypted keys)', async () => {
    const enc = sopsEncrypt('app.env', DOTENV, ['--age', alice.recipient]);
    expect(enc).toContain('sops_age__list_0__map_enc=-----BEGIN AGE ENCRYPTED FILE-----\\n');
    const want = sopsValues('app-enc.env', enc);
    expect(await ours('secrets/app.env', enc)).toEqual(want);
    expect(want).toMatchObject({ MULTI: 'line1\nline2', ' SPACED ': ' x ', CRLF: 'value\r', URL: 'postgres://u:p@h/db?x=1' });
  });

  it('detects tampering (MAC) and reads key groups, Shamir and mac_only_encrypted from flattened metadata', async () => {
    const enc = sopsEncrypt('t.env', DOTENV, ['--age', alice.recipient]);
    expect(await code('t.env', enc.replace('X_unencrypted=vis', 'X_unencrypted=viz'))).toBe('SOPS_MAC_MISMATCH');
    const cfg = s.write('.sops-g.yaml', `creation_rules:\n  - shamir_threshold: 2\n    mac_only_encrypted: true\n    key_groups:\n      - age: [${alice.recipient}]\n      - age: [${bob.recipient}]\n`);
    const g = sopsEncrypt('g.env', 'A=1\nB_unencrypted=2\n', [], cfg);
    expect(g).toContain('sops_key_groups__list_1__map_age__list_0__map_recipient=');
    expect(g).toContain('sops_mac_only_encrypted=true');
    expect(await ours('g.env', g)).toEqual(sopsValues('g-enc.env', g));
  });

  it('refuses lines without =, duplicate keys, unknown or clashing metadata keys', async () => {
    const enc = sopsEncrypt('r.env', 'A=1\n', ['--age', alice.recipient]);
    expect(await code('r.env', `JUNK\n${enc}`)).toBe('SOPS_MALFORMED');
    expect(await code('r.env', `A=2\n${enc}`)).toBe('SOPS_MALFORMED');
    expect(await code('r.env', `${enc}sops_LastModified=x\n`)).toBe('SOPS_METADATA_INVALID');
    expect(await code('r.env', `${enc}sops_age__list_0=x\n`)).toBe('SOPS_METADATA_INVALID');
    expect(await code('r.env', `${enc}sops_age__list_5__map_enc=x\n`)).toBe('SOPS_METADATA_INVALID');
    expect(await code('r.env', 'A=1\n')).toBe('SOPS_METADATA_INVALID');
    expect(await code('r.env', `${enc}sops_age__list_x__map_enc=x\n`)).toBe('SOPS_METADATA_INVALID');
    expect(await code('r.env', `${enc}sops_age__map_x=x\n`)).toBe('SOPS_METADATA_INVALID');
    expect(await code('r.env', `${enc}sops_shamir_threshold=two\n`)).toBe('SOPS_METADATA_INVALID');
    expect(await code('r.env', `${enc}sops___map_x=x\n`)).toBe('SOPS_METADATA_INVALID');
  });

  it('applies the limits', async () => {
    const p = (t: string, format: SopsFormat): unknown => parseSops(t, { format, fileName: 'l', limits: { maxBytes: 64, maxValues: 3 } });
    expect(() => p('A=1\n'.repeat(20), 'dotenv')).toThrow(expect.objectContaining({ code: 'SOPS_INPUT_TOO_LARGE' }));
    expect(() => p('A=1\nB=2\nC=3\nD=4\n', 'dotenv')).toThrow(expect.objectContaining({ code: 'SOPS_INPUT_TOO_LARGE' }));
    expect(() => p('[a]\n'.repeat(20), 'ini')).toThrow(expect.objectContaining({ code: 'SOPS_INPUT_TOO_LARGE' }));
    expect(() => p('[a]\nb=1\nc=2\nd=3\n', 'ini')).toThrow(expect.objectContaining({ code: 'SOPS_INPUT_TOO_LARGE' }));
  });
});

describe('ini', () => {
  it('decrypts a sops-written .ini file to sops\' values (DEFAULT section, comments, quotes, ":" keys)', async () => {
    const enc = sopsEncrypt('app.ini', INI, ['--age', alice.recipient]);
    expect(enc).toContain('[sops]');
    const want = sopsValues('app-enc.ini', enc);
    expect(await ours('app.ini', enc)).toEqual(want);
    expect(want).toMatchObject({ DEFAULT: { top: 'level' }, db: { name: 'quoted', single: 'it', port: '5432' } });
    const noTop = sopsEncrypt('b.ini', '[a]\nk=v\n', ['--age', alice.recipient]);
    expect(await ours('b.ini', noTop)).toEqual(sopsValues('b-enc.ini', noTop));
    expect(await code('app.ini', enc.replace('x_unencrypted = visible', 'x_unencrypted = visiblE'))).toBe('SOPS_MAC_MISMATCH');
  });

  it('refuses go-ini syntax we do not reproduce, and malformed lines', async () => {
    const enc = sopsEncrypt('r.ini', '[a]\nk=v\n', ['--age', alice.recipient]);
    const withLine = (l: string): string => enc.replace('[a]\n', `[a]\n${l}\n`);
    for (const l of ['cont = a\\', 'q = """x"""', 'b = `x`', '"quoted key" = 1', '- = auto', 'k = again']) {
      expect(await code('r.ini', withLine(l)), l).toBe('SOPS_UNSUPPORTED');
    }
    expect(await code('r.ini', `${enc}[a]\n`)).toBe('SOPS_UNSUPPORTED');
    expect(await code('r.ini', withLine('[b] junk'))).toBe('SOPS_UNSUPPORTED');
    expect(await code('r.ini', withLine('novalue'))).toBe('SOPS_MALFORMED');
    expect(await code('r.ini', withLine('[unclosed'))).toBe('SOPS_MALFORMED');
    expect(await code('r.ini', withLine('[]'))).toBe('SOPS_MALFORMED');
    expect(await code('r.ini', withLine('= x'))).toBe('SOPS_MALFORMED');
    expect(await code('r.ini', withLine('[DEFAULT]'))).toBe('SOPS_UNSUPPORTED');
    expect(await code('r.ini', `\ufeff${enc}`)).toBe('SOPS_MALFORMED');
    expect(await code('r.ini', '[a]\nk=v\n')).toBe('SOPS_METADATA_INVALID');
  });
});

describe('binary', () => {
  it('reads a binary-format file (JSON envelope) when the name has no known extension', async () => {
    const enc = sopsEncrypt('blob.txt', 'any text\nat all\n', ['--age', alice.recipient, '--input-type', 'binary', '--output-type', 'binary']);
    expect(await ours('secrets/blob.bin', enc)).toEqual({ data: 'any text\nat all\n' });
  });
});

describe('age SSH recipients', () => {
  let n = 0;
  function sshKey(type: 'ed25519' | 'rsa'): string {
    const p = join(s.dir, `id_${type}_${++n}`);
    execFileSync('ssh-keygen', ['-q', '-t', type, ...(type === 'rsa' ? ['-b', '2048'] : []), '-N', '', '-C', '', '-f', p]);
    return readFileSync(`${p}.pub`, 'utf8').trim();
  }

  it('a key group with only ssh-ed25519 / ssh-rsa recipients is refused with its own code naming the type', async () => {
    for (const type of ['ed25519', 'rsa'] as const) {
      const enc = sopsEncrypt(`ssh-${type}.yaml`, 'k: v\n', ['--age', sshKey(type)]);
      const parsed = parseSops(enc, { format: 'yaml', fileName: 'ssh.yaml' });
      const noKms = kmsUnwrapper(async () => new Uint8Array(32));
      await expect(decryptSops(parsed, noKms)).rejects.toMatchObject({ code: 'SOPS_AGE_SSH_RECIPIENT_UNSUPPORTED', message: expect.stringContaining(`ssh-${type}`) });
      await expect(decryptSops(parsed, ageUnwrapper([alice.identity]))).rejects.toMatchObject({ code: 'SOPS_AGE_SSH_RECIPIENT_UNSUPPORTED' });
    }
  });

  it('an SSH recipient beside a usable key is no obstacle', async () => {
    const enc = sopsEncrypt('mixed.yaml', 'k: v\n', ['--age', `${sshKey('ed25519')},${alice.recipient}`]);
    expect(await ours('mixed.yaml', enc)).toEqual({ k: 'v' });
  });
});
