// Issue 12's attacks, shown by the demo against the running host and enclave processes.
// Each must be refused BY THE ENCLAVE with the expected code; a pack that goes through is a
// demo failure. The demo plays the attacker with exactly the access each one would have.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { callEnclave } from '../../host/enclave-client.ts';
import { EnclaveProtocolError, type PackRequestBody } from '../../enclave/protocol.ts';
import { packRequestAudience } from '../../verifier/pack-request.ts';
import { DEV_AUDIENCE } from '../../simulator/dev-trust-policy.ts';
import { collectGitObjects } from '../pack-client/git-objects.ts';
import { clefInputPaths } from '../pack-client/clef-paths.ts';
import { requestGithubActionsIdToken } from '../pack-client/github-oidc.ts';
import { DemoFailure, REGION, lastJsonLine, type DemoContext } from './context.ts';
import { ciJob, type DemoCi } from './ci.ts';
import type { DemoKms } from './kms.ts';
import type { DemoServices } from './services.ts';
import { DEMO_IDENTITY } from './sample-repo.ts';

export interface RefusalScene {
  ctx: DemoContext;
  kms: DemoKms;
  ci: DemoCi;
  services: DemoServices;
  repoDir: string;
  manifestPath: string;
  rootFile: string;
}

export interface Refusal {
  attack: string;
  code: string;
  detail: string | null;
}

const GIT_ENV = { GIT_AUTHOR_NAME: 'mallory', GIT_AUTHOR_EMAIL: 'mallory@example.com', GIT_COMMITTER_NAME: 'mallory', GIT_COMMITTER_EMAIL: 'mallory@example.com' };

function git(repoDir: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd: repoDir, env: { ...process.env, ...GIT_ENV }, encoding: 'utf8' }).trim();
}

/** Commit `files` on top of main on `branch`; main is left where it was unless branch is main. */
function commitOn(repoDir: string, branch: string, files: Record<string, string>): string {
  const head = git(repoDir, 'rev-parse', 'main');
  git(repoDir, 'checkout', '-q', '-B', branch, head);
  for (const [path, content] of Object.entries(files)) writeFileSync(join(repoDir, path), content);
  git(repoDir, 'add', '.');
  git(repoDir, 'commit', '-q', '-m', `change on ${branch}`);
  const commit = git(repoDir, 'rev-parse', 'HEAD');
  git(repoDir, 'checkout', '-q', 'main');
  if (branch !== 'main') git(repoDir, 'reset', '-q', '--hard', head);
  return commit;
}

async function requestBody(s: RefusalScene, rev: string, environment: string): Promise<PackRequestBody> {
  const clef = execFileSync('git', ['show', `${rev}:clef.yaml`], { cwd: s.repoDir, encoding: 'utf8' });
  const c = await collectGitObjects({ repoDir: s.repoDir, rev, paths: clefInputPaths(clef, DEMO_IDENTITY, environment) });
  const role = s.kms.principals.enclaveRole;
  return {
    identity: DEMO_IDENTITY, environment, nonce: randomBytes(32), commit: c.commit, objectFormat: c.objectFormat, objects: c.objects,
    credentials: { accessKeyId: role.accessKeyId, secretAccessKey: role.secretAccessKey, ...(role.sessionToken === undefined ? {} : { sessionToken: role.sessionToken }) },
    region: REGION, options: {},
  };
}

/** A token from the runner's token service for exactly `b` (what CI — or a thief of its request token — gets). */
async function runnerToken(s: RefusalScene, b: PackRequestBody): Promise<string> {
  const options = { signingKeyArn: null, ttlSeconds: null, bindEncryptionContext: false };
  return requestGithubActionsIdToken(packRequestAudience(DEV_AUDIENCE, { ...b, options }), s.ci.runner.env());
}

async function direct(s: RefusalScene, b: PackRequestBody): Promise<Omit<Refusal, 'attack'>> {
  try {
    await callEnclave({ socketPath: s.services.enclaveSocket }, 'pack', b, { deadlineMs: 60_000 });
  } catch (e) {
    if (e instanceof EnclaveProtocolError) return { code: e.code, detail: e.detail ?? null };
    throw e;
  }
  throw new DemoFailure('the enclave packed a request it must refuse');
}

async function viaCi(s: RefusalScene, rev: string, environment: string): Promise<Omit<Refusal, 'attack'>> {
  const r = await s.ctx.procs.run(
    ['pack', '--host', s.services.hostUrl, '--identity', DEMO_IDENTITY, '--env', environment, '--manifest', s.manifestPath, '--repo', s.repoDir, '--rev', rev, '--out', join(s.ctx.dir, 'refused-out'), '--root', s.rootFile, '--github-oidc', '--json'],
    { env: { ...s.ci.runner.env(), ATTESTED_PACK_TOKEN: s.services.hostToken } },
  );
  const out = lastJsonLine(r.stdout);
  if (r.code === 0 || out.ok !== false) throw new DemoFailure(`the CI client packed a request the enclave must refuse: ${r.stdout}`);
  return { code: String(out.code), detail: typeof out.detail === 'string' ? out.detail : null };
}

export async function showRefusals(s: RefusalScene, report: (r: Refusal) => void): Promise<Refusal[]> {
  const head = git(s.repoDir, 'rev-parse', 'main');
  const results: Refusal[] = [];
  const record = (attack: string, r: Omit<Refusal, 'attack'>, expected: string) => {
    const full = { attack, ...r };
    report(full);
    if (r.detail !== expected) throw new DemoFailure(`${attack}: expected ${expected}, got ${r.code}/${String(r.detail)}`);
    results.push(full);
  };

  // 1. The host writes a commit that exists in no repository: production's SOPS blobs and a
  //    clef.yaml naming the host's own age key. It even steals the runner's request token.
  const clef = readFileSync(join(s.repoDir, 'clef.yaml'), 'utf8');
  const evilClef = clef.replace(/production:\n\s+kms: \{[^}]*\}/, `production:\n        recipient: ${identityToRecipient(await generateIdentity())}`);
  const fabricated = commitOn(s.repoDir, 'never-pushed', { 'clef.yaml': evilClef });
  ciJob(s.ci, head);
  const b1 = await requestBody(s, fabricated, 'production');
  b1.proof = { kind: 'oidc', token: await runnerToken(s, b1) };
  record('the host packs a fabricated commit (its own recipient) with a token from the runner', await direct(s, b1), 'COMMIT_NOT_TRUSTED');

  // 2. CI running on a feature branch asks for production.
  const feature = commitOn(s.repoDir, 'feature/rotate', { 'README.md': 'rotate later\n' });
  ciJob(s.ci, feature, 'refs/heads/feature/rotate');
  record('CI on a feature branch asks for production', await viaCi(s, feature, 'production'), 'REF_NOT_ALLOWED');

  // 3. A reviewed commit on main puts production's ciphertext at the staging paths.
  const swapped: Record<string, string> = {};
  for (const ns of ['database', 'payments']) swapped[`secrets/${ns}/staging.enc.yaml`] = readFileSync(join(s.repoDir, 'secrets', ns, 'production.enc.yaml'), 'utf8');
  const merged = commitOn(s.repoDir, 'main', swapped);
  try {
    ciJob(s.ci, merged);
    record("a staging pack whose files use production's key", await viaCi(s, merged, 'staging'), 'KEY_NOT_ALLOWED_FOR_ENVIRONMENT');
  } finally {
    git(s.repoDir, 'reset', '-q', '--hard', head);
  }

  // 4. The host replays CI's staging token for production.
  ciJob(s.ci, head);
  const staging = await requestBody(s, head, 'staging');
  const b4 = await requestBody(s, head, 'production');
  b4.proof = { kind: 'oidc', token: await runnerToken(s, staging) };
  record("the host replays CI's staging token for production", await direct(s, b4), 'OIDC_REQUEST_MISMATCH');
  return results;
}
