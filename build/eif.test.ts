// EIF layout and PCRs, checked against independent tools: openssl computes every PCR by
// hand from the raw section bytes, gzip's trailer gives the CRC-32.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EIF_HEADER_SIZE, assertEifCrc, readEif, writeEif } from './eif.ts';
import { computeEifPcrs, pcrHex } from './pcrs.ts';
import { describeEif } from './describe.ts';
import { BuildError } from './errors.ts';
import { codeOf } from '../test/error-codes.ts';

const kernel = Buffer.from('synthetic kernel '.repeat(1000));
const cmdline = Buffer.from('console=ttyS0 reboot=k');
const metadata = Buffer.from('{"ImageName":"t"}');
const boot = Buffer.from('bootstrap ramdisk bytes');
const app = Buffer.from('application ramdisk bytes, second one');

function opensslSha384(file: string): Buffer {
  return execFileSync('openssl', ['dgst', '-sha384', '-binary', file]);
}

/** PCR by hand: openssl SHA-384 of the concatenated payloads, then of 48 zero bytes ‖ that. */
function pcrByHand(dir: string, name: string, parts: Buffer[]): string {
  const data = join(dir, `${name}.data`);
  writeFileSync(data, Buffer.concat(parts));
  const ext = join(dir, `${name}.extend`);
  writeFileSync(ext, Buffer.concat([Buffer.alloc(48), opensslSha384(data)]));
  return opensslSha384(ext).toString('hex');
}

const expectCode = (fn: () => unknown, code: string): void => {
  expect(codeOf(fn, BuildError)).toBe(code);
};

describe('EIF writer', () => {
  const eif = Buffer.from(writeEif({ kernel, cmdline, metadata, ramdisks: [boot, app] }));

  it('lays out the header and sections as aws-nitro-enclaves-image-format does', () => {
    expect(eif.subarray(0, 4).toString('ascii')).toBe('.eif');
    expect(eif.readUInt16BE(4)).toBe(4);
    expect(eif.readUInt16BE(6)).toBe(0);
    expect(eif.readBigUInt64BE(8)).toBe(1024n * 1024n * 1024n);
    expect(eif.readBigUInt64BE(16)).toBe(2n);
    expect(eif.readUInt16BE(26)).toBe(5);
    // Written order: kernel, cmdline, metadata, ramdisks; offsets point at section headers.
    const expected = [[1, kernel], [2, cmdline], [5, metadata], [3, boot], [3, app]] as const;
    let off = EIF_HEADER_SIZE;
    expected.forEach(([type, data], i) => {
      expect(Number(eif.readBigUInt64BE(28 + i * 8))).toBe(off);
      expect(Number(eif.readBigUInt64BE(284 + i * 8))).toBe(data.length);
      expect(eif.readUInt16BE(off)).toBe(type);
      expect(eif.readUInt16BE(off + 2)).toBe(0);
      expect(Number(eif.readBigUInt64BE(off + 4))).toBe(data.length);
      expect(eif.subarray(off + 12, off + 12 + data.length).equals(data)).toBe(true);
      off += 12 + data.length;
    });
    expect(off).toBe(eif.length);
    expect(Number(eif.readBigUInt64BE(28 + 5 * 8))).toBe(0);
  });

  it('stores the CRC-32 (ISO-HDLC) of everything but the CRC field, as gzip computes it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'eif-crc-'));
    try {
      const covered = Buffer.concat([eif.subarray(0, 544), eif.subarray(548)]);
      writeFileSync(join(dir, 'covered'), covered);
      const gz = execFileSync('gzip', ['-c', '-n', join(dir, 'covered')]);
      const gzipCrc = gz.readUInt32LE(gz.length - 8);
      expect(eif.readUInt32BE(544)).toBe(gzipCrc);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('computes PCR0/1/2 exactly as the hand computation with openssl', () => {
    const dir = mkdtempSync(join(tmpdir(), 'eif-pcr-'));
    try {
      const d = describeEif(eif);
      expect(d.pcrs['0']).toBe(pcrByHand(dir, 'pcr0', [kernel, cmdline, boot, app]));
      expect(d.pcrs['1']).toBe(pcrByHand(dir, 'pcr1', [kernel, cmdline, boot]));
      expect(d.pcrs['2']).toBe(pcrByHand(dir, 'pcr2', [app]));
      expect(d.pcrs['8']).toBeUndefined();
      expect(d.checkCrc).toBe(true);
      // Metadata is never measured.
      const other = describeEif(writeEif({ kernel, cmdline, metadata: Buffer.from('{}'), ramdisks: [boot, app] }));
      expect(other.pcrs).toEqual(d.pcrs);
      expect(other.sha384).not.toBe(d.sha384);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gives PCR2 = extend(SHA-384 of nothing) for a single-ramdisk image', () => {
    const pcrs = pcrHex(computeEifPcrs({ kernel, cmdline, ramdisks: [boot] }));
    expect(pcrs['2'].startsWith('21b9efbc')).toBe(true);
    expect(pcrs['2'].endsWith('fc500a')).toBe(true);
  });

  it('refuses images it cannot represent', () => {
    expectCode(() => writeEif({ kernel, cmdline, metadata, ramdisks: [] }), 'EIF_MALFORMED');
    expectCode(() => writeEif({ kernel, cmdline: Buffer.from('a\nb'), metadata, ramdisks: [boot] }), 'EIF_MALFORMED');
    expectCode(() => writeEif({ kernel, cmdline, metadata, ramdisks: Array.from({ length: 30 }, () => boot) }), 'EIF_TOO_MANY_SECTIONS');
  });
});

describe('EIF reader', () => {
  const eif = Buffer.from(writeEif({ kernel, cmdline, metadata, ramdisks: [boot, app] }));

  it('round-trips the sections', () => {
    const p = readEif(eif);
    assertEifCrc(p);
    expect(Buffer.from(p.kernel).equals(kernel)).toBe(true);
    expect(Buffer.from(p.cmdline).equals(cmdline)).toBe(true);
    expect(Buffer.from(p.metadata!).equals(metadata)).toBe(true);
    expect(p.ramdisks.map((r) => Buffer.from(r).toString())).toEqual([boot.toString(), app.toString()]);
    expect(p.sections.map((s) => s.type)).toEqual(['kernel', 'cmdline', 'metadata', 'ramdisk', 'ramdisk']);
  });

  it('reports a CRC mismatch after one flipped byte, without moving the check into parsing', () => {
    const bad = Buffer.from(eif);
    bad[EIF_HEADER_SIZE + 12 + 5]! ^= 1;
    const p = readEif(bad);
    expect(p.computedCrc32).not.toBe(p.crc32);
    expect(describeEif(bad).checkCrc).toBe(false);
    expectCode(() => assertEifCrc(p), 'EIF_CRC_MISMATCH');
  });

  it('refuses malformed files', () => {
    expectCode(() => readEif(eif.subarray(0, 100)), 'EIF_MALFORMED');
    const magic = Buffer.from(eif);
    magic.write('.elf', 0, 'ascii');
    expectCode(() => readEif(magic), 'EIF_MALFORMED');
    expectCode(() => readEif(eif.subarray(0, eif.length - 1)), 'EIF_MALFORMED');
    const count = Buffer.from(eif);
    count.writeUInt16BE(4, 26);
    expectCode(() => readEif(count), 'EIF_MALFORMED');
    const tooMany = Buffer.from(eif);
    tooMany.writeUInt16BE(33, 26);
    expectCode(() => readEif(tooMany), 'EIF_TOO_MANY_SECTIONS');
    const badType = Buffer.from(eif);
    badType.writeUInt16BE(9, EIF_HEADER_SIZE);
    expectCode(() => readEif(badType), 'EIF_MALFORMED');
    const badOffset = Buffer.from(eif);
    badOffset.writeBigUInt64BE(BigInt(EIF_HEADER_SIZE + 1), 28);
    expectCode(() => readEif(badOffset), 'EIF_MALFORMED');
    const version = Buffer.from(eif);
    version.writeUInt16BE(9, 4);
    expectCode(() => readEif(version), 'EIF_MALFORMED');
    const noKernel = Buffer.from(writeEif({ kernel, cmdline, metadata, ramdisks: [boot] }));
    noKernel.writeUInt16BE(3, EIF_HEADER_SIZE);
    expectCode(() => readEif(noKernel), 'EIF_MALFORMED');
  });

  it('reads a real-format file written to disk', () => {
    const dir = mkdtempSync(join(tmpdir(), 'eif-file-'));
    try {
      writeFileSync(join(dir, 'x.eif'), eif);
      expect(readEif(readFileSync(join(dir, 'x.eif'))).numSections).toBe(5);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
