// Files where a careless reader gets a value different from sops': comments inside
// encrypted lists, strings that are not UTF-8, lone surrogates, Go's time parsing, and ENC
// types sops itself cannot decrypt. Each case is a file the real sops 3.12.2 wrote (or, for
// what sops never writes, a hand-made one that sops was asked about), decrypted by both.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ageKeyWrapper, ageUnwrapper, decryptSops, encryptSops, parseSops, type DecryptedSops, type SopsFormat } from '../enclave/sops/index.ts';
import type { SopsLeaf, SopsNode } from '../enclave/sops/tree.ts';
import { craftYaml } from './sops-craft.ts';
import { newAgeKey, runSops, scratch, type AgeKeyPair, type Scratch } from './sops-support.ts';

let s: Scratch;
let key: AgeKeyPair;
beforeAll(async () => {
  s = scratch();
  key = await newAgeKey();
});
afterAll(() => s.cleanup());

function sopsEncrypt(name: string, content: string | Buffer, flags: string[] = []): string {
  const p = s.write(name, content as string);
  const r = runSops(['encrypt', '--age', key.recipient, ...flags, p], { cwd: s.dir });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r.stdout;
}

/** The real sops' decryption of `text` as JSON (what Clef parses for a .json file). */
function sopsJson(name: string, text: string, inputType: SopsFormat): unknown {
  const r = runSops(['decrypt', '--input-type', inputType, '--output-type', 'json', s.write(name, text)], { cwd: s.dir, ageIdentities: [key.identity] });
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout);
}

async function ours(text: string, format: SopsFormat, fileName: string): Promise<DecryptedSops> {
  return decryptSops(parseSops(text, { format, fileName }), ageUnwrapper([key.identity]));
}

async function oursCode(text: string, format: SopsFormat, fileName = 'f.yaml'): Promise<string | undefined> {
  try {
    parseSops(text, { format, fileName });
    await ours(text, format, fileName);
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

function leafAt(d: DecryptedSops, k: string): SopsLeaf {
  const it = d.branches[0]?.items.find((x) => 'key' in x && x.key === k);
  const v: SopsNode | undefined = it !== undefined && 'key' in it ? it.value : undefined;
  if (v?.kind !== 'leaf') throw new Error(`no leaf ${k}`);
  return v;
}

describe('comments inside encrypted lists', () => {
  it('decrypts sops\' `- ENC[…,type:comment]` items as comments, outside the MAC and the values', async () => {
    const enc = sopsEncrypt('lc.yaml', 'list:\n    # first note\n    - a\n    # second note\n    - b\nk: v\n');
    expect(enc.match(/- ENC\[AES256_GCM,[^\]]*type:comment\]/g)).toHaveLength(2);
    const d = await ours(enc, 'yaml', 'lc.yaml');
    expect(d.data).toEqual(sopsJson('lc-enc.yaml', enc, 'yaml'));
    expect(d.data).toEqual({ list: ['a', 'b'], k: 'v' });
    const list = d.branches[0]?.items[0];
    expect(list !== undefined && 'key' in list ? list.value : undefined).toEqual({
      kind: 'list',
      items: [{ kind: 'comment', text: ' first note' }, { kind: 'leaf', type: 'str', text: 'a' }, { kind: 'comment', text: ' second note' }, { kind: 'leaf', type: 'str', text: 'b' }],
    });
  });

  it('refuses a comment holding an encrypted value (it would enter sops\' MAC and fail it)', async () => {
    const base = await craftYaml([{ key: 'a', type: 'str', plain: 'v' }], key.recipient);
    const v = /^a: (ENC\[[^\]]+\])$/m.exec(base)?.[1] ?? '';
    expect(v).not.toBe('');
    const asList = base.replace(`a: ${v}`, `a:\n    - ${v}`);
    expect((await ours(asList, 'yaml', 'l.yaml')).data).toEqual({ a: ['v'] });
    expect(await oursCode(base.replace(`a: ${v}`, `a:\n    #${v}\n    - ${v}`), 'yaml')).toBe('SOPS_VALUE_MALFORMED');
  });

  it('refuses a map value typed as a comment (sops turns it into a struct)', async () => {
    const text = await craftYaml([{ key: 'k', type: 'comment', plain: 'hi', mac: null }], key.recipient);
    expect(await oursCode(text, 'yaml')).toBe('SOPS_VALUE_MALFORMED');
  });
});

describe('strings that are not UTF-8', () => {
  // Invalid bytes, a truncated 4-byte sequence (Go and WHATWG replace it differently).
  const BYTES = Buffer.from([0x61, 0x62, 0xff, 0xfe, 0xf0, 0x9f, 0x98, 0x41, 0x0a]);

  it('binary files: bytes kept exact for the MAC; the value is what sops prints as JSON', async () => {
    const enc = sopsEncrypt('blob.bin', BYTES, ['--input-type', 'binary', '--output-type', 'binary']);
    const d = await ours(enc, 'json', 'blob.json');
    expect(Buffer.from(leafAt(d, 'data').raw ?? [])).toEqual(BYTES);
    expect(d.data).toEqual(sopsJson('blob-enc.json', enc, 'json'));
    expect(d.data).toEqual({ data: 'ab\ufffd\ufffd\ufffd\ufffd\ufffdA\n' });
  });

  it('YAML !!binary: bytes kept exact; the value is what Clef reads from sops\' YAML (!!binary)', async () => {
    const enc = sopsEncrypt('b.yaml', `b: !!binary ${BYTES.toString('base64')}\nok: !!binary aGVsbG8=\n`);
    const d = await ours(enc, 'yaml', 'b.yaml');
    expect(Buffer.from(leafAt(d, 'b').raw ?? [])).toEqual(BYTES);
    const r = runSops(['decrypt', s.write('b-enc.yaml', enc)], { cwd: s.dir, ageIdentities: [key.identity] });
    expect(r.stdout).toContain(`b: !!binary ${BYTES.toString('base64')}`);
    // Clef: YAML.parse gives a Buffer, String(buffer) decodes it.
    expect(d.data).toEqual({ b: BYTES.toString('utf8'), ok: 'hello' });
  });

  it('unencrypted non-UTF-8 values are in the MAC byte for byte', async () => {
    const enc = sopsEncrypt('u.yaml', `b_unencrypted: !!binary ${BYTES.toString('base64')}\nk: v\n`);
    const d = await ours(enc, 'yaml', 'u.yaml');
    expect(Buffer.from(leafAt(d, 'b_unencrypted').raw ?? [])).toEqual(BYTES);
  });

  it('ours → sops: a !!binary value encrypts to the same bytes', async () => {
    const enc = await encryptSops(`b: !!binary ${BYTES.toString('base64')}\n`, { format: 'yaml', keys: [ageKeyWrapper(key.recipient)] });
    const r = runSops(['decrypt', s.write('ours-b.yaml', enc)], { cwd: s.dir, ageIdentities: [key.identity] });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`b: !!binary ${BYTES.toString('base64')}\n`);
  });
});

describe('file bytes that are not UTF-8', () => {
  function sopsJsonBytes(name: string, bytes: Buffer): { status: number | null; out: unknown } {
    const r = runSops(['decrypt', '--output-type', 'json', s.write(name, bytes as unknown as string)], { cwd: s.dir, ageIdentities: [key.identity] });
    return { status: r.status, out: r.status === 0 ? JSON.parse(r.stdout) : undefined };
  }

  it('JSON: each invalid byte reads as U+FFFD, as Go\'s decoder reads it', async () => {
    const enc = sopsEncrypt('fb.json', '{"x_unencrypted": "a\ufffd\ufffdb", "k": "v"}');
    const bytes = Buffer.from(enc.replace('a\ufffd\ufffdb', 'a__b'), 'utf8');
    const at = bytes.indexOf('a__b');
    bytes[at + 1] = 0xff;
    bytes[at + 2] = 0xc3;
    const want = sopsJsonBytes('fb-enc.json', bytes);
    expect(want.status).toBe(0);
    const d = await decryptSops(parseSops(bytes, { format: 'json', fileName: 'fb.json' }), ageUnwrapper([key.identity]));
    expect(d.data).toEqual(want.out);
    expect(d.data).toEqual({ x_unencrypted: 'a\ufffd\ufffdb', k: 'v' });
  });

  it('YAML: refused, as go-yaml refuses it; dotenv and ini: refused', async () => {
    const enc = sopsEncrypt('fb.yaml', 'x_unencrypted: a__b\nk: v\n');
    const bytes = Buffer.from(enc, 'utf8');
    bytes[bytes.indexOf('a__b') + 1] = 0xff;
    expect(sopsJsonBytes('fb-enc.yaml', bytes).status).not.toBe(0);
    expect(() => parseSops(bytes, { format: 'yaml', fileName: 'fb.yaml' })).toThrow(expect.objectContaining({ code: 'SOPS_MALFORMED' }));
    expect(() => parseSops(Buffer.from([0x41, 0x3d, 0xff, 0x0a]), { format: 'dotenv', fileName: 'fb.env' })).toThrow(expect.objectContaining({ code: 'SOPS_UNSUPPORTED' }));
    expect(() => parseSops(Buffer.from([0x41, 0x3d, 0xff, 0x0a]), { format: 'ini', fileName: 'fb.ini' })).toThrow(expect.objectContaining({ code: 'SOPS_UNSUPPORTED' }));
    expect(() => parseSops(Buffer.alloc(100), { format: 'json', fileName: 'big.json', limits: { maxBytes: 10 } })).toThrow(expect.objectContaining({ code: 'SOPS_INPUT_TOO_LARGE' }));
  });
});

describe('lone surrogates', () => {
  it('JSON \\ud800 reads as U+FFFD, as Go\'s decoder does (values and keys)', async () => {
    const text = '{"v": "a\\ud800b", "pair": "\\ud83d\\ude00", "bad\\udc00key": "x", "v_unencrypted": "c\\udfffd"}';
    // sops writes U+FFFD back; put the lone surrogates into the encrypted file itself.
    const enc = sopsEncrypt('sur.json', text).replace('"bad\ufffdkey"', '"bad\\udc00key"').replace('"c\ufffdd"', '"c\\udfffd"');
    expect(enc).toContain('"bad\\udc00key"');
    expect(enc).toContain('"c\\udfffd"');
    const d = await ours(enc, 'json', 'sur.json');
    expect(d.data).toEqual(sopsJson('sur-enc.json', enc, 'json'));
    expect(d.data).toEqual({ v: 'a\ufffdb', pair: '😀', 'bad\ufffdkey': 'x', v_unencrypted: 'c\ufffdd' });
  });

  it('YAML "a\\ud800b" is refused, as sops (go-yaml) refuses it', async () => {
    const text = 'v: "a\\ud800b"\n';
    const r = runSops(['encrypt', '--age', key.recipient, s.write('sur.yaml', text)], { cwd: s.dir });
    expect(r.status).not.toBe(0);
    const enc = await encryptSops('v: ok\n', { format: 'yaml', keys: [ageKeyWrapper(key.recipient)] });
    expect(await oursCode(`w: "a\\ud800b"\n${enc}`, 'yaml')).toBe('SOPS_MALFORMED');
    expect(await oursCode(`"k\\udc00": x\n${enc}`, 'yaml')).toBe('SOPS_MALFORMED');
  });
});

describe('Go time parsing', () => {
  async function withLastModified(edit: (x: string) => string): Promise<{ sops: number | null; ours: string | undefined }> {
    const enc = sopsEncrypt('t.yaml', 'k: v\n');
    const real = /lastmodified: "([^"]+)"/.exec(enc)?.[1] ?? '';
    const text = enc.replace(`lastmodified: "${real}"`, `lastmodified: "${edit(real)}"`);
    const r = runSops(['decrypt', s.write('t-enc.yaml', text)], { cwd: s.dir, ageIdentities: [key.identity] });
    return { sops: r.status, ours: await oursCode(text, 'yaml') };
  }

  it('lastmodified: "," as the fraction separator and >9 fraction digits, as Go accepts them', async () => {
    for (const edit of [(x: string) => x.replace('Z', ',5Z'), (x: string) => x.replace('Z', '.1234567891Z'), (x: string) => x.replace('Z', '+00:00')]) {
      expect(await withLastModified(edit)).toEqual({ sops: 0, ours: undefined });
    }
  });

  it('lastmodified: lowercase t or z refused, as Go refuses them', async () => {
    for (const edit of [(x: string) => x.replace('T', 't'), (x: string) => x.replace('Z', 'z')]) {
      const r = await withLastModified(edit);
      expect(r.sops).not.toBe(0);
      expect(r.ours).toBe('SOPS_METADATA_INVALID');
    }
  });

  it('lastmodified: a one-digit hour, as Go accepts it', async () => {
    const enc = await encryptSops('k: v\n', { format: 'yaml', keys: [ageKeyWrapper(key.recipient)], now: new Date('2026-03-04T05:06:07Z') });
    const text = enc.replace('"2026-03-04T05:06:07Z"', '"2026-03-04T5:06:07Z"');
    expect(runSops(['decrypt', s.write('h.yaml', text)], { cwd: s.dir, ageIdentities: [key.identity] }).status).toBe(0);
    expect(await oursCode(text, 'yaml')).toBeUndefined();
  });

  it('time values: "," fractions, >9 digits, one-digit hours decrypt to what sops prints; lowercase t refused', async () => {
    const text = await craftYaml([
      { key: 'k', type: 'time', plain: '2024-01-02T03:04:05,5Z', mac: '2024-01-02T03:04:05.5Z' },
      { key: 't2', type: 'time', plain: '2024-01-02T3:04:05.1234567891+02:00', mac: '2024-01-02T03:04:05.123456789+02:00' },
    ], key.recipient);
    const d = await ours(text, 'yaml', 't.yaml');
    expect(JSON.parse(JSON.stringify(d.data))).toEqual(sopsJson('tv.yaml', text, 'yaml'));
    const bad = await craftYaml([{ key: 'k', type: 'time', plain: '2024-01-02t03:04:05Z', mac: '2024-01-02T03:04:05Z' }], key.recipient);
    expect(runSops(['decrypt', s.write('tz.yaml', bad)], { cwd: s.dir, ageIdentities: [key.identity] }).status).not.toBe(0);
    expect(await oursCode(bad, 'yaml')).toBe('SOPS_VALUE_MALFORMED');
  });
});

describe('ENC types sops cannot decrypt', () => {
  it('type:bytes is refused (sops panics on it)', async () => {
    const text = await craftYaml([{ key: 'k', type: 'bytes', plain: 'hello' }], key.recipient);
    const r = runSops(['decrypt', s.write('bytes.yaml', text)], { cwd: s.dir, ageIdentities: [key.identity] });
    expect(r.status).not.toBe(0);
    expect(await oursCode(text, 'yaml')).toBe('SOPS_UNSUPPORTED');
  });
});
