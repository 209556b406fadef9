// The demo's SIMULATED AWS KMS: the emulator as its own process, the principals it knows,
// and the four keys (each environment's SOPS key, the artifact envelope key, the signing key).
import { readFileSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { join } from 'node:path';
import { CreateKeyCommand, KMSClient, PutKeyPolicyCommand } from '@aws-sdk/client-kms';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { ACCOUNT, REGION, principal, type DemoContext, type DemoPrincipal } from './context.ts';

export interface DemoKms {
  endpoint: string;
  caFile: string;
  port: number;
  principals: { admin: DemoPrincipal; enclaveRole: DemoPrincipal; editor: DemoPrincipal; runtime: DemoPrincipal };
  runtimeRoleArn: string;
  keys: { sopsProduction: string; sopsStaging: string; envelope: string; signing: string };
  client(p: DemoPrincipal): KMSClient;
}

export type KeyPolicies = Record<'sops' | 'envelope' | 'signing', unknown>;

export async function startDemoKms(ctx: DemoContext, rootFile: string): Promise<DemoKms> {
  const principals = {
    admin: principal('AKIA', `arn:aws:iam::${ACCOUNT}:user/key-admin`),
    enclaveRole: principal('ASIA', `arn:aws:sts::${ACCOUNT}:assumed-role/attested-pack-enclave/i-0123456789abcdef0`, true),
    editor: principal('AKIA', `arn:aws:iam::${ACCOUNT}:user/secrets-editor`),
    runtime: principal('ASIA', `arn:aws:sts::${ACCOUNT}:assumed-role/payments-api-runtime/task-1`, true),
  };
  const principalsFile = join(ctx.dir, 'kms-principals.json');
  writeFileSync(principalsFile, JSON.stringify(Object.values(principals), null, 2), { mode: 0o600 });
  const kms = await ctx.procs.start('kms-emulator', [
    'kms-emulator', '--state', join(ctx.dir, 'kms'), '--principals', principalsFile, '--attestation-root', rootFile, '--region', REGION, '--account', ACCOUNT,
    '--cloudtrail-dir', join(ctx.dir, 'cloudtrail'),
  ]);
  const endpoint = String(kms.info.endpoint);
  const caFile = String(kms.info.caFile);
  const client = (p: DemoPrincipal): KMSClient => {
    const c = new KMSClient({
      endpoint,
      region: REGION,
      credentials: { accessKeyId: p.accessKeyId, secretAccessKey: p.secretAccessKey, ...(p.sessionToken === undefined ? {} : { sessionToken: p.sessionToken }) },
      requestHandler: new NodeHttpHandler({ httpsAgent: new Agent({ ca: readFileSync(caFile, 'utf8') }) }),
    });
    ctx.clients.push(c);
    return c;
  };
  const admin = client(principals.admin);
  const createKey = async (description: string, sign: boolean): Promise<string> =>
    String((await admin.send(new CreateKeyCommand({ Description: description, ...(sign ? { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' } : {}) }))).KeyMetadata?.Arn);
  const keys = {
    sopsProduction: await createKey('SOPS data keys, production', false),
    sopsStaging: await createKey('SOPS data keys, staging', false),
    envelope: await createKey('artifact envelope', false),
    signing: await createKey('artifact signing', true),
  };
  return { endpoint, caFile, port: Number(new URL(endpoint).port), principals, runtimeRoleArn: `arn:aws:iam::${ACCOUNT}:role/payments-api-runtime`, keys, client };
}

/** Apply the generated policies: both SOPS keys get the sops policy (attestation-pinned). */
export async function applyKeyPolicies(kms: DemoKms, policies: KeyPolicies): Promise<Array<[string, string]>> {
  const admin = kms.client(kms.principals.admin);
  const plan: Array<[string, string, unknown]> = [
    ['sops (production)', kms.keys.sopsProduction, policies.sops],
    ['sops (staging)', kms.keys.sopsStaging, policies.sops],
    ['envelope', kms.keys.envelope, policies.envelope],
    ['signing', kms.keys.signing, policies.signing],
  ];
  for (const [, arn, policy] of plan) await admin.send(new PutKeyPolicyCommand({ KeyId: arn, PolicyName: 'default', Policy: JSON.stringify(policy) }));
  return plan.map(([name, arn]) => [name, arn]);
}
