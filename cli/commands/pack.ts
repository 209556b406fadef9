// `attested-pack pack`: the CI client. Collects the git objects the enclave needs, asks the
// host to pack with a fresh nonce, writes artifact.json + receipt.json, and reports success
// only after verifying the receipt locally against the published build manifest.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { parseBuildManifest, pemCertificateToDer, isVerificationError } from '../../verifier/index.ts';
import { verifyReceipt } from '../../verifier/receipt.ts';
import { clefInputPaths, ClefPathsError, CLEF_MANIFEST_PATH } from '../pack-client/clef-paths.ts';
import { collectGitObjects, GitCollectError, readFileAt } from '../pack-client/git-objects.ts';
import { HostCallError, requestPack } from '../pack-client/host-client.ts';
import { GithubOidcError, requestGithubActionsIdToken } from '../pack-client/github-oidc.ts';
import { EXIT_OK, EXIT_REFUSED, UsageError, requireOption, stringListOption, stringOption, type Command } from '../command.ts';

/** `--option k=v` values: true/false become booleans, integers numbers, the rest strings. */
export function packOptions(pairs: string[]): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--option '${pair}' is not KEY=VALUE`);
    const key = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    out[key] = value === 'true' ? true : value === 'false' ? false : /^-?\d{1,15}$/.test(value) ? Number(value) : value;
  }
  return out;
}

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
  --repository NAME   repository name recorded in the receipt (default $GITHUB_REPOSITORY)
  --option KEY=VALUE  pack option for the enclave (repeatable), e.g. signingKeyArn=arn:…,
                      ttlSeconds=3600, bindEncryptionContext=true
  --out DIR           where to write artifact.json and receipt.json (default: current dir)
  --token-env VAR     read the bearer token from this variable (default ATTESTED_PACK_TOKEN)
  --token TOKEN       bearer token (visible to other processes; prefer --token-env)
  --github-oidc       authenticate with a GitHub Actions OIDC token
  --audience AUD      OIDC audience (default attested-pack)
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
    repository: { type: 'string' },
    option: { type: 'string', multiple: true },
    out: { type: 'string' },
    'token-env': { type: 'string' },
    token: { type: 'string' },
    'github-oidc': { type: 'boolean' },
    audience: { type: 'string' },
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
    const rev = stringOption(values, 'rev') ?? 'HEAD';
    const json = values.json === true;
    const progress = (msg: string) => stderr.write(`attested-pack pack: ${msg}\n`);
    try {
      new URL(hostUrl);
    } catch {
      throw new UsageError(`--host '${hostUrl}' is not a URL`);
    }

    let manifest;
    try {
      manifest = parseBuildManifest(readFileSync(resolve(cwd, requireOption(values, 'manifest'))));
    } catch (e) {
      throw new UsageError(`--manifest: ${(e as Error).message}`);
    }
    let root: Uint8Array | undefined;
    const rootFile = stringOption(values, 'root');
    if (rootFile !== undefined) {
      let pem: string;
      try {
        pem = readFileSync(resolve(cwd, rootFile), 'utf8');
      } catch (e) {
        throw new UsageError(`--root: ${(e as Error).message}`);
      }
      root = pemCertificateToDer(pem);
      if (root === undefined) throw new UsageError(`--root ${rootFile} holds no PEM certificate`);
    }

    // Who we are, decided before any work.
    let token: string;
    if (values['github-oidc'] === true) {
      if (values.token !== undefined || values['token-env'] !== undefined) throw new UsageError('--github-oidc excludes --token/--token-env');
      try {
        token = await requestGithubActionsIdToken(stringOption(values, 'audience') ?? 'attested-pack', env);
      } catch (e) {
        if (e instanceof GithubOidcError) throw new UsageError(`${e.code}: ${e.message}`);
        throw e;
      }
    } else {
      const direct = stringOption(values, 'token');
      const varName = stringOption(values, 'token-env') ?? 'ATTESTED_PACK_TOKEN';
      const fromEnv = env[varName];
      if (direct !== undefined) token = direct;
      else if (fromEnv !== undefined && fromEnv !== '') token = fromEnv;
      else throw new UsageError(`no credentials: set ${varName}, or pass --token or --github-oidc`);
    }

    let collected;
    try {
      const clefYaml = readFileAt(repoDir, rev, CLEF_MANIFEST_PATH);
      if (clefYaml === null) throw new UsageError(`no ${CLEF_MANIFEST_PATH} at ${rev} in ${repoDir}`);
      const paths = clefInputPaths(clefYaml.toString('utf8'), identity, environment);
      collected = await collectGitObjects({ repoDir, rev, paths });
      const present = [...collected.files.values()].filter((v) => v !== null).length;
      progress(`commit ${collected.commit} (${collected.objectFormat}): ${collected.objects.length} objects, ${present}/${paths.length} files present`);
    } catch (e) {
      if (e instanceof ClefPathsError || e instanceof GitCollectError) throw new UsageError(e.message);
      throw e;
    }

    const options = packOptions(stringListOption(values, 'option'));
    const repository = stringOption(values, 'repository') ?? env.GITHUB_REPOSITORY;
    if (repository !== undefined && repository !== '') options.repository = repository;

    const nonce = randomBytes(32);
    progress(`packing ${identity}/${environment} at ${hostUrl}`);
    let reply;
    try {
      reply = await requestPack({ hostUrl, token, identity, environment, nonce, objects: collected, options });
    } catch (e) {
      if (!(e instanceof HostCallError)) throw e;
      stderr.write(`attested-pack pack: refused: ${e.code}${e.detail === undefined ? '' : ` (${e.detail})`}: ${e.message}\n`);
      if (json) stdout.write(`${JSON.stringify({ ok: false, status: e.status, code: e.code, message: e.message })}\n`);
      return EXIT_REFUSED;
    }

    // Nothing lands under the final names until the receipt verifies; a refused pair is kept
    // as *.unverified.json for diagnosis, where no later CI step picks it up by accident.
    mkdirSync(outDir, { recursive: true });
    const artifactPath = join(outDir, 'artifact.json');
    const receiptPath = join(outDir, 'receipt.json');
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
    } catch (e) {
      if (isVerificationError(e)) return refuse(e.code, e.message);
      throw e;
    }
    const p = verification.predicate;
    if (p.source.commit !== collected.commit || reply.commit !== collected.commit) {
      return refuse('COMMIT_MISMATCH', `receipt names commit ${p.source.commit}, we sent ${collected.commit}`);
    }
    if (p.pack.identity !== identity || p.pack.environment !== environment) {
      return refuse('SCOPE_MISMATCH', `receipt is for ${p.pack.identity}/${p.pack.environment}`);
    }
    writeFileSync(artifactPath, reply.artifact);
    writeFileSync(receiptPath, reply.receipt);
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
      moduleId: verification.attestation.document.moduleId,
    };
    if (json) stdout.write(`${JSON.stringify(summary)}\n`);
    else {
      stdout.write(`packed ${identity}/${environment} at ${collected.commit}; receipt verified (trust: ${summary.trust})\n`);
      stdout.write(`  ${artifactPath}\n  ${receiptPath}\n`);
    }
    return EXIT_OK;
  },
};
