// Round trips with the real sops binary (v3.12.2), both directions, YAML and JSON, age.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import {
  ageKeyWrapper, ageUnwrapper, decryptSops, encryptSops, parseSops, type SopsFormat,
} from '../enclave/sops/index.ts';
import { newAgeKey, runSops, scratch, type AgeKeyPair, type Scratch } from './sops-support.ts';

const YAML_ALL_TYPES = `# a head comment
db:
    password: hunter2 # trailing comment
    port: 5432
    ratio: 1.50
    big: 1e3
    enabled: true
    off: false
    empty: ""
    nothing: null
    when: 2024-01-02T03:04:05Z
    quoted_number: "123"
    octal: 0755
    multi: |
        line one
        line two
list:
    - a
    - 2
    - name: x
      val: y
    - [1, 2.5]
unicode: "héllo ✓ 🎉"
plain_unencrypted: visible
`;

const JSON_ALL_TYPES = JSON.stringify({
  a: 'x', n: 1, f: 1.5, neg: -0.25, b: false, t: true, z: null, e: '', l: [1, { k: 'v' }, [2, 'w']],
  m: { q: 3, deep: { deeper: 'yes' } }, '10': 'integer-like key stays in place', esc: 'quote " backslash \\ newline \n',
}, null, 2);

let s: Scratch;
let alice: AgeKeyPair;
let bob: AgeKeyPair;

beforeAll(async () => {
  s = scratch();
  alice = await newAgeKey();
  bob = await newAgeKey();
});
afterAll(() => s.cleanup());

/** What the real sops decrypts a file to, parsed (YAML parser reads both formats). */
function sopsDecrypt(path: string, ids: string[], format: SopsFormat): unknown {
  const r = runSops(['decrypt', '--input-type', format, '--output-type', 'json', path], { cwd: s.dir, ageIdentities: ids });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout);
}

function sopsEncrypt(name: string, text: string, format: SopsFormat, flags: string[], config?: string): string {
  const p = s.write(name, text);
  const r = runSops(['encrypt', '--input-type', format, '--output-type', format, ...flags, p], { cwd: s.dir, ...(config === undefined ? {} : { config }) });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r.stdout;
}

async function ours(text: string, format: SopsFormat, ids: string[], fileName = `f.${format}`): Promise<unknown> {
  const d = await decryptSops(parseSops(text, { format, fileName }), ageUnwrapper(ids));
  return JSON.parse(JSON.stringify(d.data));
}

/** The plaintext as sops itself reads it: sops encrypt + decrypt with no rules. */
function reference(text: string, format: SopsFormat): unknown {
  const enc = sopsEncrypt(`ref-${format}`, text, format, ['--age', alice.recipient]);
  return sopsDecrypt(s.write(`ref-out.${format}`, enc), [alice.identity], format);
}

describe('sops → ours', () => {
  for (const [format, text] of [['yaml', YAML_ALL_TYPES], ['json', JSON_ALL_TYPES]] as const) {
    it(`decrypts a ${format} file with every value type and verifies its MAC`, async () => {
      const enc = sopsEncrypt(`all.${format}`, text, format, ['--age', alice.recipient]);
      expect(await ours(enc, format, [alice.identity])).toEqual(sopsDecrypt(s.write(`all-enc.${format}`, enc), [alice.identity], format));
    });
  }

  it('reads a file for several recipients with either identity', async () => {
    const enc = sopsEncrypt('multi.yaml', YAML_ALL_TYPES, 'yaml', ['--age', `${alice.recipient},${bob.recipient}`]);
    const want = sopsDecrypt(s.write('multi-enc.yaml', enc), [bob.identity], 'yaml');
    expect(await ours(enc, 'yaml', [alice.identity])).toEqual(want);
    expect(await ours(enc, 'yaml', [bob.identity])).toEqual(want);
  });

  it('honours encrypted_regex (unencrypted leaves still in the MAC)', async () => {
    const enc = sopsEncrypt('regex.yaml', YAML_ALL_TYPES, 'yaml', ['--age', alice.recipient, '--encrypted-regex', '^(password|name)$']);
    expect(enc).toMatch(/\n {4}port: 5432\n/);
    expect(enc).toMatch(/encrypted_regex: \^\(password\|name\)\$/);
    expect(await ours(enc, 'yaml', [alice.identity])).toEqual(reference(YAML_ALL_TYPES, 'yaml'));
    // Changing a plaintext leaf is caught by the MAC.
    await expect(ours(enc.replace('port: 5432', 'port: 5433'), 'yaml', [alice.identity])).rejects.toMatchObject({ code: 'SOPS_MAC_MISMATCH' });
  });

  it('honours a custom unencrypted_suffix', async () => {
    const text = 'token_pub: public\ntoken: secret\nnested_pub:\n    inner: also-public\n';
    const enc = sopsEncrypt('suffix.yaml', text, 'yaml', ['--age', alice.recipient, '--unencrypted-suffix', '_pub']);
    expect(enc).toContain('token_pub: public');
    expect(enc).toContain('inner: also-public');
    expect(await ours(enc, 'yaml', [alice.identity])).toEqual({ token_pub: 'public', token: 'secret', nested_pub: { inner: 'also-public' } });
  });

  it('reads mac_only_encrypted files', async () => {
    const cfg = s.write('.sops-maconly.yaml', `creation_rules:\n  - age: ${alice.recipient}\n    encrypted_regex: ^secret\n    mac_only_encrypted: true\n`);
    const enc = sopsEncrypt('maconly.yaml', 'secret: s3\nopen: 1\n', 'yaml', [], cfg);
    expect(enc).toContain('mac_only_encrypted: true');
    expect(await ours(enc, 'yaml', [alice.identity])).toEqual({ secret: 's3', open: 1 });
    // Unencrypted values are outside this MAC by design: a change there is not detected
    // by sops either, while a change to an encrypted value is.
    expect(await ours(enc.replace('open: 1', 'open: 2'), 'yaml', [alice.identity])).toEqual({ secret: 's3', open: 2 });
  });

  it('reads Shamir key groups', async () => {
    const cfg = s.write('.sops-groups.yaml', `creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n      - age: [${alice.recipient}]\n      - age: [${bob.recipient}]\n`);
    const enc = sopsEncrypt('groups.yaml', 'k: v\n', 'yaml', [], cfg);
    expect(enc).toContain('key_groups');
    expect(await ours(enc, 'yaml', [alice.identity, bob.identity])).toEqual({ k: 'v' });
    await expect(ours(enc, 'yaml', [alice.identity])).rejects.toMatchObject({ code: 'SOPS_NO_DATA_KEY' });
  });
});

describe('ours → sops', () => {
  for (const [format, text] of [['yaml', YAML_ALL_TYPES], ['json', JSON_ALL_TYPES]] as const) {
    it(`writes a ${format} file the real sops decrypts to the same values`, async () => {
      const enc = await encryptSops(text, { format, keys: [ageKeyWrapper(alice.recipient)] });
      expect(sopsDecrypt(s.write(`ours.${format}`, enc), [alice.identity], format)).toEqual(reference(text, format));
      expect(await ours(enc, format, [alice.identity])).toEqual(reference(text, format));
    });
  }

  it('keeps YAML comments (encrypted) so sops restores them', async () => {
    const enc = await encryptSops(YAML_ALL_TYPES, { format: 'yaml', keys: [ageKeyWrapper(alice.recipient)] });
    expect(enc).not.toContain('a head comment');
    const r = runSops(['decrypt', s.write('comments.yaml', enc)], { cwd: s.dir, ageIdentities: [alice.identity] });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('# a head comment');
    expect(r.stdout).toContain('# trailing comment');
  });

  it('writes encrypted_regex, unencrypted_suffix and mac_only_encrypted files sops accepts', async () => {
    const cases = [
      { encryptedRegex: '^(password|name)$' },
      { unencryptedSuffix: '_pub' },
      { encryptedRegex: '^password$', macOnlyEncrypted: true },
    ];
    for (const rules of cases) {
      const enc = await encryptSops(YAML_ALL_TYPES, { format: 'yaml', keys: [ageKeyWrapper(alice.recipient)], ...rules });
      expect(sopsDecrypt(s.write('rules.yaml', enc), [alice.identity], 'yaml')).toEqual(reference(YAML_ALL_TYPES, 'yaml'));
    }
  });

  it('writes multi-recipient and Shamir files sops decrypts with the right keys', async () => {
    const multi = await encryptSops('a: 1\n', { format: 'yaml', keys: [ageKeyWrapper(alice.recipient), ageKeyWrapper(bob.recipient)] });
    expect(sopsDecrypt(s.write('m1.yaml', multi), [bob.identity], 'yaml')).toEqual({ a: 1 });
    const groups = await encryptSops('a: 1\n', { format: 'yaml', keyGroups: [[ageKeyWrapper(alice.recipient)], [ageKeyWrapper(bob.recipient)]], shamirThreshold: 2 });
    expect(sopsDecrypt(s.write('m2.yaml', groups), [alice.identity, bob.identity], 'yaml')).toEqual({ a: 1 });
    const r = runSops(['decrypt', s.write('m3.yaml', groups)], { cwd: s.dir, ageIdentities: [alice.identity] });
    expect(r.status).not.toBe(0);
  });

  it('writes multi-document YAML with metadata in each document', async () => {
    const enc = await encryptSops('a: 1\n---\nb: two\n', { format: 'yaml', keys: [ageKeyWrapper(alice.recipient)] });
    const r = runSops(['decrypt', s.write('docs.yaml', enc)], { cwd: s.dir, ageIdentities: [alice.identity] });
    expect(r.status).toBe(0);
    expect(r.stdout.split('---').map((d) => parseYaml(d) as unknown)).toEqual([{ a: 1 }, { b: 'two' }]);
  });
});
