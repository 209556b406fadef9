// `attested-pack pack` (the CI client) against a real host + enclave pair on loopback/Unix
// sockets. The enclave runs a test pack handler that produces a genuine receipt (DSSE +
// simulated attestation document), so the client's local verification is exercised for
// real: success, wrong nonce, wrong manifest, wrong commit, host refusals, usage errors.
import { NO_PACK_OPTIONS, sampleReceiptAuthorization } from '../verifier/test-authorization.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PackHandler } from '../enclave/server.ts';
import { buildReceiptStatement } from '../verifier/statement.ts';
import { assembleReceipt, receiptPublicKey, receiptUserData, signReceiptStatement } from '../verifier/receipt.ts';
import { git, makeGitRepo, runMain } from './enclave-support.ts';
import { TOKEN_DEV, startHarness, testManifest, type Harness } from './host-support.ts';

const CLEF_YAML = `version: 1
file_pattern: secrets/{namespace}/{environment}.enc.yaml
environments:
  - { name: dev, description: d }
  - { name: production, description: p }
namespaces:
  - { name: api, description: a }
  - { name: web, description: w }
service_identities:
  - { name: api-svc, namespaces: [api, web], environments: { dev: { recipient: age1x } } }
`;
const repo = makeGitRepo({ 'clef.yaml': CLEF_YAML, 'secrets/api/dev.enc.yaml': 'k: ENC[...]\n', 'README.md': 'x\n' }, 'sha256');

/** A pack handler that signs a real receipt; `tweak` lets a test make it lie. */
const seenOptions: Array<Record<string, unknown>> = [];
function receiptHandler(tweak: { nonce?: Uint8Array; commit?: string; dropTtl?: boolean } = {}): PackHandler {
  return async (input, ctx) => {
    seenOptions.push(input.options);
    const clef = input.tree.readFile('clef.yaml');
    if (clef === null) throw new Error('no clef.yaml');
    const cells = [];
    for (const ns of ['api', 'web']) {
      const path = `secrets/${ns}/${input.environment}.enc.yaml`;
      const f = input.tree.readFile(path);
      if (f !== null) cells.push({ namespace: ns, environment: input.environment, path, blob: f.id });
    }
    const artifact = Buffer.from(`${JSON.stringify({ version: 1, identity: input.identity, environment: input.environment }, null, 2)}\n`);
    const statement = buildReceiptStatement({
      artifactName: `${input.identity}/${input.environment}.json`,
      authorization: sampleReceiptAuthorization(tweak.commit ?? input.commit, 'test/repo'),
      source: { repository: 'test/repo', commit: tweak.commit ?? input.commit, objectFormat: input.objectFormat, clefYaml: clef.id, cells },
      pack: { identity: input.identity, environment: input.environment, namespaces: ['api', 'web'], revision: `${Date.now()}-0a1b2c3d`, packedAt: new Date().toISOString(), options: {
        ...NO_PACK_OPTIONS,
        // What the enclave received — unless this "host" strips the TTL on the way.
        ttlSeconds: typeof input.options.ttlSeconds === 'number' && tweak.dropTtl !== true ? input.options.ttlSeconds : null,
        bindEncryptionContext: input.options.bindEncryptionContext === true,
      } },
      kms: { sopsDecryptKeys: [], envelopeKey: null, signingKey: null, calls: [] },
      artifactSha256: createHash('sha256').update(artifact).digest('hex'),
      builderVersion: '0.1.0',
    });
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const envelope = signReceiptStatement(statement, privateKey);
    const doc = await ctx.nsm.attest({ userData: receiptUserData(envelope), nonce: tweak.nonce ?? input.nonce, publicKey: receiptPublicKey(privateKey) });
    return { artifact, receipt: assembleReceipt(envelope, doc) };
  };
}

const run = (argv: string[], env: NodeJS.ProcessEnv = {}) => runMain(argv, { cwd: repo, env: { ...PROOF_ENV, ...env } });

const harnesses: Harness[] = [];
async function harness(handler: PackHandler): Promise<Harness> {
  const h = await startHarness({ handler });
  harnesses.push(h);
  return h;
}
afterAll(async () => {
  for (const h of harnesses) await h.close();
});

/** A stand-in proof: this host's enclave handler signs receipts without checking it. */
const PROOF_ENV = { CI_PROOF: 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.c2ln' };

function args(h: Harness, out: string, extra: string[] = []): string[] {
  return ['pack', '--host', h.url, '--identity', 'api-svc', '--env', 'dev', '--manifest', join(h.dir, 'manifest.json'), '--root', join(h.dir, 'root.pem'), '--out', out, '--oidc-token-env', 'CI_PROOF', ...extra];
}

describe('attested-pack pack', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness(receiptHandler());
  });

  it('packs, writes artifact.json + receipt.json and verifies the receipt (sha256 repository)', async () => {
    const out = mkdtempSync(join(tmpdir(), 'ap-out-'));
    const r = await run([...args(h, out), '--json', '--option', 'ttlSeconds=60', '--option', 'bindEncryptionContext=true'], { ATTESTED_PACK_TOKEN: TOKEN_DEV });
    expect(r.err).toContain('packing api-svc/dev');
    expect(seenOptions.at(-1)).toEqual({ ttlSeconds: 60, bindEncryptionContext: true });
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.out) as Record<string, unknown>;
    expect(summary).toMatchObject({ ok: true, identity: 'api-svc', environment: 'dev', commit: git(repo, 'rev-parse', 'HEAD'), objectFormat: 'sha256', trust: 'simulated' });
    const artifact = readFileSync(join(out, 'artifact.json'));
    expect(summary.artifactSha256).toBe(createHash('sha256').update(artifact).digest('hex'));
    expect(JSON.parse(readFileSync(join(out, 'receipt.json'), 'utf8'))).toHaveProperty('dsse');
  });

  it('refuses a receipt whose document carries another nonce (replay)', async () => {
    const bad = await harness(receiptHandler({ nonce: Buffer.alloc(32, 7) }));
    const out = mkdtempSync(join(tmpdir(), 'ap-out-'));
    const r = await run([...args(bad, out), '--json'], { ATTESTED_PACK_TOKEN: TOKEN_DEV });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out)).toMatchObject({ ok: false, code: 'NONCE_MISMATCH' });
    // nothing under the names a later CI step would pick up
    expect(existsSync(join(out, 'receipt.json'))).toBe(false);
    expect(existsSync(join(out, 'artifact.json'))).toBe(false);
    expect(existsSync(join(out, 'receipt.unverified.json'))).toBe(true);
  });

  it('refuses a receipt naming another commit', async () => {
    const bad = await harness(receiptHandler({ commit: 'b'.repeat(64) }));
    const r = await run([...args(bad, mkdtempSync(join(tmpdir(), 'ap-out-'))), '--json'], { ATTESTED_PACK_TOKEN: TOKEN_DEV });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out)).toMatchObject({ ok: false, code: 'EXPECTATION_MISMATCH' });
  });

  it('refuses a receipt whose pack options differ from those requested (a host that dropped the TTL)', async () => {
    const bad = await harness(receiptHandler({ dropTtl: true }));
    const r = await run([...args(bad, mkdtempSync(join(tmpdir(), 'ap-out-'))), '--json', '--option', 'ttlSeconds=60'], { ATTESTED_PACK_TOKEN: TOKEN_DEV });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out)).toMatchObject({ ok: false, code: 'EXPECTATION_MISMATCH' });
    expect(JSON.parse(r.out).message).toContain('options.ttlSeconds');
  });

  it('needs exactly one proof; --print-audience prints the request-bound audience', async () => {
    const out = mkdtempSync(join(tmpdir(), 'ap-out-'));
    const none = args(h, out).filter((a) => a !== '--oidc-token-env' && a !== 'CI_PROOF');
    const r = await run(none, { ATTESTED_PACK_TOKEN: TOKEN_DEV });
    expect(r.code).toBe(2);
    expect(r.err).toContain('give exactly one proof');
    const two = await run([...args(h, out), '--sshsig'], { ATTESTED_PACK_TOKEN: TOKEN_DEV });
    expect(two.code).toBe(2);
    const aud = await run([...args(h, out), '--print-audience']);
    expect(aud.code).toBe(0);
    expect(aud.out.trim()).toMatch(/^attested-pack:[A-Za-z0-9_-]{43}$/);
  });

  it('refuses when the enclave does not run the image of the given manifest', async () => {
    const other = testManifest();
    other.pcrs['0'] = '9'.repeat(96);
    const dir = mkdtempSync(join(tmpdir(), 'ap-out-'));
    writeFileSync(join(dir, 'other.json'), JSON.stringify(other));
    const argv = args(h, dir);
    argv[argv.indexOf('--manifest') + 1] = join(dir, 'other.json');
    const r = await run(argv, { ATTESTED_PACK_TOKEN: TOKEN_DEV });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/receipt does not verify: PCR_MISMATCH/);
  });

  it('reports host refusals with exit code 1', async () => {
    const r = await run([...args(h, mkdtempSync(join(tmpdir(), 'ap-out-'))), '--json'], { ATTESTED_PACK_TOKEN: 'wrong-token-0000000000' });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out)).toMatchObject({ ok: false, status: 401, code: 'TOKEN_INVALID' });
  });

  it('usage errors exit 2: no token, missing flags, undeclared identity, OIDC outside Actions', async () => {
    const out = mkdtempSync(join(tmpdir(), 'ap-out-'));
    // no host token and no OIDC proof to fall back on
    expect((await run([...args(h, out).filter((a) => a !== '--oidc-token-env' && a !== 'CI_PROOF'), '--sshsig'])).code).toBe(2);
    expect((await run(['pack', '--identity', 'api-svc', '--env', 'dev'], { ATTESTED_PACK_TOKEN: TOKEN_DEV })).code).toBe(2);
    const argv = args(h, out);
    argv[argv.indexOf('--identity') + 1] = 'nobody';
    const r = await run(argv, { ATTESTED_PACK_TOKEN: TOKEN_DEV });
    expect(r.code).toBe(2);
    expect(r.err).toContain("no service identity 'nobody'");
    expect((await run([...args(h, out), '--option', 'novalue'], { ATTESTED_PACK_TOKEN: TOKEN_DEV })).code).toBe(2);
    const o = await run([...args(h, out).filter((a) => a !== '--oidc-token-env' && a !== 'CI_PROOF'), '--github-oidc']);
    expect(o.code).toBe(2);
    expect(o.err).toContain('ACTIONS_ID_TOKEN_REQUEST_URL');
  });
});
