// Decrypted trees as plain JavaScript values — the values a YAML/JSON parser returns for
// `sops -d` output (Clef reads that output with the `yaml` package), so `String(value)`
// gives what Clef puts in an artifact.
import { goJsonString } from './go-format.ts';
import type { SopsNode } from './tree.ts';

export interface PlainOptions {
  /**
   * How strings that are not UTF-8 are rendered: Go's JSON encoder (one U+FFFD per bad
   * byte: `sops -d --output-type json`), or, by default, as YAML output read back (`!!binary`
   * → a Buffer → String(): WHATWG decoding).
   */
  goJson?: boolean;
}

export type PlainValue = string | number | boolean | null | PlainValue[] | { [key: string]: PlainValue };

function number(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  return Number(text);
}

export function toPlain(n: SopsNode, opts: PlainOptions = {}): PlainValue {
  switch (n.kind) {
    case 'null':
      return null;
    case 'comment':
      return n.text;
    case 'leaf':
      switch (n.type) {
        case 'int':
        case 'float':
          return number(n.text);
        case 'bool':
          return n.text === 'True';
        default:
          if (n.raw === undefined) return n.text;
          return opts.goJson === true ? goJsonString(n.raw) : Buffer.from(n.raw).toString('utf8');
      }
    case 'list':
      return n.items.filter((x) => x.kind !== 'comment').map((x) => toPlain(x, opts));
    case 'map': {
      const o: { [key: string]: PlainValue } = {};
      for (const it of n.items) {
        if (!('key' in it)) continue;
        // defineProperty: a key named __proto__ must stay data, not reach the prototype.
        Object.defineProperty(o, it.key, { value: toPlain(it.value, opts), enumerable: true, writable: true, configurable: true });
      }
      return o;
    }
  }
}

/** Clef's rule for a top-level value: `String(value)` of the parsed decrypted document. */
export function clefValueString(v: PlainValue): string {
  return String(v);
}
