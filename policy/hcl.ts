// Just enough HCL to read back what `policy generate --format terraform` writes: the
// literal expression inside `policy = jsonencode(...)` of each aws_kms_key resource.
// Object/tuple constructors, string literals (no interpolation), numbers, true/false/null
// and comments. Anything else is refused rather than guessed.
import { policyFail } from './errors.ts';

interface Cursor {
  text: string;
  pos: number;
}

function skipSpace(c: Cursor, newlines = true): void {
  for (;;) {
    const ch = c.text[c.pos];
    if (ch === ' ' || ch === '\t' || ch === '\r' || (newlines && ch === '\n')) c.pos++;
    else if (ch === '#' || (ch === '/' && c.text[c.pos + 1] === '/')) {
      while (c.pos < c.text.length && c.text[c.pos] !== '\n') c.pos++;
    } else if (ch === '/' && c.text[c.pos + 1] === '*') {
      const end = c.text.indexOf('*/', c.pos + 2);
      if (end < 0) policyFail('POLICY_MALFORMED', 'unterminated /* comment in Terraform');
      c.pos = end + 2;
    } else return;
  }
}

function fail(c: Cursor, what: string): never {
  const line = c.text.slice(0, c.pos).split('\n').length;
  policyFail('POLICY_MALFORMED', `Terraform line ${line}: ${what}`);
}

function parseString(c: Cursor): string {
  let out = '';
  c.pos++; // opening quote
  for (;;) {
    const ch = c.text[c.pos];
    if (ch === undefined || ch === '\n') fail(c, 'unterminated string');
    if (ch === '"') {
      c.pos++;
      return out;
    }
    if ((ch === '$' || ch === '%') && c.text[c.pos + 1] === '{') fail(c, 'template interpolation is not supported');
    if ((ch === '$' || ch === '%') && c.text[c.pos + 1] === ch && c.text[c.pos + 2] === '{') {
      out += `${ch}{`;
      c.pos += 3;
      continue;
    }
    if (ch === '\\') {
      const e = c.text[c.pos + 1];
      const simple: Record<string, string> = { n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f' };
      if (e !== undefined && simple[e] !== undefined) {
        out += simple[e];
        c.pos += 2;
      } else if (e === 'u') {
        const hex = c.text.slice(c.pos + 2, c.pos + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail(c, 'bad \\u escape');
        out += String.fromCharCode(parseInt(hex, 16));
        c.pos += 6;
      } else fail(c, 'unknown escape');
      continue;
    }
    out += ch;
    c.pos++;
  }
}

function parseValue(c: Cursor, depth: number): unknown {
  if (depth > 64) fail(c, 'nesting too deep');
  skipSpace(c);
  const ch = c.text[c.pos];
  if (ch === '"') return parseString(c);
  if (ch === '{') return parseObject(c, depth);
  if (ch === '[') return parseTuple(c, depth);
  const m = /^(?:-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(c.text.slice(c.pos, c.pos + 64));
  if (m === null) fail(c, 'unsupported expression (only literals are read back)');
  c.pos += m[0].length;
  if (m[0] === 'true') return true;
  if (m[0] === 'false') return false;
  if (m[0] === 'null') return null;
  return Number(m[0]);
}

function parseTuple(c: Cursor, depth: number): unknown[] {
  c.pos++;
  const out: unknown[] = [];
  for (;;) {
    skipSpace(c);
    if (c.text[c.pos] === ']') {
      c.pos++;
      return out;
    }
    out.push(parseValue(c, depth + 1));
    skipSpace(c);
    if (c.text[c.pos] === ',') c.pos++;
    else if (c.text[c.pos] !== ']') fail(c, 'expected , or ]');
  }
}

function parseObject(c: Cursor, depth: number): Record<string, unknown> {
  c.pos++;
  const out: Record<string, unknown> = {};
  for (;;) {
    skipSpace(c);
    if (c.text[c.pos] === '}') {
      c.pos++;
      return out;
    }
    let key: string;
    if (c.text[c.pos] === '"') key = parseString(c);
    else {
      const m = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(c.text.slice(c.pos, c.pos + 256));
      if (m === null) fail(c, 'expected an object key');
      key = m[0];
      c.pos += key.length;
    }
    skipSpace(c, false);
    if (c.text[c.pos] !== '=' && c.text[c.pos] !== ':') fail(c, `expected = after "${key}"`);
    c.pos++;
    if (Object.hasOwn(out, key)) fail(c, `duplicate key "${key}"`);
    out[key] = parseValue(c, depth + 1);
    skipSpace(c, false);
    const sep = c.text[c.pos];
    if (sep === ',' || sep === '\n') c.pos++;
    else if (sep !== '}' && sep !== '#' && sep !== '/') fail(c, 'expected a newline, , or }');
  }
}

/** Every `resource "aws_kms_key" "NAME" { … policy = jsonencode(EXPR) … }` as name → value. */
export function readTerraformKeyPolicies(text: string): Array<{ name: string; policy: unknown }> {
  const out: Array<{ name: string; policy: unknown }> = [];
  const header = /resource\s+"aws_kms_key"\s+"([^"]+)"\s*\{/g;
  let m: RegExpExecArray | null;
  while ((m = header.exec(text)) !== null) {
    const name = m[1] as string;
    const rest = text.slice(header.lastIndex);
    const next = rest.search(/\nresource\s+"/);
    const body = next < 0 ? rest : rest.slice(0, next);
    const p = /(^|\n)\s*policy\s*=\s*jsonencode\(/.exec(body);
    if (p === null) policyFail('POLICY_MALFORMED', `aws_kms_key.${name} has no "policy = jsonencode(...)"`);
    const c: Cursor = { text: body, pos: p.index + p[0].length };
    const value = parseValue(c, 0);
    skipSpace(c);
    if (body[c.pos] !== ')') fail(c, 'expected ) closing jsonencode(');
    out.push({ name: `aws_kms_key.${name}`, policy: value });
  }
  return out;
}
