// The pack pipeline in one process with every real part but the hardware: KMS emulator over
// TLS + SigV4 with generated PCR-pinning policies, simulated NSM, the host's egress proxy,
// the enclave server and its pack handler, a git repo with KMS-encrypted SOPS files.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { Agent } from 'node:https';
import { GetPublicKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { startPackWorld, fakeManifest, SAMPLE_SECRETS, type PackWorld } from './pack-world.ts';
import { ENCLAVE_ROLE, CI_USER } from './kms-harness.ts';
import { collectGitObjects } from '../cli/pack-client/git-objects.ts';
import { clefInputPaths } from '../cli/pack-client/clef-paths.ts';
import { callEnclave } from '../host/enclave-client.ts';
import { EnclaveProtocolError, type PackRequestBody } from '../enclave/protocol.ts';
import { verifyReceipt } from '../verifier/receipt.ts';
import { readArtifact } from '../enclave/clef/reader.ts';
import { sdkKmsDecryptDek } from '../enclave/clef/kms-sdk.ts';
import { readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

let world: PackWorld;

async function packRequest(nonce: Uint8Array, mutate?: (b: PackRequestBody) => void, rev?: string): Promise<PackRequestBody> {
  const clefYaml = readFileSync(join(world.repoDir, 'clef.yaml'), 'utf8');
  const paths = clefInputPaths(clefYaml, 'payments-api', 'production');
  const collected = await collectGitObjects({ repoDir: world.repoDir, paths, ...(rev === undefined ? {} : { rev }) });
  const body: PackRequestBody = {
    identity: 'payments-api',
    environment: 'production',
    nonce,
    commit: collected.commit,
    objectFormat: collected.objectFormat,
    objects: collected.objects,
    credentials: { accessKeyId: ENCLAVE_ROLE.accessKeyId, secretAccessKey: ENCLAVE_ROLE.secretAccessKey, ...(ENCLAVE_ROLE.sessionToken === undefined ? {} : { sessionToken: ENCLAVE_ROLE.sessionToken }) },
    region: 'us-east-1',
    options: { signingKeyArn: world.keys.signing },
  };
  mutate?.(body);
  // Honest CI: a token bound to exactly this request (a test that sets its own proof keeps it).
  if (body.proof === undefined) body.proof = world.proofFor(body);
  return body;
}

async function pack(nonce: Uint8Array, mutate?: (b: PackRequestBody) => void, rev?: string) {
  return callEnclave({ socketPath: world.socketPath }, 'pack', await packRequest(nonce, mutate, rev), { deadlineMs: 60_000 });
}

/** Commit an edited copy of one SOPS file on a side branch; returns that commit. */
function commitTampered(path: string, edit: (text: string) => string): string {
  const env = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' };
  const git = (...args: string[]) => execFileSync('git', args, { cwd: world.repoDir, env, encoding: 'utf8' }).trim();
  const head = git('rev-parse', 'HEAD');
  const file = join(world.repoDir, path);
  const original = readFileSync(file, 'utf8');
  const edited = edit(original);
  expect(edited).not.toBe(original);
  writeFileSync(file, edited);
  git('commit', '-q', '-am', 'tampered');
  const tampered = git('rev-parse', 'HEAD');
  git('reset', '-q', '--hard', head);
  return tampered;
}

async function refusal(p: Promise<unknown>): Promise<EnclaveProtocolError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof EnclaveProtocolError) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}

function runtimeKms(): KMSClient {
  return new KMSClient({
    endpoint: world.harness.emulator.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: CI_USER.accessKeyId, secretAccessKey: CI_USER.secretAccessKey },
    requestHandler: new NodeHttpHandler({ httpsAgent: new Agent({ ca: world.harness.emulator.caPem }) }),
    maxAttempts: 1,
  });
}

beforeAll(async () => {
  world = await startPackWorld();
  await world.startEnclave();
}, 120_000);

afterAll(async () => {
  await world?.close();
});

describe('attested pack (in process)', () => {
  it('packs, and the receipt verifies against the manifest with the computed commit, nonce and artifact digest', async () => {
    const nonce = randomBytes(32);
    world.relayed.length = 0;
    const out = await pack(nonce);
    const head = (await collectGitObjects({ repoDir: world.repoDir, paths: [] })).commit;
    expect(out.commit).toBe(head);

    const v = verifyReceipt(out.receipt, { manifest: world.manifest, artifact: out.artifact, expectedNonce: nonce, root: world.ca.rootDer });
    expect(v.attestation.trust.kind).toBe('simulated');
    expect(v.predicate.source.commit).toBe(head);
    expect(v.predicate.pack.identity).toBe('payments-api');
    expect(v.predicate.source.cells.map((c) => c.namespace)).toEqual(['database', 'payments']);
    expect(v.predicate.kms.sopsDecryptKeys).toEqual([world.keys.sops]);
    // Every key-material call is named by KMS's request id (the audit joins CloudTrail on it).
    expect(v.predicate.kms.calls.length).toBeGreaterThan(0);
    expect(v.predicate.kms.calls.filter((c) => c.operation === 'Decrypt').every((c) => c.keyArn === world.keys.sops)).toBe(true);
    expect(new Set(v.predicate.kms.calls.map((c) => c.requestId)).size).toBe(v.predicate.kms.calls.length);
    expect(v.predicate.kms.signingKey).toBe(world.keys.signing);

    // The runtime opens the artifact the way a Clef agent would (KMS Decrypt of the DEK).
    const kms = runtimeKms();
    const pub = await kms.send(new GetPublicKeyCommand({ KeyId: world.keys.signing }));
    const opened = await readArtifact(out.artifact, {
      expect: { identity: 'payments-api', environment: 'production' },
      verifyKey: Buffer.from(pub.PublicKey as Uint8Array).toString('base64'),
      kmsDecrypt: sdkKmsDecryptDek(() => kms),
    });
    kms.destroy();
    const expected = Object.fromEntries(Object.entries(SAMPLE_SECRETS).map(([ns, kv]) => [ns, Object.fromEntries(Object.entries(kv).map(([k, v]) => [k, String(v)]))]));
    expect(opened.values).toEqual(expected);

    // Nothing the host relayed (KMS traffic through the egress proxy) contains a secret value.
    const wire = Buffer.concat(world.relayed);
    expect(wire.length).toBeGreaterThan(0);
    for (const kv of Object.values(SAMPLE_SECRETS)) {
      for (const v of Object.values(kv)) {
        if (typeof v !== 'string') continue;
        expect(wire.includes(Buffer.from(v))).toBe(false);
        expect(wire.includes(Buffer.from(Buffer.from(v).toString('base64')))).toBe(false);
      }
    }
  });

  it('a receipt checked with another nonce fails NONCE_MISMATCH', async () => {
    const out = await pack(randomBytes(16));
    expect(() => verifyReceipt(out.receipt, { manifest: world.manifest, expectedNonce: randomBytes(16), root: world.ca.rootDer })).toThrow(
      expect.objectContaining({ code: 'NONCE_MISMATCH' }),
    );
  });

  it('a SOPS file whose lastmodified was changed fails its MAC and is refused, naming the file', async () => {
    const rev = commitTampered('secrets/payments/production.enc.yaml', (t) => t.replace(/lastmodified: "?(\d{4})/, (_m, y: string) => `lastmodified: "${Number(y) - 1}`));
    const e = await refusal(pack(randomBytes(8), undefined, rev));
    expect(e.code).toBe('PACK_REFUSED');
    expect(e.detail).toBe('SOPS_MAC_MISMATCH');
    expect(e.message).toContain('secrets/payments/production.enc.yaml');
  });

  it('a SOPS value whose ciphertext was changed is refused with its key path', async () => {
    const rev = commitTampered('secrets/database/production.enc.yaml', (t) =>
      t.replace(/(DB_PASSWORD: ENC\[AES256_GCM,data:)(.)/, (_m, pre: string, c: string) => `${pre}${c === 'A' ? 'B' : 'A'}`),
    );
    const e = await refusal(pack(randomBytes(8), undefined, rev));
    expect(e.detail).toBe('SOPS_DECRYPT_FAILED');
    expect(e.message).toContain('DB_PASSWORD');
  });

  it('an identity the repository rules do not name is refused before clef.yaml is read', async () => {
    const e = await refusal(pack(randomBytes(8), (b) => (b.identity = 'nobody')));
    expect(e.code).toBe('PACK_REFUSED');
    expect(e.detail).toBe('PACK_UNAUTHORIZED');
  });

  it('a tampered git object is refused', async () => {
    const e = await refusal(
      pack(randomBytes(8), (b) => {
        const i = b.objects.findIndex((o) => Buffer.from(o.subarray(0, 5)).toString() === 'blob ');
        const copy = Buffer.from(b.objects[i] as Uint8Array);
        copy[copy.length - 2] = (copy[copy.length - 2] as number) ^ 1;
        b.objects[i] = copy;
      }),
    );
    expect(e.code).toBe('GIT_OBJECT_MISSING');
  });

  it('an enclave running a different image is denied by KMS (policy pins PCRs)', async () => {
    await world.startEnclave(fakeManifest('image-b'));
    try {
      const e = await refusal(pack(randomBytes(8)));
      expect(e.code).toBe('PACK_REFUSED');
      // The SOPS unwrapper reports that no master key opened, with KMS's own reason.
      expect(e.detail).toBe('SOPS_NO_DATA_KEY');
      expect(e.message).toMatch(/not authorized to perform: kms:Decrypt .* explicit deny/);
    } finally {
      await world.startEnclave();
    }
  });

  it('a debug-mode enclave of the right image is denied by KMS', async () => {
    await world.startEnclave(world.manifest, { debug: true });
    try {
      const e = await refusal(pack(randomBytes(8)));
      expect(e.detail).toBe('SOPS_NO_DATA_KEY');
      expect(e.message).toMatch(/not authorized to perform: kms:Decrypt .* explicit deny/);
    } finally {
      await world.startEnclave();
    }
  });
});
