// Issue 12's attacks, through the real host and enclave code: the enclave is not a confused
// deputy. A host (or anyone who can reach the enclave) and a CI token holder with a narrow
// scope try to get secrets they are not entitled to; every attempt is refused BY THE
// ENCLAVE with a stable code, and no artifact comes back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { startPackWorld, hostConfigFor, DEV_SECRET, SAMPLE_SECRETS, ENCLAVE_ROLE, type PackWorld } from './pack-world.ts';
import { collectGitObjects } from '../cli/pack-client/git-objects.ts';
import { clefInputPaths } from '../cli/pack-client/clef-paths.ts';
import { callEnclave } from '../host/enclave-client.ts';
import { EnclaveProtocolError, type PackRequestBody } from '../enclave/protocol.ts';
import { parseHostConfig, sha256HexOfToken } from '../host/config.ts';
import { startHost, type RunningHost } from '../host/service.ts';
import { verifyReceipt } from '../verifier/receipt.ts';

let world: PackWorld;
let host: RunningHost;
const DEV_TOKEN = `dev-ci-${randomBytes(8).toString('hex')}`;
const PROD_TOKEN = `prod-ci-${randomBytes(8).toString('hex')}`;

const GIT_ENV = { ...process.env, GIT_AUTHOR_NAME: 'mallory', GIT_AUTHOR_EMAIL: 'm@example.com', GIT_COMMITTER_NAME: 'mallory', GIT_COMMITTER_EMAIL: 'm@example.com' };
const git = (...args: string[]) => execFileSync('git', args, { cwd: world.repoDir, env: GIT_ENV, encoding: 'utf8' }).trim();

/**
 * Commit `files` (path → content, relative to the repo) on `branch` (created from main if
 * new), return the commit, and leave main checked out as it was.
 */
function commitOn(branch: string, files: Record<string, string>, opts: { date?: string } = {}): string {
  const head = git('rev-parse', 'main');
  git('checkout', '-q', '-B', branch, head);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(world.repoDir, path)), { recursive: true });
    writeFileSync(join(world.repoDir, path), content);
  }
  git('add', '.');
  const env = opts.date === undefined ? GIT_ENV : { ...GIT_ENV, GIT_COMMITTER_DATE: opts.date, GIT_AUTHOR_DATE: opts.date };
  execFileSync('git', ['commit', '-q', '-m', `change on ${branch}`], { cwd: world.repoDir, env });
  const commit = git('rev-parse', 'HEAD');
  git('checkout', '-q', 'main');
  if (branch !== 'main') git('reset', '-q', '--hard', head);
  return commit;
}

async function body(identity: string, environment: string, rev: string, options: PackRequestBody['options'] = {}): Promise<PackRequestBody> {
  const clef = execFileSync('git', ['show', `${rev}:clef.yaml`], { cwd: world.repoDir, encoding: 'utf8' });
  const c = await collectGitObjects({ repoDir: world.repoDir, rev, paths: clefInputPaths(clef, identity, environment) });
  return {
    identity,
    environment,
    nonce: randomBytes(32),
    commit: c.commit,
    objectFormat: c.objectFormat,
    objects: c.objects,
    credentials: { accessKeyId: ENCLAVE_ROLE.accessKeyId, secretAccessKey: ENCLAVE_ROLE.secretAccessKey, ...(ENCLAVE_ROLE.sessionToken === undefined ? {} : { sessionToken: ENCLAVE_ROLE.sessionToken }) },
    region: 'us-east-1',
    options,
  };
}

/** The host's own path: straight to the enclave socket. */
const direct = (b: PackRequestBody) => callEnclave({ socketPath: world.socketPath }, 'pack', b, { deadlineMs: 60_000 });

async function refusedBy(p: Promise<unknown>): Promise<{ code: string; detail: string | undefined; message: string }> {
  try {
    await p;
  } catch (e) {
    if (e instanceof EnclaveProtocolError) return { code: e.code, detail: e.detail, message: e.message };
    throw e;
  }
  throw new Error('expected the enclave to refuse, but it packed');
}

/** Through the public API, as CI: POST /v1/pack with a bearer token and a proof. */
async function viaHost(token: string, b: PackRequestBody): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${host.address}/v1/pack`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({
      identity: b.identity,
      environment: b.environment,
      nonce: Buffer.from(b.nonce).toString('base64'),
      commit: b.commit,
      objectFormat: b.objectFormat,
      objects: b.objects.map((o) => Buffer.from(o).toString('base64')),
      options: b.options,
      ...(b.proof === undefined || b.proof === null ? {} : { proof: b.proof }),
    }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** An age recipient only the attacker can open. */
async function attackerRecipient(): Promise<string> {
  return identityToRecipient(await generateIdentity());
}

beforeAll(async () => {
  world = await startPackWorld();
  await world.startEnclave();
  const dir = mkdtempSync(join(tmpdir(), 'ap-authz-host-'));
  const cfg = hostConfigFor(world, dir, { token: PROD_TOKEN }) as Record<string, unknown> & { auth: { tokens: unknown[] } };
  cfg.auth.tokens.push({ name: 'dev-ci', sha256: sha256HexOfToken(DEV_TOKEN), identities: ['web'], environments: ['dev'] });
  host = await startHost(parseHostConfig(JSON.stringify(cfg), dir));
}, 180_000);

afterAll(async () => {
  await host?.close();
  await world?.close();
});

describe('honest CI', () => {
  it('packs production from main with a request-bound token, and the receipt records the proof', async () => {
    const b = await body('payments-api', 'production', 'main');
    b.proof = world.proofFor(b);
    const out = await direct(b);
    const v = verifyReceipt(out.receipt, { manifest: world.manifest, artifact: out.artifact, expectedNonce: b.nonce, root: world.ca.rootDer, expect: { repository: 'example-org/payments', ref: 'refs/heads/main', commit: b.commit } });
    expect(v.predicate.authorization).toMatchObject({ method: 'oidc', development: true, trustPolicySha384: world.trustPolicySha384, ref: 'refs/heads/main', sha: b.commit, repositoryId: '123456789', event: 'push' });
    expect(v.predicate.kms.sopsDecryptKeys).toEqual([world.keys.sops]);
  });

  it('packs web/dev from main with the dev key', async () => {
    const b = await body('web', 'dev', 'main');
    b.proof = world.proofFor(b);
    const r = await viaHost(DEV_TOKEN, b);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const receipt = Buffer.from(String(r.body.receipt), 'base64');
    const v = verifyReceipt(receipt, { manifest: world.manifest, root: world.ca.rootDer });
    expect(v.predicate.kms.sopsDecryptKeys).toEqual([world.keys.sopsDev]);
    expect(DEV_SECRET.length).toBeGreaterThan(0);
  });
});

describe('attack 1: the host fabricates a commit and calls the enclave directly', () => {
  // A commit in no repository: the real production SOPS blobs, and a clef.yaml that sends
  // payments-api/production to the host's own age key.
  async function fabricated(): Promise<PackRequestBody> {
    const clef = readFileSync(join(world.repoDir, 'clef.yaml'), 'utf8');
    const evil = clef.replace(/kms:\n\s+provider: aws\n\s+keyId: \S+/, `recipient: ${await attackerRecipient()}`);
    expect(evil).not.toBe(clef);
    const commit = commitOn('never-pushed', { 'clef.yaml': evil });
    return body('payments-api', 'production', commit);
  }

  it('with no proof: PACK_UNAUTHORIZED', async () => {
    const r = await refusedBy(direct(await fabricated()));
    expect(r).toMatchObject({ code: 'PACK_REFUSED', detail: 'PACK_UNAUTHORIZED' });
  });

  it("replaying CI's genuine token (minted for main's commit): OIDC_REQUEST_MISMATCH", async () => {
    const honest = await body('payments-api', 'production', 'main');
    const stolen = world.proofFor(honest);
    const b = await fabricated();
    b.proof = stolen;
    expect(await refusedBy(direct(b))).toMatchObject({ detail: 'OIDC_REQUEST_MISMATCH' });
  });

  it('a token whose audience fits the fabricated request but whose sha is the real commit: COMMIT_NOT_TRUSTED', async () => {
    const b = await fabricated();
    const head = git('rev-parse', 'main');
    b.proof = world.proofFor(b, { sha: head });
    expect(await refusedBy(direct(b))).toMatchObject({ detail: 'COMMIT_NOT_TRUSTED' });
  });

  it('a token signed by a key the issuer never published: OIDC_INVALID', async () => {
    const b = await fabricated();
    b.proof = world.proofFor(b, {}, { header: { kid: 'forged-kid' } });
    const r = await refusedBy(direct(b));
    expect(r.detail).toBe('OIDC_INVALID');
  });

  it('alg none and HS256 (HMAC keyed with the public key): OIDC_INVALID', async () => {
    for (const alg of ['none', 'HS256']) {
      const b = await fabricated();
      b.proof = world.proofFor(b, {}, { header: { alg } });
      expect((await refusedBy(direct(b))).detail).toBe('OIDC_INVALID');
    }
  });
});

describe('attack 2: a CI token scoped to web/dev asks for production secrets', () => {
  // clef.yaml gives web/dev the production namespaces; the production ciphertext is stored
  // at the dev paths (the SOPS MAC does not cover file names); web's recipient is Mallory's.
  async function devFilesWithProductionCiphertext(): Promise<Record<string, string>> {
    const clef = readFileSync(join(world.repoDir, 'clef.yaml'), 'utf8');
    const namespaces = Object.keys(SAMPLE_SECRETS);
    const evil = clef
      .replace(/(- name: web[\s\S]*?namespaces: )\[[^\]]*\]/, `$1[${namespaces.join(', ')}]`)
      .replace(/(- name: web[\s\S]*?dev:\n\s+)kms:\n\s+provider: aws\n\s+keyId: \S+/, `$1recipient: ${await attackerRecipient()}`);
    expect(evil).not.toBe(clef);
    const files: Record<string, string> = { 'clef.yaml': evil };
    for (const ns of namespaces) files[`secrets/${ns}/dev.enc.yaml`] = readFileSync(join(world.repoDir, 'secrets', ns, 'production.enc.yaml'), 'utf8');
    return files;
  }

  it('a made-up commit through the public API, with the dev job\'s genuine token: refused by the enclave', async () => {
    const commit = commitOn('made-up', await devFilesWithProductionCiphertext());
    const b = await body('web', 'dev', commit);
    // The runner mints for the job's real commit (main), bound to this request.
    b.proof = world.proofFor(b, { sha: git('rev-parse', 'main') });
    const r = await viaHost(DEV_TOKEN, b);
    expect(r.status).toBe(403);
    expect(r.body.error).toMatchObject({ code: 'PACK_REFUSED', detail: 'COMMIT_NOT_TRUSTED' });
    expect(r.body.artifact).toBeUndefined();
  });

  it('the same change pushed to a feature branch (token ref = the branch): REF_NOT_ALLOWED', async () => {
    const commit = commitOn('feature/steal', await devFilesWithProductionCiphertext());
    const b = await body('web', 'dev', commit);
    b.proof = world.proofFor(b, { ref: 'refs/heads/feature/steal' });
    const r = await viaHost(DEV_TOKEN, b);
    expect(r.body.error).toMatchObject({ code: 'PACK_REFUSED', detail: 'REF_NOT_ALLOWED' });
  });

  it('the pull_request run of that branch: refused (event and ref)', async () => {
    const commit = commitOn('feature/steal-pr', await devFilesWithProductionCiphertext());
    const b = await body('web', 'dev', commit);
    b.proof = world.proofFor(b, { ref: 'refs/pull/7/merge', event_name: 'pull_request' });
    const r = await viaHost(DEV_TOKEN, b);
    expect(r.status).toBe(403);
    expect(['REF_NOT_ALLOWED', 'EVENT_NOT_ALLOWED']).toContain((r.body.error as { detail: string }).detail);
  });

  it('merged to main after a review that saw only ciphertext: KEY_NOT_ALLOWED_FOR_ENVIRONMENT, before any Decrypt', async () => {
    const commit = commitOn('main', await devFilesWithProductionCiphertext());
    try {
      const b = await body('web', 'dev', commit);
      b.proof = world.proofFor(b);
      const r = await viaHost(DEV_TOKEN, b);
      expect(r.status).toBe(403);
      expect(r.body.error).toMatchObject({ code: 'PACK_REFUSED', detail: 'KEY_NOT_ALLOWED_FOR_ENVIRONMENT' });
      expect(String((r.body.error as { message: string }).message)).toContain(world.keys.sops);
    } finally {
      git('reset', '-q', '--hard', 'HEAD~1');
    }
  });

  it("the host replays CI's dev token for another identity: OIDC_REQUEST_MISMATCH", async () => {
    const honest = await body('web', 'dev', 'main');
    const proof = world.proofFor(honest);
    const b = await body('payments-api', 'production', 'main');
    b.proof = proof;
    expect(await refusedBy(direct(b))).toMatchObject({ detail: 'OIDC_REQUEST_MISMATCH' });
  });

  it("the host changes an option of CI's request (drops a TTL): OIDC_REQUEST_MISMATCH", async () => {
    const honest = await body('payments-api', 'production', 'main', { ttlSeconds: 60 });
    honest.proof = world.proofFor(honest);
    honest.options = {};
    expect(await refusedBy(direct(honest))).toMatchObject({ detail: 'OIDC_REQUEST_MISMATCH' });
  });
});

describe('the trust policy, enforced by the enclave', () => {
  const cases: Array<[string, Record<string, string>, string]> = [
    ['another repository with the same name', { repository_id: '5550001' }, 'COMMIT_NOT_TRUSTED'],
    ['another ref', { ref: 'refs/heads/release' }, 'REF_NOT_ALLOWED'],
    ['a disallowed event', { event_name: 'workflow_run' }, 'EVENT_NOT_ALLOWED'],
    ['a re-run beyond run_attempt', { run_attempt: '4' }, 'RUN_ATTEMPT_EXCEEDED'],
    ['a workflow the repository rules do not name', { job_workflow_ref: 'example-org/payments/.github/workflows/other.yml@refs/heads/main' }, 'WORKFLOW_NOT_ALLOWED'],
  ];
  for (const [name, job, detail] of cases) {
    it(`${name}: ${detail}`, async () => {
      const b = await body('payments-api', 'production', 'main');
      b.proof = world.proofFor(b, job);
      const r = await refusedBy(direct(b));
      expect(r.code).toBe('PACK_REFUSED');
      // Another repository is not trusted at all; the exact code names the failing rule.
      if (name.startsWith('another repository')) expect(['COMMIT_NOT_TRUSTED', 'PACK_UNAUTHORIZED']).toContain(r.detail);
      else expect(r.detail).toBe(detail);
    });
  }

  it('a commit older than the environment allows: COMMIT_TOO_OLD', async () => {
    const commit = commitOn('main', { 'NOTES.md': 'old\n' }, { date: '2001-01-01T00:00:00Z' });
    try {
      const b = await body('payments-api', 'production', commit);
      b.proof = world.proofFor(b);
      expect(await refusedBy(direct(b))).toMatchObject({ detail: 'COMMIT_TOO_OLD' });
    } finally {
      git('reset', '-q', '--hard', 'HEAD~1');
    }
  });

  it('a commit whose committer time is in the future (the age limit would never apply): COMMIT_TIME_IN_FUTURE', async () => {
    const commit = commitOn('main', { 'NOTES.md': 'from the future\n' }, { date: '@4102444800 +0000' });
    try {
      const b = await body('payments-api', 'production', commit);
      b.proof = world.proofFor(b);
      expect(await refusedBy(direct(b))).toMatchObject({ detail: 'COMMIT_TIME_IN_FUTURE' });
    } finally {
      git('reset', '-q', '--hard', 'HEAD~1');
    }
  });

  it('expired, not-yet-valid and over-long tokens: OIDC_EXPIRED / OIDC_INVALID', async () => {
    const now = Math.floor(Date.now() / 1000);
    const b = await body('payments-api', 'production', 'main');
    b.proof = world.proofFor(b, {}, { iat: now - 3600, lifetimeSeconds: 300 });
    expect((await refusedBy(direct(b))).detail).toBe('OIDC_EXPIRED');
    b.proof = world.proofFor(b, {}, { iat: now + 3600 });
    expect(['OIDC_INVALID', 'OIDC_EXPIRED']).toContain((await refusedBy(direct(b))).detail);
    b.proof = world.proofFor(b, {}, { lifetimeSeconds: 7 * 24 * 3600 });
    expect((await refusedBy(direct(b))).detail).toBe('OIDC_INVALID');
  });

  it('JWKS rotation: the first token signed with a newly published key is accepted', async () => {
    // A fresh enclave: earlier tests sent made-up kids, whose refetch rate limit would
    // (rightly) hold a real rotation back for up to 30 s.
    await world.startEnclave();
    const warm = await body('payments-api', 'production', 'main');
    warm.proof = world.proofFor(warm);
    await direct(warm);
    const kid = world.issuer.rotateKey();
    const b = await body('payments-api', 'production', 'main');
    b.proof = world.proofFor(b);
    const out = await direct(b);
    expect(out.receipt.length).toBeGreaterThan(0);
    expect(world.issuer.currentKid()).toBe(kid);
  });
});
