// ini SOPS files, as sops v3.12's stores/ini reads them through go-ini v1.67 (parser.go,
// default options plus AllowNonUniqueSections): a DEFAULT section first (keys before any
// header), then each `[section]` as a map of string values; comment lines attach to the
// next key or section header, inline `#`/`;` comments to their key; `"…"`/`'…'` around a
// whole value are removed. The `[sops]` section is the flattened metadata.
// Hand-written because no JavaScript ini package parses exactly as go-ini does, and every
// difference would change a value or the MAC. go-ini features sops never writes and whose
// edge cases we would have to guess (continuation lines, `"""`/backquoted values, quoted
// key names, `-` auto-increment keys, repeated sections or keys, text after a section
// header) are refused with SOPS_UNSUPPORTED.
import { SopsError } from './errors.ts';
import { unflattenMetadata } from './flat-metadata.ts';
import type { LoadedEncrypted } from './dotenv-store.ts';
import { str, type SopsLimits, type SopsMapItem } from './tree.ts';

const DEFAULT_SECTION = 'DEFAULT';
const METADATA_SECTION = 'sops';

/** Go's unicode.IsSpace. */
const GO_SPACE = '\t\n\v\f\r \u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000';

function trimLeft(s: string): string {
  let i = 0;
  while (i < s.length && GO_SPACE.includes(s.charAt(i))) i++;
  return s.slice(i);
}

function trimSpace(s: string): string {
  let j = s.length;
  while (j > 0 && GO_SPACE.includes(s.charAt(j - 1))) j--;
  return trimLeft(s.slice(0, j));
}

/** go-ini hasSurroundedQuote: the quote opens, closes, and appears nowhere else. */
function surrounded(s: string, q: string): boolean {
  return s.length >= 2 && s.startsWith(q) && s.endsWith(q) && s.indexOf(q, 1) === s.length - 1;
}

/** sops' stripCommentChar. */
function stripCommentChar(c: string): string {
  if (c.startsWith(';')) return c.replace(/^[; ]+/, '');
  if (c.startsWith('#')) return c.replace(/^[# ]+/, '');
  return c;
}

interface IniKey { name: string; value: string; comment: string }
interface IniSection { name: string; comment: string; keys: IniKey[]; names: Set<string> }

class IniReader {
  private comment = '';
  readonly sections: IniSection[] = [{ name: DEFAULT_SECTION, comment: '', keys: [], names: new Set() }];
  private count = 0;

  private readonly fileName: string;
  private readonly limits: SopsLimits;

  constructor(fileName: string, limits: SopsLimits) {
    this.fileName = fileName;
    this.limits = limits;
  }

  fail(code: 'SOPS_MALFORMED' | 'SOPS_UNSUPPORTED', line: number, msg: string): never {
    throw new SopsError(code, `ini line ${line}: ${msg}`, { fileName: this.fileName });
  }

  line(raw: string, n: number): void {
    const line = trimLeft(raw);
    if (line === '') return;
    if (++this.count > this.limits.maxValues) {
      throw new SopsError('SOPS_INPUT_TOO_LARGE', `more than ${this.limits.maxValues} values`, { fileName: this.fileName });
    }
    if (line.startsWith('#') || line.startsWith(';')) {
      this.comment += line;
      return;
    }
    if (line.startsWith('[')) this.section(line, n);
    else this.key(line, n);
  }

  private section(line: string, n: number): void {
    const close = line.lastIndexOf(']');
    if (close < 0) this.fail('SOPS_MALFORMED', n, 'unclosed section header');
    const name = line.slice(1, close);
    if (name === '') this.fail('SOPS_MALFORMED', n, 'empty section name');
    const rest = line.slice(close + 1);
    const c = rest.search(/[#;]/);
    if (c >= 0) this.comment += rest.slice(c);
    else if (trimSpace(rest) !== '') this.fail('SOPS_UNSUPPORTED', n, 'text after a section header');
    if (this.sections.some((s) => s.name === name)) this.fail('SOPS_UNSUPPORTED', n, `section [${name}] appears twice`);
    this.sections.push({ name, comment: trimSpace(this.comment), keys: [], names: new Set() });
    this.comment = '';
  }

  private key(line: string, n: number): void {
    if (line.startsWith('"') || line.startsWith('`')) this.fail('SOPS_UNSUPPORTED', n, 'quoted key names are not supported');
    const d = line.search(/[=:]/);
    if (d < 0) this.fail('SOPS_MALFORMED', n, "no '=' or ':' after the key name");
    if (d === 0) this.fail('SOPS_MALFORMED', n, 'empty key name');
    const name = trimSpace(line.slice(0, d));
    if (name === '-') this.fail('SOPS_UNSUPPORTED', n, "auto-increment keys ('-') are not supported");
    const value = this.value(line.slice(d + 1), n);
    const sec = this.sections[this.sections.length - 1];
    if (sec === undefined) return;
    if (sec.names.has(name)) this.fail('SOPS_UNSUPPORTED', n, `key '${name}' appears twice in [${sec.name}]`);
    sec.names.add(name);
    sec.keys.push({ name, value, comment: trimSpace(this.comment) });
    this.comment = '';
  }

  /** go-ini readValue with the default options. */
  private value(raw: string, n: number): string {
    let v = trimLeft(raw);
    if (v === '') return '';
    if ((v.length > 3 && v.startsWith('"""')) || v.startsWith('`')) this.fail('SOPS_UNSUPPORTED', n, '"""- or `-quoted values are not supported');
    v = trimSpace(v);
    if (v.endsWith('\\')) this.fail('SOPS_UNSUPPORTED', n, 'continuation lines are not supported');
    const c = v.search(/[#;]/);
    if (c >= 0) {
      this.comment += v.slice(c);
      v = trimSpace(v.slice(0, c));
    }
    return surrounded(v, "'") || surrounded(v, '"') ? v.slice(1, -1) : v;
  }
}

function sectionItems(s: IniSection): SopsMapItem[] {
  const items: SopsMapItem[] = [];
  if (s.comment !== '') items.push({ comment: { kind: 'comment', text: stripCommentChar(s.comment) } });
  for (const k of s.keys) {
    items.push({ key: k.name, value: str(k.value) });
    if (k.comment !== '') items.push({ comment: { kind: 'comment', text: stripCommentChar(k.comment) } });
  }
  return items;
}

export function loadIniFile(text: string, fileName: string, limits: SopsLimits): LoadedEncrypted {
  if (Buffer.byteLength(text, 'utf8') > limits.maxBytes) {
    throw new SopsError('SOPS_INPUT_TOO_LARGE', `file larger than ${limits.maxBytes} bytes`, { fileName });
  }
  // go-ini drops a byte-order mark silently; we refuse it, as for every other format.
  if (text.startsWith('\ufeff')) throw new SopsError('SOPS_MALFORMED', 'file starts with a byte-order mark', { fileName });
  const r = new IniReader(fileName, limits);
  const lines = text.split('\n');
  lines.forEach((l, i) => r.line(i < lines.length - 1 ? `${l}\n` : l, i + 1));
  const meta = r.sections.find((s) => s.name === METADATA_SECTION);
  const flat = meta === undefined ? [] : meta.keys.map((k) => [k.name, k.value] as const);
  const items: SopsMapItem[] = r.sections
    .filter((s) => s.name !== METADATA_SECTION)
    .map((s) => ({ key: s.name, value: { kind: 'map', items: sectionItems(s) } }));
  return { branches: [{ kind: 'map', items }], metadata: unflattenMetadata(flat, { fileName }) };
}
