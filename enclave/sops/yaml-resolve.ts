// go-yaml v3's implicit typing of scalars (resolve.go), which decides whether sops sees a
// YAML value as a string, int, float, bool, timestamp or null. The JavaScript `yaml`
// package types scalars differently (YAML 1.2 core schema, no timestamps, no `0755`
// octals), so we parse with the failsafe schema and type every scalar here instead.
import { formatGoBool, formatGoFloat, inInt64, parseYamlTimestamp, stringValue } from './go-format.ts';
import { NULL, leaf, type SopsLeaf, type SopsNull } from './tree.ts';

const TAG_PREFIX = 'tag:yaml.org,2002:';

const BOOL_TRUE = new Set(['true', 'True', 'TRUE']);
const BOOL_FALSE = new Set(['false', 'False', 'FALSE']);
const NULLS = new Set(['', '~', 'null', 'Null', 'NULL']);
const NANS = new Set(['.nan', '.NaN', '.NAN']);
const PINF = new Set(['.inf', '.Inf', '.INF', '+.inf', '+.Inf', '+.INF']);
const NINF = new Set(['-.inf', '-.Inf', '-.INF']);
const YAML_STYLE_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;

export type Resolved = SopsLeaf | SopsNull | { kind: 'uint' } | { kind: 'unsupported'; tag: string };

/** strconv.ParseInt(s, 0, 64) / ParseUint: sign, base prefixes 0x 0o 0b and a bare leading 0 (octal). */
function parseGoIntBase0(s: string): bigint | undefined {
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (m === null) return undefined;
  const body = m[2] ?? '';
  let v: bigint;
  if (/^0[oO]/.test(body)) v = BigInt(`0o${body.slice(2)}`);
  else if (/^0[0-7]+$/.test(body)) v = BigInt(`0o${body.slice(1)}`);
  else v = BigInt(body);
  return m[1] === '-' ? -v : v;
}

function floatLeaf(f: number): SopsLeaf {
  return leaf('float', formatGoFloat(f));
}

/** Resolve a plain (unquoted, untagged) scalar the way go-yaml v3 does. */
function resolvePlain(s: string, allowTimestamp: boolean): Resolved {
  const c = s.charAt(0);
  const hint = s === '' ? 'N'
    : c === '+' || c === '-' ? 'S'
    : c >= '0' && c <= '9' ? 'D'
    : 'yYnNtTfFoO~'.includes(c) ? 'M'
    : c === '.' ? '.'
    : '';
  if (hint === '') return leaf('str', s);
  if (BOOL_TRUE.has(s)) return leaf('bool', formatGoBool(true));
  if (BOOL_FALSE.has(s)) return leaf('bool', formatGoBool(false));
  if (NULLS.has(s)) return NULL;
  if (NANS.has(s)) return floatLeaf(NaN);
  if (PINF.has(s)) return floatLeaf(Infinity);
  if (NINF.has(s)) return floatLeaf(-Infinity);
  if (hint === 'M') return leaf('str', s);
  if (hint === '.') {
    if (/^\.[0-9]+([eE][-+]?[0-9]+)?$/.test(s)) {
      const f = Number(s);
      if (Number.isFinite(f)) return floatLeaf(f);
    }
    return leaf('str', s);
  }
  if (allowTimestamp) {
    const t = parseYamlTimestamp(s);
    if (t !== undefined) return leaf('time', t);
  }
  const plain = s.replaceAll('_', '');
  const i = parseGoIntBase0(plain);
  if (i !== undefined && inInt64(i)) return leaf('int', i.toString());
  // go-yaml yields a uint64 here, a type sops cannot walk: it refuses the file.
  if (i !== undefined && i > 0n && i < 2n ** 64n && /^[0-9]/.test(plain)) return { kind: 'uint' };
  if (YAML_STYLE_FLOAT.test(plain)) {
    const f = Number(plain);
    if (Number.isFinite(f)) return floatLeaf(f);
  }
  return leaf('str', s);
}

/**
 * Type one scalar. `quoted` covers single/double-quoted and block scalars (always strings
 * in go-yaml unless explicitly tagged); `tag` is the explicit tag, if any.
 */
export function resolveYamlScalar(value: string, quoted: boolean, tag: string | undefined): Resolved {
  const short = tag === undefined ? undefined : tag.startsWith(TAG_PREFIX) ? `!!${tag.slice(TAG_PREFIX.length)}` : tag;
  if (short === undefined || short === '!') return quoted ? leaf('str', value) : resolvePlain(value, true);
  switch (short) {
    case '!!str':
      return leaf('str', value);
    case '!!binary': {
      // go-yaml decodes !!binary into a Go string holding the raw bytes.
      const b = Buffer.from(value.replace(/\s+/g, ''), 'base64');
      const v = stringValue(b);
      return v.raw === undefined ? leaf('str', v.text) : { kind: 'leaf', type: 'str', text: v.text, raw: v.raw };
    }
    case '!!null':
    case '!!bool':
    case '!!int':
    case '!!float':
    case '!!timestamp': {
      const r = resolvePlain(value, short === '!!timestamp');
      const want = short.slice(2);
      if (r.kind === 'null' && want === 'null') return r;
      if (r.kind === 'leaf' && r.type === want) return r;
      if (r.kind === 'leaf' && want === 'timestamp' && r.type === 'time') return r;
      // go-yaml converts an int that was tagged !!float.
      if (r.kind === 'leaf' && want === 'float' && r.type === 'int') return floatLeaf(Number(r.text));
      return { kind: 'unsupported', tag: short };
    }
    default:
      // Unknown (application) tags: go-yaml hands the scalar through as a string.
      return leaf('str', value);
  }
}
