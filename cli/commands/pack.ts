// `attested-pack pack`: the CI client. Collects the git objects the enclave needs, asks the
// host to pack with a fresh nonce, writes artifact.json + receipt.json, and reports success
// only after verifying the receipt locally against the published build manifest.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { parseBuildManifest, pemCertificateToDer, isVerificationError, type BuildManifest } from '../../verifier/index.ts';
import { fail } from '../../verifier/errors.ts';
import { verifyReceipt } from '../../verifier/receipt.ts';
import { checkReceiptExpectations } from '../../verifier/receipt-expectations.ts';
import { packRequestAudience } from '../../verifier/pack-request.ts';
import type { PackProof } from '../../enclave/protocol.ts';
import { clefInputPaths, ClefPathsError, CLEF_MANIFEST_PATH } from '../pack-client/clef-paths.ts';
import { PackOptionError, parsePackOptionPairs, wireOptions } from '../pack-client/pack-options.ts';
import { collectGitObjects, GitCollectError, readFileAt } from '../pack-client/git-objects.ts';
import { HostCallError, requestPack } from '../pack-client/host-client.ts';
import { GithubOidcError, requestGithubActionsIdToken } from '../pack-client/github-oidc.ts';
import { EXIT_OK, EXIT_REFUSED, UsageError, requireOption, stringListOption, stringOption, type Command, type OptionValues } from '../command.ts';

export const packCommand: Command = {
  path: ['pack'],
  summary: 'pack an identity for an environment in the enclave (CI client) and verify the receipt',
  help: `Usage: attested-pack pack --host URL --identity NAME --env NAME --manifest FILE [options]

Sends the raw git objects of clef.yaml and the identity's SOPS files at a commit to the
host, which packs them inside the Nitro Enclave. Verifies the receipt offline (attestation
chain, PCRs against the build manifest, the nonce sent, the artifact digest, the commit) and
only then writes artifact.json and receipt.json; a pair that fails verification is kept as
artifact.unverified.json / receipt.unverified.json.

Options:
  --host URL          the attested-pack host, e.g. https://packer.internal:8443  (required)
  --identity NAME     Clef service identity                                     (required)
  --env NAME          environment                                               (required)
  --manifest FILE     published build manifest of the enclave image             (required)
  --repo DIR          git repository (default: current directory)
  --rev REV           commit to pack (default HEAD)
  --option KEY=VALUE  pack option for the enclave (repeatable): signingKeyArn=arn:…,
                      ttlSeconds=3600, bindEncryptionContext=true. Bound into the OIDC
                      audience and checked in the receipt. NOTE: bindEncryptionContext
                      artifacts can NOT be opened by Clef's runtime (it decrypts without
                      an encryption context); only attested-pack's reader opens them.
  --out DIR           where to write artifact.json and receipt.json (default: current dir)

Proof (the enclave packs only what a trusted CI issuer vouches for; docs/pack-policy.md):
  --github-oidc       inside GitHub Actions: request an OIDC token whose audience binds
                      this request (<audience>:<request hash>); needs id-token: write
  --oidc-token-env VAR  an OIDC token minted elsewhere for the audience --print-audience gives
  --sshsig            the commit's own SSH signature is the proof (DEVELOPMENT trust
                      policies only: a commit signature binds no ref and no request)
  --audience PREFIX   audience prefix of the trust policy's issuer (default attested-pack)
  --print-audience    print the audience this request needs and exit

Host authentication (a first gate; the enclave decides):
  --token-env VAR     read the bearer token from this variable (default ATTESTED_PACK_TOKEN)
  --token TOKEN       bearer token (visible to other processes; prefer --token-env)
                      With --github-oidc and no bearer token, the OIDC token is used.
  --root PEM          trust this attestation root instead of the AWS Nitro root G1
                      (e.g. the simulator's simulated-nitro-root.pem)
  --allow-debug       accept a debug-mode enclave (PCR0/1/2 zero)
  --json              print a JSON summary on stdout (progress goes to stderr)

Exit codes: 0 packed and verified; 1 refused by the host/enclave or the receipt does not
verify; 2 usage or input error.
`,
  options: {
    host: { type: 'string' },
    identity: { type: 'string' },
    env: { type: 'string' },
    manifest: { type: 'string' },
    repo: { type: 'string' },
    rev: { type: 'string' },
    option: { type: 'string', multiple: true },
    out: { type: 'string' },
    'token-env': { type: 'string' },
    token: { type: 'string' },
    'github-oidc': { type: 'boolean' },
    'oidc-token-env': { type: 'string' },
    sshsig: { type: 'boolean' },
    audience: { type: 'string' },
    'print-audience': { type: 'boolean' },
    root: { type: 'string' },
    'allow-debug': { type: 'boolean' },
    json: { type: 'boolean' },
  },
  async run({ values, stdout, stderr, cwd, env }) {
    const hostUrl = requireOption(values, 'host');
    const identity = requireOption(values, 'identity');
    const environment = requireOption(values, 'env');
    const repoDir = resolve(cwd, stringOption(values, 'repo') ?? '.');
    const outDir = resolve(cwd, stringOption(values, 'out') ?? '.');
    const json = values.json === true;
    const progress = (msg: string) => stderr.write(`attested-pack pack: ${msg}\n`);
    try {
      new URL(hostUrl);
    } catch {
      throw new UsageError(`--host '${hostUrl}' is not a URL`);
    }
    const manifest = readManifest(cwd, requireOption(values, 'manifest'));
    const root = readRoot(cwd, stringOption(values, 'root'));
    let options;
    try {
      options = parsePackOptionPairs(stringListOption(values, 'option'));
    } catch (e) {
      if (e instanceof PackOptionError) throw new UsageError(e.message);
      throw e;
    }
    const collected = await collect(repoDir, stringOption(values, 'rev') ?? 'HEAD', identity, environment, progress);
    const nonce = randomBytes(32);
    const audience = packRequestAudience(stringOption(values, 'audience') ?? 'attested-pack', { identity, environment, commit: collected.commit, nonce, options });
    if (values['print-audience'] === true) {
      stdout.write(json ? `${JSON.stringify({ audience, commit: collected.commit, nonce: Buffer.from(nonce).toString('hex') })}\n` : `${audience}\n`);
      return EXIT_OK;
    }
    const { token, proof } = await credentialsFor(values, env, audience);

    progress(`packing ${identity}/${environment} at ${hostUrl}`);
    let reply;
    try {
      reply = await requestPack({ hostUrl, token, identity, environment, nonce, objects: collected, options: wireOptions(options), proof });
    } catch (e) {
      if (!(e instanceof HostCallError)) throw e;
      stderr.write(`attested-pack pack: refused: ${e.code}${e.detail === undefined ? '' : ` (${e.detail})`}: ${e.message}\n`);
      if (json) stdout.write(`${JSON.stringify({ ok: false, status: e.status, code: e.code, ...(e.detail === undefined ? {} : { detail: e.detail }), message: e.message })}\n`);
      return EXIT_REFUSED;
    }

    // Nothing lands under the final names until the receipt verifies; a refused pair is kept
    // as *.unverified.json for diagnosis, where no later CI step picks it up by accident.
    mkdirSync(outDir, { recursive: true });
    progress('received artifact and receipt; verifying the receipt');
    const refuse = (code: string, message: string) => {
      const keptArtifact = join(outDir, 'artifact.unverified.json');
      const keptReceipt = join(outDir, 'receipt.unverified.json');
      writeFileSync(keptArtifact, reply.artifact);
      writeFileSync(keptReceipt, reply.receipt);
      stderr.write(`attested-pack pack: receipt does not verify: ${code}: ${message} (kept as ${keptReceipt})\n`);
      if (json) stdout.write(`${JSON.stringify({ ok: false, code, message, artifact: keptArtifact, receipt: keptReceipt })}\n`);
      return EXIT_REFUSED;
    };
    let verification;
    try {
      verification = verifyReceipt(reply.receipt, {
        manifest,
        artifact: reply.artifact,
        expectedNonce: nonce,
        ...(root === undefined ? {} : { root }),
        ...(values['allow-debug'] === true ? { allowDebug: true } : {}),
      });
      // Everything we asked for, and nothing else: a host that changed the commit, the
      // scope or an option (dropped the signing key, shortened the TTL) is caught here.
      checkReceiptExpectations(verification.predicate, { commit: collected.commit, identity, environment, options });
      if (reply.commit !== collected.commit) fail('EXPECTATION_MISMATCH', `host says commit ${reply.commit}, we sent ${collected.commit}`);
    } catch (e) {
      if (isVerificationError(e)) return refuse(e.code, e.message);
      throw e;
    }
    const artifactPath = join(outDir, 'artifact.json');
    const receiptPath = join(outDir, 'receipt.json');
    writeFileSync(artifactPath, reply.artifact);
    writeFileSync(receiptPath, reply.receipt);
    const a = verification.predicate.authorization;
    const summary = {
      ok: true,
      identity,
      environment,
      commit: collected.commit,
      objectFormat: collected.objectFormat,
      requestId: reply.requestId,
      artifact: artifactPath,
      artifactSha256: createHash('sha256').update(reply.artifact).digest('hex'),
      receipt: receiptPath,
      trust: verification.attestation.trust.kind,
      development: a.development,
      repository: a.repository,
      ref: a.ref,
      moduleId: verification.attestation.document.moduleId,
    };
    if (json) stdout.write(`${JSON.stringify(summary)}\n`);
    else {
      const labels = `${summary.trust === 'simulated' ? ' SIMULATED' : ''}${a.development ? ' DEVELOPMENT trust policy' : ''}`;
      stdout.write(`packed ${identity}/${environment} at ${collected.commit} (${a.repository}${a.ref === null ? '' : ` ${a.ref}`}); receipt verified (trust: ${summary.trust})${labels}\n`);
      stdout.write(`  ${artifactPath}\n  ${receiptPath}\n`);
    }
    return EXIT_OK;
  },
};

function readManifest(cwd: string, file: string): BuildManifest {
  try {
    return parseBuildManifest(readFileSync(resolve(cwd, file)));
  } catch (e) {
    throw new UsageError(`--manifest: ${(e as Error).message}`);
  }
}

function readRoot(cwd: string, rootFile: string | undefined): Uint8Array | undefined {
  if (rootFile === undefined) return undefined;
  let pem: string;
  try {
    pem = readFileSync(resolve(cwd, rootFile), 'utf8');
  } catch (e) {
    throw new UsageError(`--root: ${(e as Error).message}`);
  }
  const root = pemCertificateToDer(pem);
  if (root === undefined) throw new UsageError(`--root ${rootFile} holds no PEM certificate`);
  return root;
}

/** The git objects of clef.yaml, the repo rules and the identity's SOPS files at `rev`. */
async function collect(repoDir: string, rev: string, identity: string, environment: string, progress: (m: string) => void) {
  try {
    const clefYaml = readFileAt(repoDir, rev, CLEF_MANIFEST_PATH);
    if (clefYaml === null) throw new UsageError(`no ${CLEF_MANIFEST_PATH} at ${rev} in ${repoDir}`);
    const paths = clefInputPaths(clefYaml.toString('utf8'), identity, environment);
    const collected = await collectGitObjects({ repoDir, rev, paths });
    const present = [...collected.files.values()].filter((v) => v !== null).length;
    progress(`commit ${collected.commit} (${collected.objectFormat}): ${collected.objects.length} objects, ${present}/${paths.length} files present`);
    return collected;
  } catch (e) {
    if (e instanceof ClefPathsError || e instanceof GitCollectError) throw new UsageError(e.message);
    throw e;
  }
}

/** The proof the enclave verifies, and the bearer token the host checks first. */
async function credentialsFor(values: OptionValues, env: NodeJS.ProcessEnv, audience: string): Promise<{ token: string; proof: PackProof }> {
  const modes = (['github-oidc', 'oidc-token-env', 'sshsig'] as const).filter((m) => values[m] !== undefined && values[m] !== false);
  if (modes.length !== 1) throw new UsageError('give exactly one proof: --github-oidc, --oidc-token-env VAR or --sshsig (docs/pack-policy.md)');
  let proof: PackProof;
  if (modes[0] === 'github-oidc') {
    try {
      proof = { kind: 'oidc', token: await requestGithubActionsIdToken(audience, env) };
    } catch (e) {
      if (e instanceof GithubOidcError) throw new UsageError(`${e.code}: ${e.message}`);
      throw e;
    }
  } else if (modes[0] === 'oidc-token-env') {
    const name = stringOption(values, 'oidc-token-env') as string;
    const t = env[name];
    if (t === undefined || t === '') throw new UsageError(`--oidc-token-env: ${name} is not set`);
    proof = { kind: 'oidc', token: t };
  } else proof = { kind: 'sshsig' };
  const direct = stringOption(values, 'token');
  const varName = stringOption(values, 'token-env') ?? 'ATTESTED_PACK_TOKEN';
  const fromEnv = env[varName];
  if (direct !== undefined) return { token: direct, proof };
  if (fromEnv !== undefined && fromEnv !== '') return { token: fromEnv, proof };
  if (proof.kind === 'oidc') return { token: proof.token, proof };
  throw new UsageError(`no host credentials: set ${varName} or pass --token`);
}
