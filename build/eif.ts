// Enclave Image File writer and reader, byte for byte as aws-nitro-enclaves-image-format
// (src/defs/mod.rs, src/utils/mod.rs EifBuilder, src/utils/eif_reader.rs). Big-endian,
// no padding: a 548-byte header, then sections back to back, each a 12-byte section header
// (u16 type, u16 flags, u64 size) followed by its data. Written order is the builder's:
// kernel, cmdline, metadata, ramdisks (bootstrap first), signature.
import { crc32 } from 'node:zlib';
import { buildFail } from './errors.ts';

export const EIF_MAGIC = Buffer.from('.eif', 'ascii');
export const EIF_HEADER_SIZE = 548;
export const EIF_SECTION_HEADER_SIZE = 12;
export const EIF_MAX_SECTIONS = 32;
export const EIF_CURRENT_VERSION = 4;
/** Header flag bit 0: aarch64 image. */
export const EIF_FLAG_ARM64 = 0x1;
const DEFAULT_MEM = 1024n * 1024n * 1024n;
const DEFAULT_CPUS = 2n;

export const EIF_SECTION_TYPES = { invalid: 0, kernel: 1, cmdline: 2, ramdisk: 3, signature: 4, metadata: 5 } as const;
export type EifSectionTypeName = Exclude<keyof typeof EIF_SECTION_TYPES, 'invalid'>;
const TYPE_NAMES: Record<number, EifSectionTypeName> = { 1: 'kernel', 2: 'cmdline', 3: 'ramdisk', 4: 'signature', 5: 'metadata' };

export interface EifContents {
  kernel: Uint8Array;
  /** Kernel command line bytes (no NUL, no newline). */
  cmdline: Uint8Array;
  /** Compact JSON, see metadata.ts. */
  metadata: Uint8Array;
  /** Bootstrap ramdisk first, then the application ramdisks. */
  ramdisks: readonly Uint8Array[];
  /** Serialised signature section (eif-signature.ts), when signed. */
  signature?: Uint8Array;
  flags?: number;
}

export interface EifSection {
  type: EifSectionTypeName;
  flags: number;
  /** Offset of the section header in the file. */
  offset: number;
  size: number;
  data: Uint8Array;
}

export interface ParsedEif {
  version: number;
  flags: number;
  defaultMem: bigint;
  defaultCpus: bigint;
  numSections: number;
  sectionOffsets: number[];
  sectionSizes: number[];
  crc32: number;
  computedCrc32: number;
  sections: EifSection[];
  kernel: Uint8Array;
  cmdline: Uint8Array;
  metadata: Uint8Array | undefined;
  ramdisks: Uint8Array[];
  signature: Uint8Array | undefined;
}

function sectionHeader(type: number, size: number): Buffer {
  const b = Buffer.alloc(EIF_SECTION_HEADER_SIZE);
  b.writeUInt16BE(type, 0);
  b.writeUInt16BE(0, 2);
  b.writeBigUInt64BE(BigInt(size), 4);
  return b;
}

function asBuffer(u: Uint8Array): Buffer {
  return Buffer.from(u.buffer, u.byteOffset, u.length);
}

export function writeEif(contents: EifContents): Uint8Array {
  if (contents.ramdisks.length === 0) buildFail('EIF_MALFORMED', 'an EIF needs at least one ramdisk');
  if (contents.cmdline.includes(0) || contents.cmdline.includes(0x0a)) buildFail('EIF_MALFORMED', 'the kernel command line must not contain NUL or newline');
  const sections: Array<{ type: number; data: Uint8Array }> = [
    { type: EIF_SECTION_TYPES.kernel, data: contents.kernel },
    { type: EIF_SECTION_TYPES.cmdline, data: contents.cmdline },
    { type: EIF_SECTION_TYPES.metadata, data: contents.metadata },
    ...contents.ramdisks.map((data) => ({ type: EIF_SECTION_TYPES.ramdisk, data })),
  ];
  if (contents.signature !== undefined) sections.push({ type: EIF_SECTION_TYPES.signature, data: contents.signature });
  if (sections.length > EIF_MAX_SECTIONS) buildFail('EIF_TOO_MANY_SECTIONS', `${sections.length} sections; an EIF holds at most ${EIF_MAX_SECTIONS}`);

  const header = Buffer.alloc(EIF_HEADER_SIZE);
  EIF_MAGIC.copy(header, 0);
  header.writeUInt16BE(EIF_CURRENT_VERSION, 4);
  header.writeUInt16BE(contents.flags ?? 0, 6);
  header.writeBigUInt64BE(DEFAULT_MEM, 8);
  header.writeBigUInt64BE(DEFAULT_CPUS, 16);
  header.writeUInt16BE(0, 24);
  header.writeUInt16BE(sections.length, 26);
  let offset = EIF_HEADER_SIZE;
  sections.forEach((s, i) => {
    header.writeBigUInt64BE(BigInt(offset), 28 + i * 8);
    header.writeBigUInt64BE(BigInt(s.data.length), 284 + i * 8);
    offset += EIF_SECTION_HEADER_SIZE + s.data.length;
  });
  header.writeUInt32BE(0, 540);

  const parts: Buffer[] = [header];
  for (const s of sections) parts.push(sectionHeader(s.type, s.data.length), asBuffer(s.data));
  // CRC-32/ISO-HDLC over everything but the CRC field itself (the header's last 4 bytes).
  let crc = crc32(header.subarray(0, EIF_HEADER_SIZE - 4));
  for (const p of parts.slice(1)) crc = crc32(p, crc);
  header.writeUInt32BE(crc >>> 0, 544);
  return Buffer.concat(parts);
}

function u64(b: Buffer, at: number, what: string): number {
  const v = b.readBigUInt64BE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) buildFail('EIF_MALFORMED', `${what} is too large`);
  return Number(v);
}

/**
 * Parse an EIF strictly. Sections are read back to back after the header (as EifReader
 * does) and must agree with the header's offset/size tables. A wrong CRC is reported in
 * `computedCrc32` vs `crc32`, not thrown, so `describe` can show it; use `assertEifCrc`.
 */
export function readEif(bytes: Uint8Array): ParsedEif {
  const b = asBuffer(bytes);
  if (b.length < EIF_HEADER_SIZE) buildFail('EIF_MALFORMED', `file is ${b.length} bytes, shorter than the ${EIF_HEADER_SIZE}-byte EIF header`);
  if (!b.subarray(0, 4).equals(EIF_MAGIC)) buildFail('EIF_MALFORMED', 'missing ".eif" magic');
  const version = b.readUInt16BE(4);
  if (version < 2 || version > EIF_CURRENT_VERSION) buildFail('EIF_MALFORMED', `unsupported EIF version ${version} (2–${EIF_CURRENT_VERSION} are known)`);
  const numSections = b.readUInt16BE(26);
  if (numSections > EIF_MAX_SECTIONS) buildFail('EIF_TOO_MANY_SECTIONS', `header lists ${numSections} sections; at most ${EIF_MAX_SECTIONS}`);
  const sectionOffsets: number[] = [];
  const sectionSizes: number[] = [];
  for (let i = 0; i < EIF_MAX_SECTIONS; i++) {
    sectionOffsets.push(u64(b, 28 + i * 8, `section_offsets[${i}]`));
    sectionSizes.push(u64(b, 284 + i * 8, `section_sizes[${i}]`));
  }
  let crc = crc32(b.subarray(0, EIF_HEADER_SIZE - 4));
  const sections: EifSection[] = [];
  let pos = EIF_HEADER_SIZE;
  while (pos < b.length) {
    if (pos + EIF_SECTION_HEADER_SIZE > b.length) buildFail('EIF_MALFORMED', `truncated section header at offset ${pos}`);
    const typeCode = b.readUInt16BE(pos);
    const type = TYPE_NAMES[typeCode];
    if (type === undefined) buildFail('EIF_MALFORMED', `invalid section type ${typeCode} at offset ${pos}`);
    const size = u64(b, pos + 4, 'section size');
    const dataStart = pos + EIF_SECTION_HEADER_SIZE;
    if (dataStart + size > b.length) buildFail('EIF_MALFORMED', `${type} section at offset ${pos} runs past the end of the file`);
    crc = crc32(b.subarray(pos, dataStart + size), crc);
    sections.push({ type, flags: b.readUInt16BE(pos + 2), offset: pos, size, data: b.subarray(dataStart, dataStart + size) });
    pos = dataStart + size;
  }
  if (sections.length !== numSections) buildFail('EIF_MALFORMED', `header lists ${numSections} sections but the file has ${sections.length}`);
  sections.forEach((s, i) => {
    if (sectionOffsets[i] !== s.offset || sectionSizes[i] !== s.size) {
      buildFail('EIF_MALFORMED', `header table entry ${i} (offset ${sectionOffsets[i]}, size ${sectionSizes[i]}) disagrees with the ${s.type} section at ${s.offset} (size ${s.size})`);
    }
  });
  const ofType = (t: EifSectionTypeName): EifSection[] => sections.filter((s) => s.type === t);
  const one = (t: EifSectionTypeName, required: boolean): Uint8Array | undefined => {
    const found = ofType(t);
    if (found.length > 1) buildFail('EIF_MALFORMED', `more than one ${t} section`);
    if (found.length === 0 && required) buildFail('EIF_MALFORMED', `no ${t} section`);
    return found[0]?.data;
  };
  const kernel = one('kernel', true) as Uint8Array;
  const cmdline = one('cmdline', true) as Uint8Array;
  const metadata = one('metadata', version >= 4);
  const signature = one('signature', false);
  const ramdisks = ofType('ramdisk').map((s) => s.data);
  if (ramdisks.length === 0) buildFail('EIF_MALFORMED', 'no ramdisk section');
  const kernelIndex = sections.findIndex((s) => s.type === 'kernel');
  if (sections.findIndex((s) => s.type === 'ramdisk') < kernelIndex) buildFail('EIF_MALFORMED', 'ramdisks must come after the kernel');
  return {
    version, flags: b.readUInt16BE(6), defaultMem: b.readBigUInt64BE(8), defaultCpus: b.readBigUInt64BE(16),
    numSections, sectionOffsets: sectionOffsets.slice(0, numSections), sectionSizes: sectionSizes.slice(0, numSections),
    crc32: b.readUInt32BE(544), computedCrc32: crc >>> 0,
    sections, kernel, cmdline, metadata, ramdisks, signature,
  };
}

export function assertEifCrc(eif: ParsedEif): void {
  if (eif.crc32 !== eif.computedCrc32) {
    buildFail('EIF_CRC_MISMATCH', `header CRC-32 ${eif.crc32.toString(16).padStart(8, '0')} but contents give ${eif.computedCrc32.toString(16).padStart(8, '0')}`);
  }
}
