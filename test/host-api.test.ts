// The host's HTTP API end to end against a real enclave server on a Unix socket: auth,
// scopes, limits (413/429/503/504), readiness with real simulated attestation documents,
// metrics, and logs that never carry secrets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectGitObjects } from '../cli/pack-client/git-objects.ts';
import type { PackHandler, PackInput } from '../enclave/server.ts';
import { CredentialsError } from '../host/credentials.ts';
import { git, makeGitRepo, makeTlsMaterial } from './enclave-support.ts';
import { TOKEN_DEV, TOKEN_PROD, caNsm, startHarness, type Harness } from './host-support.ts';

const repo = makeGitRepo({ 'clef.yaml': 'version: 1\n', 'secrets/api/dev.enc.yaml': 'k: v\n' });
const received: PackInput[] = [];
const handler: PackHandler = async (input, ctx) => {
  received.push(input);
  if (input.options.mode === 'hang') await new Promise<void>((r) => ctx.signal.addEventListener('abort', () => r()));
  if (input.options.mode === 'slow') await new Promise((r) => setTimeout(r, 400));
  const f = input.tree.readFile('clef.yaml');
  return { artifact: Buffer.from(`artifact:${f?.id}`), receipt: Buffer.from(`receipt:${Buffer.from(input.nonce).toString('hex')}`) };
};

async function packBody(options: Record<string, string> = {}, environment = 'dev') {
  const c = await collectGitObjects({ repoDir: repo, paths: ['clef.yaml'] });
  return {
    identity: 'api-svc',
    environment,
    nonce: randomBytes(32).toString('base64'),
    commit: c.commit,
    objectFormat: c.objectFormat,
    objects: c.objects.map((o) => Buffer.from(o).toString('base64')),
    options,
  };
}

function post(h: Harness, body: unknown, token: string | null = TOKEN_DEV) {
  return fetch(`${h.url}/v1/pack`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token === null ? {} : { authorization: `Bearer ${token}` }) },
    body: JSON.stringify(body),
  });
}

describe('host API', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ handler });
  });
  afterAll(async () => {
    await h.close();
  });

  it('packs with a bearer token: computed commit, nonce, credentials handed to the enclave', async () => {
    const body = await packBody();
    const res = await post(h, body);
    expect(res.status).toBe(200);
    const json = (await res.json()) as { commit: string; artifact: string; receipt: string; requestId: string };
    expect(json.commit).toBe(git(repo, 'rev-parse', 'HEAD'));
    expect(Buffer.from(json.artifact, 'base64').toString()).toBe(`artifact:${git(repo, 'rev-parse', 'HEAD:clef.yaml')}`);
    expect(Buffer.from(json.receipt, 'base64').toString()).toBe(`receipt:${Buffer.from(body.nonce, 'base64').toString('hex')}`);
    expect(res.headers.get('x-request-id')).toBe(json.requestId);
    const last = received.at(-1);
    expect(last?.credentials).toEqual({ accessKeyId: 'AKIDHOSTTEST', secretAccessKey: 'host-secret-value' });
    expect(last?.region).toBe('eu-west-1');
  });

  it('401 without or with an unknown token; 403 outside the token scope', async () => {
    const body = await packBody();
    const none = await post(h, body, null);
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('UNAUTHENTICATED');
    const bad = await post(h, body, 'not-a-known-token-xyz');
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toContain('Bearer');
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('TOKEN_INVALID');
    const wrongEnv = await post(h, await packBody({}, 'production'), TOKEN_DEV);
    expect(wrongEnv.status).toBe(403);
    const err = ((await wrongEnv.json()) as { error: { code: string; message: string } }).error;
    expect(err.code).toBe('FORBIDDEN_SCOPE');
    expect(err.message).toContain("environment 'production'");
    const wrongId = await post(h, { ...(await packBody()), identity: 'web-svc' }, TOKEN_DEV);
    expect(wrongId.status).toBe(403);
    // the prod token may pack any identity, but only production
    expect((await post(h, await packBody(), TOKEN_PROD)).status).toBe(403);
  });

  it('400 on a body that violates the schema', async () => {
    const res = await post(h, { ...(await packBody()), commit: 'xyz' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('INVALID_REQUEST');
  });

  it('422 when the git objects do not prove the commit', async () => {
    const body = await packBody();
    body.objects = body.objects.slice(1);
    const res = await post(h, body);
    expect(res.status).toBe(422);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('GIT_OBJECT_MISSING');
  });

  it('ready: verifies the enclave attestation against the manifest PCRs with a fresh nonce', async () => {
    const res = await fetch(`${h.url}/v1/ready`);
    expect(res.status).toBe(200);
    const json = (await res.json()) as { ready: boolean; trust: string; pcrs: Record<string, string> };
    expect(json.ready).toBe(true);
    expect(json.trust).toBe('simulated');
    expect(json.pcrs['0']).toBe('1'.repeat(96));
    const health = (await (await fetch(`${h.url}/v1/health`)).json()) as { status: string; enclave: { reachable: boolean } };
    expect(health).toMatchObject({ status: 'ok', enclave: { reachable: true } });
  });

  it('exposes Prometheus metrics', async () => {
    const text = await (await fetch(`${h.url}/metrics`)).text();
    expect(text).toContain('# TYPE attested_pack_http_requests_total counter');
    expect(text).toMatch(/attested_pack_http_requests_total\{route="\/v1\/pack",method="POST",status="401"\} [1-9]/);
    expect(text).toMatch(/attested_pack_http_requests_total\{route="\/v1\/pack",method="POST",status="200"\} [1-9]/);
    expect(text).toMatch(/attested_pack_enclave_errors_total\{code="GIT_OBJECT_MISSING"\} 1/);
    expect(text).toMatch(/attested_pack_http_request_duration_seconds_bucket\{route="\/v1\/pack",le="\+Inf"\} [1-9]/);
    expect(text).toContain('attested_pack_packs_in_flight 0');
  });

  it('logs carry request ids but never tokens or AWS secrets', () => {
    const all = h.logs.join('');
    expect(all).toContain('"reqId"');
    expect(all).not.toContain(TOKEN_DEV);
    expect(all).not.toContain('host-secret-value');
  });
});

describe('host over HTTPS', () => {
  it('serves the API with the configured certificate', async () => {
    const tlsDir = mkdtempSync(join(tmpdir(), 'ap-host-tls-'));
    const material = makeTlsMaterial(['127.0.0.1']);
    writeFileSync(join(tlsDir, 'cert.pem'), material.certPem);
    writeFileSync(join(tlsDir, 'key.pem'), material.keyPem);
    const h = await startHarness({ handler, extraConfig: `tls: { certFile: ${join(tlsDir, 'cert.pem')}, keyFile: ${join(tlsDir, 'key.pem')} }` });
    try {
      expect(h.url.startsWith('https://')).toBe(true);
      const body = await new Promise<string>((resolve, reject) => {
        https.get(`${h.url}/v1/health`, { ca: material.caPem }, (res) => {
          let out = '';
          res.on('data', (c: Buffer) => (out += c.toString()));
          res.on('end', () => resolve(out));
        }).on('error', reject);
      });
      expect(JSON.parse(body)).toMatchObject({ status: 'ok' });
      // a client that does not trust the CA is refused by TLS
      await expect(fetch(`${h.url}/v1/health`)).rejects.toThrow();
    } finally {
      await h.close();
    }
  });
});

describe('host limits', () => {
  it('413 on a body over the limit', async () => {
    const h = await startHarness({ handler, limits: 'limits: { maxBodyBytes: 2048 }' });
    try {
      const body = await packBody();
      body.objects.push(Buffer.alloc(4096).toString('base64'));
      const res = await post(h, body);
      expect(res.status).toBe(413);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('BODY_TOO_LARGE');
    } finally {
      await h.close();
    }
  });

  it('429 with Retry-After when the queue is full; queued requests still complete', async () => {
    const h = await startHarness({ handler, limits: 'limits: { maxConcurrentPacks: 1, maxQueuedPacks: 1 }' });
    try {
      const body = await packBody({ mode: 'slow' });
      const results = await Promise.all([0, 1, 2, 3].map(() => post(h, body)));
      const statuses = results.map((r) => r.status).sort();
      expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(2);
      expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(1);
      expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
      const limited = results.find((r) => r.status === 429);
      expect(Number(limited?.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await h.close();
    }
  });

  it('503 when the enclave is down (pack and ready)', async () => {
    const h = await startHarness({ noEnclave: true });
    try {
      const res = await post(h, await packBody());
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).not.toBeNull();
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('ENCLAVE_UNREACHABLE');
      const ready = await fetch(`${h.url}/v1/ready`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { reason: { code: string } }).reason.code).toBe('ENCLAVE_UNREACHABLE');
      const health = (await (await fetch(`${h.url}/v1/health`)).json()) as { enclave: { reachable: boolean } };
      expect(health.enclave.reachable).toBe(false);
    } finally {
      await h.close();
    }
  });

  it('504 when the pack misses its deadline', async () => {
    const h = await startHarness({ handler, limits: 'limits: { packDeadlineMs: 300 }' });
    try {
      const res = await post(h, await packBody({ mode: 'hang' }));
      expect(res.status).toBe(504);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('DEADLINE_EXCEEDED');
    } finally {
      await h.close();
    }
  });

  it('ready is 503 when the enclave attests different PCRs than the manifest', async () => {
    const other = new Map([[0, Buffer.alloc(48, 9)], [1, Buffer.alloc(48, 2)], [2, Buffer.alloc(48, 3)]]);
    const h = await startHarness({ handler, nsm: await caNsm(other) });
    try {
      const ready = await fetch(`${h.url}/v1/ready`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { reason: { code: string } }).reason.code).toBe('PCR_MISMATCH');
    } finally {
      await h.close();
    }
  });

  it('503 when no AWS credentials can be obtained for the enclave', async () => {
    const h = await startHarness({ handler, host: { credentials: { get: async () => Promise.reject(new CredentialsError('IMDS answered 500')) } } });
    try {
      const res = await post(h, await packBody());
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('CREDENTIALS_UNAVAILABLE');
    } finally {
      await h.close();
    }
  });

  it('never loses a request: an enclave that drops the connection or answers garbage gets a coded 5xx', async () => {
    const h = await startHarness({ noEnclave: true });
    let behaviour: 'drop' | 'garbage' = 'drop';
    const fake = net.createServer((s) => {
      s.once('data', () => (behaviour === 'drop' ? s.destroy() : s.end(Buffer.from([0, 0, 0, 3, 1, 0xff, 0xff]))));
    });
    await new Promise<void>((r) => fake.listen(h.enclaveSocket, () => r()));
    try {
      const dropped = await post(h, await packBody());
      expect(dropped.status).toBe(503);
      expect(((await dropped.json()) as { error: { code: string } }).error.code).toBe('CONNECTION_CLOSED');
      behaviour = 'garbage';
      const garbage = await post(h, await packBody());
      expect(garbage.status).toBe(502);
      expect(((await garbage.json()) as { error: { code: string } }).error.code).toBe('MALFORMED_FRAME');
      // and the host is still serving
      expect((await fetch(`${h.url}/v1/health`)).status).toBe(200);
    } finally {
      await new Promise<void>((r) => fake.close(() => r()));
      await h.close();
    }
  });

  it('503 when the enclave has no pack handler installed', async () => {
    const h = await startHarness({});
    try {
      const res = await post(h, await packBody());
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('PACK_UNAVAILABLE');
    } finally {
      await h.close();
    }
  });
});
