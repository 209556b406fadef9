// Boot test of the production NSM path: the development image (Debian's backports kernel,
// whose nsm.ko the init loads as AWS's init does) boots under QEMU with virtio-nsm-pci, the
// launcher starts the service in HARDWARE NSM mode, and through the serial bridge (ttyS1:
// there is no vsock here) the service attests with the real /dev/nsm ioctl. QEMU's NSM is
// not AWS's: its documents carry a dummy certificate, so `verify attestation` must refuse
// them, while the same request answered by the simulated NSM verifies with --root.
// Then the hardware NSM code's error paths in the guest, and the image without the device.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildImage, BUNDLE_EXTERNALS, type BuiltImage } from '../reproducible/build-image.ts';
import { readEif } from '../build/eif.ts';
import { bundleEntry } from '../build/bundle.ts';
import { writeCpio } from '../build/cpio.ts';
import { cmdFile } from '../build/app-ramdisk.ts';
import { ENCLAVE_CMD, IMAGE_PATHS } from '../build/image-layout.ts';
import { Decoder } from 'cbor-x';
import { parseAttestationPayload } from '../verifier/attestation.ts';
import { createTestCa } from '../simulator/attestation-issuer.ts';
import { createSimulatedNsm, writeSimulatedRoot } from '../simulator/nsm.ts';
import type { DescribeResponseBody } from '../enclave/protocol.ts';
import { runCli } from './cli-support.ts';
import { bootImage, cachedQemuNsm, type Boot, type QemuNsm } from './qemu-nsm.ts';
import { serialSession } from './serial-session.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const CACHE = join(REPO, '.cache', 'attested-pack');
const READY = 'attested-pack: enclave service ready';
const BOOT_TIMEOUT_MS = 300_000;
// Fixed inputs (no randomness): what the caller binds into the document.
const NONCE = Buffer.from('boot-test nonce 0123456789abcdef');
const USER_DATA = Buffer.from('boot-test user_data');
const PUBLIC_KEY = Buffer.from('boot-test public_key (any bytes up to 1024)');
/** What `verify attestation` answers for QEMU's unsigned COSE envelope (algorithm -1, not ES384). */
const QEMU_REFUSAL_CODE = 'UNSUPPORTED_ALGORITHM';

const cborx = new Decoder({ mapsAsObjects: false, useRecords: false });
const PAYLOAD_KEYS = ['module_id', 'digest', 'timestamp', 'pcrs', 'certificate', 'cabundle', 'public_key', 'user_data', 'nonce'];

/**
 * QEMU's document, read with an independent CBOR decoder: a COSE_Sign1 array with the NSM's
 * payload fields, in QEMU's placeholder envelope. Our strict payload parser refuses it, and
 * must: QEMU puts only locked PCRs in documents (none on this machine), AWS's NSM all of them.
 */
function qemuDocument(bytes: Uint8Array): { alg: unknown; signature: Uint8Array; payload: Map<string, unknown> } {
  const cose = cborx.decode(bytes) as unknown[];
  expect(cose).toHaveLength(4);
  const header = cborx.decode(cose[0] as Uint8Array) as Map<number, unknown>;
  expect(cose[1]).toEqual(new Map());
  const payload = cborx.decode(cose[2] as Uint8Array) as Map<string, unknown>;
  expect([...payload.keys()].sort()).toEqual([...PAYLOAD_KEYS].sort());
  expect(() => parseAttestationPayload(cose[2] as Uint8Array)).toThrow(expect.objectContaining({ code: 'MALFORMED_DOCUMENT' }));
  return { alg: header.get(1), signature: cose[3] as Uint8Array, payload };
}
const bytesOf = (v: unknown): Buffer => Buffer.from(v as Uint8Array);

describe('development image with an NSM, under QEMU virtio-nsm', () => {
  let dir: string;
  let qemu: QemuNsm;
  let image: BuiltImage;
  let kernel: string;
  let initrd: string;
  let cmdline: string;
  let qemuBytes: Uint8Array | undefined;
  const boots: Boot[] = [];
  const boot = (initrdPath: string, nsm: boolean, serialSocket?: string): Boot => {
    const b = bootImage(qemu, { kernel, initrd: initrdPath, cmdline, nsm, ...(serialSocket === undefined ? {} : { serialSocket }) });
    boots.push(b);
    return b;
  };
  const failBoot = (b: Boot, what: string): never => {
    throw new Error(`${what}\n--- console ---\n${b.console().slice(-4000)}`);
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'boot-nsm-'));
    qemu = cachedQemuNsm();
    image = await buildImage({ sourceRoot: REPO, cacheDir: CACHE, developmentBlobs: true, outDir: join(dir, 'out') });
    const eif = readEif(image.eif);
    kernel = join(dir, 'bzImage');
    initrd = join(dir, 'initrd');
    writeFileSync(kernel, eif.kernel);
    writeFileSync(initrd, Buffer.concat(eif.ramdisks.map((r) => Buffer.from(r))));
    cmdline = Buffer.from(eif.cmdline).toString('utf8');
  }, 600_000);
  afterAll(() => {
    for (const b of boots) b.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('boots in hardware NSM mode and attests through the serial bridge, binding nonce, user_data and public_key', async () => {
    expect(cmdline).toContain('attested_pack.dev_serial=ttyS1');
    expect(cmdline).not.toContain('attested_pack.dev_nsm=none');
    const serial = join(dir, 'ttyS1.sock');
    const b = boot(initrd, true, serial);
    if (!(await b.waitFor(READY, BOOT_TIMEOUT_MS))) failBoot(b, 'the image did not become ready');
    // The development init ran the image's cmd with exactly its env lines, after insmod nsm.ko.
    expect(b.console()).toContain('attested-pack dev init: starting PATH=/usr/bin:/bin NODE_ENV=production');
    expect(b.console()).toContain(`/bin/chroot . ${ENCLAVE_CMD.join(' ')}`);
    expect(b.console()).not.toContain('failed to insert nsm driver');
    expect(b.console()).toMatch(/"event":"listening".*"nsm":"hardware"/);

    const session = await serialSession(serial);
    let attestation: Uint8Array;
    try {
      const health = await session.ask({ id: 'boot-health', type: 'health', body: {} });
      expect(health).toMatchObject({ id: 'boot-health', ok: true, body: { status: 'ok', nsm: 'hardware' } });
      const answer = await session.ask({ id: 'boot-describe', type: 'describe', body: { nonce: NONCE, userData: USER_DATA, publicKey: PUBLIC_KEY } });
      if (!answer.ok || answer.type !== 'describe') return failBoot(b, `describe failed: ${JSON.stringify(answer)}`);
      const body = answer.body as DescribeResponseBody;
      expect(body.nsm).toBe('hardware');
      attestation = body.attestation;
    } finally {
      session.close();
    }
    qemuBytes = attestation;
    // The NSM document payload from the real ioctl, in QEMU's unsigned envelope.
    const { alg, signature, payload } = qemuDocument(attestation);
    expect(bytesOf(payload.get('nonce')).equals(NONCE)).toBe(true);
    expect(bytesOf(payload.get('user_data')).equals(USER_DATA)).toBe(true);
    expect(bytesOf(payload.get('public_key')).equals(PUBLIC_KEY)).toBe(true);
    expect(payload.get('digest')).toBe('SHA384');
    expect(payload.get('module_id')).toMatch(/^i-[0-9a-z]+-enc[0-9a-z]+$/);
    expect(Number(payload.get('timestamp'))).toBeGreaterThan(0);
    expect(payload.get('pcrs')).toEqual(new Map());
    // QEMU's NSM is not AWS's: placeholder algorithm, zero signature, zero-filled certificate.
    expect(alg).toBe(-1);
    expect(Buffer.from(signature).equals(Buffer.alloc(64))).toBe(true);
    expect(bytesOf(payload.get('certificate')).equals(Buffer.alloc(64))).toBe(true);
  }, BOOT_TIMEOUT_MS + 120_000);

  it('verify attestation refuses the QEMU document (dummy certificate); the simulated NSM answer to the same request verifies with --root', async () => {
    if (qemuBytes === undefined) throw new Error('the boot test above produced no document');
    const qemuFile = join(dir, 'qemu-document.cbor');
    writeFileSync(qemuFile, qemuBytes);
    const refused = await runCli(['verify', 'attestation', qemuFile, '--at', 'document', '--no-pcr-check', '--json']);
    expect(refused.code).toBe(1);
    const verdict = JSON.parse(refused.out.trim().split('\n')[0] ?? '{}') as { ok?: boolean; error?: { code?: string } };
    expect(verdict.ok).toBe(false);
    expect(verdict.error?.code).toBe(QEMU_REFUSAL_CODE);

    const ca = await createTestCa();
    const simulated = createSimulatedNsm({ ca, pcrs: image.manifest });
    const simFile = join(dir, 'simulated-document.cbor');
    writeFileSync(simFile, await simulated.attest({ nonce: NONCE, userData: USER_DATA, publicKey: PUBLIC_KEY }));
    const root = writeSimulatedRoot(ca, dir);
    const ok = await runCli(['verify', 'attestation', simFile, '--root', root, '--at', 'document', '--manifest', image.manifestPath ?? '']);
    expect(ok.err).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.out).toContain('SIMULATED ROOT');
  });

  it('runs the hardware NSM code in the guest: PCRs, an NSM error answer and oversized requests through the real /dev/nsm', async () => {
    const probe = await bundleEntry({ entry: 'test/nsm-guest-probe.ts', sourceRoot: REPO, external: BUNDLE_EXTERNALS });
    // Appended cpio: replaces /cmd and adds the probe next to the service, nothing else.
    const overlay = writeCpio([
      { type: 'file', path: 'cmd', data: Buffer.from(cmdFile([`/${IMAGE_PATHS.node}`, '/app/nsm-probe.mjs'])), mode: 0o644 },
      { type: 'file', path: 'rootfs/app/nsm-probe.mjs', data: probe.code, mode: 0o644 },
    ], { mtime: image.manifest.sourceDateEpoch });
    const probeInitrd = join(dir, 'initrd-probe');
    writeFileSync(probeInitrd, Buffer.concat([...readEif(image.eif).ramdisks.map((r) => Buffer.from(r)), Buffer.from(overlay)]));
    const b = boot(probeInitrd, true);
    if (!(await b.waitFor('nsm-probe {"step":"done"', BOOT_TIMEOUT_MS))) failBoot(b, 'the guest probe did not finish');
    const steps = new Map([...b.console().matchAll(/^nsm-probe (\{.*\})\r?$/gm)].map((m) => {
      const r = JSON.parse(m[1] as string) as Record<string, unknown>;
      return [r.step as string, r];
    }));
    expect(steps.get('describe-nsm')).toMatchObject({ maxPcrs: 32, digest: 'SHA384' });
    expect(steps.get('describe-pcr-past-count')).toMatchObject({ code: 'NSM_ERROR_RESPONSE', nsmCode: 'InvalidIndex' });
    expect(steps.get('attest-request-too-large')).toMatchObject({ code: 'NSM_REQUEST_TOO_LARGE' });
    expect(steps.get('raw-request-too-large')).toMatchObject({ code: 'NSM_REQUEST_TOO_LARGE' });
    expect(steps.get('get-random')).toMatchObject({ length: 64 });
    // DescribePCR over the ioctl: every PCR, SHA-384 sized (QEMU does not measure the image: zeros).
    const pcrs = steps.get('describe-pcrs')?.pcrs as Record<string, string>;
    expect(Object.keys(pcrs)).toEqual(Array.from({ length: 32 }, (_, i) => String(i)));
    for (const v of Object.values(pcrs)) expect(v).toBe('00'.repeat(48));
    const probeDoc = qemuDocument(Buffer.from(steps.get('attestation')?.document as string, 'base64')).payload;
    expect(bytesOf(probeDoc.get('nonce')).toString()).toBe('probe-nonce');
  }, BOOT_TIMEOUT_MS + 60_000);

  it('without the NSM device, the image refuses to serve: NSM_DEVICE_MISSING, and the machine stops', async () => {
    const b = boot(initrd, false);
    const code = await Promise.race([b.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), BOOT_TIMEOUT_MS))]);
    if (code === 'timeout') failBoot(b, 'the image kept running without an NSM');
    expect(b.console()).toContain('attested-pack enclave: NSM_DEVICE_MISSING: cannot open /dev/nsm');
    expect(b.console()).toContain('attested-pack dev init: command exited with status 1');
    expect(b.console()).not.toContain(READY);
  }, BOOT_TIMEOUT_MS + 60_000);
});
