// The demo's enclave (SIMULATED NSM, the image's own trust policy) and host, each its own
// process; the host's egress allowlist reaches only the KMS emulator and the CI issuer.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { sha256HexOfToken } from '../../host/config.ts';
import { SIMULATED_OIDC_HOST } from '../../simulator/oidc-issuer.ts';
import { DemoFailure, REGION, type DemoContext } from './context.ts';
import type { DemoCi } from './ci.ts';
import type { DemoKms } from './kms.ts';
import { DEMO_IDENTITY } from './sample-repo.ts';

export interface DemoServices {
  hostUrl: string;
  hostToken: string;
  egressSocket: string;
  enclaveSocket: string;
  enclaveArgs(socket: string, manifestPath: string): string[];
}

export async function startServices(ctx: DemoContext, opts: { kms: DemoKms; ci: DemoCi; manifestPath: string; caDir: string; rootFile: string }): Promise<DemoServices> {
  const egressSocket = join(ctx.dir, 'egress.sock');
  const enclaveSocket = join(ctx.dir, 'enclave.sock');
  const enclaveArgs = (socket: string, manifestPath: string) => [
    'enclave', '--socket', socket, '--nsm', 'simulated', '--manifest', manifestPath, '--ca-dir', opts.caDir, '--root-dir', ctx.dir,
    '--tunnel', egressSocket, '--kms-ca', opts.kms.caFile, '--trust-policy', opts.ci.trustPolicyFile,
  ];
  await ctx.procs.start('enclave', enclaveArgs(enclaveSocket, opts.manifestPath));
  const hostToken = randomBytes(24).toString('base64url');
  const hostConfig = {
    listen: { host: '127.0.0.1', port: 0 },
    enclave: { socketPath: enclaveSocket },
    region: REGION,
    manifest: opts.manifestPath,
    attestationRoot: opts.rootFile,
    auth: { tokens: [{ name: 'demo-ci', sha256: sha256HexOfToken(hostToken), identities: [DEMO_IDENTITY], environments: ['*'] }] },
    egress: {
      socketPath: egressSocket,
      allow: [`kms.${REGION}.amazonaws.com:443=127.0.0.1:${opts.kms.port}`, `${SIMULATED_OIDC_HOST}:443=127.0.0.1:${opts.ci.issuer.port}`],
    },
    receiptStore: { dir: join(ctx.dir, 'receipts') },
    credentials: { source: 'static', accessKeyId: opts.kms.principals.enclaveRole.accessKeyId, secretAccessKey: opts.kms.principals.enclaveRole.secretAccessKey, sessionToken: opts.kms.principals.enclaveRole.sessionToken },
    logLevel: 'warn',
  };
  const hostConfigFile = join(ctx.dir, 'host-config.json');
  writeFileSync(hostConfigFile, JSON.stringify(hostConfig, null, 2), { mode: 0o600 });
  const host = await ctx.procs.start('host', ['host', '--config', hostConfigFile]);
  const hostUrl = String(host.info.address);
  const ready = await fetch(`${hostUrl}/v1/ready`);
  if (ready.status !== 200) throw new DemoFailure(`host is not ready: ${JSON.stringify(await ready.json())}`);
  return { hostUrl, hostToken, egressSocket, enclaveSocket, enclaveArgs };
}
