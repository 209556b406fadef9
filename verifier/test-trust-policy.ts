// TEST SUPPORT only (never imported by the verifier; excluded from the package like
// test-documents.ts): a fixed test CA, a non-CA certificate, SSH keys, and a valid trust
// policy value that tests mutate. The certificates were made once with openssl (P-256,
// valid until 2126) and are only ever parsed, never used to sign anything.
import type { TrustPolicy } from './trust-policy.ts';

export const TEST_CA_PEM = `
-----BEGIN CERTIFICATE-----
MIIBlzCCAT2gAwIBAgIUIayF9OlAvKr/X85soHtqd6eHt7swCgYIKoZIzj0EAwIw
IDEeMBwGA1UEAwwVYXR0ZXN0ZWQtcGFjayB0ZXN0IENBMCAXDTI2MTIwNTE2MDYz
N1oYDzIxMjYxMTExMTYwNjM3WjAgMR4wHAYDVQQDDBVhdHRlc3RlZC1wYWNrIHRl
c3QgQ0EwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAR9iqNGQzOzo54TBUTwvbDE
FRxWnDo91nKwP0Gtd3V4/5D+ligDabMrFnMZdV/Peu73ULcVxXA3j9ZV0TjG9Rrc
o1MwUTAdBgNVHQ4EFgQU7guqrrtgCbp5k9raWhcbV8zl/wAwHwYDVR0jBBgwFoAU
7guqrrtgCbp5k9raWhcbV8zl/wAwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQD
AgNIADBFAiEAsNq7izgf22yGEyaZxsZx4Et71P37OxkykbiX25GpmVsCID+6qcy1
+ajd+wAZG89igEcXVSrmS+9DVxIXFC1MfcUd
-----END CERTIFICATE-----
`.trimStart();

export const NOT_CA_PEM = `
-----BEGIN CERTIFICATE-----
MIIBejCCASCgAwIBAgIUTvx+hR3Hg1QfE9hWN7cdMkGMMgwwCgYIKoZIzj0EAwIw
EzERMA8GA1UEAwwIbm90IGEgQ0EwIBcNMjYxMjA1MTYwNjM4WhgPMjEyNjExMTEx
NjA2MzhaMBMxETAPBgNVBAMMCG5vdCBhIENBMFkwEwYHKoZIzj0CAQYIKoZIzj0D
AQcDQgAEqH/XtrKYfgD+6soiOgNW6Rj6kEwHNJX9guhk6Tr3i5prQvhEnGRkXFwd
r/OP5kbz7rfCyoiVji/Bh2xLiqeaNqNQME4wHQYDVR0OBBYEFGaLJMbODh6vlH6Q
E62XsjbJ3WWFMB8GA1UdIwQYMBaAFGaLJMbODh6vlH6QE62XsjbJ3WWFMAwGA1Ud
EwEB/wQCMAAwCgYIKoZIzj0EAwIDSAAwRQIhAIoKs0aCWU40xiQosBl4MFMCh23p
2f5bg7xhx2u2b/EyAiB5aolMTcrYrJiAdhZzzUBeenGgMvGgxly2yoDTVnBuWw==
-----END CERTIFICATE-----
`;

export const TEST_SSH_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICaqVmLoRTM4KOFqnxvOnAhFyhLk9RHqIkOj0Q7R5CxT';
export const TEST_SSH_KEY_2 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEEES0SC1LMoqPr6r3d7x99t0ZHVZIhsnj6nn0n01cqU';
export const PROD_KEY_ARN = 'arn:aws:kms:eu-west-1:111122223333:key/11111111-2222-3333-4444-555555555555';
export const DEV_KEY_ARN = 'arn:aws:kms:eu-west-1:111122223333:key/mrk-0123456789abcdef0123456789abcdef';

/** A fresh, valid (non-development) policy as a plain JSON value: one GitHub and one GitLab repository. */
export function samplePolicyValue(): Record<string, any> {
  return {
    version: 1,
    development: false,
    issuers: [
      {
        id: 'github',
        kind: 'github',
        issuer: 'https://token.actions.githubusercontent.com',
        audience: 'attested-pack',
        algorithms: ['RS256'],
        jwksUrl: 'https://token.actions.githubusercontent.com/.well-known/jwks',
        caBundlePem: TEST_CA_PEM,
        maxTokenLifetimeSeconds: 3600,
        clockSkewSeconds: 60,
        jwksMaxAgeSeconds: 3600,
      },
      {
        id: 'gitlab',
        kind: 'gitlab',
        issuer: 'https://gitlab.example.com',
        audience: 'attested-pack',
        algorithms: ['RS256', 'ES256'],
        jwksUrl: 'https://gitlab.example.com/oauth/discovery/keys',
        caBundlePem: TEST_CA_PEM,
        maxTokenLifetimeSeconds: 7200,
        clockSkewSeconds: 30,
        jwksMaxAgeSeconds: 600,
      },
    ],
    repositories: [
      {
        name: 'org/app',
        issuer: 'github',
        github: { repositoryId: '123456', repositoryOwnerId: '7890' },
        environments: {
          production: {
            refs: ['refs/heads/main'],
            requireGithubHostedRunner: true,
            maxRunAttempt: 3,
            maxCommitAgeSeconds: 2592000,
            kmsKeyArns: [PROD_KEY_ARN],
          },
          dev: { refs: ['refs/heads/main', 'refs/heads/develop'], kmsKeyArns: [DEV_KEY_ARN] },
        },
      },
      {
        name: 'group/sub/app',
        issuer: 'gitlab',
        gitlab: { projectId: '42', namespaceId: '99' },
        environments: { production: { refs: ['refs/heads/main'], kmsKeyArns: [PROD_KEY_ARN] } },
      },
    ],
  };
}

/** The sample as a development policy with one SSH signer (signers are development-only). */
export function withSigner(p: Record<string, any>): Record<string, any> {
  p.development = true;
  p.repositories[0].sshSigners = [{ publicKey: `${TEST_SSH_KEY} release-bot`, identities: ['web'], environments: ['dev'] }];
  return p;
}

export function samplePolicyBytes(mutate?: (p: Record<string, any>) => void): Uint8Array {
  const p = samplePolicyValue();
  mutate?.(p);
  return new TextEncoder().encode(JSON.stringify(p, null, 2));
}

export type { TrustPolicy };
