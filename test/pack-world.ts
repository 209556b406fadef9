// A whole simulated deployment in one process, for pack tests: the KMS emulator (TLS,
// SigV4) with the three keys and the policies `policy generate` makes for a build
// manifest, a simulated NSM running that image, the host's egress proxy as the enclave's
// only way out, the enclave server with the real pack handler, and a Clef repo in git
// whose SOPS files were encrypted to the emulator's KMS key.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CreateKeyCommand, PutKeyPolicyCommand } from '@aws-sdk/client-kms';
import { startHarness, ADMIN, CI_USER, ENCLAVE_ROLE, type Harness } from './kms-harness.ts';
import { createTestCa, type TestCa } from '../simulator/attestation-issuer.ts';
import { createSimulatedNsm } from '../simulator/nsm.ts';
import { generateKeyPolicy } from '../policy/generate.ts';
import type { BuildManifest } from '../verifier/build-manifest.ts';
import { startEgressProxy, type RunningEgressProxy } from '../host/egress.ts';
import { sha256HexOfToken } from '../host/config.ts';
import { startEnclaveServer, type RunningEnclaveServer } from '../enclave/server.ts';
import { createPackHandler, type PackPhases } from '../enclave/pack.ts';
import { encryptSops, kmsKeyWrapper } from '../enclave/sops/encrypt.ts';
import { sdkKmsEncrypt } from '../enclave/sops/kms-sdk.ts';
import type { Nsm } from '../enclave/nsm/nsm.ts';
import type { PackProof, PackRequestBody } from '../enclave/protocol.ts';
import { createPolicyAuthorizer } from '../enclave/pack/policy-authorizer.ts';
import { parsePackOptions } from '../enclave/pack/options.ts';
import { createTrustedClock } from '../enclave/authz/clock.ts';
import { createTunnelJwksFetcher } from '../enclave/authz/jwks-fetch.ts';
import { startOidcIssuer, SIMULATED_OIDC_HOST, type MintOptions, type SimulatedOidcIssuer } from '../simulator/oidc-issuer.ts';
import { DEFAULT_GITHUB_JOB, type GithubJob } from '../simulator/oidc-claims.ts';
import { DEV_AUDIENCE, developmentTrustPolicyBytes, repoRulesYaml } from '../simulator/dev-trust-policy.ts';
import { packRequestAudience } from '../verifier/pack-request.ts';
import { trustPolicyDigest } from '../verifier/trust-policy.ts';
import type { LatencyModel } from '../simulator/latency.ts';
import { startKmsEmulatorInWorker } from './kms-worker.ts';

/** The name the enclave dials; the egress proxy maps it to the emulator on loopback. */
export const KMS_HOST = 'localhost';

export function fakeManifest(seed = 'image-a'): BuildManifest {
  const pcr = (i: number) => Buffer.from(`${seed}/pcr${i}`.padEnd(48, '.')).toString('hex');
  return {
    schema: 'attested-pack/build-manifest/v1',
    project: { name: 'attested-pack', version: '0.1.0', sourceCommit: '0'.repeat(40), sourceDirty: false },
    blobSet: { kind: 'development', description: 'test manifest (no image)' },
    sourceDateEpoch: 0,
    inputs: [],
    eif: { file: 'attested-pack.eif', sha384: '0'.repeat(96), size: 0 },
    pcrs: { '0': pcr(0), '1': pcr(1), '2': pcr(2) },
    trustPolicy: null,
  };
}

/** The dev environment's one namespace (identity `web`), and its secret. */
export const DEV_NAMESPACE = 'database';
export const DEV_SECRET = `dev-${randomBytes(6).toString('hex')}`;

/** The secrets the sample repo holds: namespace → key → value. */
export const SAMPLE_SECRETS: Record<string, Record<string, string | number | boolean>> = {
  database: { DB_PASSWORD: `pw-${randomBytes(6).toString('hex')}`, DB_PORT: 5432 },
  payments: { STRIPE_KEY: `sk_test_${randomBytes(8).toString('hex')}`, ENABLED: true },
};

/** The repository the simulated CI runs in (ids as GitHub would put them in tokens). */
export const WORLD_REPOSITORY = { name: DEFAULT_GITHUB_JOB.repository, repositoryId: DEFAULT_GITHUB_JOB.repository_id, repositoryOwnerId: DEFAULT_GITHUB_JOB.repository_owner_id };

export interface PackWorld {
  harness: Harness;
  /** The SIMULATED OIDC issuer (GitHub-shaped) the development trust policy trusts. */
  issuer: SimulatedOidcIssuer;
  /** Canonical trust policy bytes the enclave runs with, and their SHA-384. */
  trustPolicy: Uint8Array;
  trustPolicySha384: string;
  ca: TestCa;
  manifest: BuildManifest;
  /** sops = production's SOPS key; sopsDev = the dev environment's (the trust policy keeps them apart). */
  keys: { sops: string; sopsDev: string; envelope: string; signing: string };
  repoDir: string;
  socketPath: string;
  egress: RunningEgressProxy;
  /** Start (or restart) the enclave server with a simulated NSM running `manifest`'s image. */
  startEnclave(image?: BuildManifest, opts?: EnclaveOptions): Promise<RunningEnclaveServer>;
  relayed: Buffer[];
  /** An OIDC proof for exactly this request, as honest CI in the world's repository would get. */
  proofFor(body: Pick<PackRequestBody, 'identity' | 'environment' | 'commit' | 'nonce' | 'options'>, job?: Partial<GithubJob>, mint?: MintOptions): PackProof;
  close(): Promise<void>;
}

/** Typed pack options, exactly as the enclave normalises them (for the audience). */
export function canonicalOptions(o: Record<string, string | number | boolean> | undefined) {
  return parsePackOptions(o ?? {});
}

function git(cwd: string, args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' },
  }).trim();
}

export interface EnclaveOptions {
  debug?: boolean;
  observe?: (p: PackPhases) => void;
  /** Simulated NSM attestation time. */
  nsmLatency?: LatencyModel;
  /** Data keys one pack unwraps at once (default: the pack service's). */
  unwrapConcurrency?: number;
}

export interface PackWorldOptions {
  objectFormat?: 'sha1' | 'sha256';
  /** namespace → key → value; default SAMPLE_SECRETS. */
  secrets?: Record<string, Record<string, string | number | boolean>>;
  /** identity → its namespaces (all with a KMS envelope); default payments-api: every namespace. */
  identities?: Record<string, string[]>;
  /** KMS emulator round trip (seeded). */
  kmsLatency?: LatencyModel;
  /** Run the KMS emulator on its own thread (benchmarks: its CPU is not the enclave's). */
  kmsInWorker?: boolean;
  /** Keep a copy of every byte the egress proxy relays in `relayed` (default true; benchmarks: false). */
  recordRelayed?: boolean;
}

export async function startPackWorld(opts: PackWorldOptions = {}): Promise<PackWorld> {
  const secrets = opts.secrets ?? SAMPLE_SECRETS;
  const dir = mkdtempSync(join(tmpdir(), 'pack-world-'));
  const ca = await createTestCa();
  const harness = await startHarness(
    { attestationRoot: ca.rootDer, ...(opts.kmsLatency === undefined ? {} : { latency: opts.kmsLatency }) },
    opts.kmsInWorker === true ? startKmsEmulatorInWorker : undefined,
  );
  const manifest = fakeManifest();
  const admin = harness.client(ADMIN);
  const createKey = async (spec: 'SYMMETRIC_DEFAULT' | 'ECC_NIST_P256') =>
    (await admin.send(new CreateKeyCommand(spec === 'SYMMETRIC_DEFAULT' ? {} : { KeySpec: spec, KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata?.Arn as string;
  const keys = { sops: await createKey('SYMMETRIC_DEFAULT'), sopsDev: await createKey('SYMMETRIC_DEFAULT'), envelope: await createKey('SYMMETRIC_DEFAULT'), signing: await createKey('ECC_NIST_P256') };
  for (const kind of ['sops', 'sopsDev', 'envelope', 'signing'] as const) {
    const policy = generateKeyPolicy({
      key: kind === 'sopsDev' ? 'sops' : kind,
      manifest,
      enclaveRoleArn: 'arn:aws:iam::111122223333:role/enclave-role',
      adminArns: [ADMIN.principalArn],
      readerArns: [CI_USER.principalArn],
      editorArns: [CI_USER.principalArn],
    });
    await admin.send(new PutKeyPolicyCommand({ KeyId: keys[kind], PolicyName: 'default', Policy: JSON.stringify(policy) }));
  }

  // The Clef repo: clef.yaml + SOPS files encrypted (by the CI user, an editor) to the sops key.
  const repoDir = join(dir, 'repo');
  mkdirSync(repoDir);
  git(repoDir, ['init', '-q', '-b', 'main', `--object-format=${opts.objectFormat ?? 'sha1'}`]);
  const clefYaml = [
    'version: 1',
    'environments:',
    '  - name: production',
    '    description: Production',
    '  - name: dev',
    '    description: Development',
    'namespaces:',
    ...[...new Set([...Object.keys(secrets), DEV_NAMESPACE])].flatMap((ns) => [`  - name: ${ns}`, `    description: Namespace ${ns}`]),
    'sops:',
    '  default_backend: awskms',
    `  aws_kms_arn: ${keys.sops}`,
    'file_pattern: secrets/{namespace}/{environment}.enc.yaml',
    'service_identities:',
    ...Object.entries(opts.identities ?? { 'payments-api': Object.keys(secrets) }).flatMap(([name, namespaces]) => [
      `  - name: ${name}`,
      `    description: Service ${name}`,
      `    namespaces: [${namespaces.join(', ')}]`,
      '    environments:',
      '      production:',
      '        kms:',
      '          provider: aws',
      `          keyId: ${keys.envelope}`,
    ]),
    '  - name: web',
    '    description: The web front end (dev only)',
    `    namespaces: [${DEV_NAMESPACE}]`,
    '    environments:',
    '      dev:',
    '        kms:',
    '          provider: aws',
    `          keyId: ${keys.envelope}`,
    '',
  ].join('\n');
  writeFileSync(join(repoDir, 'clef.yaml'), clefYaml);
  writeFileSync(
    join(repoDir, '.attested-pack.yaml'),
    repoRulesYaml({
      ...Object.fromEntries(Object.keys(opts.identities ?? { 'payments-api': [] }).map((name) => [name, { production: { jobWorkflowRefs: [DEFAULT_GITHUB_JOB.job_workflow_ref] } }])),
      web: { dev: { jobWorkflowRefs: [DEFAULT_GITHUB_JOB.job_workflow_ref] } },
    }),
  );
  const ci = harness.client(CI_USER);
  for (const [ns, values] of Object.entries(secrets)) {
    const plain = Object.entries(values).map(([k, v]) => `${k}: ${typeof v === 'string' ? JSON.stringify(v) : String(v)}`).join('\n') + '\n';
    const file = join(repoDir, 'secrets', ns, 'production.enc.yaml');
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, await encryptSops(plain, { format: 'yaml', fileName: file, keys: [kmsKeyWrapper({ arn: keys.sops, encrypt: sdkKmsEncrypt(() => ci) })] }));
  }
  const devFile = join(repoDir, 'secrets', DEV_NAMESPACE, 'dev.enc.yaml');
  mkdirSync(dirname(devFile), { recursive: true });
  writeFileSync(devFile, await encryptSops(`DEV_ONLY: "${DEV_SECRET}"\n`, { format: 'yaml', fileName: devFile, keys: [kmsKeyWrapper({ arn: keys.sopsDev, encrypt: sdkKmsEncrypt(() => ci) })] }));
  git(repoDir, ['add', '.']);
  git(repoDir, ['commit', '-q', '-m', 'secrets']);

  // CI's issuer, and the DEVELOPMENT trust policy that trusts it for this repository's main.
  const issuer = await startOidcIssuer();
  const trustPolicy = developmentTrustPolicyBytes(issuer, [
    {
      ...WORLD_REPOSITORY,
      environments: {
        production: { refs: ['refs/heads/main'], kmsKeyArns: [keys.sops], maxCommitAgeSeconds: 30 * 24 * 3600 },
        dev: { refs: ['refs/heads/main'], kmsKeyArns: [keys.sopsDev] },
      },
    },
  ]);

  // The enclave's only way out: tunnel socket → egress proxy → (allowlisted) the emulator and the issuer.
  const port = Number(new URL(harness.emulator.endpoint).port);
  const relayed: Buffer[] = [];
  const egressSocket = join(dir, 'egress.sock');
  const egress = await startEgressProxy(egressSocket, {
    allow: [
      { host: KMS_HOST, port, connectTo: { host: '127.0.0.1', port } },
      { host: SIMULATED_OIDC_HOST, port: 443, connectTo: { host: '127.0.0.1', port: issuer.port } },
    ],
    onRelay: (_d, chunk) => {
      if (opts.recordRelayed !== false) relayed.push(Buffer.from(chunk));
    },
  });

  const socketPath = join(dir, 'enclave.sock');
  let running: RunningEnclaveServer | undefined;
  manifest.trustPolicy = { sha384: trustPolicyDigest(trustPolicy), development: true, path: '/app/trust-policy.json' };
  const world: PackWorld = {
    harness,
    issuer,
    trustPolicy,
    trustPolicySha384: trustPolicyDigest(trustPolicy),
    ca,
    manifest,
    keys,
    repoDir,
    socketPath,
    egress,
    relayed,
    async startEnclave(image = manifest, o = {}) {
      await running?.close();
      const nsm: Nsm = createSimulatedNsm({
        ca,
        pcrs: image,
        ...(o.debug === undefined ? {} : { debug: o.debug }),
        ...(o.nsmLatency === undefined ? {} : { attestationLatency: o.nsmLatency }),
      });
      running = await startEnclaveServer(socketPath, {
        nsm,
        packHandler: createPackHandler({
          kms: {
            tunnelSocket: egressSocket,
            caBundlePem: harness.emulator.caPem,
            endpointFor: () => `https://${KMS_HOST}:${port}`,
            maxAttempts: 1,
            ...(o.unwrapConcurrency === undefined ? {} : { unwrapConcurrency: o.unwrapConcurrency }),
          },
          authorizer: createPolicyAuthorizer({
            policyBytes: trustPolicy,
            jwksFetch: createTunnelJwksFetcher({ tunnelSocket: egressSocket }),
            clock: createTrustedClock({ nsm, readFile: () => 'tsc' }),
          }),
          builderVersion: '0.1.0',
          ...(o.observe === undefined ? {} : { observe: o.observe }),
        }),
      });
      return running;
    },
    proofFor(body, job = {}, mint = {}) {
      const audience = packRequestAudience(DEV_AUDIENCE, { ...body, options: canonicalOptions(body.options) });
      return { kind: 'oidc', token: issuer.mintToken({ aud: audience }, { ...mint, job: { sha: body.commit, workflow_sha: body.commit, job_workflow_sha: body.commit, ...job } }) };
    },
    async close() {
      await running?.close();
      await issuer.close();
      await egress.close();
      await harness.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return world;
}

/**
 * A host configuration (the file format of `attested-pack host --config`) for this world:
 * writes manifest.json and root.pem into `dir` and refers to them relatively.
 */
export function hostConfigFor(world: PackWorld, dir: string, opts: { token: string; logLevel?: string; limits?: Record<string, number> }): Record<string, unknown> {
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(world.manifest));
  writeFileSync(join(dir, 'root.pem'), world.ca.rootPem);
  return {
    listen: { host: '127.0.0.1', port: 0 },
    enclave: { socketPath: world.socketPath },
    region: 'us-east-1',
    manifest: 'manifest.json',
    attestationRoot: 'root.pem',
    credentials: { source: 'static', accessKeyId: ENCLAVE_ROLE.accessKeyId, secretAccessKey: ENCLAVE_ROLE.secretAccessKey, sessionToken: ENCLAVE_ROLE.sessionToken },
    auth: { tokens: [{ name: 'ci', sha256: sha256HexOfToken(opts.token), identities: ['payments-api'], environments: ['production'] }] },
    ...(opts.limits === undefined ? {} : { limits: opts.limits }),
    logLevel: opts.logLevel ?? 'warn',
  };
}

export { ENCLAVE_ROLE };
