// Field readers shared by the statement's parsers: each refuses with STATEMENT_MALFORMED
// naming the member, so a verifier never silently ignores or coerces a claim.
import { fail } from './errors.ts';

export const HEX = { sha1: /^[0-9a-f]{40}$/, sha256: /^[0-9a-f]{64}$/ } as const;
export const KMS_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(?:key|alias)\/[A-Za-z0-9/_+=.@-]{1,256}$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

export function bad(where: string, message: string): never {
  fail('STATEMENT_MALFORMED', `${where} ${message}`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function object(v: unknown, members: readonly string[], where: string): Record<string, unknown> {
  if (!isRecord(v)) bad(where, 'must be an object');
  for (const k of Object.keys(v)) if (!members.includes(k)) bad(where, `has an unknown member "${k}"`);
  for (const k of members) if (!(k in v)) bad(where, `lacks "${k}"`);
  return v;
}

/** Lengths count Unicode code points (docs/receipt.md), not UTF-16 units or bytes. */
function codePoints(v: string): number {
  let n = 0;
  for (const _ of v) n++;
  return n;
}

export function text(v: unknown, where: string, max: number, pattern?: RegExp): string {
  if (typeof v !== 'string' || v.length === 0 || codePoints(v) > max) bad(where, `must be a string of 1 to ${max} characters (code points)`);
  if (CONTROL.test(v)) bad(where, 'must not contain control characters');
  if (pattern !== undefined && !pattern.test(v)) bad(where, `has the wrong format (${pattern.source})`);
  return v;
}

export function textOrNull(v: unknown, where: string, max: number, pattern?: RegExp): string | null {
  return v === null ? null : text(v, where, max, pattern);
}

export function integer(v: unknown, where: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) bad(where, `must be an integer from ${min} to ${max}`);
  return v;
}

export function integerOrNull(v: unknown, where: string, min: number, max: number): number | null {
  return v === null ? null : integer(v, where, min, max);
}

export function boolean(v: unknown, where: string): boolean {
  if (typeof v !== 'boolean') bad(where, 'must be true or false');
  return v;
}

export function array(v: unknown, where: string, max: number): unknown[] {
  if (!Array.isArray(v) || v.length > max) bad(where, `must be an array of at most ${max} elements`);
  return v;
}

export function uniqueStrings(items: string[], where: string): string[] {
  if (new Set(items).size !== items.length) bad(where, 'must not repeat an element');
  return items;
}

export function arnOrNull(v: unknown, where: string): string | null {
  return textOrNull(v, where, 2048, KMS_ARN);
}
