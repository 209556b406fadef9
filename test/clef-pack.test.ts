// Packing from a Clef repo: SOPS files written by the real sops, resolved for an identity
// the way `clef pack` does (namespaces in manifest order, missing files skipped, every
// top-level value as String(YAML.parse(`sops -d` output)[key])). The expected values
// come from the real sops + the yaml package, independently of our decryptor.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { packArtifact, parseClefManifest, readArtifact, resolveIdentitySecrets } from '../enclave/clef/index.ts';
import { ageKeyWrapper, ageUnwrapper, encryptSops } from '../enclave/sops/index.ts';
import { newAgeKey, runSops, scratch, type AgeKeyPair, type Scratch } from './sops-support.ts';

let s: Scratch;
let repoKey: AgeKeyPair;
let service: AgeKeyPair;
const files = new Map<string, string>();

const DB = `DB_HOST: db.internal
DB_PORT: 5432
RATIO: 1.50
ENABLED: true
EMPTY: ""
NOTHING: null
WHEN: 2024-01-02T03:04:05Z
NESTED:
    a: 1
LIST: [1, two, 3.5]
BIG: 99999999999999999999
HEX: 0x1F
`;
const AUTH = '{"JWT_SECRET": "s3cr3t", "TTL": 3600, "2": "integer-like key"}';

beforeAll(async () => {
  s = scratch();
  repoKey = await newAgeKey();
  service = await newAgeKey();
  const enc = (name: string, text: string, fmt: 'yaml' | 'json'): string => {
    const r = runSops(['encrypt', '--age', repoKey.recipient, '--input-type', fmt, '--output-type', fmt, s.write(name, text)], { cwd: s.dir });
    expect(r.status).toBe(0);
    return r.stdout;
  };
  files.set('secrets/database/prod.enc.yaml', enc('db.yaml', DB, 'yaml'));
  files.set('secrets/auth/prod.enc.json', enc('auth.json', AUTH, 'json'));
  files.set('secrets/auth/dev.enc.yaml', await encryptSops('JWT_SECRET: dev-only\n', { format: 'yaml', keys: [ageKeyWrapper(repoKey.recipient)] }));
});
afterAll(() => s.cleanup());

function manifest(pattern: string): ReturnType<typeof parseClefManifest> {
  return parseClefManifest(`version: 1
environments:
  - {name: dev, description: Dev}
  - {name: prod, description: Prod}
namespaces:
  - {name: database, description: DB}
  - {name: auth, description: Auth}
  - {name: billing, description: Billing}
sops: {default_backend: age}
file_pattern: "${pattern}"
service_identities:
  - name: api
    namespaces: [billing, auth, database]
    environments:
      prod: {recipient: ${service.recipient}}
      dev: {recipient: ${service.recipient}}
`);
}

/** What Clef computes for one file: String() of each key of YAML.parse(sops -d output). */
function clefValues(path: string): Record<string, string> {
  const fmt = path.endsWith('.json') ? 'json' : 'yaml';
  const r = runSops(['decrypt', '--input-type', fmt, '--output-type', fmt, s.write('cell', files.get(path) ?? '')], { cwd: s.dir, ageIdentities: [repoKey.identity] });
  expect(r.status).toBe(0);
  return Object.fromEntries(Object.entries(parseYaml(r.stdout) as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
}

describe('clef pack from a repo', () => {
  it('resolves values exactly as Clef would (manifest order, String semantics, missing files skipped)', async () => {
    // Mixed formats need two patterns; pack database from the .yaml pattern, auth from .json.
    const read = async (p: string): Promise<string | undefined> => files.get(p);
    const yamlSide = await resolveIdentitySecrets({ manifest: manifest('secrets/{namespace}/{environment}.enc.yaml'), identity: 'api', environment: 'prod', readFile: read, unwrapper: ageUnwrapper([repoKey.identity]) });
    expect(Object.keys(yamlSide.values)).toEqual(['database']);
    expect(yamlSide.values.database).toEqual(clefValues('secrets/database/prod.enc.yaml'));
    expect(yamlSide.values.database?.NESTED).toBe('[object Object]');
    expect(yamlSide.files.map((f) => f.path)).toEqual(['secrets/database/prod.enc.yaml']);
    expect(yamlSide.files[0]?.mac).toMatch(/^[0-9A-F]{128}$/);
    const jsonSide = await resolveIdentitySecrets({ manifest: manifest('secrets/{namespace}/{environment}.enc.json'), identity: 'api', environment: 'prod', readFile: read, unwrapper: ageUnwrapper([repoKey.identity]) });
    expect(jsonSide.values).toEqual({ auth: clefValues('secrets/auth/prod.enc.json') });
  });

  it('packs an artifact the service identity opens, with the namespaces in manifest order', async () => {
    const m = manifest('secrets/{namespace}/{environment}.enc.yaml');
    const r = await resolveIdentitySecrets({ manifest: m, identity: 'api', environment: 'dev', readFile: async (p) => files.get(p), unwrapper: ageUnwrapper([repoKey.identity]) });
    expect('recipient' in r.config && r.config.recipient).toBe(service.recipient);
    const out = await packArtifact({ identity: 'api', environment: 'dev', values: r.values, target: { recipient: service.recipient } });
    const opened = await readArtifact(out.json, { expect: { identity: 'api', environment: 'dev' }, allowUnsigned: true, ageIdentities: [service.identity] });
    expect(opened.values).toEqual({ auth: { JWT_SECRET: 'dev-only' } });
  });

  it('refuses a tampered SOPS file instead of packing it', async () => {
    const bad = (files.get('secrets/database/prod.enc.yaml') ?? '').replace('DB_PORT:', 'DB_PORTX:');
    await expect(resolveIdentitySecrets({
      manifest: manifest('secrets/{namespace}/{environment}.enc.yaml'), identity: 'api', environment: 'prod',
      readFile: async (p) => (p.includes('database') ? bad : undefined), unwrapper: ageUnwrapper([repoKey.identity]),
    })).rejects.toMatchObject({ code: 'SOPS_DECRYPT_FAILED', fileName: 'secrets/database/prod.enc.yaml', keyPath: 'DB_PORTX:' });
  });

  it('refuses multi-document files (Clef cannot parse them either)', async () => {
    const multi = await encryptSops('a: 1\n---\nb: 2\n', { format: 'yaml', keys: [ageKeyWrapper(repoKey.recipient)] });
    await expect(resolveIdentitySecrets({
      manifest: manifest('secrets/{namespace}/{environment}.enc.yaml'), identity: 'api', environment: 'prod',
      readFile: async (p) => (p.includes('database') ? multi : undefined), unwrapper: ageUnwrapper([repoKey.identity]),
    })).rejects.toMatchObject({ code: 'PACK_FAILED' });
  });
});
