// Concurrent packs never mix: two identities with different namespaces packed interleaved
// (KMS round trips of ~15 ms, so their unwraps overlap in the one enclave), plus a refused
// pack in the middle. Each artifact opens to exactly its own identity's values, each receipt
// carries its own nonce and names only its own files.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Agent } from 'node:https';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetPublicKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { startPackWorld, type PackWorld } from './pack-world.ts';
import { CI_USER, ENCLAVE_ROLE } from './kms-harness.ts';
import { collectGitObjects } from '../cli/pack-client/git-objects.ts';
import { clefInputPaths } from '../cli/pack-client/clef-paths.ts';
import { callEnclave } from '../host/enclave-client.ts';
import { EnclaveProtocolError } from '../enclave/protocol.ts';
import { verifyReceipt } from '../verifier/receipt.ts';
import { readArtifact } from '../enclave/clef/reader.ts';
import { sdkKmsDecryptDek } from '../enclave/clef/kms-sdk.ts';

const secret = (tag: string) => `${tag}-${randomBytes(8).toString('hex')}`;
const SECRETS: Record<string, Record<string, string>> = {};
for (const ns of ['db', 'payments', 'ledger', 'cards']) SECRETS[ns] = { A: secret(`${ns}-a`), B: secret(`${ns}-b`), C: secret(`${ns}-c`) };
for (const ns of ['search', 'index', 'ranking']) SECRETS[ns] = { A: secret(`${ns}-a`), B: secret(`${ns}-b`) };
const IDENTITIES: Record<string, string[]> = { 'payments-api': ['db', 'payments', 'ledger', 'cards'], 'search-api': ['search', 'index', 'ranking'] };

let world: PackWorld;
let tamperedRev: string;

function git(...args: string[]): string {
  const env = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' };
  return execFileSync('git', args, { cwd: world.repoDir, env, encoding: 'utf8' }).trim();
}

/** A side commit where one search-api file's MAC no longer matches (lastmodified changed). */
function commitTampered(path: string): string {
  const head = git('rev-parse', 'HEAD');
  const file = join(world.repoDir, path);
  writeFileSync(file, readFileSync(file, 'utf8').replace(/lastmodified: "?(\d{4})/, (_m, y: string) => `lastmodified: "${Number(y) - 1}`));
  git('commit', '-q', '-am', 'tampered');
  const rev = git('rev-parse', 'HEAD');
  git('reset', '-q', '--hard', head);
  return rev;
}

async function pack(identity: string, nonce: Uint8Array, rev?: string) {
  const clef = readFileSync(join(world.repoDir, 'clef.yaml'), 'utf8');
  const objects = await collectGitObjects({ repoDir: world.repoDir, paths: clefInputPaths(clef, identity, 'production'), ...(rev === undefined ? {} : { rev }) });
  return callEnclave(
    { socketPath: world.socketPath },
    'pack',
    {
      identity,
      environment: 'production',
      nonce,
      commit: objects.commit,
      objectFormat: objects.objectFormat,
      objects: objects.objects,
      credentials: { accessKeyId: ENCLAVE_ROLE.accessKeyId, secretAccessKey: ENCLAVE_ROLE.secretAccessKey, sessionToken: ENCLAVE_ROLE.sessionToken as string },
      region: 'us-east-1',
      options: { signingKeyArn: world.keys.signing },
    },
    { deadlineMs: 120_000 },
  );
}

beforeAll(async () => {
  world = await startPackWorld({ secrets: SECRETS, identities: IDENTITIES, kmsLatency: { fixedMs: 15, jitterMs: 3, seed: 7 } });
  // Concurrency 2 with 3–4 files per pack: each pack's unwraps overlap, and with the other's.
  await world.startEnclave(undefined, { nsmLatency: { fixedMs: 2 }, unwrapConcurrency: 2 });
  tamperedRev = commitTampered('secrets/index/production.enc.yaml');
}, 120_000);

afterAll(async () => {
  await world?.close();
});

describe('concurrent packs of different identities', () => {
  it('interleaved packs each open to exactly their own values; a refused pack in the middle changes nothing', async () => {
    const order = ['payments-api', 'search-api', 'payments-api', 'search-api', 'payments-api', 'search-api'];
    const nonces = order.map(() => randomBytes(32));
    const refusedNonce = randomBytes(32);
    const [refused, ...results] = await Promise.allSettled([pack('search-api', refusedNonce, tamperedRev), ...order.map((id, i) => pack(id, nonces[i] as Uint8Array))]);

    // The refused pack names the tampered file, and gives no artifact.
    expect(refused?.status).toBe('rejected');
    const err = (refused as PromiseRejectedResult).reason as EnclaveProtocolError;
    expect(err).toBeInstanceOf(EnclaveProtocolError);
    expect(err.detail).toBe('SOPS_MAC_MISMATCH');
    expect(err.message).toContain('secrets/index/production.enc.yaml');

    const kms = new KMSClient({
      endpoint: world.harness.emulator.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: CI_USER.accessKeyId, secretAccessKey: CI_USER.secretAccessKey },
      requestHandler: new NodeHttpHandler({ httpsAgent: new Agent({ ca: world.harness.emulator.caPem }) }),
      maxAttempts: 1,
    });
    try {
      const pub = Buffer.from((await kms.send(new GetPublicKeyCommand({ KeyId: world.keys.signing }))).PublicKey as Uint8Array).toString('base64');
      for (const [i, identity] of order.entries()) {
        const r = results[i] as PromiseSettledResult<Awaited<ReturnType<typeof pack>>>;
        expect(r.status).toBe('fulfilled');
        const out = (r as PromiseFulfilledResult<Awaited<ReturnType<typeof pack>>>).value;
        const own = IDENTITIES[identity] as string[];
        const v = verifyReceipt(out.receipt, { manifest: world.manifest, artifact: out.artifact, expectedNonce: nonces[i] as Uint8Array, root: world.ca.rootDer });
        expect(v.predicate.pack.identity).toBe(identity);
        expect(v.predicate.source.cells.map((c) => c.namespace)).toEqual(own);
        const opened = await readArtifact(out.artifact, { expect: { identity, environment: 'production' }, verifyKey: pub, kmsDecrypt: sdkKmsDecryptDek(() => kms) });
        expect(opened.values).toEqual(Object.fromEntries(own.map((ns) => [ns, SECRETS[ns]])));
      }
    } finally {
      kms.destroy();
    }
  }, 120_000);
});
