// Runs INSIDE the booted development image, by the image's own node and koffi (bundled and
// appended to the initrd by test/boot-qemu.test.ts): the hardware NSM code of
// enclave/nsm/device.ts against the kernel's /dev/nsm (Debian's nsm.ko) and QEMU's
// virtio-nsm-pci, error paths included. Each step prints one `nsm-probe {json}` line on the
// console; the test reads them back. Never part of the image itself.
import { callNsm, NsmDeviceError, openHardwareNsm, openNsmTransport, NSM_MAX_REQUEST_BYTES } from '../enclave/nsm/device.ts';

function report(step: string, result: Record<string, unknown>): void {
  process.stdout.write(`nsm-probe ${JSON.stringify({ step, ...result })}\n`);
}

/** Run a step that must fail; report its stable code (and the NSM's own error name). */
async function refusal(step: string, fn: () => unknown): Promise<void> {
  try {
    await fn();
    report(step, { code: 'NO_ERROR' });
  } catch (e) {
    if (e instanceof NsmDeviceError) report(step, { code: e.code, nsmCode: e.nsmCode ?? null, message: e.message });
    else report(step, { code: 'UNEXPECTED', message: String(e) });
  }
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

async function main(): Promise<void> {
  const { transport, close } = await openNsmTransport();
  const described = callNsm(transport, { kind: 'DescribeNSM' });
  if (described.kind !== 'DescribeNSM') throw new Error(`DescribeNSM answered ${described.kind}`);
  report('describe-nsm', { maxPcrs: described.maxPcrs, moduleId: described.moduleId, digest: described.digest, lockedPcrs: described.lockedPcrs });
  // The NSM's own error answer, decoded by decodeNsmResponse: a PCR index past the count.
  await refusal('describe-pcr-past-count', () => callNsm(transport, { kind: 'DescribePCR', index: described.maxPcrs }));
  // Too large for the NSM's request buffer: refused before the ioctl, by the encoder and by the transport.
  const nsm = await openHardwareNsm();
  await refusal('attest-request-too-large', () => nsm.attest({ userData: new Uint8Array(NSM_MAX_REQUEST_BYTES + 1) }));
  await refusal('raw-request-too-large', () => transport(new Uint8Array(NSM_MAX_REQUEST_BYTES + 1)));
  const pcrs = await nsm.describePcrs();
  report('describe-pcrs', { pcrs: Object.fromEntries([...pcrs].map(([i, v]) => [i, hex(v)])) });
  const document = await nsm.attest({ nonce: Buffer.from('probe-nonce'), userData: Buffer.from('probe-user-data'), publicKey: Buffer.from('probe-public-key') });
  report('attestation', { document: Buffer.from(document).toString('base64') });
  const random = await nsm.getRandom(64);
  report('get-random', { length: random.length, distinctBytes: new Set(random).size });
  await nsm.close();
  await close();
  report('done', {});
}

main().catch((e: unknown) => {
  report('fatal', { message: e instanceof Error ? e.message : String(e) });
  process.exitCode = 1;
});
