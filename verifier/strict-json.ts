// Strict JSON (RFC 8259) for every JSON format we read: receipts, statements, manifests,
// artifacts, trust policies. Hand-written because JSON.parse keeps the *last* of two equal
// member names (a second reader that keeps the first would see another value) and accepts a
// leading BOM, and no maintained zero-dependency package refuses both — the verifier may
// depend on Node's standard library only. Refused: BOM, duplicate member names (compared
// after unescaping), lone surrogates (escaped or not), nesting deeper than `maxDepth`,
// anything after the value but whitespace. Numbers follow the RFC grammar exactly.

export class StrictJsonError extends Error {
  /** Byte-independent position: index into the decoded string. */
  readonly offset: number;

  constructor(message: string, offset: number) {
    super(`${message} at offset ${offset}`);
    this.name = 'StrictJsonError';
    this.offset = offset;
  }
}

export interface StrictJsonOptions {
  /** Arrays and objects nested deeper than this are refused (default 64). */
  maxDepth?: number;
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

class Parser {
  i = 0;
  readonly s: string;
  readonly maxDepth: number;

  constructor(s: string, maxDepth: number) {
    this.s = s;
    this.maxDepth = maxDepth;
  }

  fail(message: string): never {
    throw new StrictJsonError(message, this.i);
  }

  ws(): void {
    while (this.i < this.s.length && WS.has(this.s.charCodeAt(this.i))) this.i++;
  }

  value(depth: number): unknown {
    this.ws();
    const c = this.s[this.i];
    if (c === '{' || c === '[') {
      if (depth >= this.maxDepth) this.fail(`nesting deeper than ${this.maxDepth}`);
      return c === '{' ? this.object(depth + 1) : this.array(depth + 1);
    }
    if (c === '"') return this.string();
    if (this.s.startsWith('true', this.i)) return this.literal('true', true);
    if (this.s.startsWith('false', this.i)) return this.literal('false', false);
    if (this.s.startsWith('null', this.i)) return this.literal('null', null);
    return this.number();
  }

  literal<T>(word: string, v: T): T {
    this.i += word.length;
    return v;
  }

  number(): number {
    NUMBER.lastIndex = this.i;
    const m = NUMBER.exec(this.s);
    if (m === null || m[0].length === 0) this.fail('expected a JSON value');
    this.i += m[0].length;
    const n = Number(m[0]);
    if (!Number.isFinite(n)) this.fail('number out of range');
    return n;
  }

  string(): string {
    this.i++; // opening quote
    // Plain characters are copied a run at a time (one slice per run, not one per character).
    let out = '';
    let run = this.i;
    for (;;) {
      if (this.i >= this.s.length) this.fail('unterminated string');
      const code = this.s.charCodeAt(this.i);
      if (code === 0x22) break;
      if (code < 0x20) this.fail('control character in string');
      if (code === 0x5c) {
        out += this.s.slice(run, this.i) + this.escape();
        run = this.i;
        continue;
      }
      if (code >= 0xd800 && code <= 0xdfff) {
        const next = this.s.charCodeAt(this.i + 1);
        if (code > 0xdbff || !(next >= 0xdc00 && next <= 0xdfff)) this.fail('lone surrogate in string');
        this.i += 2;
        continue;
      }
      this.i++;
    }
    out += this.s.slice(run, this.i);
    this.i++; // closing quote
    return out;
  }

  escape(): string {
    const e = this.s[this.i + 1];
    if (e !== undefined && e in ESCAPES) {
      this.i += 2;
      return ESCAPES[e] as string;
    }
    if (e !== 'u') this.fail('invalid escape');
    const hi = this.hex4(this.i + 2);
    this.i += 6;
    if (hi < 0xd800 || hi > 0xdfff) return String.fromCharCode(hi);
    if (hi > 0xdbff || this.s[this.i] !== '\\' || this.s[this.i + 1] !== 'u') this.fail('lone surrogate escape');
    const lo = this.hex4(this.i + 2);
    if (lo < 0xdc00 || lo > 0xdfff) this.fail('lone surrogate escape');
    this.i += 6;
    return String.fromCharCode(hi, lo);
  }

  hex4(at: number): number {
    const h = this.s.slice(at, at + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) this.fail('invalid \\u escape');
    return parseInt(h, 16);
  }

  array(depth: number): unknown[] {
    this.i++;
    const out: unknown[] = [];
    this.ws();
    if (this.s[this.i] === ']') {
      this.i++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth));
      this.ws();
      const c = this.s[this.i++];
      if (c === ']') return out;
      if (c !== ',') this.fail("expected ',' or ']'");
    }
  }

  object(depth: number): Record<string, unknown> {
    this.i++;
    // A null-prototype object: "__proto__" is an ordinary member name here.
    const out = Object.create(null) as Record<string, unknown>;
    this.ws();
    if (this.s[this.i] === '}') {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') this.fail('expected a member name');
      const at = this.i;
      const name = this.string();
      if (Object.prototype.hasOwnProperty.call(out, name)) throw new StrictJsonError(`duplicate member name ${JSON.stringify(name)}`, at);
      this.ws();
      if (this.s[this.i++] !== ':') this.fail("expected ':'");
      out[name] = this.value(depth);
      this.ws();
      const c = this.s[this.i++];
      if (c === '}') return out;
      if (c !== ',') this.fail("expected ',' or '}'");
    }
  }
}

/**
 * Parse one JSON text strictly. Bytes must be UTF-8 (invalid sequences refused). Objects come
 * back with a null prototype; callers treat them as plain records.
 */
export function parseStrictJson(input: Uint8Array | string, options: StrictJsonOptions = {}): unknown {
  let text: string;
  if (typeof input === 'string') text = input;
  else {
    try {
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(input);
    } catch {
      throw new StrictJsonError('not valid UTF-8', 0);
    }
  }
  if (text.charCodeAt(0) === 0xfeff) throw new StrictJsonError('byte order mark before the JSON text', 0);
  const p = new Parser(text, options.maxDepth ?? 64);
  const v = p.value(0);
  p.ws();
  if (p.i !== text.length) p.fail('unexpected data after the JSON value');
  return v;
}
