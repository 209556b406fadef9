// A small strict CBOR (RFC 8949) reader for the attestation formats. We do not use a
// general-purpose decoder here because those accept more than we want to trust: duplicate
// map keys, non-minimal ("non-preferred") length encodings, reserved additional-info values
// and trailing bytes all decode silently, and some of them re-interpret map keys or tags.
// Every violation here is MALFORMED_CBOR; nothing else is ever thrown.
//
// Byte strings are returned as views into the input (no copy), so callers can keep the
// exact bytes that were signed (COSE protected header and payload).
import { fail } from './errors.ts';

/** A decoded CBOR tag (major type 6). */
export class CborTag {
  readonly tag: number;
  readonly value: CborValue;
  constructor(tag: number, value: CborValue) {
    this.tag = tag;
    this.value = value;
  }
}

/** Map keys we accept: integers and text strings (all that COSE and NSM use). */
export type CborKey = number | bigint | string;

export type CborValue =
  | number
  | bigint
  | string
  | Uint8Array
  | boolean
  | null
  | undefined
  | CborValue[]
  | Map<CborKey, CborValue>
  | CborTag;

export interface DecodeLimits {
  /** Deepest nesting of arrays/maps/tags. */
  maxDepth: number;
}

const DEFAULT_LIMITS: DecodeLimits = { maxDepth: 16 };
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decode exactly one CBOR data item that spans all of `bytes`. */
export function decodeCbor(bytes: Uint8Array, limits: DecodeLimits = DEFAULT_LIMITS): CborValue {
  const reader = new Reader(bytes, limits);
  if (bytes.length === 0) fail('MALFORMED_CBOR', 'empty input: expected one CBOR data item');
  const value = reader.item(0);
  if (reader.pos !== bytes.length) {
    fail('MALFORMED_CBOR', `${bytes.length - reader.pos} trailing byte(s) after the CBOR data item`, { offset: reader.pos });
  }
  return value;
}

const BREAK = Symbol('break');

class Reader {
  pos = 0;
  private readonly bytes: Uint8Array;
  private readonly limits: DecodeLimits;

  constructor(bytes: Uint8Array, limits: DecodeLimits) {
    this.bytes = bytes;
    this.limits = limits;
  }

  private bad(message: string, at = this.pos): never {
    fail('MALFORMED_CBOR', `${message} at offset ${at}`, { offset: at });
  }

  private byte(): number {
    const b = this.bytes[this.pos];
    if (b === undefined) this.bad('unexpected end of input');
    this.pos += 1;
    return b;
  }

  private take(n: number): Uint8Array {
    if (n > this.bytes.length - this.pos) this.bad(`length ${n} runs past the end of input`);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /**
   * The argument of a head with additional info `ai`, enforcing the shortest encoding
   * (RFC 8949 §4.2.1 preferred serialization): ai 24 only for values ≥ 24, ai 25 only
   * for values ≥ 256, and so on. Values above 2^53 come back as bigint.
   */
  private argument(ai: number, start: number): number | bigint {
    if (ai < 24) return ai;
    if (ai === 24) {
      const v = this.byte();
      if (v < 24) this.bad('non-minimal integer/length encoding', start);
      return v;
    }
    if (ai === 25) {
      const b = this.take(2);
      const v = ((b[0] as number) << 8) | (b[1] as number);
      if (v < 0x100) this.bad('non-minimal integer/length encoding', start);
      return v;
    }
    if (ai === 26) {
      const b = this.take(4);
      const v = (((b[0] as number) << 24) >>> 0) + (((b[1] as number) << 16) | ((b[2] as number) << 8) | (b[3] as number));
      if (v < 0x10000) this.bad('non-minimal integer/length encoding', start);
      return v;
    }
    if (ai === 27) {
      const b = this.take(8);
      const hi = (((b[0] as number) << 24) >>> 0) + (((b[1] as number) << 16) | ((b[2] as number) << 8) | (b[3] as number));
      const lo = (((b[4] as number) << 24) >>> 0) + (((b[5] as number) << 16) | ((b[6] as number) << 8) | (b[7] as number));
      if (hi === 0) this.bad('non-minimal integer/length encoding', start);
      const big = (BigInt(hi) << 32n) | BigInt(lo);
      return big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
    }
    // 28, 29, 30 are reserved; 31 (indefinite) is handled by the callers that allow it.
    return this.bad(`reserved additional information value ${ai}`, start);
  }

  /** A length argument (strings, arrays, maps) must fit the remaining input. */
  private length(ai: number, start: number): number {
    const n = this.argument(ai, start);
    if (typeof n === 'bigint' || n > this.bytes.length - this.pos) this.bad(`length ${String(n)} runs past the end of input`, start);
    return n;
  }

  item(depth: number): CborValue {
    const v = this.itemOrBreak(depth);
    if (v === BREAK) this.bad('unexpected "break" (0xff)', this.pos - 1);
    return v;
  }

  private itemOrBreak(depth: number): CborValue | typeof BREAK {
    if (depth > this.limits.maxDepth) this.bad(`nesting deeper than ${this.limits.maxDepth}`);
    const start = this.pos;
    const head = this.byte();
    const major = head >> 5;
    const ai = head & 0x1f;
    switch (major) {
      case 0:
        if (ai === 31) this.bad('indefinite length is not allowed for an integer', start);
        return this.argument(ai, start);
      case 1: {
        if (ai === 31) this.bad('indefinite length is not allowed for an integer', start);
        const n = this.argument(ai, start);
        if (typeof n === 'bigint') return -1n - n;
        const v = -1 - n;
        return Number.isSafeInteger(v) ? v : -1n - BigInt(n);
      }
      case 2:
        return ai === 31 ? this.indefiniteString(2) : this.take(this.length(ai, start));
      case 3:
        return this.text(ai === 31 ? this.indefiniteString(3) : this.take(this.length(ai, start)), start);
      case 4:
        return this.array(ai, start, depth);
      case 5:
        return this.map(ai, start, depth);
      case 6: {
        if (ai === 31) this.bad('indefinite length is not allowed for a tag', start);
        const tag = this.argument(ai, start);
        if (typeof tag === 'bigint') this.bad('tag number too large', start);
        return new CborTag(tag, this.item(depth + 1));
      }
      default:
        return this.simple(ai, start);
    }
  }

  private text(raw: Uint8Array, start: number): string {
    try {
      return utf8.decode(raw);
    } catch {
      return this.bad('text string is not valid UTF-8', start);
    }
  }

  /** Indefinite-length byte/text string: definite chunks of the same major type, then break. */
  private indefiniteString(major: 2 | 3): Uint8Array {
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const chunkStart = this.pos;
      const head = this.byte();
      if (head === 0xff) break;
      if (head >> 5 !== major) this.bad('indefinite-length string chunk of the wrong major type', chunkStart);
      const ai = head & 0x1f;
      if (ai === 31) this.bad('nested indefinite-length string chunk', chunkStart);
      const chunk = this.take(this.length(ai, chunkStart));
      // Text chunks must each be valid UTF-8 on their own (RFC 8949 §3.2.3).
      if (major === 3) this.text(chunk, chunkStart);
      chunks.push(chunk);
      total += chunk.length;
    }
    const out = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }

  private array(ai: number, start: number, depth: number): CborValue[] {
    const out: CborValue[] = [];
    if (ai === 31) {
      for (;;) {
        const v = this.itemOrBreak(depth + 1);
        if (v === BREAK) return out;
        out.push(v);
      }
    }
    const n = this.length(ai, start);
    for (let i = 0; i < n; i++) out.push(this.item(depth + 1));
    return out;
  }

  private map(ai: number, start: number, depth: number): Map<CborKey, CborValue> {
    const out = new Map<CborKey, CborValue>();
    const indefinite = ai === 31;
    // Each entry takes at least two bytes, so a claimed count larger than that is bogus.
    const n = indefinite ? Infinity : this.length(ai, start);
    for (let i = 0; i < n; i++) {
      const keyStart = this.pos;
      const key = this.itemOrBreak(depth + 1);
      if (key === BREAK) {
        if (indefinite) return out;
        this.bad('unexpected "break" (0xff)', keyStart);
      }
      if (typeof key !== 'number' && typeof key !== 'bigint' && typeof key !== 'string') {
        this.bad('map key must be an integer or a text string', keyStart);
      }
      if (out.has(key)) this.bad(`duplicate map key ${JSON.stringify(typeof key === 'bigint' ? key.toString() : key)}`, keyStart);
      out.set(key, this.item(depth + 1));
    }
    return out;
  }

  private simple(ai: number, start: number): CborValue | typeof BREAK {
    switch (ai) {
      case 20:
        return false;
      case 21:
        return true;
      case 22:
        return null;
      case 23:
        return undefined;
      case 24: {
        const v = this.byte();
        // Simple values below 32 must use the one-byte form (RFC 8949 §3.3).
        if (v < 32) this.bad('simple value in the two-byte form below 32', start);
        return this.bad(`unassigned simple value ${v}`, start);
      }
      case 25:
        return halfToNumber(this.take(2));
      case 26:
        return new DataView(this.take(4).slice().buffer).getFloat32(0);
      case 27:
        return new DataView(this.take(8).slice().buffer).getFloat64(0);
      case 31:
        return BREAK;
      default:
        if (ai < 20) return this.bad(`unassigned simple value ${ai}`, start);
        return this.bad(`reserved additional information value ${ai}`, start);
    }
  }
}

function halfToNumber(b: Uint8Array): number {
  const h = ((b[0] as number) << 8) | (b[1] as number);
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  const sign = h & 0x8000 ? -1 : 1;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant === 0 ? sign * Infinity : NaN;
  return sign * (mant + 1024) * 2 ** (exp - 25);
}

/** The head of a definite-length item (major type, argument) in preferred serialization. */
export function encodeHead(major: number, value: number): Uint8Array {
  const m = major << 5;
  if (value < 24) return Uint8Array.of(m | value);
  if (value < 0x100) return Uint8Array.of(m | 24, value);
  if (value < 0x10000) return Uint8Array.of(m | 25, value >> 8, value & 0xff);
  if (value < 0x1_0000_0000) return Uint8Array.of(m | 26, value >>> 24, (value >> 16) & 0xff, (value >> 8) & 0xff, value & 0xff);
  throw new RangeError('encodeHead: value too large');
}
