// `attested-pack demo`: the whole chain on one machine with no AWS account and no Docker.
// Every service runs as its own attested-pack process; the Nitro hardware and AWS KMS are
// the SIMULATED stand-ins (simulated NSM, KMS emulator), and the output says so.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Writable } from 'node:stream';
import { CreateKeyCommand, GetPublicKeyCommand, KMSClient, PutKeyPolicyCommand } from '@aws-sdk/client-kms';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { EXIT_OK, EXIT_REFUSED, stringOption, type Command } from '../command.ts';
import { DemoProcesses, type RunResult } from '../demo/processes.ts';
import { createSampleRepo, DEMO_IDENTITY, sampleSecrets } from '../demo/sample-repo.ts';
import { createTestCa } from '../../simulator/attestation-issuer.ts';
import { writeSimulatedRoot } from '../../simulator/nsm.ts';
import { parseBuildManifest, type BuildManifest } from '../../verifier/build-manifest.ts';
import { sha256HexOfToken } from '../../host/config.ts';
import { callEnclave } from '../../host/enclave-client.ts';
import { EnclaveProtocolError } from '../../enclave/protocol.ts';
import { collectGitObjects } from '../pack-client/git-objects.ts';
import { snapshotSources } from '../../reproducible/source-snapshot.ts';
import { clefInputPaths } from '../pack-client/clef-paths.ts';

const SOURCE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ACCOUNT = '111122223333';
const REGION = 'us-east-1';
const ENCLAVE_ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/attested-pack-enclave`;

interface DemoPrincipal {
  accessKeyId: string;
  secretAccessKey: string;
  principalArn: string;
  sessionToken?: string;
}

function principal(idPrefix: string, arn: string, session = false): DemoPrincipal {
  const p: DemoPrincipal = { accessKeyId: `${idPrefix}${randomBytes(8).toString('hex').toUpperCase()}`, secretAccessKey: randomBytes(30).toString('base64'), principalArn: arn };
  if (session) p.sessionToken = randomBytes(24).toString('base64');
  return p;
}

class DemoFailure extends Error {}

/** The step printer: numbered steps, indented detail, SIMULATED where it applies. */
class Steps {
  #n = 0;
  readonly #total: number;
  readonly #out: Writable;
  #t0 = 0;

  constructor(total: number, out: Writable) {
    this.#total = total;
    this.#out = out;
  }

  begin(title: string): void {
    this.#n += 1;
    this.#t0 = Date.now();
    this.#out.write(`\n[${this.#n}/${this.#total}] ${title}\n`);
  }

  detail(text: string): void {
    for (const line of text.split('\n')) this.#out.write(`      ${line}\n`);
  }

  ok(text: string): void {
    this.#out.write(`      ✓ ${text} (${((Date.now() - this.#t0) / 1000).toFixed(1)} s)\n`);
  }
}

function must(r: RunResult, what: string): RunResult {
  if (r.code !== 0) throw new DemoFailure(`${what} failed (exit ${r.code}):\n${r.stderr.trim()}\n${r.stdout.trim()}`);
  return r;
}

function lastJsonLine(text: string): Record<string, unknown> {
  const line = text.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (line === undefined) throw new DemoFailure(`expected a JSON line, got: ${text.slice(0, 400)}`);
  return JSON.parse(line) as Record<string, unknown>;
}

/** The files the image build reads, copied, with one line added to the enclave service: a tampered image. */
async function tamperedSource(dir: string): Promise<string> {
  const dest = join(dir, 'tampered-source');
  await snapshotSources(SOURCE_ROOT, dest);
  const main = join(dest, 'enclave', 'main.ts');
  writeFileSync(main, `${readFileSync(main, 'utf8')}\n// An insider's one-line change: the image now differs from the published source.\n(globalThis as Record<string, unknown>).exfiltrate = 'https://attacker.example/collect';\n`);
  return dest;
}

export const demoCommand: Command = {
  path: ['demo'],
  summary: 'run the whole chain locally on SIMULATED hardware and KMS (no AWS account, no Docker)',
  help: `Usage: attested-pack demo [--dir DIR] [--keep] [--json]

Runs the whole attested-pack chain on this machine, each part as its own process:
  build the enclave image (development blob set) and print its PCRs → generate and lint
  the KMS key policies → start the KMS emulator (SIMULATED AWS KMS: TLS, SigV4, key
  policies, Recipient) → start the simulated enclave (SIMULATED NSM) and the host →
  create a sample Clef repo encrypted with real sops → pack it with the CI client →
  verify the receipt as an auditor would → open the artifact as a runtime would →
  show that a tampered image is refused by KMS.

Nothing here is trusted by default: the simulated NSM's root certificate is passed
explicitly to every verifier, and every result made with it is labelled SIMULATED.

Options:
  --dir DIR   work directory (default: a new temporary directory)
  --keep      keep the work directory (always kept when --dir is given)
  --json      print the final summary as one JSON object on stdout (progress on stderr)

Exit codes: 0 every step behaved as expected (including the refusal of the tampered
image), 1 a step did not.
`,
  options: { dir: { type: 'string' }, keep: { type: 'boolean' }, json: { type: 'boolean' } },
  async run({ values, stdout, stderr, cwd, env }) {
    const json = values.json === true;
    const out = json ? stderr : stdout;
    const dirOpt = stringOption(values, 'dir');
    const dir = dirOpt === undefined ? mkdtempSync(join(tmpdir(), 'attested-pack-demo-')) : resolve(cwd, dirOpt);
    mkdirSync(dir, { recursive: true });
    const keep = values.keep === true || dirOpt !== undefined;
    const procs = new DemoProcesses({ ...env, NO_COLOR: '1' });
    const steps = new Steps(10, out);
    const started = Date.now();
    const clients: KMSClient[] = [];
    let succeeded = false;
    out.write(`attested-pack demo — the Nitro hardware and AWS KMS are SIMULATED on this machine\nwork directory: ${dir}\n`);
    try {
      const cache = join(SOURCE_ROOT, '.cache', 'attested-pack');
      // 1. The image.
      steps.begin('Build the enclave image (reproducible; development blob set — the Nitro kernel blobs are not installed here)');
      const built = lastJsonLine(must(await procs.run(['build', '--out', join(dir, 'image'), '--dev-blobs', '--cache', cache, '--json'], { onProgress: (l) => steps.detail(l) }), 'build').stdout);
      const manifestPath = String(built.manifest);
      const manifest: BuildManifest = parseBuildManifest(readFileSync(manifestPath));
      steps.detail(`EIF: ${String(built.eif)} (${(Number(built.size) / 1e6).toFixed(1)} MB)`);
      for (const [i, v] of Object.entries(manifest.pcrs)) steps.detail(`PCR${i}: ${v}`);
      steps.ok('image built; the build manifest lists every input digest and the PCRs');

      // 2. A tampered image, for the last step.
      steps.begin('Build a tampered image: the same source plus one line in enclave/main.ts');
      const tamperedDir = await tamperedSource(dir);
      const tBuilt = lastJsonLine(
        must(await procs.run(['build', '--source', tamperedDir, '--out', join(dir, 'tampered-image'), '--dev-blobs', '--cache', cache, '--json']), 'tampered build').stdout,
      );
      const tamperedManifestPath = String(tBuilt.manifest);
      const tampered = parseBuildManifest(readFileSync(tamperedManifestPath));
      const diff = await procs.run(['pcr-diff', String(built.eif), String(tBuilt.eif)]);
      if (diff.code === 2 || tampered.pcrs['0'] === manifest.pcrs['0']) throw new DemoFailure(`the tampered image does not measure differently:\n${diff.stderr}${diff.stdout}`);
      steps.detail(diff.stdout.trim().split('\n').slice(0, 8).join('\n'));
      steps.ok(`PCR0 ${tampered.pcrs['0'].slice(0, 16)}… ≠ ${manifest.pcrs['0'].slice(0, 16)}…; PCR1 (kernel) unchanged: ${tampered.pcrs['1'] === manifest.pcrs['1']}`);

      // 3. Policies.
      steps.begin('Generate the KMS key policies from the build manifest, and lint them');
      const admin = principal('AKIA', `arn:aws:iam::${ACCOUNT}:user/key-admin`);
      const enclaveRole = principal('ASIA', `arn:aws:sts::${ACCOUNT}:assumed-role/attested-pack-enclave/i-0123456789abcdef0`, true);
      const editor = principal('AKIA', `arn:aws:iam::${ACCOUNT}:user/secrets-editor`);
      const runtime = principal('ASIA', `arn:aws:sts::${ACCOUNT}:assumed-role/payments-api-runtime/task-1`, true);
      const runtimeRoleArn = `arn:aws:iam::${ACCOUNT}:role/payments-api-runtime`;
      const policyFile = join(dir, 'key-policies.json');
      const gen = must(
        await procs.run(['policy', 'generate', '--manifest', manifestPath, '--role', ENCLAVE_ROLE_ARN, '--admin', admin.principalArn, '--readers', runtimeRoleArn, '--editors', editor.principalArn]),
        'policy generate',
      );
      writeFileSync(policyFile, gen.stdout);
      const policies = JSON.parse(gen.stdout) as Record<'sops' | 'envelope' | 'signing', unknown>;
      const lint = must(await procs.run(['policy', 'lint', policyFile, '--manifest', manifestPath, '--role', ENCLAVE_ROLE_ARN, '--json']), 'policy lint');
      const lintResult = lastJsonLine(lint.stdout);
      steps.detail(`sops key: Decrypt only with an attestation of PCR0/1/2 (explicit Deny otherwise); envelope key: Encrypt by the enclave, Decrypt by the runtime; signing key: Sign by the enclave`);
      steps.ok(`policies in ${policyFile}; lint: ${String(lintResult.errors)} errors, ${String(lintResult.warnings)} warnings`);

      // 4. The KMS emulator, trusting the simulated Nitro root.
      steps.begin('Start the KMS emulator (SIMULATED AWS KMS: HTTPS, SigV4, key policies, Recipient → CMS)');
      const caDir = join(dir, 'simulated-nitro-ca');
      const ca = await createTestCa({ stateDir: caDir });
      const rootFile = writeSimulatedRoot(ca, dir);
      const principalsFile = join(dir, 'kms-principals.json');
      writeFileSync(principalsFile, JSON.stringify([admin, enclaveRole, editor, runtime], null, 2), { mode: 0o600 });
      const kms = await procs.start('kms-emulator', ['kms-emulator', '--state', join(dir, 'kms'), '--principals', principalsFile, '--attestation-root', rootFile, '--region', REGION, '--account', ACCOUNT]);
      const kmsEndpoint = String(kms.info.endpoint);
      const kmsCa = String(kms.info.caFile);
      const kmsPort = Number(new URL(kmsEndpoint).port);
      const client = (p: DemoPrincipal): KMSClient => {
        const c = new KMSClient({
          endpoint: kmsEndpoint,
          region: REGION,
          credentials: { accessKeyId: p.accessKeyId, secretAccessKey: p.secretAccessKey, ...(p.sessionToken === undefined ? {} : { sessionToken: p.sessionToken }) },
          requestHandler: new NodeHttpHandler({ httpsAgent: new Agent({ ca: readFileSync(kmsCa, 'utf8') }) }),
        });
        clients.push(c);
        return c;
      };
      steps.ok(`SIMULATED KMS at ${kmsEndpoint} (CA ${kmsCa}); Recipient documents must chain to the SIMULATED root ${rootFile}`);

      // 5. Keys.
      steps.begin('Create the three KMS keys and apply the generated policies');
      const adminKms = client(admin);
      const createKey = async (description: string, sign: boolean): Promise<string> =>
        String((await adminKms.send(new CreateKeyCommand({ Description: description, ...(sign ? { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' } : {}) }))).KeyMetadata?.Arn);
      const keys = { sops: await createKey('SOPS data keys', false), envelope: await createKey('artifact envelope', false), signing: await createKey('artifact signing', true) };
      for (const kind of ['sops', 'envelope', 'signing'] as const) {
        await adminKms.send(new PutKeyPolicyCommand({ KeyId: keys[kind], PolicyName: 'default', Policy: JSON.stringify(policies[kind]) }));
        steps.detail(`${kind.padEnd(8)} ${keys[kind]}`);
      }
      steps.ok('keys created; each policy is the one just generated and linted');

      // 6. Enclave and host.
      steps.begin('Start the enclave (SIMULATED NSM reporting the built image\'s PCRs) and the host');
      const egressSocket = join(dir, 'egress.sock');
      const enclaveSocket = join(dir, 'enclave.sock');
      const enclaveArgs = (socket: string, m: string) => ['enclave', '--socket', socket, '--nsm', 'simulated', '--manifest', m, '--ca-dir', caDir, '--root-dir', dir, '--tunnel', egressSocket, '--kms-ca', kmsCa];
      await procs.start('enclave', enclaveArgs(enclaveSocket, manifestPath));
      const token = randomBytes(24).toString('base64url');
      const hostConfig = {
        listen: { host: '127.0.0.1', port: 0 },
        enclave: { socketPath: enclaveSocket },
        region: REGION,
        manifest: manifestPath,
        attestationRoot: rootFile,
        auth: { tokens: [{ name: 'demo-ci', sha256: sha256HexOfToken(token), identities: [DEMO_IDENTITY], environments: ['*'] }] },
        egress: { socketPath: egressSocket, allow: [`kms.${REGION}.amazonaws.com:443=127.0.0.1:${kmsPort}`] },
        credentials: { source: 'static', accessKeyId: enclaveRole.accessKeyId, secretAccessKey: enclaveRole.secretAccessKey, sessionToken: enclaveRole.sessionToken },
        logLevel: 'warn',
      };
      const hostConfigFile = join(dir, 'host-config.json');
      writeFileSync(hostConfigFile, JSON.stringify(hostConfig, null, 2), { mode: 0o600 });
      const host = await procs.start('host', ['host', '--config', hostConfigFile]);
      const hostUrl = String(host.info.address);
      const ready = await fetch(`${hostUrl}/v1/ready`);
      const readyBody = (await ready.json()) as Record<string, unknown>;
      if (ready.status !== 200) throw new DemoFailure(`host is not ready: ${JSON.stringify(readyBody)}`);
      steps.detail(`host ${hostUrl}: /v1/ready checked a fresh attestation of the enclave against the manifest's PCRs`);
      steps.detail(`egress allowlist: kms.${REGION}.amazonaws.com:443 → the emulator (TLS terminates inside the enclave)`);
      steps.ok('enclave and host running');

      // 7. Sample repo.
      steps.begin('Create a sample Clef repository whose SOPS files are encrypted to the sops key');
      const repoDir = join(dir, 'secrets-repo');
      const repo = await createSampleRepo({
        dir: repoDir,
        sopsKeyArn: keys.sops,
        envelopeKeyArn: keys.envelope,
        sopsEnv: { ...env, AWS_ENDPOINT_URL_KMS: kmsEndpoint, SSL_CERT_FILE: kmsCa, AWS_CA_BUNDLE: kmsCa, AWS_ACCESS_KEY_ID: editor.accessKeyId, AWS_SECRET_ACCESS_KEY: editor.secretAccessKey, AWS_REGION: REGION, AWS_SESSION_TOKEN: '', AWS_PROFILE: '' },
        editorKms: client(editor),
      });
      steps.ok(`${repoDir} at ${repo.commit.slice(0, 12)}, encrypted with ${repo.encryptedWith}`);

      // 8. Pack.
      steps.begin(`Pack ${DEMO_IDENTITY}/production with the CI client (attested-pack pack)`);
      const outDir = join(dir, 'out');
      const packed = lastJsonLine(
        must(
          await procs.run(
            ['pack', '--host', hostUrl, '--identity', DEMO_IDENTITY, '--env', 'production', '--manifest', manifestPath, '--repo', repoDir, '--out', outDir, '--root', rootFile, '--repository', 'example/secrets', '--option', `signingKeyArn=${keys.signing}`, '--json'],
            { env: { ATTESTED_PACK_TOKEN: token }, onProgress: (l) => steps.detail(l) },
          ),
          'pack',
        ).stdout,
      );
      if (packed.commit !== repo.commit) throw new DemoFailure(`receipt commit ${String(packed.commit)} is not HEAD ${repo.commit}`);
      steps.ok(`artifact ${String(packed.artifact)}\n        receipt  ${String(packed.receipt)} (the CI client verified it, with its nonce, before reporting success)`);

      // 9. Audit and open.
      steps.begin('Verify the receipt offline as an auditor, then open the artifact as a runtime would');
      const verify = await procs.run(['verify', 'receipt', String(packed.receipt), '--manifest', manifestPath, '--artifact', String(packed.artifact), '--root', rootFile]);
      steps.detail(verify.stdout.trim());
      must(verify, 'verify receipt');
      const pub = await client(runtime).send(new GetPublicKeyCommand({ KeyId: keys.signing }));
      const verifyKeyFile = join(dir, 'artifact-verify-key.b64');
      writeFileSync(verifyKeyFile, Buffer.from(pub.PublicKey as Uint8Array).toString('base64'));
      const opened = lastJsonLine(
        must(
          await procs.run(['open', String(packed.artifact), '--identity', DEMO_IDENTITY, '--env', 'production', '--verify-key', verifyKeyFile, '--kms-endpoint', kmsEndpoint, '--kms-ca', kmsCa, '--json'], {
            env: { AWS_ACCESS_KEY_ID: runtime.accessKeyId, AWS_SECRET_ACCESS_KEY: runtime.secretAccessKey, AWS_SESSION_TOKEN: runtime.sessionToken, AWS_REGION: REGION },
          }),
          'open',
        ).stdout,
      );
      const values = opened.values as Record<string, Record<string, string>>;
      const expected = sampleSecrets('production');
      for (const [ns, kv] of Object.entries(expected)) for (const [k, v] of Object.entries(kv)) if (values[ns]?.[k] !== String(v)) throw new DemoFailure(`opened artifact lacks ${ns}.${k}`);
      steps.ok(`receipt verified (trust: SIMULATED root); artifact opened with the runtime role: ${Object.keys(values).length} namespaces, keys ${(opened.keys as string[]).join(', ')} (values not printed)`);

      // 10. The tampered image.
      steps.begin('A tampered image asks KMS for the same secrets');
      const tamperedSocket = join(dir, 'tampered-enclave.sock');
      await procs.start('tampered enclave', enclaveArgs(tamperedSocket, tamperedManifestPath));
      const clef = readFileSync(join(repoDir, 'clef.yaml'), 'utf8');
      const objects = await collectGitObjects({ repoDir, paths: clefInputPaths(clef, DEMO_IDENTITY, 'production') });
      let refusal: EnclaveProtocolError | undefined;
      try {
        // As a compromised host would: straight to the enclave, with the role's credentials.
        await callEnclave(
          { socketPath: tamperedSocket },
          'pack',
          {
            identity: DEMO_IDENTITY,
            environment: 'production',
            nonce: randomBytes(32),
            commit: objects.commit,
            objectFormat: objects.objectFormat,
            objects: objects.objects,
            credentials: { accessKeyId: enclaveRole.accessKeyId, secretAccessKey: enclaveRole.secretAccessKey, ...(enclaveRole.sessionToken === undefined ? {} : { sessionToken: enclaveRole.sessionToken }) },
            region: REGION,
            options: {},
          },
          { deadlineMs: 60_000 },
        );
      } catch (e) {
        if (!(e instanceof EnclaveProtocolError)) throw e;
        refusal = e;
      }
      if (refusal === undefined) throw new DemoFailure('the tampered image was able to pack: KMS did not refuse it');
      if (!/explicit deny/.test(refusal.message)) throw new DemoFailure(`the tampered image was refused, but not by the key policy: ${refusal.code} ${refusal.message}`);
      steps.detail(`${refusal.code}${refusal.detail === undefined ? '' : ` (${refusal.detail})`}: ${refusal.message}`);
      steps.ok('refused: the key policy pins the published PCRs, and the tampered image measures differently');

      const summary = {
        ok: true,
        simulated: { nsm: 'SIMULATED', kms: 'SIMULATED (emulator)', root: rootFile },
        seconds: Math.round((Date.now() - started) / 100) / 10,
        workDir: dir,
        image: { eif: built.eif, manifest: manifestPath, pcrs: manifest.pcrs },
        tamperedImage: { eif: tBuilt.eif, pcr0: tampered.pcrs['0'], refused: refusal.message },
        keys,
        policies: policyFile,
        repo: { dir: repoDir, commit: repo.commit },
        artifact: packed.artifact,
        receipt: packed.receipt,
        kept: keep,
      };
      succeeded = true;
      if (json) stdout.write(`${JSON.stringify(summary)}\n`);
      else {
        out.write(`\nSummary — everything worked as it should (SIMULATED hardware and KMS), in ${summary.seconds} s\n`);
        out.write(keep ? `  work directory kept: ${dir}\n` : `  (these files are removed with the work directory when the demo exits; use --keep or --dir to keep them)\n`);
        out.write(`  image         ${String(built.eif)}\n  manifest      ${manifestPath}\n  PCR0          ${manifest.pcrs['0']}\n`);
        out.write(`  key policies  ${policyFile}\n  secrets repo  ${repoDir} @ ${repo.commit}\n`);
        out.write(`  artifact      ${String(packed.artifact)}\n  receipt       ${String(packed.receipt)}\n`);
        out.write(`  simulated root (pass with --root to verify): ${rootFile}\n`);
        out.write(`  tampered image: refused by KMS\n`);
      }
      return EXIT_OK;
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      out.write(`\n✗ demo failed: ${message}\n  work directory kept for inspection: ${dir}\n`);
      if (json) stdout.write(`${JSON.stringify({ ok: false, error: message, workDir: dir })}\n`);
      return EXIT_REFUSED;
    } finally {
      for (const c of clients) c.destroy();
      await procs.stopAll();
      // A failed demo keeps its directory for inspection (the message above says where).
      if (succeeded && !keep) rmSync(dir, { recursive: true, force: true });
    }
  },
};
