// The enclave service over a Unix socket: protocol limits, deadlines, the pack seam with
// verified git objects, and what errors may (not) say.
import { afterAll, describe, expect, it } from 'vitest';
import { collectGitObjects } from '../cli/pack-client/git-objects.ts';
import { callEnclave } from '../host/enclave-client.ts';
import { EnclaveProtocolError, PROTOCOL_VERSION, encodeFrame } from '../enclave/protocol.ts';
import { startEnclaveServer, type PackHandler, type RunningEnclaveServer } from '../enclave/server.ts';
import { encodeLooseObject, hashObject } from '../enclave/git/index.ts';
import { fakeNsm, git, makeGitRepo, rawExchange, tempSocketPath } from './enclave-support.ts';

const servers: RunningEnclaveServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.close();
});

let aborted: unknown = null;
const testHandler: PackHandler = async (input, ctx) => {
  if (input.options.mode === 'hang') {
    await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
    aborted = ctx.signal.reason;
    return { artifact: new Uint8Array(), receipt: new Uint8Array() };
  }
  if (input.options.mode === 'crash') throw new Error('plaintext SECRET-MARKER-123 leaked into a message');
  const clef = input.tree.readFile('clef.yaml');
  const secret = input.tree.readFile('secrets/api/dev.enc.yaml');
  return {
    artifact: Buffer.from(JSON.stringify({ identity: input.identity, environment: input.environment, clef: clef?.id, secret: secret?.id ?? null })),
    receipt: Buffer.concat([Buffer.from('receipt:'), input.nonce]),
  };
};

async function start(opts: Partial<Parameters<typeof startEnclaveServer>[1]> = {}): Promise<string> {
  const socketPath = tempSocketPath();
  servers.push(await startEnclaveServer(socketPath, { nsm: fakeNsm(), packHandler: testHandler, ...opts }));
  return socketPath;
}

const creds = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' };

async function packBody(repo: string, paths = ['clef.yaml', 'secrets/api/dev.enc.yaml']) {
  const c = await collectGitObjects({ repoDir: repo, paths });
  return {
    identity: 'api-svc',
    environment: 'dev',
    nonce: Buffer.from('nonce-0123456789'),
    commit: c.commit,
    objectFormat: c.objectFormat,
    objects: c.objects,
    credentials: creds,
    region: 'eu-west-1',
    options: {},
  };
}

const repo = makeGitRepo({ 'clef.yaml': 'version: 1\n', 'secrets/api/dev.enc.yaml': 'x: 1\n' });
const repo256 = makeGitRepo({ 'clef.yaml': 'version: 1\n', 'secrets/api/dev.enc.yaml': 'x: 2\n' }, 'sha256');

describe('enclave server', () => {
  it('answers health and describe (nonce passed to the NSM)', async () => {
    const socketPath = await start();
    const h = await callEnclave({ socketPath }, 'health', {}, { deadlineMs: 5000 });
    expect(h).toMatchObject({ status: 'ok', protocolVersion: PROTOCOL_VERSION, nsm: 'simulated', packHandler: true });
    const d = await callEnclave({ socketPath }, 'describe', { nonce: Buffer.from('abc') }, { deadlineMs: 5000 });
    expect(Buffer.from(d.attestation).toString()).toBe('fake-doc:abc');
  });

  it.each([['sha1', repo], ['sha256', repo256]] as const)('packs through the handler with a computed commit (%s)', async (format, dir) => {
    const socketPath = await start();
    const body = await packBody(dir);
    expect(body.objectFormat).toBe(format);
    const res = await callEnclave({ socketPath }, 'pack', body, { deadlineMs: 10_000 });
    expect(res.commit).toBe(git(dir, 'rev-parse', 'HEAD'));
    expect(JSON.parse(Buffer.from(res.artifact).toString())).toEqual({
      identity: 'api-svc',
      environment: 'dev',
      clef: git(dir, 'rev-parse', 'HEAD:clef.yaml'),
      secret: git(dir, 'rev-parse', 'HEAD:secrets/api/dev.enc.yaml'),
    });
    expect(Buffer.from(res.receipt).toString()).toBe('receipt:nonce-0123456789');
  });

  it('refuses a pack whose objects were tampered with, with the git code', async () => {
    const socketPath = await start();
    const body = await packBody(repo);
    const blobId = git(repo, 'rev-parse', 'HEAD:secrets/api/dev.enc.yaml');
    body.objects = body.objects.map((o) => (hashObject('sha1', o) === blobId ? encodeLooseObject('blob', Buffer.from('x: 9\n')) : o));
    await expect(callEnclave({ socketPath }, 'pack', body, { deadlineMs: 5000 })).rejects.toMatchObject({ code: 'GIT_OBJECT_MISSING' });
    const wrong = await packBody(repo);
    wrong.commit = 'a'.repeat(40);
    await expect(callEnclave({ socketPath }, 'pack', wrong, { deadlineMs: 5000 })).rejects.toMatchObject({ code: 'GIT_COMMIT_MISMATCH' });
  });

  it('enforces the deadline and aborts the handler', async () => {
    const socketPath = await start();
    const body = { ...(await packBody(repo)), options: { mode: 'hang' } };
    await expect(callEnclave({ socketPath }, 'pack', body, { deadlineMs: 200 })).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    for (let i = 0; i < 50 && aborted === null; i++) await new Promise((r) => setTimeout(r, 10));
    expect(aborted).toBeInstanceOf(EnclaveProtocolError);
  });

  it('hides the message of unexpected handler errors', async () => {
    const socketPath = await start();
    const body = { ...(await packBody(repo)), options: { mode: 'crash' } };
    const err = await callEnclave({ socketPath }, 'pack', body, { deadlineMs: 5000 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'INTERNAL' });
    expect(String((err as Error).message)).not.toContain('SECRET-MARKER-123');
  });

  it('refuses packs when no handler or no NSM is installed', async () => {
    const noHandler = await start({ packHandler: undefined });
    await expect(callEnclave({ socketPath: noHandler }, 'pack', await packBody(repo), { deadlineMs: 5000 })).rejects.toMatchObject({ code: 'PACK_UNAVAILABLE' });
    const noNsm = await start({ nsm: null });
    await expect(callEnclave({ socketPath: noNsm }, 'describe', { nonce: new Uint8Array(1) }, { deadlineMs: 5000 })).rejects.toMatchObject({ code: 'NSM_UNAVAILABLE' });
    await expect(callEnclave({ socketPath: noNsm }, 'pack', await packBody(repo), { deadlineMs: 5000 })).rejects.toMatchObject({ code: 'NSM_UNAVAILABLE' });
  });

  it('refuses a request over the request size limit', async () => {
    const socketPath = await start({ maxRequestBytes: 100 });
    await expect(callEnclave({ socketPath }, 'pack', await packBody(repo), { deadlineMs: 5000 })).rejects.toMatchObject({ code: 'REQUEST_TOO_LARGE' });
  });

  it('closes the stream on an oversize frame without reading it', async () => {
    const socketPath = await start({ maxFrameBytes: 1024 });
    const header = Buffer.alloc(5);
    header.writeUInt32BE(1_000_000, 0);
    header[4] = PROTOCOL_VERSION;
    const r = await rawExchange(socketPath, [header], 2);
    expect(r.responses).toHaveLength(1);
    expect(r.responses[0]).toMatchObject({ id: '-', ok: false, error: { code: 'FRAME_TOO_LARGE' } });
    expect(r.closed).toBe(true);
  });

  it('refuses a bad protocol version and malformed CBOR', async () => {
    const socketPath = await start();
    const v2 = await rawExchange(socketPath, [encodeFrame({ id: 'a', type: 'health' }, undefined, 2)], 2);
    expect(v2.responses[0]).toMatchObject({ id: '-', ok: false, error: { code: 'BAD_VERSION' } });
    expect(v2.closed).toBe(true);
    const garbage = Buffer.from([0, 0, 0, 3, PROTOCOL_VERSION, 0xff, 0xff]);
    const g = await rawExchange(socketPath, [garbage], 2);
    expect(g.responses[0]).toMatchObject({ id: '-', ok: false, error: { code: 'MALFORMED_FRAME' } });
  });

  it('answers a bad request by id and keeps the stream usable; pipelined requests are matched by id', async () => {
    const socketPath = await start();
    const r = await rawExchange(
      socketPath,
      [
        encodeFrame({ id: 'u1', type: 'launch-missiles' }),
        encodeFrame({ id: 'd1', type: 'describe', body: { nonce: 'not bytes' } }),
        encodeFrame({ id: 'h1', type: 'health' }),
        encodeFrame({ id: 'd2', type: 'describe', body: { nonce: Buffer.from('n2') } }),
      ],
      4,
    );
    const byId = new Map(r.responses.map((x) => [x.id, x]));
    expect(byId.get('u1')).toMatchObject({ ok: false, error: { code: 'UNKNOWN_TYPE' } });
    expect(byId.get('d1')).toMatchObject({ ok: false, error: { code: 'MALFORMED_MESSAGE' } });
    expect(byId.get('h1')).toMatchObject({ ok: true, type: 'health' });
    expect(byId.get('d2')).toMatchObject({ ok: true, type: 'describe' });
  });

  it('bounds the requests in flight on one connection', async () => {
    const slow = { ...fakeNsm(), attest: () => new Promise<Uint8Array>((r) => setTimeout(() => r(new Uint8Array([1])), 300)) };
    const socketPath = await start({ nsm: slow, maxInFlightPerConnection: 1 });
    const r = await rawExchange(
      socketPath,
      [encodeFrame({ id: 'd1', type: 'describe', body: { nonce: Buffer.from('a') } }), encodeFrame({ id: 'd2', type: 'describe', body: { nonce: Buffer.from('b') } })],
      2,
    );
    const byId = new Map(r.responses.map((x) => [x.id, x]));
    expect(byId.get('d2')).toMatchObject({ ok: false, error: { code: 'TOO_MANY_REQUESTS' } });
    expect(byId.get('d1')).toMatchObject({ ok: true });
  });

  it('closes the stream when a message has no usable id', async () => {
    const socketPath = await start();
    const r = await rawExchange(socketPath, [encodeFrame({ type: 'health' })], 2);
    expect(r.responses[0]).toMatchObject({ id: '-', ok: false, error: { code: 'MALFORMED_MESSAGE' } });
    expect(r.closed).toBe(true);
  });

  it('reports an unreachable enclave distinctly', async () => {
    await expect(callEnclave({ socketPath: tempSocketPath('absent.sock') }, 'health', {}, { deadlineMs: 1000 })).rejects.toMatchObject({ code: 'ENCLAVE_UNREACHABLE' });
  });
});
