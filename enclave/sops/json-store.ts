// JSON files in and out, as sops v3.12's stores/json sees them: key order kept (JSON.parse
// would move integer-like keys first, which changes the MAC), every number a float64,
// duplicate keys refused, and the same size/depth/count limits as YAML.
import { SopsError } from './errors.ts';
import { formatGoFloat } from './go-format.ts';
import { DEFAULT_LIMITS, NULL, leaf, type SopsBranch, type SopsLimits, type SopsMapItem, type SopsNode } from './tree.ts';

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

class JsonReader {
  private i = 0;
  private values = 0;
  private readonly s: string;
  private readonly fileName: string | undefined;
  private readonly limits: SopsLimits;

  constructor(s: string, fileName: string | undefined, limits: SopsLimits) {
    this.s = s;
    this.fileName = fileName;
    this.limits = limits;
  }

  fail(msg: string): never {
    throw new SopsError('SOPS_MALFORMED', `invalid JSON at offset ${this.i}: ${msg}`, { fileName: this.fileName });
  }

  private ws(): void {
    while (this.i < this.s.length && ' \t\n\r'.includes(this.s.charAt(this.i))) this.i++;
  }

  private count(): void {
    this.values += 1;
    if (this.values > this.limits.maxValues) {
      throw new SopsError('SOPS_INPUT_TOO_LARGE', `more than ${this.limits.maxValues} values`, { fileName: this.fileName });
    }
  }

  document(): SopsBranch {
    this.ws();
    if (this.s.charAt(this.i) !== '{') this.fail('top level must be an object');
    const m = this.object(1);
    this.ws();
    if (this.i !== this.s.length) this.fail('trailing characters');
    return m;
  }

  private value(depth: number): SopsNode {
    if (depth > this.limits.maxDepth) {
      throw new SopsError('SOPS_INPUT_TOO_LARGE', `nesting deeper than ${this.limits.maxDepth}`, { fileName: this.fileName });
    }
    this.ws();
    const c = this.s.charAt(this.i);
    if (c === '{') return this.object(depth);
    if (c === '[') return this.array(depth);
    this.count();
    if (c === '"') return leaf('str', this.string());
    if (this.s.startsWith('true', this.i)) { this.i += 4; return leaf('bool', 'True'); }
    if (this.s.startsWith('false', this.i)) { this.i += 5; return leaf('bool', 'False'); }
    if (this.s.startsWith('null', this.i)) { this.i += 4; return NULL; }
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(this.s.slice(this.i, this.i + 1100));
    if (m === null) this.fail('unexpected character');
    this.i += m[0].length;
    const f = Number(m[0]);
    // Go's json decoder refuses numbers outside float64 range.
    if (!Number.isFinite(f)) this.fail(`number ${m[0]} is out of range`);
    return leaf('float', formatGoFloat(f));
  }

  private string(): string {
    // Scan to the closing quote, then let JSON.parse handle escapes exactly.
    const start = this.i;
    this.i++;
    while (this.i < this.s.length) {
      const ch = this.s.charAt(this.i);
      if (ch === '\\') this.i += 2;
      else if (ch === '"') break;
      else this.i++;
    }
    if (this.i >= this.s.length) this.fail('unterminated string');
    this.i++;
    let v: string;
    try {
      v = JSON.parse(this.s.slice(start, this.i)) as string;
    } catch {
      return this.fail('invalid string');
    }
    // Go's decoder turns an unpaired \ud800-\udfff escape into U+FFFD; JSON.parse keeps it.
    return v.replace(LONE_SURROGATE, '\ufffd');
  }

  private object(depth: number): SopsBranch {
    this.i++;
    const items: SopsMapItem[] = [];
    const seen = new Set<string>();
    this.ws();
    if (this.s.charAt(this.i) === '}') { this.i++; return { kind: 'map', items }; }
    for (;;) {
      this.ws();
      if (this.s.charAt(this.i) !== '"') this.fail('expected a string key');
      const key = this.string();
      if (seen.has(key)) this.fail(`duplicate key '${key}'`);
      seen.add(key);
      this.ws();
      if (this.s.charAt(this.i) !== ':') this.fail("expected ':'");
      this.i++;
      items.push({ key, value: this.value(depth + 1) });
      this.ws();
      const c = this.s.charAt(this.i);
      this.i++;
      if (c === '}') return { kind: 'map', items };
      if (c !== ',') this.fail("expected ',' or '}'");
    }
  }

  private array(depth: number): SopsNode {
    this.i++;
    const items: SopsNode[] = [];
    this.ws();
    if (this.s.charAt(this.i) === ']') { this.i++; return { kind: 'list', items }; }
    for (;;) {
      items.push(this.value(depth + 1));
      this.ws();
      const c = this.s.charAt(this.i);
      this.i++;
      if (c === ']') return { kind: 'list', items };
      if (c !== ',') this.fail("expected ',' or ']'");
    }
  }
}

export function parseJsonBranches(text: string, fileName?: string, limits: SopsLimits = DEFAULT_LIMITS): SopsBranch[] {
  if (Buffer.byteLength(text, 'utf8') > limits.maxBytes) {
    throw new SopsError('SOPS_INPUT_TOO_LARGE', `file larger than ${limits.maxBytes} bytes`, { fileName });
  }
  return [new JsonReader(text, fileName, limits).document()];
}

function emitValue(n: SopsNode, pad: string): string {
  const inner = `${pad}\t`;
  switch (n.kind) {
    case 'null':
      return 'null';
    case 'comment':
      return JSON.stringify(n.text);
    case 'leaf':
      if (n.type === 'float' && /^-?[0-9.]+$/.test(n.text)) return n.text;
      if (n.type === 'int') return n.text;
      if (n.type === 'bool') return n.text === 'True' ? 'true' : 'false';
      return JSON.stringify(n.text);
    case 'list': {
      const xs = n.items.filter((x) => x.kind !== 'comment');
      if (xs.length === 0) return '[]';
      return `[\n${xs.map((x) => inner + emitValue(x, inner)).join(',\n')}\n${pad}]`;
    }
    case 'map': {
      const xs = n.items.filter((x): x is { key: string; value: SopsNode } => 'key' in x);
      if (xs.length === 0) return '{}';
      return `{\n${xs.map((x) => `${inner}${JSON.stringify(x.key)}: ${emitValue(x.value, inner)}`).join(',\n')}\n${pad}}`;
    }
  }
}

/** Emit one branch as JSON with tab indentation, as sops does. */
export function emitJsonBranch(branch: SopsBranch): string {
  return `${emitValue(branch, '')}\n`;
}
