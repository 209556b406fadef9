// Cases carried over from Clef's packages/core/src/manifest/parser.test.ts: each builds a
// manifest object, serialises it as clef.yaml, and expects Clef's accept/refuse outcome.
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ClefError, parseClefManifest, type ClefManifest } from '../enclave/clef/index.ts';

const AGE = 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p';
type M = Record<string, unknown> & { environments: Array<Record<string, unknown>>; namespaces: Array<Record<string, unknown>>; sops: Record<string, unknown> };

function valid(): M {
  return {
    version: 1,
    environments: [
      { name: 'dev', description: 'Local development' },
      { name: 'staging', description: 'Pre-production' },
      { name: 'production', description: 'Live system', protected: true },
    ],
    namespaces: [
      { name: 'database', description: 'Database config', schema: 'schemas/database.yaml' },
      { name: 'auth', description: 'Auth secrets' },
    ],
    sops: { default_backend: 'age' },
    file_pattern: '{namespace}/{environment}.enc.yaml',
  };
}

function withSi(si: unknown[]): M {
  return { ...valid(), service_identities: si };
}

const parse = (m: unknown): ClefManifest => parseClefManifest(stringify(m));

const refusals: Array<[string, () => unknown, RegExp]> = [
  ['null input', () => null, /must be a YAML object/],
  ['non-object input', () => 'x', /must be a YAML object/],
  ['missing version', () => { const m = valid(); delete m.version; return m; }, /Missing required field 'version'/],
  ['empty environments', () => ({ ...valid(), environments: [] }), /non-empty array/],
  ['environment without name', () => { const m = valid(); m.environments[0] = { description: 'x' }; return m; }, /missing a 'name'/],
  ['environment without description', () => { const m = valid(); m.environments[0] = { name: 'dev' }; return m; }, /missing a 'description'/],
  ['non-object environment', () => { const m = valid(); (m.environments as unknown[])[0] = 'dev'; return m; }, /must be an object/],
  ['missing namespaces', () => { const m = valid(); delete (m as Record<string, unknown>).namespaces; return m; }, /Missing required field 'namespaces'/],
  ['namespace without name', () => { const m = valid(); m.namespaces[0] = { description: 'x' }; return m; }, /missing a 'name'/],
  ['namespace starting with a digit', () => { const m = valid(); m.namespaces[0] = { name: '1db', description: 'x' }; return m; }, /is invalid/],
  ['duplicate namespace', () => { const m = valid(); m.namespaces[1] = { name: 'database', description: 'x' }; return m; }, /Duplicate namespace name/],
  ['missing sops', () => { const m = valid(); delete (m as Record<string, unknown>).sops; return m; }, /Missing required field 'sops'/],
  ['non-object sops', () => ({ ...valid(), sops: 'age' }), /'sops' must be an object/],
  ['sops without default_backend', () => ({ ...valid(), sops: {} }), /default_backend/],
  ['missing file_pattern', () => { const m = valid(); delete m.file_pattern; return m; }, /file_pattern/],
  ['file_pattern without {namespace}', () => ({ ...valid(), file_pattern: '{environment}.yaml' }), /\{namespace\}/],
  ['hsm without pkcs11_uri', () => ({ ...valid(), sops: { default_backend: 'hsm' } }), /pkcs11_uri' is required/],
  ['pkcs11_uri without scheme', () => ({ ...valid(), sops: { default_backend: 'hsm', pkcs11_uri: 'slot=0' } }), /invalid format/],
  ['pkcs11_uri without attributes', () => ({ ...valid(), sops: { default_backend: 'hsm', pkcs11_uri: 'pkcs11:' } }), /invalid format/],
  ['non-string pkcs11_uri', () => ({ ...valid(), sops: { default_backend: 'age', pkcs11_uri: 5 } }), /must be a string/],
  ['per-env hsm without pkcs11_uri', () => { const m = valid(); m.environments[0] = { name: 'dev', description: 'd', sops: { backend: 'hsm' } }; return m; }, /missing 'pkcs11_uri'/],
  ['per-env awskms without arn', () => { const m = valid(); m.environments[0] = { name: 'dev', description: 'd', sops: { backend: 'awskms' } }; return m; }, /missing 'aws_kms_arn'/],
  ['per-env gcpkms without resource', () => { const m = valid(); m.environments[0] = { name: 'dev', description: 'd', sops: { backend: 'gcpkms' } }; return m; }, /gcp_kms_resource_id/],
  ['per-env pgp without fingerprint', () => { const m = valid(); m.environments[0] = { name: 'dev', description: 'd', sops: { backend: 'pgp' } }; return m; }, /pgp_fingerprint/],
  ['per-env unknown backend', () => { const m = valid(); m.environments[0] = { name: 'dev', description: 'd', sops: { backend: 'vault' } }; return m; }, /invalid sops backend/],
  ['per-env sops without backend', () => { const m = valid(); m.environments[0] = { name: 'dev', description: 'd', sops: {} }; return m; }, /missing 'backend'/],
  ['non-object per-env sops', () => { const m = valid(); m.environments[0] = { name: 'dev', description: 'd', sops: 'age' }; return m; }, /must be an object/],
  ['non-array recipients', () => { const m = valid(); m.environments[0] = { name: 'dev', description: 'd', recipients: AGE }; return m; }, /must be an array/],
  ['invalid age key in object recipient', () => { const m = valid(); m.environments[0] = { name: 'dev', description: 'd', recipients: [{ key: 'nope' }] }; return m; }, /must start with 'age1'/],
  ['recipient object without key', () => { const m = valid(); m.environments[0] = { name: 'dev', description: 'd', recipients: [{ label: 'x' }] }; return m; }, /must have a 'key' string/],
  ['numeric recipient entry', () => { const m = valid(); m.environments[0] = { name: 'dev', description: 'd', recipients: [42] }; return m; }, /must be a string or object/],
  ['per-env recipients with a global non-age backend', () => { const m = valid(); m.sops = { default_backend: 'awskms' }; m.environments[0] = { name: 'dev', description: 'd', recipients: [AGE] }; return m; }, /only supported with the 'age' backend/],
  ['identity missing name', () => withSi([{ namespaces: ['database'], environments: { dev: { recipient: AGE } } }]), /missing a 'name'/],
  ['identity with underscores', () => withSi([{ name: 'my_svc', namespaces: ['database'], environments: { dev: { recipient: AGE } } }]), /invalid name/],
  ['identity starting with a hyphen', () => withSi([{ name: '-svc', namespaces: ['database'], environments: { dev: { recipient: AGE } } }]), /invalid name/],
  ['identity with spaces', () => withSi([{ name: 'my svc', namespaces: ['database'], environments: { dev: { recipient: AGE } } }]), /invalid name/],
  ['identity with non-string description', () => withSi([{ name: 's', description: 5, namespaces: ['database'], environments: { dev: { recipient: AGE } } }]), /non-string 'description'/],
  ['identity with empty namespaces', () => withSi([{ name: 's', namespaces: [], environments: { dev: { recipient: AGE } } }]), /non-empty 'namespaces'/],
  ['identity without environments', () => withSi([{ name: 's', namespaces: ['database'] }]), /'environments' object/],
  ['identity with non-boolean pack_only', () => withSi([{ name: 's', namespaces: ['database'], environments: { dev: { recipient: AGE } }, pack_only: 'yes' }]), /non-boolean 'pack_only'/],
  ['duplicate identities', () => withSi([1, 2].map(() => ({ name: 's', namespaces: ['database'], environments: { dev: { recipient: AGE } } }))), /Duplicate service identity name/],
  ['non-array service_identities', () => ({ ...valid(), service_identities: {} }), /must be an array/],
  ['bare alias keyId', () => withSi([{ name: 's', namespaces: ['database'], environments: { dev: { kms: { provider: 'aws', keyId: 'alias/x' } } } }]), /not a valid AWS KMS ARN/],
  ['empty region in keyId', () => withSi([{ name: 's', namespaces: ['database'], environments: { dev: { kms: { provider: 'aws', keyId: 'arn:aws:kms::123456789012:key/x' } } } }]), /region segment/],
  ['neither recipient nor kms', () => withSi([{ name: 's', namespaces: ['database'], environments: { dev: {} } }]), /either 'recipient' or 'kms'/],
  ['invalid kms provider', () => withSi([{ name: 's', namespaces: ['database'], environments: { dev: { kms: { provider: 'ibm', keyId: 'k' } } } }]), /kms.provider must be one of/],
  ['kms without keyId', () => withSi([{ name: 's', namespaces: ['database'], environments: { dev: { kms: { provider: 'gcp' } } } }]), /kms.keyId must be a non-empty string/],
  ['unknown environment on identity', () => withSi([{ name: 's', namespaces: ['database'], environments: { qa: { recipient: AGE } } }]), /unknown environment 'qa'/],
];

describe('Clef parser.test.ts cases', () => {
  for (const [name, build, msg] of refusals) {
    it(`refuses: ${name}`, () => {
      let err: unknown;
      try {
        parse(build());
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ClefError);
      expect((err as ClefError).code).toBe('MANIFEST_INVALID');
      expect((err as Error).message).toMatch(msg);
    });
  }

  it('accepts the optional sops fields, owners, every backend, hsm with a URI, per-env overrides and labelled recipients', () => {
    const all = parse({ ...valid(), sops: { default_backend: 'awskms', aws_kms_arn: 'arn:aws:kms:us-east-1:123:key/abc', gcp_kms_resource_id: 'projects/test/x', pgp_fingerprint: '85D7' } });
    expect(all.sops).toEqual({ default_backend: 'awskms', aws_kms_arn: 'arn:aws:kms:us-east-1:123:key/abc', gcp_kms_resource_id: 'projects/test/x', pgp_fingerprint: '85D7' });
    const owners = valid();
    owners.namespaces.push({ name: 'payments', description: 'Payment secrets', owners: ['payments-team'] });
    expect(parse(owners).namespaces[2]?.owners).toEqual(['payments-team']);
    for (const b of ['age', 'awskms', 'gcpkms', 'azurekv', 'pgp']) expect(parse({ ...valid(), sops: { default_backend: b } }).sops.default_backend).toBe(b);
    expect(parse({ ...valid(), sops: { default_backend: 'hsm', pkcs11_uri: 'pkcs11:slot=0;label=clef' } }).sops.pkcs11_uri).toBe('pkcs11:slot=0;label=clef');
    const env = valid();
    env.environments[0] = { name: 'dev', description: 'd', recipients: [AGE, { key: AGE, label: 'alice' }] };
    env.environments[1] = { name: 'staging', description: 's', sops: { backend: 'awskms', aws_kms_arn: 'arn:aws:kms:us-east-1:123:key/abc' } };
    env.environments[2] = { name: 'production', description: 'p', recipients: [] };
    const e = parse(env);
    expect(e.environments[0]?.recipients).toEqual([AGE, { key: AGE, label: 'alice' }]);
    expect(e.environments[1]?.sops).toEqual({ backend: 'awskms', aws_kms_arn: 'arn:aws:kms:us-east-1:123:key/abc' });
    expect(e.environments[2]?.recipients).toBeUndefined();
    expect(parse({ ...valid(), sops: { default_backend: 'age', age: { recipients: [42, { key: AGE, label: 'l' }] } } }).sops.age).toEqual({ recipients: ['42', { key: AGE, label: 'l' }] });
    expect(parse(valid()).sops.age).toBeUndefined();
  });

  it('accepts DNS-safe and single-character identity names, missing descriptions, partial environments, GovCloud/China ARNs, mixed age and KMS', () => {
    const m = parse(withSi([
      { name: 'a', namespaces: ['database'], environments: { dev: { recipient: AGE } } },
      { name: 'api-gateway-2', namespaces: ['auth', 'database'], environments: {
        dev: { kms: { provider: 'aws', keyId: 'arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/abcd' } },
        staging: { kms: { provider: 'aws', keyId: 'arn:aws-cn:kms:cn-north-1:123456789012:alias/my-key' } },
        production: { recipient: AGE },
      } },
    ]));
    expect(m.service_identities?.map((s) => s.name)).toEqual(['a', 'api-gateway-2']);
    expect(m.service_identities?.[0]?.description).toBe('');
    expect(Object.keys(m.service_identities?.[0]?.environments ?? {})).toEqual(['dev']);
  });
});
