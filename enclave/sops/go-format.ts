// Byte-exact renderings of Go's strconv/time functions that sops uses for the MAC and the
// cipher plaintexts (sops.ToBytes, aes.Cipher.Encrypt/Decrypt). Getting any of these off
// by one character changes the MAC, so each mirrors the Go source it names.

/** strconv.FormatFloat(f, 'f', -1, 64): shortest round-trip digits, never an exponent. */
export function formatGoFloat(f: number): string {
  if (Number.isNaN(f)) return 'NaN';
  if (f === Infinity) return '+Inf';
  if (f === -Infinity) return '-Inf';
  const neg = f < 0 || Object.is(f, -0);
  // ECMAScript Number::toString yields the shortest round-trip digits, like Go's -1 precision.
  const s = Math.abs(f).toString();
  const m = /^(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(s);
  let out = s;
  if (m !== null) {
    const digits = (m[1] ?? '') + (m[2] ?? '');
    const exp = Number(m[3]);
    // Decimal point sits after position 1 + exp in `digits`.
    const point = 1 + exp;
    if (point <= 0) out = `0.${'0'.repeat(-point)}${digits}`;
    else if (point >= digits.length) out = digits + '0'.repeat(point - digits.length);
    else out = `${digits.slice(0, point)}.${digits.slice(point)}`;
  }
  return neg ? `-${out}` : out;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** strconv.Atoi (64-bit): optional sign, decimal digits, int64 range; else undefined. */
export function parseGoAtoi(s: string): bigint | undefined {
  if (!/^[+-]?[0-9]+$/.test(s)) return undefined;
  const v = BigInt(s);
  return v < INT64_MIN || v > INT64_MAX ? undefined : v;
}

export function inInt64(v: bigint): boolean {
  return v >= INT64_MIN && v <= INT64_MAX;
}

/** strconv.ParseBool. */
export function parseGoBool(s: string): boolean | undefined {
  switch (s) {
    case '1': case 't': case 'T': case 'true': case 'TRUE': case 'True':
      return true;
    case '0': case 'f': case 'F': case 'false': case 'FALSE': case 'False':
      return false;
    default:
      return undefined;
  }
}

/** What sops writes for a bool plaintext (the Python original's Titlecase). */
export function formatGoBool(b: boolean): string {
  return b ? 'True' : 'False';
}

/**
 * strconv.ParseFloat(s, 64) for decimal and special forms. Go rejects out-of-range values
 * (returns ErrRange), so `1e400` is not a float here either.
 */
export function parseGoFloat(s: string): number | undefined {
  const t = s.toLowerCase();
  if (/^[+-]?(inf|infinity)$/.test(t)) return t.startsWith('-') ? -Infinity : Infinity;
  if (/^[+-]?nan$/.test(t)) return NaN;
  const plain = s.includes('_') ? undefined : s;
  if (plain === undefined || !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(plain)) return undefined;
  const v = Number(plain);
  if (!Number.isFinite(v)) return undefined;
  return v;
}

interface TimeParts {
  y: number; mo: number; d: number; h: number; mi: number; s: number;
  /** Fraction digits without trailing zeros ('' when none). */
  frac: string;
  /** Offset in minutes; undefined means UTC without an explicit zone. */
  offset: number | undefined;
}

function daysIn(y: number, mo: number): number {
  return new Date(Date.UTC(y, mo, 0)).getUTCDate();
}

function validParts(p: TimeParts): boolean {
  return (
    p.mo >= 1 && p.mo <= 12 && p.d >= 1 && p.d <= daysIn(p.y, p.mo) &&
    p.h <= 23 && p.mi <= 59 && p.s <= 59 &&
    (p.offset === undefined || Math.abs(p.offset) < 24 * 60)
  );
}

/** time.Time.MarshalText: RFC 3339 with nanoseconds, trailing zeros trimmed; `Z` for offset 0. */
function formatParts(p: TimeParts): string {
  const two = (n: number): string => String(n).padStart(2, '0');
  let zone = 'Z';
  if (p.offset !== undefined && p.offset !== 0) {
    const a = Math.abs(p.offset);
    zone = `${p.offset < 0 ? '-' : '+'}${two(Math.floor(a / 60))}:${two(a % 60)}`;
  }
  const frac = p.frac === '' ? '' : `.${p.frac}`;
  return `${String(p.y).padStart(4, '0')}-${two(p.mo)}-${two(p.d)}T${two(p.h)}:${two(p.mi)}:${two(p.s)}${frac}${zone}`;
}

/** time.parseNanoseconds: digits after '.' or ',', only the first 9 count (the rest are cut). */
function fracDigits(f: string | undefined): string {
  if (f === undefined) return '';
  return f.slice(0, 9).replace(/0+$/, '');
}

/** An offset `[+-]hh:mm` in minutes. Go's layout parser allows hh up to 24 and mm up to 60. */
function offsetMinutes(z: string | undefined): number | undefined {
  if (z === undefined || z === 'Z') return 0;
  const m = /^([+-])(\d{2}):(\d{2})$/.exec(z);
  if (m === null || Number(m[2]) > 24 || Number(m[3]) > 60) return undefined;
  const v = Number(m[2]) * 60 + Number(m[3]);
  return m[1] === '-' ? -v : v;
}

/**
 * time.Parse(time.RFC3339, s) as Go 1.2x does it: the strict fast path, else the layout
 * parser, which also takes a one-digit hour, ',' before the fraction and more than nine
 * fraction digits (cut to nine). `T` and `Z` must be upper-case. Undefined when Go refuses.
 */
function parseGoRfc3339(s: string): TimeParts | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{1,2}):(\d{2}):(\d{2})(?:[.,](\d+))?(Z|[+-]\d{2}:\d{2})$/.exec(s);
  if (m === null) return undefined;
  const offset = offsetMinutes(m[8]);
  if (offset === undefined) return undefined;
  const p: TimeParts = {
    y: Number(m[1]), mo: Number(m[2]), d: Number(m[3]), h: Number(m[4]), mi: Number(m[5]), s: Number(m[6]),
    frac: fracDigits(m[7]), offset,
  };
  // The offset is range-checked by the caller (Format and MarshalText differ there).
  return validParts({ ...p, offset: 0 }) ? p : undefined;
}

/**
 * time.Time.UnmarshalText followed by MarshalText: the canonical text sops hashes for a
 * `time` value. UnmarshalText is time.Parse(RFC3339) in Go 1.2x (its stricter checks are
 * switched off, go.dev/issue/54580); MarshalText refuses an offset of 24 hours or more.
 */
export function canonicalRfc3339(s: string): string | undefined {
  const p = parseGoRfc3339(s);
  if (p === undefined || (p.offset !== undefined && Math.abs(p.offset) >= 24 * 60)) return undefined;
  return formatParts(p);
}

/**
 * go-yaml v3 parseTimestamp for plain scalars (formats `2006-1-2T15:4:5.999999999Z07:00`,
 * the lower-case `t` variant, `2006-1-2 15:4:5.999999999` and `2006-1-2`), returned as the
 * MarshalText form. Undefined when go-yaml would not read the scalar as a timestamp.
 */
export function parseYamlTimestamp(s: string): string | undefined {
  if (!/^\d{4}-/.test(s)) return undefined;
  let m = /^(\d{4})-(\d{1,2})-(\d{1,2})[Tt](\d{1,2}):(\d{1,2}):(\d{1,2})(?:[.,](\d+))?(Z|[+-]\d{2}:\d{2})$/.exec(s);
  let zoned = true;
  if (m === null) {
    m = /^(\d{4})-(\d{1,2})-(\d{1,2}) (\d{1,2}):(\d{1,2}):(\d{1,2})(?:[.,](\d+))?()$/.exec(s);
    zoned = false;
  }
  if (m === null) {
    const d = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(s);
    if (d === null) return undefined;
    const p: TimeParts = { y: Number(d[1]), mo: Number(d[2]), d: Number(d[3]), h: 0, mi: 0, s: 0, frac: '', offset: undefined };
    return validParts(p) ? formatParts(p) : undefined;
  }
  const frac = fracDigits(m[7]);
  const offset = zoned ? offsetMinutes(m[8]) : undefined;
  if (zoned && offset === undefined) return undefined;
  const p: TimeParts = {
    y: Number(m[1]), mo: Number(m[2]), d: Number(m[3]), h: Number(m[4]), mi: Number(m[5]), s: Number(m[6]),
    frac, offset,
  };
  return validParts(p) ? formatParts(p) : undefined;
}

/** sops' `lastmodified`: time.Parse(RFC3339) then Format(RFC3339) (seconds, no fraction). */
export function canonicalLastModified(s: string): string | undefined {
  const p = parseGoRfc3339(s);
  return p === undefined ? undefined : formatParts({ ...p, frac: '' });
}

/**
 * What Go's encoding/json writes for a string holding these bytes, decoded: every byte that
 * utf8.DecodeRune rejects (RuneError, width 1) becomes one U+FFFD. (A WHATWG decoder
 * replaces a truncated sequence with a single U+FFFD instead.)
 */
export function goJsonString(bytes: Uint8Array): string {
  const parts: string[] = [];
  let run = 0;
  let i = 0;
  const flush = (end: number): void => {
    if (end > run) parts.push(Buffer.from(bytes.buffer, bytes.byteOffset + run, end - run).toString('utf8'));
  };
  while (i < bytes.length) {
    const n = goRuneLength(bytes, i);
    if (n > 0) {
      i += n;
      continue;
    }
    // Valid runs are decoded whole; the bad byte becomes one U+FFFD.
    flush(i);
    parts.push('\ufffd');
    i += 1;
    run = i;
  }
  flush(bytes.length);
  return parts.join('');
}

/** Length of the valid UTF-8 sequence at `i` (Go's utf8.DecodeRune rules), 0 if invalid. */
function goRuneLength(b: Uint8Array, i: number): number {
  const c = b[i] ?? 0;
  if (c < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean => {
    const x = b[i + k];
    return x !== undefined && x >= lo && x <= hi;
  };
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    // No overlongs (E0 A0..), no surrogates (ED ..9F).
    const lo = c === 0xe0 ? 0xa0 : 0x80;
    const hi = c === 0xed ? 0x9f : 0xbf;
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    const lo = c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xf4 ? 0x8f : 0xbf;
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A Go string's bytes as a leaf: `raw` keeps them exact when they are not UTF-8. */
export function stringValue(bytes: Uint8Array): { text: string; raw?: Uint8Array } {
  try {
    return { text: STRICT_UTF8.decode(bytes) };
  } catch {
    return { text: Buffer.from(bytes).toString('utf8'), raw: Uint8Array.from(bytes) };
  }
}
