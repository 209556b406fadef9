// The demo's story, one named step after another (cli/commands/demo.ts prints and cleans up).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Writable } from 'node:stream';
import { GetPublicKeyCommand } from '@aws-sdk/client-kms';
import { createTestCa } from '../../simulator/attestation-issuer.ts';
import { writeSimulatedRoot } from '../../simulator/nsm.ts';
import { DEV_AUDIENCE } from '../../simulator/dev-trust-policy.ts';
import { callEnclave } from '../../host/enclave-client.ts';
import { EnclaveProtocolError } from '../../enclave/protocol.ts';
import { packRequestAudience } from '../../verifier/pack-request.ts';
import { collectGitObjects } from '../pack-client/git-objects.ts';
import { clefInputPaths } from '../pack-client/clef-paths.ts';
import { requestGithubActionsIdToken } from '../pack-client/github-oidc.ts';
import { DemoFailure, ENCLAVE_ROLE_ARN, REGION, lastJsonLine, must, type DemoContext } from './context.ts';
import { applyKeyPolicies, startDemoKms, type DemoKms, type KeyPolicies } from './kms.ts';
import { ciJob, startDemoCi, DEMO_REPOSITORY, DEMO_WORKFLOW_REF, type DemoCi } from './ci.ts';
import { buildImage, buildTamperedImage, type DemoImage } from './image.ts';
import { startServices, type DemoServices } from './services.ts';
import { createSampleRepo, DEMO_IDENTITY, sampleSecrets } from './sample-repo.ts';
import { showRefusals, type Refusal } from './refusals.ts';
import { renderAuditHtml, renderAuditText, runAudit, type AuditReport } from '../audit/index.ts';
import { pemCertificateToDer } from '../../verifier/index.ts';

export interface DemoScene {
  simulated: { nsm: 'SIMULATED'; kms: 'SIMULATED (emulator)'; oidc: 'SIMULATED'; trustPolicy: 'DEVELOPMENT'; root: string };
  image: { eif: string; manifest: string; pcrs: Record<string, string>; trustPolicySha384: string | null };
  tamperedImage: { eif: string; pcr0: string; refused: string };
  keys: DemoKms['keys'];
  policies: string;
  trustPolicy: string;
  repo: { dir: string; commit: string; repository: string };
  artifact: string;
  receipt: string;
  refusals: Refusal[];
  audit: { clean: boolean; unexplainedAfterHostPack: number; html: string };
}

async function policies(ctx: DemoContext, kms: DemoKms, image: DemoImage): Promise<string> {
  const file = join(ctx.dir, 'key-policies.json');
  const p = kms.principals;
  const gen = must(await ctx.procs.run(['policy', 'generate', '--manifest', image.manifestPath, '--role', ENCLAVE_ROLE_ARN, '--admin', p.admin.principalArn, '--readers', kms.runtimeRoleArn, '--editors', p.editor.principalArn]), 'policy generate');
  writeFileSync(file, gen.stdout);
  const lint = lastJsonLine(must(await ctx.procs.run(['policy', 'lint', file, '--manifest', image.manifestPath, '--role', ENCLAVE_ROLE_ARN, '--json']), 'policy lint').stdout);
  for (const [name, arn] of await applyKeyPolicies(kms, JSON.parse(gen.stdout) as KeyPolicies)) ctx.steps.detail(`${name.padEnd(18)} ${arn}`);
  ctx.steps.ok(`policies in ${file}, applied to the four keys; lint: ${String(lint.errors)} errors, ${String(lint.warnings)} warnings`);
  return file;
}

async function pack(ctx: DemoContext, s: { kms: DemoKms; ci: DemoCi; services: DemoServices; image: DemoImage; rootFile: string; repoDir: string }): Promise<Record<string, unknown>> {
  const outDir = join(ctx.dir, 'out');
  return lastJsonLine(
    must(
      await ctx.procs.run(
        ['pack', '--host', s.services.hostUrl, '--identity', DEMO_IDENTITY, '--env', 'production', '--manifest', s.image.manifestPath, '--repo', s.repoDir, '--out', outDir, '--root', s.rootFile, '--option', `signingKeyArn=${s.kms.keys.signing}`, '--github-oidc', '--json'],
        { env: { ...s.ci.runner.env(), ATTESTED_PACK_TOKEN: s.services.hostToken }, onProgress: (l) => ctx.steps.detail(l) },
      ),
      'pack',
    ).stdout,
  );
}

async function verifyAndOpen(ctx: DemoContext, s: { kms: DemoKms; image: DemoImage; rootFile: string; packed: Record<string, unknown>; commit: string }): Promise<void> {
  const verify = await ctx.procs.run(['verify', 'receipt', String(s.packed.receipt), '--manifest', s.image.manifestPath, '--artifact', String(s.packed.artifact), '--root', s.rootFile, '--repository', DEMO_REPOSITORY, '--ref', 'refs/heads/main', '--commit', s.commit]);
  ctx.steps.detail(verify.stdout.trim());
  must(verify, 'verify receipt');
  const runtime = s.kms.principals.runtime;
  const pub = await s.kms.client(runtime).send(new GetPublicKeyCommand({ KeyId: s.kms.keys.signing }));
  const verifyKeyFile = join(ctx.dir, 'artifact-verify-key.b64');
  writeFileSync(verifyKeyFile, Buffer.from(pub.PublicKey as Uint8Array).toString('base64'));
  const opened = lastJsonLine(
    must(
      await ctx.procs.run(['open', String(s.packed.artifact), '--identity', DEMO_IDENTITY, '--env', 'production', '--verify-key', verifyKeyFile, '--kms-endpoint', s.kms.endpoint, '--kms-ca', s.kms.caFile, '--json'], {
        env: { AWS_ACCESS_KEY_ID: runtime.accessKeyId, AWS_SECRET_ACCESS_KEY: runtime.secretAccessKey, AWS_SESSION_TOKEN: runtime.sessionToken, AWS_REGION: REGION },
      }),
      'open',
    ).stdout,
  );
  const values = opened.values as Record<string, Record<string, string>>;
  for (const [ns, kv] of Object.entries(sampleSecrets('production'))) for (const [k, v] of Object.entries(kv)) if (values[ns]?.[k] !== String(v)) throw new DemoFailure(`opened artifact lacks ${ns}.${k}`);
  ctx.steps.ok(`receipt verified (SIMULATED root, DEVELOPMENT policy; repository, ref and commit as expected); artifact opened with the runtime role: keys ${(opened.keys as string[]).join(', ')} (values not printed)`);
}

/**
 * What only the host can do: call an enclave socket directly, with the role's credentials and
 * a genuine token the runner minted for exactly this request.
 */
async function hostPack(s: { kms: DemoKms; ci: DemoCi; repoDir: string; commit: string }, socketPath: string): Promise<void> {
  const clef = readFileSync(join(s.repoDir, 'clef.yaml'), 'utf8');
  const objects = await collectGitObjects({ repoDir: s.repoDir, paths: clefInputPaths(clef, DEMO_IDENTITY, 'production') });
  const role = s.kms.principals.enclaveRole;
  const body = {
    identity: DEMO_IDENTITY, environment: 'production', nonce: randomBytes(32), commit: objects.commit, objectFormat: objects.objectFormat, objects: objects.objects,
    credentials: { accessKeyId: role.accessKeyId, secretAccessKey: role.secretAccessKey, ...(role.sessionToken === undefined ? {} : { sessionToken: role.sessionToken }) },
    region: REGION, options: {},
  };
  ciJob(s.ci, s.commit);
  const token = await requestGithubActionsIdToken(packRequestAudience(DEV_AUDIENCE, { ...body, options: { signingKeyArn: null, ttlSeconds: null, bindEncryptionContext: false } }), s.ci.runner.env());
  await callEnclave({ socketPath }, 'pack', { ...body, proof: { kind: 'oidc', token } }, { deadlineMs: 60_000 });
}

function audit(ctx: DemoContext, image: DemoImage, rootFile: string, trustPolicyFile: string): AuditReport {
  return runAudit({
    cloudTrail: [join(ctx.dir, 'cloudtrail')],
    receipts: join(ctx.dir, 'receipts'),
    manifests: [image.manifestPath],
    trustPolicy: trustPolicyFile,
    root: pemCertificateToDer(readFileSync(rootFile, 'utf8')) as Uint8Array,
  });
}

/** The tampered image gets a genuine, request-bound token — and KMS still says no. */
async function tamperedRefused(ctx: DemoContext, s: { kms: DemoKms; ci: DemoCi; services: DemoServices; tampered: DemoImage; repoDir: string; commit: string }): Promise<string> {
  const socket = join(ctx.dir, 'tampered-enclave.sock');
  await ctx.procs.start('tampered enclave', s.services.enclaveArgs(socket, s.tampered.manifestPath));
  try {
    await hostPack(s, socket);
  } catch (e) {
    if (!(e instanceof EnclaveProtocolError)) throw e;
    if (!/explicit deny/.test(e.message)) throw new DemoFailure(`the tampered image was refused, but not by the key policy: ${e.code} ${e.message}`);
    ctx.steps.detail(`${e.code}${e.detail === undefined ? '' : ` (${e.detail})`}: ${e.message}`);
    return e.message;
  }
  throw new DemoFailure('the tampered image was able to pack: KMS did not refuse it');
}

export async function runDemo(ctx: DemoContext, onCi: (ci: DemoCi) => void): Promise<DemoScene> {
  const { steps } = ctx;
  steps.begin('Start the KMS emulator (SIMULATED AWS KMS: HTTPS, SigV4, key policies, Recipient → CMS) and create the keys');
  const caDir = join(ctx.dir, 'simulated-nitro-ca');
  const rootFile = writeSimulatedRoot(await createTestCa({ stateDir: caDir }), ctx.dir);
  const kms = await startDemoKms(ctx, rootFile);
  steps.ok(`SIMULATED KMS at ${kms.endpoint}; keys: production and staging SOPS keys, envelope, signing`);

  steps.begin('Start a SIMULATED CI identity provider (GitHub-shaped OIDC) and write the DEVELOPMENT trust policy');
  const ci = await startDemoCi(ctx, kms);
  onCi(ci);
  steps.detail(`issuer ${ci.issuer.issuerUrl} (its own throw-away CA); trusts ${DEMO_REPOSITORY} by repository id, refs/heads/main only`);
  steps.detail('production may use only the production SOPS key, staging only the staging key');
  steps.ok(`trust policy ${ci.trustPolicyFile} (development: true)`);

  steps.begin('Build the enclave image with the trust policy measured in (reproducible; development blob set)');
  const image = await buildImage(ctx, ci.trustPolicyFile);
  steps.detail(`EIF: ${image.eif} (${(image.size / 1e6).toFixed(1)} MB); trust policy sha384 ${image.manifest.trustPolicy?.sha384 ?? 'none'}`);
  for (const [i, v] of Object.entries(image.manifest.pcrs)) steps.detail(`PCR${i}: ${v}`);
  steps.ok('image built; the build manifest lists every input digest, the trust policy and the PCRs');

  steps.begin('Build a tampered image: the same source plus one line in enclave/main.ts');
  const tampered = await buildTamperedImage(ctx, ci.trustPolicyFile, image);
  steps.detail(tampered.diff);
  steps.ok(`PCR0 ${tampered.image.manifest.pcrs['0'].slice(0, 16)}… ≠ ${image.manifest.pcrs['0'].slice(0, 16)}…`);

  steps.begin('Generate the KMS key policies from the build manifest, lint them, apply them');
  const policyFile = await policies(ctx, kms, image);

  steps.begin("Start the enclave (SIMULATED NSM reporting the built image's PCRs) and the host");
  const services = await startServices(ctx, { kms, ci, manifestPath: image.manifestPath, caDir, rootFile });
  steps.ok(`host ${services.hostUrl} ready (a fresh attestation checked against the manifest); egress: KMS and the CI issuer only`);

  steps.begin('Create a sample Clef repository; each environment encrypted to its own SOPS key');
  const repoDir = join(ctx.dir, 'secrets-repo');
  const editorEnv = { ...ctx.env, AWS_ENDPOINT_URL_KMS: kms.endpoint, SSL_CERT_FILE: kms.caFile, AWS_CA_BUNDLE: kms.caFile, AWS_ACCESS_KEY_ID: kms.principals.editor.accessKeyId, AWS_SECRET_ACCESS_KEY: kms.principals.editor.secretAccessKey, AWS_REGION: REGION, AWS_SESSION_TOKEN: '', AWS_PROFILE: '' };
  const repo = await createSampleRepo({ dir: repoDir, sopsKeyArns: { production: kms.keys.sopsProduction, staging: kms.keys.sopsStaging }, envelopeKeyArn: kms.keys.envelope, workflowRef: DEMO_WORKFLOW_REF, sopsEnv: editorEnv, editorKms: kms.client(kms.principals.editor) });
  steps.ok(`${repoDir} at ${repo.commit.slice(0, 12)}, encrypted with ${repo.encryptedWith}; .attested-pack.yaml allows ${DEMO_WORKFLOW_REF}`);

  steps.begin(`Pack ${DEMO_IDENTITY}/production with the CI client, as a GitHub Actions job on main would`);
  ciJob(ci, repo.commit);
  const packed = await pack(ctx, { kms, ci, services, image, rootFile, repoDir });
  if (packed.commit !== repo.commit) throw new DemoFailure(`receipt commit ${String(packed.commit)} is not HEAD ${repo.commit}`);
  steps.ok(`artifact ${String(packed.artifact)}\n        receipt  ${String(packed.receipt)} (verified by the CI client with its nonce and options)`);

  steps.begin('Verify the receipt offline as an auditor, then open the artifact as a runtime would');
  await verifyAndOpen(ctx, { kms, image, rootFile, packed, commit: repo.commit });

  steps.begin('Attacks the enclave refuses by itself');
  const refusals = await showRefusals({ ctx, kms, ci, services, repoDir, manifestPath: image.manifestPath, rootFile }, (r) => steps.detail(`✗ ${r.attack}: ${r.code}${r.detail === null ? '' : ` (${r.detail})`}`));
  steps.ok(`${refusals.length} attacks refused by the enclave, each with its stable code; no artifact produced`);

  steps.begin('A tampered image asks KMS for the same secrets, with a genuine request-bound token');
  const refused = await tamperedRefused(ctx, { kms, ci, services, tampered: tampered.image, repoDir, commit: repo.commit });
  steps.ok('refused: the key policy pins the published PCRs, and the tampered image measures differently');

  steps.begin('Audit: reconcile every attested KMS call in (SIMULATED) CloudTrail with the receipt store');
  const first = audit(ctx, image, rootFile, ci.trustPolicyFile);
  steps.detail(renderAuditText(first).trim());
  if (!first.clean) throw new DemoFailure('the audit of the demo\'s own packs is not clean');
  steps.detail('now the host calls the genuine enclave itself, with a valid token, and keeps the receipt to itself…');
  await hostPack({ kms, ci, repoDir, commit: repo.commit }, services.enclaveSocket);
  const second = audit(ctx, image, rootFile, ci.trustPolicyFile);
  // One attested Decrypt per SOPS file of the host's own pack, and nothing else.
  const files = Object.keys(sampleSecrets('production')).length;
  if (second.clean || second.findings.unexplained.length !== files) throw new DemoFailure(`the audit did not flag exactly the host's ${files} decrypts: ${renderAuditText(second)}`);
  const auditHtml = join(ctx.dir, 'audit-report.html');
  writeFileSync(auditHtml, renderAuditHtml(second, new Date().toISOString()));
  steps.ok(`first audit clean; after the host's own pack: ${second.findings.unexplained.length} UNEXPLAINED attested Decrypts flagged, one per SOPS file (report ${auditHtml})`);

  return {
    simulated: { nsm: 'SIMULATED', kms: 'SIMULATED (emulator)', oidc: 'SIMULATED', trustPolicy: 'DEVELOPMENT', root: rootFile },
    image: { eif: image.eif, manifest: image.manifestPath, pcrs: image.manifest.pcrs, trustPolicySha384: image.manifest.trustPolicy?.sha384 ?? null },
    tamperedImage: { eif: tampered.image.eif, pcr0: tampered.image.manifest.pcrs['0'], refused },
    keys: kms.keys,
    policies: policyFile,
    trustPolicy: ci.trustPolicyFile,
    repo: { dir: repoDir, commit: repo.commit, repository: DEMO_REPOSITORY },
    artifact: String(packed.artifact),
    receipt: String(packed.receipt),
    refusals,
    audit: { clean: first.clean, unexplainedAfterHostPack: second.findings.unexplained.length, html: auditHtml },
  };
}

export function printSummary(out: Writable, s: DemoScene & { seconds: number }, keep: boolean): void {
  out.write(`\nSummary — everything worked as it should (SIMULATED hardware, KMS and CI; DEVELOPMENT trust policy), in ${s.seconds} s\n`);
  out.write(keep ? `  work directory kept\n` : `  (these files are removed with the work directory when the demo exits; use --keep or --dir to keep them)\n`);
  out.write(`  image         ${s.image.eif}\n  manifest      ${s.image.manifest}\n  PCR0          ${s.image.pcrs['0'] ?? ''}\n`);
  out.write(`  trust policy  ${s.trustPolicy} (sha384 ${s.image.trustPolicySha384 ?? 'none'})\n  key policies  ${s.policies}\n`);
  out.write(`  secrets repo  ${s.repo.dir} @ ${s.repo.commit}\n  artifact      ${s.artifact}\n  receipt       ${s.receipt}\n`);
  out.write(`  simulated root (pass with --root to verify): ${s.simulated.root}\n`);
  out.write(`  attacks refused by the enclave: ${s.refusals.map((r) => r.detail).join(', ')}\n  tampered image: refused by KMS\n`);
}
