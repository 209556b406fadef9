import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTestCa, type TestCa } from './attestation-issuer.ts';
import { createSimulatedNsm, SimulatedNsmError, writeSimulatedRoot, SIMULATED_ROOT_FILE } from './nsm.ts';
import { isDebugDocument, pcrExtend, verifyAttestationDocument, BUILD_MANIFEST_SCHEMA, type BuildManifest, isVerificationError } from '../verifier/index.ts';

const hex = (n: number): string => Buffer.alloc(48, n).toString('hex');
const manifest: BuildManifest = {
  schema: BUILD_MANIFEST_SCHEMA,
  project: { name: 'attested-pack', version: '0.1.0', sourceCommit: 'a'.repeat(40), sourceDirty: false },
  blobSet: { kind: 'development', description: 'test' },
  sourceDateEpoch: 0,
  inputs: [],
  eif: { file: 'enclave.eif', sha384: 'b'.repeat(96), size: 1 },
  pcrs: { '0': hex(0x10), '1': hex(0x11), '2': hex(0x12) },
  trustPolicy: null,
};

let ca: TestCa;
beforeAll(async () => {
  ca = await createTestCa();
});

describe('simulated NSM', () => {
  it('issues documents that verify against the simulated root only, with the manifest PCRs and the request bindings', async () => {
    const nsm = createSimulatedNsm({ ca, pcrs: manifest, moduleId: 'i-0123456789abcdef0-enc0123456789abcdef' });
    expect(nsm.kind).toBe('simulated');
    const spki = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'der' });
    const userData = new Uint8Array(48).fill(7);
    const nonce = new Uint8Array([1, 2, 3]);
    const doc = await nsm.attest({ userData, nonce, publicKey: spki });
    const expected = new Map([0, 1, 2].map((i) => [i, Buffer.from(manifest.pcrs[String(i) as '0'], 'hex')]));
    const result = verifyAttestationDocument(doc, { root: ca.rootDer, pcrs: { expected }, expectedNonce: nonce, expectedUserData: userData, expectedPublicKey: spki });
    expect(result.trust.kind).toBe('simulated');
    expect(result.document.moduleId).toBe('i-0123456789abcdef0-enc0123456789abcdef');
    // PCR4 = extend(zeros, instance id), as on real enclaves.
    expect(Buffer.from(result.document.pcrs.get(4)!).equals(Buffer.from(pcrExtend(new Uint8Array(48), Buffer.from('i-0123456789abcdef0'))))).toBe(true);
    // Nothing trusts it by default: the AWS root refuses it.
    let code: string | undefined;
    try {
      verifyAttestationDocument(doc, { pcrs: 'skip' });
    } catch (e) {
      code = isVerificationError(e) ? e.code : 'other';
    }
    expect(code).toBe('CHAIN_UNTRUSTED_ROOT');
  });

  it('describePcrs reports what its documents carry', async () => {
    const nsm = createSimulatedNsm({ ca, pcrs: new Map([[0, Buffer.alloc(48, 1)], [8, Buffer.alloc(48, 8)]]) });
    const pcrs = await nsm.describePcrs();
    expect(pcrs.size).toBe(16);
    expect(Buffer.from(pcrs.get(0)!).equals(Buffer.alloc(48, 1))).toBe(true);
    expect(Buffer.from(pcrs.get(8)!).equals(Buffer.alloc(48, 8))).toBe(true);
    expect(Buffer.from(pcrs.get(3)!).equals(Buffer.alloc(48))).toBe(true);
  });

  it('uses the injected clock for the document timestamp', async () => {
    const at = Date.now() - 60_000;
    const nsm = createSimulatedNsm({ ca, pcrs: manifest, clock: () => at });
    const doc = await nsm.attest({});
    const result = verifyAttestationDocument(doc, { root: ca.rootDer, pcrs: 'skip', time: { kind: 'document' } });
    expect(result.document.timestamp).toBe(at);
  });

  it('a debug enclave reports zero image PCRs', async () => {
    const nsm = createSimulatedNsm({ ca, pcrs: manifest, debug: true });
    const doc = await nsm.attest({});
    const result = verifyAttestationDocument(doc, { root: ca.rootDer, pcrs: 'skip', allowDebug: true });
    expect(isDebugDocument(result.document)).toBe(true);
  });

  it('refuses fields over the NSM limit and bad PCR input', async () => {
    const nsm = createSimulatedNsm({ ca, pcrs: manifest });
    await expect(nsm.attest({ userData: new Uint8Array(1025) })).rejects.toMatchObject({ code: 'InputTooLarge' });
    await expect(nsm.attest({ nonce: new Uint8Array(1025) })).rejects.toBeInstanceOf(SimulatedNsmError);
    expect(() => createSimulatedNsm({ ca, pcrs: new Map([[0, new Uint8Array(32)]]) })).toThrow(/48 bytes/);
    expect(() => createSimulatedNsm({ ca, pcrs: new Map([[16, new Uint8Array(48)]]) })).toThrow(/0\.\.15/);
  });

  it('getRandom returns exactly the requested length', async () => {
    const nsm = createSimulatedNsm({ ca, pcrs: manifest });
    expect(await nsm.getRandom(1000)).toHaveLength(1000);
    expect(await nsm.getRandom(0)).toHaveLength(0);
    await expect(nsm.getRandom(-1)).rejects.toMatchObject({ code: 'InvalidArgument' });
  });

  it('writes the simulated root where a verifier can be pointed at it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sim-root-'));
    try {
      const file = writeSimulatedRoot(ca, dir);
      expect(file).toBe(join(dir, SIMULATED_ROOT_FILE));
      expect(readFileSync(file, 'utf8')).toBe(ca.rootPem);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
