// Issue 14 item 10 at the host: /metrics behind a token when configured, /v1/health does not
// open an enclave connection per call, KMS refusals reach CI as a code and a short reason
// (the role ARN and instance id stay in the host log), authorization refusals are 403.
import { afterAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { rmSync } from 'node:fs';
import { EnclaveProtocolError } from '../enclave/protocol.ts';
import type { PackHandler } from '../enclave/server.ts';
import { sha256HexOfToken } from '../host/config.ts';
import { collectGitObjects } from '../cli/pack-client/git-objects.ts';
import { makeGitRepo } from './enclave-support.ts';
import { startHarness, TOKEN_PROD, type Harness } from './host-support.ts';

const METRICS_TOKEN = 'metrics-token-0123456789';
const harnesses: Harness[] = [];
afterAll(async () => {
  for (const h of harnesses) await h.close();
});

async function harness(opts: Parameters<typeof startHarness>[0]): Promise<Harness> {
  const h = await startHarness(opts);
  harnesses.push(h);
  return h;
}

const repo = makeGitRepo({ 'clef.yaml': 'version: 1\n' });
async function pack(h: Harness): Promise<{ status: number; body: { error: { code: string; message: string; detail?: string } } }> {
  const c = await collectGitObjects({ repoDir: repo, paths: ['clef.yaml'] });
  const res = await fetch(`${h.url}/v1/pack`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN_PROD}` },
    body: JSON.stringify({
      identity: 'api-svc', environment: 'production', nonce: Buffer.alloc(32, 7).toString('base64'), commit: c.commit, objectFormat: c.objectFormat,
      objects: c.objects.map((o) => Buffer.from(o).toString('base64')),
    }),
  });
  return { status: res.status, body: (await res.json()) as { error: { code: string; message: string; detail?: string } } };
}

describe('host hardening', () => {
  it('/metrics needs the metrics bearer token when one is configured', async () => {
    const h = await harness({ extraConfig: `metrics: { tokenSha256: ${sha256HexOfToken(METRICS_TOKEN)} }` });
    expect((await fetch(`${h.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${h.url}/metrics`, { headers: { authorization: 'Bearer wrong-token' } })).status).toBe(401);
    const ok = await fetch(`${h.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('attested_pack_http_requests_total');
  });

  it('/v1/health reuses one enclave probe instead of opening a connection per call', async () => {
    const h = await harness({ noEnclave: true, extraConfig: 'healthCacheMs: 600000' });
    rmSync(h.enclaveSocket, { force: true });
    let connections = 0;
    const fake = net.createServer((s) => {
      connections += 1;
      s.destroy();
    });
    await new Promise<void>((r) => fake.listen(h.enclaveSocket, r));
    try {
      for (let i = 0; i < 20; i++) {
        const r = await fetch(`${h.url}/v1/health`);
        expect(r.status).toBe(200);
      }
      expect(connections).toBe(1);
    } finally {
      await new Promise<void>((r) => fake.close(() => r()));
    }
  });

  it("KMS refusals reach CI as a code and a short reason; the role ARN stays in the host log", async () => {
    const reason = 'User: arn:aws:sts::111122223333:assumed-role/attested-pack-enclave/i-0abc is not authorized to perform: kms:Decrypt';
    const handler: PackHandler = async () => {
      throw new EnclaveProtocolError('PACK_REFUSED', `secrets/a.enc.yaml: none of the file's master keys could be opened (${reason})`, 'SOPS_NO_DATA_KEY');
    };
    const h = await harness({ handler });
    const r = await pack(h);
    expect(r.body.error).toMatchObject({ code: 'PACK_REFUSED', detail: 'SOPS_NO_DATA_KEY' });
    expect(r.body.error.message).not.toContain('arn:aws');
    expect(r.body.error.message).not.toContain('i-0abc');
    expect(h.logs.join('')).toContain('i-0abc');
  });

  it('authorization refusals by the enclave are 403 with the authz code as detail', async () => {
    const handler: PackHandler = async () => {
      throw new EnclaveProtocolError('PACK_REFUSED', 'the OIDC token names another request', 'OIDC_REQUEST_MISMATCH');
    };
    const h = await harness({ handler });
    const r = await pack(h);
    expect(r.status).toBe(403);
    expect(r.body.error).toMatchObject({ code: 'PACK_REFUSED', detail: 'OIDC_REQUEST_MISMATCH' });
  });
});
