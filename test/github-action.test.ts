// The GitHub Action's entry point (cli/action/entry.js, what action.yml runs), in a child
// process with the environment GitHub gives a step: INPUT_* variables, GITHUB_OUTPUT,
// GITHUB_WORKSPACE, and ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN served by a local stand-in for
// the runner's token service that mints JWTs from the world's SIMULATED issuer (which the
// enclave's development trust policy trusts and the host reads from a JWKS file). Against
// the simulated pack world: the host accepts the token, the enclave packs, the Action
// verifies the receipt and publishes the artifact and receipt paths; refusals fail the step.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { execFileSync } from 'node:child_process';
import https from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseHostConfig } from '../host/config.ts';
import { hostLogger, startHost, type RunningHost } from '../host/service.ts';
import { parseBuildManifest } from '../verifier/build-manifest.ts';
import { verifyReceipt } from '../verifier/receipt.ts';
import { hostConfigFor, startPackWorld, WORLD_REPOSITORY, type PackWorld } from './pack-world.ts';
import { SIMULATED_OIDC_HOST } from '../simulator/oidc-issuer.ts';

const ENTRY = fileURLToPath(new URL('../cli/action/entry.js', import.meta.url));
const RUNNER_TOKEN = 'runner-request-token-0123';
const REPOSITORY = WORLD_REPOSITORY.name;

let world: PackWorld;
let host: RunningHost;
let tokenService: http.Server;
let tokenUrl: string;
let dir: string;
/** What the stand-in token service was asked for. */
const requests: Array<{ audience: string | null; authorization: string | undefined }> = [];
/** The repository id the stand-in puts in its next tokens. */
let claimRepositoryId = WORLD_REPOSITORY.repositoryId;

async function mint(audience: string): Promise<string> {
  const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: world.repoDir, encoding: 'utf8' }).trim();
  return world.issuer.mintToken({ aud: audience }, { job: { sha: head, workflow_sha: head, job_workflow_sha: head, repository_id: claimRepositoryId } });
}

/** The issuer's JWKS, fetched over its own TLS (the host reads it from a file). */
function issuerJwks(): Promise<string> {
  return new Promise((done, fail) => {
    https
      .get({ host: '127.0.0.1', port: world.issuer.port, path: new URL(world.issuer.jwksUrl).pathname, ca: world.issuer.caPem, servername: SIMULATED_OIDC_HOST }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => done(body));
      })
      .on('error', fail);
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ap-action-'));
  tokenService = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push({ audience: url.searchParams.get('audience'), authorization: req.headers.authorization });
    if (req.headers.authorization !== `bearer ${RUNNER_TOKEN}` || url.searchParams.get('api-version') !== '2.0') {
      res.writeHead(401).end();
      return;
    }
    void mint(url.searchParams.get('audience') ?? '').then((jwt) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ count: 1, value: jwt })));
  });
  await new Promise<void>((done) => tokenService.listen(0, '127.0.0.1', done));
  tokenUrl = `http://127.0.0.1:${(tokenService.address() as AddressInfo).port}/token?api-version=2.0`;

  world = await startPackWorld();
  await world.startEnclave();
  writeFileSync(join(dir, 'jwks.json'), await issuerJwks());
  const config = {
    ...hostConfigFor(world, dir, { token: 'unused-static-token-0123456789', logLevel: 'silent' }),
  } as Record<string, unknown> & { auth: Record<string, unknown> };
  config.auth = {
    ...config.auth,
    githubOidc: {
      issuer: world.issuer.issuerUrl,
      audience: 'attested-pack',
      jwksFile: 'jwks.json',
      rules: [{ repositoryId: WORLD_REPOSITORY.repositoryId, repositoryOwnerId: WORLD_REPOSITORY.repositoryOwnerId, ref: 'refs/heads/main', identities: ['payments-api'], environments: ['production'] }],
    },
  };
  host = await startHost(parseHostConfig(JSON.stringify(config), dir), { logger: hostLogger('silent') });
}, 180_000);

afterAll(async () => {
  await host?.close();
  await world?.close();
  await new Promise<void>((done) => (tokenService === undefined ? done() : tokenService.close(() => done())));
  rmSync(dir, { recursive: true, force: true });
});

interface StepRun { code: number; stdout: string; stderr: string; outputs: Record<string, string> }

/** Runs the Action step as GitHub would: inputs and runner variables in the environment. */
function step(inputs: Record<string, string>, extraEnv: Record<string, string> = {}): Promise<StepRun> {
  const outputFile = join(mkdtempSync(join(dir, 'step-')), 'github_output');
  writeFileSync(outputFile, '');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    GITHUB_ACTIONS: 'true',
    GITHUB_WORKSPACE: world.repoDir,
    GITHUB_REPOSITORY: REPOSITORY,
    GITHUB_OUTPUT: outputFile,
    ACTIONS_ID_TOKEN_REQUEST_URL: tokenUrl,
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: RUNNER_TOKEN,
    ...Object.fromEntries(Object.entries(inputs).map(([k, v]) => [`INPUT_${k.toUpperCase().replaceAll('-', '_')}`, v])),
    ...extraEnv,
  };
  return new Promise((done) => {
    execFile(process.execPath, [ENTRY], { cwd: world.repoDir, env, encoding: 'utf8' }, (e, stdout, stderr) => {
      const outputs = Object.fromEntries(readFileSync(outputFile, 'utf8').split('\n').filter((l) => l !== '').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
      done({ code: e === null ? 0 : typeof e.code === 'number' ? e.code : -1, stdout, stderr, outputs });
    });
  });
}

const inputs = (out: string): Record<string, string> => ({
  host: host.address,
  identity: 'payments-api',
  environment: 'production',
  manifest: join(dir, 'manifest.json'),
  'out-dir': out,
  root: join(dir, 'root.pem'),
});

describe('GitHub Action entry point', () => {
  it('gets the OIDC token from the runner, packs, verifies, and publishes the paths', async () => {
    const out = join(dir, 'out-ok');
    const r = await step(inputs(out));
    expect(r.stdout).not.toContain('::error');
    expect(r.code).toBe(0);
    expect(r.outputs).toEqual({ artifact: join(out, 'artifact.json'), receipt: join(out, 'receipt.json') });
    // The audience binds this exact request: <prefix>:<base64url SHA-256 of the canonical request>.
    expect(requests.at(-1)?.audience).toMatch(/^attested-pack:[A-Za-z0-9_-]{43}$/);
    expect(requests.at(-1)?.authorization).toBe(`bearer ${RUNNER_TOKEN}`);
    // The published receipt verifies independently, for this artifact, against the manifest.
    const manifest = parseBuildManifest(readFileSync(join(dir, 'manifest.json')));
    const root = new Uint8Array(Buffer.from(readFileSync(join(dir, 'root.pem'), 'utf8').replace(/-----[^-]+-----|\s+/g, ''), 'base64'));
    const v = verifyReceipt(readFileSync(r.outputs.receipt as string), { manifest, root, artifact: readFileSync(r.outputs.artifact as string), expect: { repository: REPOSITORY, ref: 'refs/heads/main' } });
    expect(v.predicate.pack).toMatchObject({ identity: 'payments-api', environment: 'production' });
    expect(v.predicate.source.repository).toBe(REPOSITORY);
  });

  it('fails the step (exit 1, ::error::, no outputs) when the host refuses the token', async () => {
    claimRepositoryId = '5550001';
    try {
      const out = join(dir, 'out-refused');
      const r = await step(inputs(out));
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/^::error title=attested-pack::pack failed \(exit 1\)/m);
      expect(r.outputs).toEqual({});
      expect(existsSync(join(out, 'receipt.json'))).toBe(false);
    } finally {
      claimRepositoryId = WORLD_REPOSITORY.repositoryId;
    }
  });

  it('fails the step when the receipt does not verify (another image in the manifest)', async () => {
    const other = parseBuildManifest(readFileSync(join(dir, 'manifest.json')));
    other.pcrs['0'] = 'ab'.repeat(48);
    writeFileSync(join(dir, 'other-manifest.json'), JSON.stringify(other));
    const r = await step({ ...inputs(join(dir, 'out-other')), manifest: join(dir, 'other-manifest.json') });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('::error title=attested-pack::');
    expect(r.outputs).toEqual({});
  });

  it('fails the step without id-token permission (no token service variables): exit 2', async () => {
    const r = await step(inputs(join(dir, 'out-noperm')), { ACTIONS_ID_TOKEN_REQUEST_URL: '', ACTIONS_ID_TOKEN_REQUEST_TOKEN: '' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('OIDC_UNAVAILABLE');
    expect(r.outputs).toEqual({});
  });

  it('refuses missing or multi-line inputs (exit 2) before doing anything', async () => {
    const before = requests.length;
    const { host: _h, ...noHost } = inputs(join(dir, 'out-x'));
    const missing = await step(noHost);
    expect(missing.code).toBe(2);
    expect(missing.stdout).toContain("::error title=attested-pack::input 'host' is required");
    const multi = await step({ ...inputs(join(dir, 'out-x')), identity: 'payments-api\nother' });
    expect(multi.code).toBe(2);
    expect(requests.length).toBe(before);
  });
});

describe('action.yml', () => {
  const action = parseYaml(readFileSync(fileURLToPath(new URL('../action.yml', import.meta.url)), 'utf8')) as {
    inputs: Record<string, { required: boolean; default?: string }>;
    outputs: Record<string, { value: string }>;
    runs: { using: string; steps: Array<{ id?: string; run: string; env?: Record<string, string> }> };
  };

  it('passes every input to the entry point as INPUT_<NAME>, and runs entry.js', () => {
    const packStep = action.runs.steps.find((s) => s.id === 'pack');
    expect(packStep?.run).toContain('cli/action/entry.js');
    const env = packStep?.env ?? {};
    for (const name of Object.keys(action.inputs)) {
      expect(env[`INPUT_${name.toUpperCase().replaceAll('-', '_')}`], name).toBe(`\${{ inputs.${name} }}`);
    }
    expect(Object.keys(env)).toHaveLength(Object.keys(action.inputs).length);
    expect(Object.keys(action.inputs).filter((n) => action.inputs[n]?.required).sort()).toEqual(['environment', 'host', 'identity', 'manifest']);
  });

  it('exposes the artifact and receipt outputs of the pack step', () => {
    expect(action.outputs.artifact?.value).toBe('${{ steps.pack.outputs.artifact }}');
    expect(action.outputs.receipt?.value).toBe('${{ steps.pack.outputs.receipt }}');
  });
});
