// DEVELOPMENT trust policies for the simulated world (demo, tests, benchmarks): they trust
// only the SIMULATED OIDC issuer, by its own throw-away CA, and say so (`development: true`),
// which the build manifest, describe, the receipt and `verify receipt` print loudly and
// run-enclave refuses on a real Nitro host. Also the matching `.attested-pack.yaml`.
import { canonicalTrustPolicyBytes, parseTrustPolicy } from '../verifier/trust-policy.ts';

export interface DevIssuer {
  issuerUrl: string;
  jwksUrl: string;
  caPem: string;
}

export interface DevRepository {
  name: string;
  repositoryId: string;
  repositoryOwnerId: string;
  /** Clef environment → exact refs and the SOPS key ARNs its files may use. */
  environments: Record<string, { refs: string[]; kmsKeyArns: string[]; maxCommitAgeSeconds?: number; maxRunAttempt?: number }>;
}

export const DEV_AUDIENCE = 'attested-pack';
export const DEV_ISSUER_ID = 'simulated-github';

/** The policy as JSON text (what a user would write), development: true. */
export function developmentTrustPolicyJson(issuer: DevIssuer, repositories: readonly DevRepository[]): string {
  return `${JSON.stringify(
    {
      version: 1,
      development: true,
      issuers: [
        {
          id: DEV_ISSUER_ID,
          kind: 'github',
          issuer: issuer.issuerUrl,
          audience: DEV_AUDIENCE,
          algorithms: ['RS256'],
          jwksUrl: issuer.jwksUrl,
          caBundlePem: issuer.caPem,
          maxTokenLifetimeSeconds: 600,
          clockSkewSeconds: 60,
          jwksMaxAgeSeconds: 300,
        },
      ],
      repositories: repositories.map((r) => ({
        name: r.name,
        issuer: DEV_ISSUER_ID,
        github: { repositoryId: r.repositoryId, repositoryOwnerId: r.repositoryOwnerId },
        environments: Object.fromEntries(
          Object.entries(r.environments).map(([env, e]) => [
            env,
            {
              refs: e.refs,
              kmsKeyArns: e.kmsKeyArns,
              maxRunAttempt: e.maxRunAttempt ?? 3,
              ...(e.maxCommitAgeSeconds === undefined ? {} : { maxCommitAgeSeconds: e.maxCommitAgeSeconds }),
            },
          ]),
        ),
      })),
    },
    null,
    2,
  )}\n`;
}

/** Canonical bytes, as `attested-pack build --trust-policy` measures them into the image. */
export function developmentTrustPolicyBytes(issuer: DevIssuer, repositories: readonly DevRepository[]): Uint8Array {
  return canonicalTrustPolicyBytes(parseTrustPolicy(new TextEncoder().encode(developmentTrustPolicyJson(issuer, repositories))));
}

/** `.attested-pack.yaml` allowing `workflowRef` to pack each identity in each environment. */
export function repoRulesYaml(rules: Record<string, Record<string, { jobWorkflowRefs: string[]; deploymentEnvironments?: string[] }>>): string {
  const lines = ['version: 1', 'identities:'];
  for (const [identity, envs] of Object.entries(rules)) {
    lines.push(`  ${identity}:`);
    for (const [env, r] of Object.entries(envs)) {
      lines.push(`    ${env}:`, `      jobWorkflowRefs: [${r.jobWorkflowRefs.map((w) => JSON.stringify(w)).join(', ')}]`);
      if (r.deploymentEnvironments !== undefined) lines.push(`      deploymentEnvironments: [${r.deploymentEnvironments.map((d) => JSON.stringify(d)).join(', ')}]`);
    }
  }
  return `${lines.join('\n')}\n`;
}
