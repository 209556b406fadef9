// Reading operation inputs the way the KMS front end does: JSON types are checked first
// (SerializationException), then the documented constraints (ValidationException, with
// AWS's "1 validation error detected" wording).
import { kmsFail } from './errors.ts';

export type Input = Record<string, unknown>;

function typeError(member: string, expected: string): never {
  return kmsFail('SerializationException', `Unexpected value type in payload for member '${member}': expected ${expected}`);
}

function constraint(member: string, value: string, rule: string): never {
  return kmsFail('ValidationException', `1 validation error detected: Value ${value} at '${member}' failed to satisfy constraint: ${rule}`);
}

export function optString(input: Input, name: string, min = 1, max = 2048): string | undefined {
  const v = input[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') typeError(name, 'string');
  if (v.length < min) constraint(lowerFirst(name), `'${v}'`, `Member must have length greater than or equal to ${min}`);
  if (v.length > max) constraint(lowerFirst(name), 'of length ' + v.length, `Member must have length less than or equal to ${max}`);
  return v;
}

export function reqString(input: Input, name: string, min = 1, max = 2048): string {
  const v = optString(input, name, min, max);
  if (v === undefined) constraint(lowerFirst(name), 'null', 'Member must not be null');
  return v;
}

export function optEnum<T extends string>(input: Input, name: string, allowed: readonly T[]): T | undefined {
  const v = optString(input, name, 1, 256);
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) {
    constraint(lowerFirst(name), `'${v}'`, `Member must satisfy enum value set: [${allowed.join(', ')}]`);
  }
  return v as T;
}

export function optBool(input: Input, name: string): boolean | undefined {
  const v = input[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') typeError(name, 'boolean');
  return v;
}

export function optInt(input: Input, name: string, min: number, max: number): number | undefined {
  const v = input[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) typeError(name, 'integer');
  if (v < min) constraint(lowerFirst(name), String(v), `Member must have value greater than or equal to ${min}`);
  if (v > max) constraint(lowerFirst(name), String(v), `Member must have value less than or equal to ${max}`);
  return v;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A blob member: strict base64 (the JSON 1.1 encoding of blobs). */
export function optBlob(input: Input, name: string, min = 1, max = 6144): Uint8Array | undefined {
  const v = input[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') typeError(name, 'base64-encoded blob');
  if (!BASE64.test(v)) kmsFail('SerializationException', `Base64 encoded value for member '${name}' is malformed.`);
  const bytes = new Uint8Array(Buffer.from(v, 'base64'));
  if (bytes.length < min) constraint(lowerFirst(name), 'of length ' + bytes.length, `Member must have length greater than or equal to ${min}`);
  if (bytes.length > max) constraint(lowerFirst(name), 'of length ' + bytes.length, `Member must have length less than or equal to ${max}`);
  return bytes;
}

export function reqBlob(input: Input, name: string, min = 1, max = 6144): Uint8Array {
  const v = optBlob(input, name, min, max);
  if (v === undefined) constraint(lowerFirst(name), 'null', 'Member must not be null');
  return v;
}

export function optObject(input: Input, name: string): Input | undefined {
  const v = input[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) typeError(name, 'structure');
  return v as Input;
}

export function encryptionContext(input: Input, name = 'EncryptionContext'): Record<string, string> {
  const obj = optObject(input, name);
  if (obj === undefined) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (typeof v !== 'string') typeError(`${name}.${k}`, 'string');
    out[k] = v;
  }
  return out;
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

export function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}
