// Found by an outside review: findIdentity looks a service identity's environment up on a plain `{}`, so the
// Clef/trust-policy-valid environment name "constructor" (matches /^[a-z][a-z0-9_-]*$/ and
// the trust policy's CLEF_NAME) resolves to Object.prototype.constructor instead of
// ENVIRONMENT_NOT_FOUND. The pack then decrypts the namespace files and crashes with a
// TypeError in sealArtifact (target.kms is undefined) instead of a stable refusal.
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { findIdentity, identityCells, parseClefManifest } from '../enclave/clef/manifest.ts';

const AGE = 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p';
const manifest = parseClefManifest(stringify({
  version: 1,
  environments: [
    { name: 'dev', description: 'd' },
    { name: 'constructor', description: 'an environment the identity does not cover' },
  ],
  namespaces: [{ name: 'database', description: 'db' }],
  sops: { default_backend: 'age' },
  file_pattern: '{namespace}/{environment}.enc.yaml',
  service_identities: [{ name: 'api', namespaces: ['database'], environments: { dev: { recipient: AGE } } }],
}));

describe('prototype lookup of a service identity environment', () => {
  it('an environment the identity does not configure is ENVIRONMENT_NOT_FOUND, whatever its name', () => {
    expect(() => findIdentity(manifest, 'api', 'constructor')).toThrow(/not found/);
  });
  it('identityCells refuses it too (it would otherwise hand the pack cells to decrypt)', () => {
    expect(() => identityCells(manifest, 'api', 'constructor')).toThrow(/not found/);
  });
});
