// The demo's CI side, SIMULATED: a GitHub-shaped OIDC issuer (HTTPS with its own throw-away
// CA), the runner's token service, and the DEVELOPMENT trust policy that trusts exactly that
// issuer for the sample repository's main branch — one SOPS key per environment.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startOidcIssuer, type SimulatedOidcIssuer } from '../../simulator/oidc-issuer.ts';
import { DEFAULT_GITHUB_JOB } from '../../simulator/oidc-claims.ts';
import { startRunnerTokenService, type RunnerTokenService } from '../../simulator/runner-token-service.ts';
import { developmentTrustPolicyJson } from '../../simulator/dev-trust-policy.ts';
import type { DemoContext } from './context.ts';
import type { DemoKms } from './kms.ts';

export const DEMO_REPOSITORY = DEFAULT_GITHUB_JOB.repository;
export const DEMO_WORKFLOW_REF = DEFAULT_GITHUB_JOB.job_workflow_ref;

export interface DemoCi {
  issuer: SimulatedOidcIssuer;
  runner: RunnerTokenService;
  trustPolicyFile: string;
  close(): Promise<void>;
}

export async function startDemoCi(ctx: DemoContext, kms: DemoKms): Promise<DemoCi> {
  const issuer = await startOidcIssuer();
  const runner = await startRunnerTokenService(issuer);
  const trustPolicyFile = join(ctx.dir, 'trust-policy.json');
  const json = developmentTrustPolicyJson(issuer, [
    {
      name: DEMO_REPOSITORY,
      repositoryId: DEFAULT_GITHUB_JOB.repository_id,
      repositoryOwnerId: DEFAULT_GITHUB_JOB.repository_owner_id,
      environments: {
        production: { refs: ['refs/heads/main'], kmsKeyArns: [kms.keys.sopsProduction], maxCommitAgeSeconds: 90 * 24 * 3600 },
        staging: { refs: ['refs/heads/main'], kmsKeyArns: [kms.keys.sopsStaging] },
      },
    },
  ]);
  writeFileSync(trustPolicyFile, json);
  return {
    issuer,
    runner,
    trustPolicyFile,
    async close() {
      await runner.close();
      await issuer.close();
    },
  };
}

/** The runner is now in a job of the sample repository at `commit` on `ref`. */
export function ciJob(ci: DemoCi, commit: string, ref = 'refs/heads/main', extra: Record<string, string> = {}): void {
  ci.runner.setJob({ sha: commit, workflow_sha: commit, job_workflow_sha: commit, ref, ...extra });
}
