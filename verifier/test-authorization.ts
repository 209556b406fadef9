// Test-only: a GitHub-Actions-shaped receipt authorization for statements built in tests
// (not shipped: package.json "files" leaves it out).
import type { ReceiptAuthorization } from './statement.ts';

export function sampleReceiptAuthorization(commit: string, repository = 'example/secrets', over: Partial<ReceiptAuthorization> = {}): ReceiptAuthorization {
  return {
    method: 'oidc',
    development: false,
    trustPolicySha384: '7'.repeat(96),
    issuer: 'https://token.actions.githubusercontent.com',
    repository,
    repositoryId: '123456789',
    repositoryOwnerId: '987654',
    ref: 'refs/heads/main',
    sha: commit,
    event: 'push',
    workflowRef: `${repository}/.github/workflows/deploy.yml@refs/heads/main`,
    workflowSha: commit.length === 40 ? commit : commit.slice(0, 40),
    jobWorkflowRef: `${repository}/.github/workflows/deploy.yml@refs/heads/main`,
    jobWorkflowSha: commit.length === 40 ? commit : commit.slice(0, 40),
    runId: '4242',
    runAttempt: 1,
    actor: 'octocat',
    deploymentEnvironment: 'production',
    runnerEnvironment: 'github-hosted',
    issuedAt: 1_795_402_700,
    committerTime: 1_795_402_000,
    signerFingerprint: null,
    ...over,
  };
}

export const NO_PACK_OPTIONS = { signingKeyArn: null, ttlSeconds: null, bindEncryptionContext: false } as const;
