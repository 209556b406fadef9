// The value classes lint tries for each condition key. For an adversarial key: absent, every
// value the policy compares it with, the same in other case, each pattern filled in, a value
// equal to none of them, and for ordered types (numbers, dates, IP addresses) each
// threshold, its neighbours and the points between thresholds — enough that every
// combination of true/false the policy's clauses on that key can take is reached.
// For the attestation: none, the manifest's image, a debug (all-zero) document, another
// image, and every mix of one PCR right or wrong with the rest the other way.
import { policyFail } from '../errors.ts';
import type { ConditionClause, ModelPolicy } from '../model/index.ts';
import { OPERATORS, parseCidr, parseDate, parseNumber } from '../model/operators.ts';
import { keySource, MULTI_VALUED_KEYS } from './condition-keys.ts';

export const FRESH = 'lint-other-value';
export const DEBUG_PCR = '0'.repeat(96);
export const WRONG_PCR = 'd'.repeat(96);
/** Beyond this many combinations of adversarial values per request, lint refuses to judge. */
export const MAX_COMBINATIONS = 4096;

export interface AttestationContext {
  label: string;
  /** PCR index → lowercase hex; null: no Recipient at all. */
  pcrs: ReadonlyMap<number, string> | null;
  /** A NitroTPM document (kms:RecipientAttestation:NitroTPMPCR<n>) instead of an enclave's. */
  nitroTpm?: ReadonlyMap<number, string>;
}

function swapCase(s: string): string {
  return [...s].map((c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase())).join('');
}

function fillPattern(p: string, fill: string): string {
  return p.replace(/\*/g, fill).replace(/\?/g, 'x');
}

function orderedCandidates(points: number[]): number[] {
  const sorted = [...new Set(points)].sort((a, b) => a - b);
  const out = new Set<number>();
  sorted.forEach((t, i) => {
    out.add(t);
    const next = sorted[i + 1];
    if (next !== undefined) out.add((t + next) / 2);
  });
  if (sorted.length > 0) {
    out.add((sorted[0] as number) - 1);
    out.add((sorted[sorted.length - 1] as number) + 1);
  }
  return [...out];
}

function ipToString(v: bigint, bits: 32 | 128): string {
  if (bits === 32) return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 255n)).join('.');
  return Array.from({ length: 8 }, (_, i) => ((v >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).join(':');
}

function ipCandidates(values: string[]): string[] {
  const out = new Set(['192.0.2.1', '2001:db8::1']);
  for (const v of values) {
    const c = parseCidr(v);
    if (c === undefined) continue;
    const max = (1n << BigInt(c.bits)) - 1n;
    for (const x of [c.first, c.last, c.first - 1n, c.last + 1n]) if (x >= 0n && x <= max) out.add(ipToString(x, c.bits));
  }
  return [...out];
}

/** Single values worth trying for one key, given every clause on it. */
function scalarCandidates(clauses: ConditionClause[]): string[] {
  const out = new Set<string>([FRESH, 'true', 'false']);
  const numbers: number[] = [];
  const dates: number[] = [];
  const ips: string[] = [];
  for (const c of clauses) {
    const family = OPERATORS.get(c.base)?.family;
    for (const v of c.values) {
      if (family === 'numeric') numbers.push(parseNumber(v) as number);
      else if (family === 'date') dates.push(parseDate(v) as number);
      else if (family === 'ip') ips.push(v);
      else if (family !== 'null') {
        out.add(v);
        out.add(swapCase(v));
        if (/[*?]/.test(v)) ['', 'x', 'lint'].forEach((f) => out.add(fillPattern(v, f)));
      }
    }
  }
  if (numbers.length > 0) orderedCandidates(numbers).forEach((n) => out.add(String(n)));
  if (dates.length > 0) orderedCandidates(dates).forEach((d) => out.add(new Date(d).toISOString()));
  ipCandidates(ips).forEach((ip) => out.add(ip));
  if (clauses.some((c) => OPERATORS.get(c.base)?.family === 'binary')) out.add('bGludA==');
  return [...out];
}

/** Candidate value lists for one key ([] = absent). Multi-valued keys also get sets. */
function keyCandidates(key: string, clauses: ConditionClause[]): string[][] {
  const singles = scalarCandidates(clauses);
  const out: string[][] = [[], ...singles.map((v) => [v])];
  if (MULTI_VALUED_KEYS.has(key)) {
    const mentioned = singles.filter((v) => v !== FRESH);
    out.push(mentioned, [...mentioned, FRESH]);
    for (const v of mentioned) out.push([v, FRESH]);
  }
  return out;
}

/** Every assignment of candidate values to the adversarial keys the policy mentions. */
export function adversarialContexts(policy: ModelPolicy): Array<Map<string, readonly string[]>> {
  const byKey = new Map<string, ConditionClause[]>();
  for (const st of policy.statements) {
    for (const c of st.conditions) {
      if (keySource(c.key) !== 'adversarial') continue;
      const k = c.key.toLowerCase();
      byKey.set(k, [...(byKey.get(k) ?? []), c]);
    }
  }
  let combos: Array<Map<string, readonly string[]>> = [new Map()];
  for (const [key, clauses] of byKey) {
    const candidates = keyCandidates(key, clauses);
    if (combos.length * candidates.length > MAX_COMBINATIONS) {
      policyFail('CANNOT_LINT', `the conditions on ${[...byKey.keys()].join(', ')} make more than ${MAX_COMBINATIONS} request classes; lint will not judge such a policy exhaustively`);
    }
    combos = combos.flatMap((m) => candidates.map((values) => (values.length === 0 ? m : new Map(m).set(key, values))));
  }
  return combos;
}
