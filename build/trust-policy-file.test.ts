import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadTrustPolicy } from './trust-policy-file.ts';
import { isBuildError } from './errors.ts';
import { canonicalTrustPolicyBytes, parseTrustPolicy, trustPolicyDigest } from '../verifier/trust-policy.ts';
import { samplePolicyValue } from '../verifier/test-trust-policy.ts';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const yamlText = (edit: (p: Record<string, any>) => void = () => undefined): string => {
  const p = samplePolicyValue();
  edit(p);
  return stringify(p);
};

function refusal(bytes: Uint8Array): string {
  try {
    loadTrustPolicy(bytes, 'policy.yaml');
  } catch (e) {
    if (isBuildError(e)) return `${e.code}: ${e.message}`;
    throw e;
  }
  return 'accepted';
}

describe('build --trust-policy file', () => {
  it('YAML and JSON of the same policy give the same canonical bytes and digest', () => {
    const fromYaml = loadTrustPolicy(enc(yamlText()), 'policy.yaml');
    const fromJson = loadTrustPolicy(enc(JSON.stringify(samplePolicyValue(), null, 2)), 'policy.json');
    const expected = canonicalTrustPolicyBytes(parseTrustPolicy(enc(JSON.stringify(samplePolicyValue()))));
    expect(Buffer.from(fromYaml.bytes).equals(Buffer.from(expected))).toBe(true);
    expect(Buffer.from(fromJson.bytes).equals(Buffer.from(expected))).toBe(true);
    expect(fromYaml.sha384).toBe(trustPolicyDigest(expected));
    expect(fromYaml.sha384).toMatch(/^[0-9a-f]{96}$/);
    expect(fromYaml.development).toBe(false);
    expect(loadTrustPolicy(enc(yamlText((p) => { p.development = true; })), 'dev.yaml').development).toBe(true);
  });

  it('one changed line changes the digest', () => {
    const a = loadTrustPolicy(enc(yamlText()), 'a.yaml');
    const b = loadTrustPolicy(enc(yamlText().replace('refs/heads/develop', 'refs/heads/release')), 'b.yaml');
    expect(a.sha384).not.toBe(b.sha384);
  });

  it('refuses duplicate keys, a BOM, oversize files and non-UTF-8 (YAML and JSON)', () => {
    expect(refusal(enc(`version: 1\n${yamlText()}`))).toMatch(/^TRUST_POLICY_INVALID: .*(duplicate|unique)/i);
    const json = JSON.stringify(samplePolicyValue());
    expect(refusal(enc(json.replace('{"version":1,', '{"version":1,"version":1,')))).toMatch(/^TRUST_POLICY_INVALID: .*duplicate/);
    expect(refusal(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(yamlText())]))).toMatch(/^TRUST_POLICY_INVALID: .*byte order mark/);
    expect(refusal(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(json)]))).toMatch(/^TRUST_POLICY_INVALID: .*byte order mark/);
    expect(refusal(new Uint8Array(256 * 1024 + 1).fill(0x20))).toMatch(/^TRUST_POLICY_INVALID: .*larger than/);
    expect(refusal(Uint8Array.of(0x61, 0x3a, 0x20, 0xc3, 0x28))).toMatch(/^TRUST_POLICY_INVALID: .*not UTF-8/);
  });

  it('refuses the YAML features a policy does not need: anchors, aliases, tags, merge keys, directives, several documents, non-string keys, .inf', () => {
    const base = yamlText();
    const cases: Array<[string, RegExp]> = [
      [base.replace('version: 1', 'version: &v 1'), /anchors/],
      [`${base}extra: *v\n`, /alias|anchor|Unresolved|not valid YAML/i],
      [base.replace('version: 1', 'version: !!int 1'), /tags/],
      [base.replace('version: 1', 'version: !custom 1'), /tags|not valid YAML/],
      [`<<: {version: 1}\n${base.replace('version: 1\n', '')}`, /merge keys/],
      [`${base}---\nversion: 1\n`, /exactly one document, not 2/],
      ['', /exactly one document, not 0/],
      [`${base}1: x\n`, /keys must be strings/],
      [base.replace('maxTokenLifetimeSeconds: 3600', 'maxTokenLifetimeSeconds: .inf'), /non-finite/],
      ['- a\n- b\n', /mapping at the top/],
      [`%YAML 1.1\n---\n${base}`, /directives/],
      [`%TAG !e! tag:example.com,2000:\n---\n${base}`, /directives/],
    ];
    for (const [text, re] of cases) expect(refusal(enc(text)), text.slice(0, 60)).toMatch(new RegExp(`^TRUST_POLICY_INVALID: .*${re.source}`, re.flags));
  });

  it('refuses a policy the schema refuses, naming the file', () => {
    expect(refusal(enc(yamlText((p) => { p.surprise = true; })))).toMatch(/^TRUST_POLICY_INVALID: policy\.yaml: /);
    expect(refusal(enc(yamlText((p) => { p.repositories[0].environments.production.refs = ['refs/heads/*']; })))).toMatch(/^TRUST_POLICY_INVALID/);
  });
});
