// CloudTrail evidence as an auditor has it: the gzipped `{"Records":[…]}` files CloudTrail
// delivers to S3 (AWS CloudTrail User Guide, "CloudTrail log file examples"), plain JSON of
// the same, or the output of `aws cloudtrail lookup-events` (`{"Events":[{…,
// "CloudTrailEvent":"<json>"}], "NextToken"?}`). Limits: gzip output is capped per file
// (a bomb stops at the cap, never fills memory), events per file and in total are capped;
// duplicate member names, BOMs and unknown top-level shapes are refused.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parseStrictJson, StrictJsonError } from '../../verifier/strict-json.ts';
import { readTrailEvent, type KmsTrailEvent } from './cloudtrail-event.ts';
import { auditFail, AuditError } from './errors.ts';

export const MAX_COMPRESSED_FILE_BYTES = 64 * 1024 * 1024;
export const MAX_DECOMPRESSED_FILE_BYTES = 512 * 1024 * 1024;
export const MAX_EVENTS_PER_FILE = 1_000_000;
export const MAX_EVENTS_TOTAL = 10_000_000;
export const MAX_FILES = 1_000_000;
const MAX_EVENT_JSON_CHARS = 256 * 1024;
const LOOKUP_EVENT_MEMBERS = new Set(['EventId', 'EventName', 'ReadOnly', 'AccessKeyId', 'EventTime', 'EventSource', 'Username', 'Resources', 'CloudTrailEvent']);

export interface TrailInput {
  /** Every KMS event, in file order. */
  events: KmsTrailEvent[];
  /** Events of other services, counted only. */
  otherEvents: number;
  files: number;
}

function strictJson(bytes: Uint8Array | string, where: string): unknown {
  try {
    return parseStrictJson(bytes);
  } catch (e) {
    if (e instanceof StrictJsonError) auditFail('AUDIT_CLOUDTRAIL_MALFORMED', `${where}: not strict JSON (${e.message})`);
    throw e;
  }
}

function decompress(bytes: Buffer, file: string, max: number): Buffer {
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  try {
    // maxOutputLength stops inflation at the cap: a gzip bomb costs at most `max` bytes.
    return gunzipSync(bytes, { maxOutputLength: max });
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) {
      auditFail('AUDIT_INPUT_TOO_LARGE', `${file}: decompresses to more than ${max} bytes`);
    }
    return auditFail('AUDIT_CLOUDTRAIL_MALFORMED', `${file}: not a valid gzip file (${(e as Error).message})`);
  }
}

/** The raw event objects of one file, whichever of the two shapes it has. */
function rawEvents(doc: unknown, file: string): unknown[] {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) auditFail('AUDIT_CLOUDTRAIL_MALFORMED', `${file}: must be a JSON object`);
  const o = doc as Record<string, unknown>;
  const keys = Object.keys(o);
  const list = keys.length === 1 && keys[0] === 'Records' ? o.Records
    : keys.every((k) => k === 'Events' || k === 'NextToken') && 'Events' in o ? o.Events
      : auditFail('AUDIT_CLOUDTRAIL_MALFORMED', `${file}: neither a CloudTrail delivery file {"Records":[…]} nor lookup-events output {"Events":[…]} (members: ${keys.slice(0, 5).join(', ')})`);
  if (!Array.isArray(list)) auditFail('AUDIT_CLOUDTRAIL_MALFORMED', `${file}: Records/Events must be an array`);
  if (list.length > MAX_EVENTS_PER_FILE) auditFail('AUDIT_INPUT_TOO_LARGE', `${file}: more than ${MAX_EVENTS_PER_FILE} events`);
  if (keys.includes('Records')) return list;
  return list.map((item, i) => lookupEventBody(item, `${file} Events[${i}]`));
}

/** lookup-events wraps each event; the CloudTrailEvent string is the event itself. */
function lookupEventBody(item: unknown, where: string): unknown {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) auditFail('AUDIT_CLOUDTRAIL_MALFORMED', `${where} must be an object`);
  const o = item as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!LOOKUP_EVENT_MEMBERS.has(k)) auditFail('AUDIT_CLOUDTRAIL_MALFORMED', `${where} has an unknown member "${k}"`);
  if (typeof o.CloudTrailEvent !== 'string' || o.CloudTrailEvent.length > MAX_EVENT_JSON_CHARS) {
    auditFail('AUDIT_CLOUDTRAIL_MALFORMED', `${where}.CloudTrailEvent must be a JSON string of at most ${MAX_EVENT_JSON_CHARS} characters`);
  }
  const inner = strictJson(o.CloudTrailEvent, `${where}.CloudTrailEvent`);
  const innerId = (inner as { eventID?: unknown } | null)?.eventID;
  if (o.EventId !== undefined && innerId !== o.EventId) auditFail('AUDIT_CLOUDTRAIL_MALFORMED', `${where}: EventId differs from the CloudTrailEvent's eventID`);
  return inner;
}

/** Files under a directory (recursively, sorted); dot files are writers' temporaries. */
function listFiles(path: string, out: string[]): void {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    auditFail('AUDIT_INPUT_UNREADABLE', `cannot read ${path}: ${(e as Error).message}`);
  }
  if (st.isFile()) {
    out.push(path);
  } else if (st.isDirectory()) {
    for (const name of readdirSync(path).sort()) if (!name.startsWith('.')) listFiles(join(path, name), out);
  } else auditFail('AUDIT_INPUT_UNREADABLE', `${path} is neither a file nor a directory`);
  if (out.length > MAX_FILES) auditFail('AUDIT_INPUT_TOO_LARGE', `more than ${MAX_FILES} CloudTrail files`);
}

export function readTrailFile(file: string, into: TrailInput, maxDecompressedBytes = MAX_DECOMPRESSED_FILE_BYTES): void {
  let bytes: Buffer;
  try {
    if (statSync(file).size > MAX_COMPRESSED_FILE_BYTES) auditFail('AUDIT_INPUT_TOO_LARGE', `${file}: larger than ${MAX_COMPRESSED_FILE_BYTES} bytes`);
    bytes = readFileSync(file);
  } catch (e) {
    if (e instanceof AuditError) throw e;
    return auditFail('AUDIT_INPUT_UNREADABLE', `cannot read ${file}: ${(e as Error).message}`);
  }
  const list = rawEvents(strictJson(decompress(bytes, file, maxDecompressedBytes), file), file);
  list.forEach((raw, i) => {
    const e = readTrailEvent(raw, `${file}#${i}`);
    if (e === null) into.otherEvents++;
    else into.events.push(e);
  });
  into.files++;
  if (into.events.length + into.otherEvents > MAX_EVENTS_TOTAL) auditFail('AUDIT_INPUT_TOO_LARGE', `more than ${MAX_EVENTS_TOTAL} events in total`);
}

/** Read every CloudTrail file under the given paths (files or directories). */
export function readTrail(paths: string[], maxDecompressedBytes = MAX_DECOMPRESSED_FILE_BYTES): TrailInput {
  const files: string[] = [];
  for (const p of paths) listFiles(p, files);
  const into: TrailInput = { events: [], otherEvents: 0, files: 0 };
  for (const f of files) readTrailFile(f, into, maxDecompressedBytes);
  return into;
}
