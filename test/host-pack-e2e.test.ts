// The whole chain on one machine, through the public entry points: `attested-pack pack`
// (CI) → host API (auth, credentials hand-off) → enclave server with the real pack handler
// and a simulated NSM → tunnel → host egress proxy → KMS emulator whose key policies pin
// the image's PCRs. The receipt is verified by the CLI; every byte the egress proxy relayed
// is checked for plaintext. A different image is refused by KMS.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { execFileSync } from 'node:child_process';
import { runMain } from './enclave-support.ts';
import { startRunnerTokenService, type RunnerTokenService } from '../simulator/runner-token-service.ts';
import { parseHostConfig, sha256HexOfToken } from '../host/config.ts';
import { hostLogger, startHost, type RunningHost } from '../host/service.ts';
import { ENCLAVE_ROLE } from './kms-harness.ts';
import { SAMPLE_SECRETS, fakeManifest, startPackWorld, type PackWorld } from './pack-world.ts';

const TOKEN = 'e2e-token-0123456789abcdef';
let world: PackWorld;
let host: RunningHost;
let runner: RunnerTokenService;
let dir: string;
const logs: string[] = [];

beforeAll(async () => {
  world = await startPackWorld({ objectFormat: 'sha256' });
  await world.startEnclave();
  runner = await startRunnerTokenService(world.issuer);
  dir = mkdtempSync(join(tmpdir(), 'ap-e2e-'));
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(world.manifest));
  writeFileSync(join(dir, 'root.pem'), world.ca.rootPem);
  const config = parseHostConfig(
    `listen: { host: 127.0.0.1, port: 0 }
enclave: { socketPath: ${world.socketPath} }
region: eu-west-1
manifest: manifest.json
attestationRoot: root.pem
credentials: { source: static, accessKeyId: ${ENCLAVE_ROLE.accessKeyId}, secretAccessKey: ${ENCLAVE_ROLE.secretAccessKey}, sessionToken: ${ENCLAVE_ROLE.sessionToken} }
auth:
  tokens: [{ name: ci, sha256: ${sha256HexOfToken(TOKEN)}, identities: [payments-api], environments: [production] }]
`,
    dir,
  );
  const sink = new Writable({
    write(c: Buffer, _e, cb) {
      logs.push(c.toString());
      cb();
    },
  });
  host = await startHost(config, { logger: hostLogger('debug', sink) });
}, 120_000);

afterAll(async () => {
  await host?.close();
  await runner?.close();
  await world?.close();
});

/** CI in a GitHub Actions job on main: the runner's token service mints from the world's issuer. */
const pack = async (out: string) => {
  const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: world.repoDir, encoding: 'utf8' }).trim();
  runner.setJob({ sha: head, workflow_sha: head, job_workflow_sha: head });
  return runMain(
    ['pack', '--host', host.address, '--identity', 'payments-api', '--env', 'production', '--manifest', join(dir, 'manifest.json'), '--root', join(dir, 'root.pem'), '--out', out, '--github-oidc', '--json'],
    { cwd: world.repoDir, env: { ATTESTED_PACK_TOKEN: TOKEN, ...runner.env() } },
  );
};

describe('CI → host → enclave → KMS, end to end', () => {
  it('packs a Clef artifact with a verified receipt; no plaintext crosses the host', async () => {
    const out = mkdtempSync(join(tmpdir(), 'ap-e2e-out-'));
    const r = await pack(out);
    expect(r.err).not.toContain('refused');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ ok: true, identity: 'payments-api', environment: 'production', objectFormat: 'sha256', trust: 'simulated' });
    const artifact = JSON.parse(readFileSync(join(out, 'artifact.json'), 'utf8')) as Record<string, unknown>;
    expect(artifact).toMatchObject({ version: 1, identity: 'payments-api', environment: 'production' });
    expect(artifact.envelope).toBeDefined();

    const relayed = Buffer.concat(world.relayed);
    expect(relayed.length).toBeGreaterThan(1000);
    const everything = Buffer.concat([relayed, Buffer.from(logs.join(''))]);
    for (const values of Object.values(SAMPLE_SECRETS)) {
      for (const v of Object.values(values)) {
        if (typeof v !== 'string') continue;
        expect(everything.includes(Buffer.from(v))).toBe(false);
        expect(everything.includes(Buffer.from(Buffer.from(v).toString('base64')))).toBe(false);
      }
    }
    expect(logs.join('')).not.toContain(ENCLAVE_ROLE.secretAccessKey);
  });

  it('an enclave running another image is refused by KMS; the CI client exits 1', async () => {
    await world.startEnclave(fakeManifest('image-b'));
    try {
      const r = await pack(mkdtempSync(join(tmpdir(), 'ap-e2e-out-')));
      expect(r.code).toBe(1);
      const summary = JSON.parse(r.out) as { status: number; code: string };
      expect(summary).toMatchObject({ ok: false, status: 422, code: 'PACK_REFUSED', detail: 'SOPS_NO_DATA_KEY' });
      // CI gets the code and a short reason; KMS's wording (role ARN, instance) stays in the host log.
      expect(r.err).not.toContain('explicit deny');
      expect(r.err).not.toContain('arn:aws:sts');
      expect(logs.join('')).toContain('explicit deny');
    } finally {
      await world.startEnclave();
    }
  });
});
