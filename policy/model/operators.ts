// Condition operators KMS accepts in a key policy (IAM "condition operators" page) and how
// one request value compares with one policy value. Policy values are validated when the
// policy is parsed, so a comparison here never sees a malformed policy value.
import { policyFail } from '../errors.ts';
import { arnMatch, wildcardMatch } from './wildcard.ts';

export type OperatorFamily = 'string' | 'numeric' | 'date' | 'bool' | 'binary' | 'ip' | 'arn' | 'null';

interface OperatorSpec {
  family: OperatorFamily;
  /** Negated operators are true when the value equals none of the policy values (and when the key is absent). */
  negated: boolean;
  compare: (policyValue: string, requestValue: string) => boolean;
}

const eq = (a: string, b: string): boolean => a === b;
const eqIgnoreCase = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();
const like = (p: string, v: string): boolean => wildcardMatch(p, v);

function numeric(test: (request: number, policy: number) => boolean): (p: string, v: string) => boolean {
  return (p, v) => {
    const r = parseNumber(v);
    return r !== undefined && test(r, parseNumber(p) as number);
  };
}

function date(test: (request: number, policy: number) => boolean): (p: string, v: string) => boolean {
  return (p, v) => {
    const r = parseDate(v);
    return r !== undefined && test(r, parseDate(p) as number);
  };
}

export const OPERATORS: ReadonlyMap<string, OperatorSpec> = new Map<string, OperatorSpec>([
  ['stringequals', { family: 'string', negated: false, compare: eq }],
  ['stringnotequals', { family: 'string', negated: true, compare: eq }],
  ['stringequalsignorecase', { family: 'string', negated: false, compare: eqIgnoreCase }],
  ['stringnotequalsignorecase', { family: 'string', negated: true, compare: eqIgnoreCase }],
  ['stringlike', { family: 'string', negated: false, compare: like }],
  ['stringnotlike', { family: 'string', negated: true, compare: like }],
  ['numericequals', { family: 'numeric', negated: false, compare: numeric((r, p) => r === p) }],
  ['numericnotequals', { family: 'numeric', negated: true, compare: numeric((r, p) => r === p) }],
  ['numericlessthan', { family: 'numeric', negated: false, compare: numeric((r, p) => r < p) }],
  ['numericlessthanequals', { family: 'numeric', negated: false, compare: numeric((r, p) => r <= p) }],
  ['numericgreaterthan', { family: 'numeric', negated: false, compare: numeric((r, p) => r > p) }],
  ['numericgreaterthanequals', { family: 'numeric', negated: false, compare: numeric((r, p) => r >= p) }],
  ['dateequals', { family: 'date', negated: false, compare: date((r, p) => r === p) }],
  ['datenotequals', { family: 'date', negated: true, compare: date((r, p) => r === p) }],
  ['datelessthan', { family: 'date', negated: false, compare: date((r, p) => r < p) }],
  ['datelessthanequals', { family: 'date', negated: false, compare: date((r, p) => r <= p) }],
  ['dategreaterthan', { family: 'date', negated: false, compare: date((r, p) => r > p) }],
  ['dategreaterthanequals', { family: 'date', negated: false, compare: date((r, p) => r >= p) }],
  ['bool', { family: 'bool', negated: false, compare: eqIgnoreCase }],
  ['binaryequals', { family: 'binary', negated: false, compare: (p, v) => decodeBase64(v)?.equals(decodeBase64(p) as Buffer) === true }],
  ['ipaddress', { family: 'ip', negated: false, compare: (p, v) => ipInCidr(v, p) }],
  ['notipaddress', { family: 'ip', negated: true, compare: (p, v) => ipInCidr(v, p) }],
  ['arnequals', { family: 'arn', negated: false, compare: arnMatch }],
  ['arnlike', { family: 'arn', negated: false, compare: arnMatch }],
  ['arnnotequals', { family: 'arn', negated: true, compare: arnMatch }],
  ['arnnotlike', { family: 'arn', negated: true, compare: arnMatch }],
  ['null', { family: 'null', negated: false, compare: eqIgnoreCase }],
]);

export function operatorSpec(base: string): OperatorSpec {
  const spec = OPERATORS.get(base);
  if (spec === undefined) policyFail('POLICY_UNSUPPORTED', `unknown condition operator "${base}"`);
  return spec;
}

export function parseNumber(s: string): number | undefined {
  if (!/^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(s.trim())) return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}

/** IAM dates: ISO 8601 (W3C profile) or epoch seconds. Milliseconds since the epoch out. */
export function parseDate(s: string): number | undefined {
  if (/^\d{1,12}$/.test(s)) return Number(s) * 1000;
  if (!/^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))?$/.test(s)) return undefined;
  const t = Date.parse(s.length === 10 ? `${s}T00:00:00Z` : s);
  return Number.isNaN(t) ? undefined : t;
}

export function decodeBase64(s: string): Buffer | undefined {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s)) return undefined;
  return Buffer.from(s, 'base64');
}

/** An IPv4/IPv6 address as a bigint and its width, or undefined. */
export function parseIp(s: string): { value: bigint; bits: 32 | 128 } | undefined {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (v4 !== null) {
    const parts = v4.slice(1).map(Number);
    if (parts.some((p) => p > 255)) return undefined;
    return { value: parts.reduce((acc, p) => (acc << 8n) | BigInt(p), 0n), bits: 32 };
  }
  if (!/^[0-9a-fA-F:]+$/.test(s) || s.length > 39) return undefined;
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] === '' ? [] : (halves[0] as string).split(':');
  const tail = halves.length === 2 && halves[1] !== '' ? (halves[1] as string).split(':') : [];
  const missing = 8 - head.length - tail.length;
  if ((halves.length === 1 && missing !== 0) || (halves.length === 2 && missing < 1)) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  if (groups.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  return { value: groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n), bits: 128 };
}

/** A CIDR (or a bare address = a /32 or /128) as its first and last address. */
export function parseCidr(s: string): { first: bigint; last: bigint; bits: 32 | 128 } | undefined {
  const [addr, len, extra] = s.split('/');
  if (extra !== undefined || addr === undefined) return undefined;
  const ip = parseIp(addr);
  if (ip === undefined) return undefined;
  const prefix = len === undefined ? ip.bits : /^\d{1,3}$/.test(len) ? Number(len) : -1;
  if (prefix < 0 || prefix > ip.bits) return undefined;
  const host = (1n << BigInt(ip.bits - prefix)) - 1n;
  const first = ip.value & ~host & ((1n << BigInt(ip.bits)) - 1n);
  return { first, last: first | host, bits: ip.bits };
}

function ipInCidr(ip: string, cidr: string): boolean {
  const a = parseIp(ip);
  const c = parseCidr(cidr);
  return a !== undefined && c !== undefined && a.bits === c.bits && a.value >= c.first && a.value <= c.last;
}

/** Refuse a policy value the operator can never compare (IAM refuses such policies). */
export function validatePolicyValue(family: OperatorFamily, value: string, where: string): void {
  const bad = (what: string): never => policyFail('POLICY_MALFORMED', `${where}: ${JSON.stringify(value)} is not ${what}`);
  if (family === 'numeric' && parseNumber(value) === undefined) bad('a number');
  if (family === 'date' && parseDate(value) === undefined) bad('an ISO 8601 date or epoch seconds');
  if ((family === 'bool' || family === 'null') && !/^(true|false)$/i.test(value)) bad('true or false');
  if (family === 'binary' && decodeBase64(value) === undefined) bad('base64');
  if (family === 'ip' && parseCidr(value) === undefined) bad('an IP address or CIDR');
}
