// clef.yaml: Clef's parser rules (packages/core/src/manifest/parser.ts and its tests),
// with the line of the offending node in every refusal, and the file matrix.
import { describe, expect, it } from 'vitest';
import { ClefError, identityCells, manifestMatrix, parseClefManifest } from '../enclave/clef/index.ts';

const AGE = 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p';
const ARN = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';

const VALID = `version: 1
environments:
  - name: dev
    description: Local development
  - name: production
    description: Live system
    protected: true
namespaces:
  - name: database
    description: Database config
    schema: schemas/database.yaml
  - name: auth
    description: Auth secrets
sops:
  default_backend: age
  age:
    recipients:
      - ${AGE}
file_pattern: secrets/{namespace}/{environment}.enc.yaml
service_identities:
  - name: api-gateway
    description: API
    namespaces: [auth, database]
    environments:
      dev:
        recipient: ${AGE}
      production:
        kms:
          provider: aws
          keyId: ${ARN}
`;

function refusal(text: string): ClefError {
  try {
    parseClefManifest(text);
  } catch (e) {
    expect(e).toBeInstanceOf(ClefError);
    expect((e as ClefError).code).toBe('MANIFEST_INVALID');
    return e as ClefError;
  }
  throw new Error('manifest was accepted');
}

describe('clef.yaml', () => {
  it('parses a valid manifest as Clef does', () => {
    const m = parseClefManifest(VALID);
    expect(m.environments.map((e) => e.name)).toEqual(['dev', 'production']);
    expect(m.environments[1]?.protected).toBe(true);
    expect(m.namespaces[0]).toEqual({ name: 'database', description: 'Database config', schema: 'schemas/database.yaml' });
    expect(m.sops).toEqual({ default_backend: 'age', age: { recipients: [AGE] } });
    expect(m.service_identities?.[0]).toEqual({
      name: 'api-gateway',
      description: 'API',
      namespaces: ['auth', 'database'],
      environments: { dev: { recipient: AGE }, production: { kms: { provider: 'aws', keyId: ARN } } },
    });
  });

  it('builds the matrix in manifest order and the identity cells in manifest (not identity) order', () => {
    const m = parseClefManifest(VALID);
    expect(manifestMatrix(m).map((c) => c.path)).toEqual([
      'secrets/database/dev.enc.yaml', 'secrets/database/production.enc.yaml',
      'secrets/auth/dev.enc.yaml', 'secrets/auth/production.enc.yaml',
    ]);
    expect(identityCells(m, 'api-gateway', 'production').map((c) => c.namespace)).toEqual(['database', 'auth']);
    expect(() => identityCells(m, 'nobody', 'dev')).toThrow(expect.objectContaining({ code: 'IDENTITY_NOT_FOUND' }));
    const noProd = parseClefManifest(VALID.replace(/ {6}production:\n {8}kms:\n {10}provider: aws\n {10}keyId: .*\n/, ''));
    expect(() => identityCells(noProd, 'api-gateway', 'production')).toThrow(expect.objectContaining({ code: 'ENVIRONMENT_NOT_FOUND' }));
  });

  it('replaces only the first {namespace}/{environment} in file_pattern, as Clef does', () => {
    const m = parseClefManifest(VALID.replace('file_pattern: secrets/{namespace}/{environment}.enc.yaml', 'file_pattern: "{namespace}/{environment}/{namespace}.yaml"'));
    expect(manifestMatrix(m)[0]?.path).toBe('database/dev/{namespace}.yaml');
  });

  const cases: Array<[string, string, RegExp, number]> = [
    ['unknown top-level key', `${VALID}extra: 1\n`, /Unknown top-level key 'extra'/, 31],
    ['wrong version', VALID.replace('version: 1', 'version: 2'), /'version' must be 1/, 1],
    ['bad environment name', VALID.replace('name: dev', 'name: Dev'), /Environment name 'Dev' is invalid/, 3],
    ['duplicate environment', VALID.replace('name: production\n    description: Live', 'name: dev\n    description: Live'), /Duplicate environment name 'dev'/, 5],
    ['missing namespace description', VALID.replace('    description: Auth secrets\n', ''), /Namespace 'auth' is missing a 'description'/, 12],
    ['bad default backend', VALID.replace('default_backend: age', 'default_backend: vault'), /sops.default_backend/, 15],
    ['file_pattern without {environment}', VALID.replace('{environment}.enc.yaml', 'x.enc.yaml'), /must contain '\{environment\}'/, 19],
    ['bad identity name', VALID.replace('name: api-gateway', 'name: API_gw'), /has an invalid name/, 21],
    ['unknown namespace on identity', VALID.replace('[auth, database]', '[auth, billing]'), /unknown namespace 'billing'/, 23],
    ['recipient and kms together', VALID.replace(`        recipient: ${AGE}\n`, `        recipient: ${AGE}\n        kms: {provider: aws, keyId: "${ARN}"}\n`), /mutually exclusive/, 26],
    ['bad age recipient', VALID.replace(`        recipient: ${AGE}`, '        recipient: age1BAD!'), /age public key|Invalid character/, 26],
    ['bare key id for aws', VALID.replace(`keyId: ${ARN}`, 'keyId: 1234abcd'), /not a valid AWS KMS ARN/, 30],
    ['kms.region present', VALID.replace(`keyId: ${ARN}`, `keyId: ${ARN}\n          region: eu-west-1`), /kms.region is no longer accepted/, 31],
    ['per-env recipients with a KMS backend', VALID.replace('    protected: true\n', `    protected: true\n    sops: {backend: awskms, aws_kms_arn: "${ARN}"}\n    recipients: [${AGE}]\n`), /Per-environment recipients are only supported/, 9],
    ['invalid YAML', 'version: 1\nenvironments: [\n', /invalid YAML/, 3],
    ['duplicate keys', 'version: 1\nversion: 1\n', /invalid YAML/, 2],
  ];
  for (const [name, text, msg, line] of cases) {
    it(`refuses: ${name} (with its line)`, () => {
      const e = refusal(text);
      expect(e.message).toMatch(msg);
      expect(e.line).toBe(line);
    });
  }

  it('refuses non-maps, missing sections and alias bombs', () => {
    expect(refusal('just a string').message).toMatch(/must be a YAML object/);
    expect(refusal('version: 1\n').message).toMatch(/Missing required field 'environments'/);
    const bomb = ['a: &a [x,x,x,x,x,x,x,x,x]'];
    for (let i = 0; i < 9; i++) bomb.push(`${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9).fill(`*${String.fromCharCode(97 + i)}`).join(',')}]`);
    expect(refusal(bomb.join('\n')).message).toMatch(/cannot be read|alias/i);
  });
});
