// The join at the heart of the audit: CloudTrail's attested KMS events on one side, the
// KMS calls named by verified receipts on the other, keyed by KMS's request id. What one
// side has and the other lacks is a finding (docs/audit.md lists them).
import type { BuildManifest } from '../../verifier/build-manifest.ts';
import type { TrustPolicy } from '../../verifier/trust-policy.ts';
import type { KmsTrailEvent } from './cloudtrail-event.ts';
import { auditFail } from './errors.ts';
import type { ReceiptStoreContents, StoredReceipt } from './receipt-store.ts';
import { outsideTrustPolicy } from './trust-scope.ts';

export interface EventRef {
  requestId: string;
  eventName: string;
  time: string;
  keyArn: string | null;
  moduleId: string | null;
  errorCode: string | null;
  /** The attested image: in a manifest, in none, debug mode; null when the call had no Recipient. */
  image: 'manifest' | 'unknown' | 'debug' | null;
  source: string;
}

export interface AuditFindings {
  /** Attested, answered events on the audited keys that a verified receipt names. */
  matched: Array<EventRef & { receipt: string }>;
  /** Attested, answered events no verified receipt names. */
  unexplained: EventRef[];
  /** Answered attested events whose image (PCR0/1/2) is in no manifest: KMS released key material to it. */
  unknownImage: EventRef[];
  /** Answered attested events from a debug-mode enclave (PCRs all zero). */
  debugMode: EventRef[];
  /** Refused KMS calls on the audited keys, reported apart (KMS said no); `image` tells unknown and debug attempts. */
  failed: EventRef[];
  failedReceipts: Array<{ key: string; code: string; message: string }>;
  /** Receipt calls CloudTrail lacks (or records differently) although it covers the pack's time. */
  missingCalls: Array<{ receipt: string; requestId: string; operation: string; reason: string }>;
  outsidePolicy: Array<{ receipt: string; reason: string }>;
}

export interface DaySummary {
  day: string;
  packs: number;
  attestedEvents: number;
  unexplained: number;
}

export interface AuditReport {
  coverage: { from: string; to: string } | null;
  counts: { files: number; kmsEvents: number; otherEvents: number; receipts: number; manifests: number };
  findings: AuditFindings;
  /** Packs per identity/environment/day. */
  packs: Array<{ identity: string; environment: string; day: string; packs: number }>;
  days: DaySummary[];
  /** True when nothing is unexplained (failed events alone do not spoil it). */
  clean: boolean;
  /** The attestation root receipts were verified against (set by runAudit). */
  trust?: 'aws' | 'simulated' | 'custom';
}

export interface ReconcileInput {
  events: KmsTrailEvent[];
  otherEvents: number;
  files: number;
  store: ReceiptStoreContents;
  manifests: BuildManifest[];
  trustPolicy?: TrustPolicy;
  /** Audit only these key ARNs; empty = every KMS key in the log. */
  keys: string[];
}

const ZERO_PCR = '0'.repeat(96);

function imageOf(e: KmsTrailEvent, manifests: BuildManifest[]): EventRef['image'] {
  const pcrs = e.recipient?.pcrs;
  if (pcrs === undefined) return null;
  if (pcrs.get(0) === ZERO_PCR) return 'debug';
  return manifests.some((m) => Object.entries(m.pcrs).every(([i, v]) => pcrs.get(Number(i)) === v.toLowerCase())) ? 'manifest' : 'unknown';
}

function ref(e: KmsTrailEvent, manifests: BuildManifest[]): EventRef {
  return {
    requestId: e.requestId, eventName: e.eventName, time: new Date(e.time).toISOString(), keyArn: e.keyArn,
    moduleId: e.recipient?.moduleId ?? null, errorCode: e.errorCode, image: imageOf(e, manifests), source: e.source,
  };
}

/** One event per request id; the same event twice (overlapping inputs) counts once. */
function indexEvents(events: KmsTrailEvent[]): Map<string, KmsTrailEvent> {
  const byRequest = new Map<string, KmsTrailEvent>();
  for (const e of events) {
    const seen = byRequest.get(e.requestId);
    if (seen === undefined) byRequest.set(e.requestId, e);
    else if (seen.eventId !== e.eventId) auditFail('AUDIT_EVENT_CONFLICT', `request id ${e.requestId} appears in two different events (${seen.source}, ${e.source})`);
  }
  return byRequest;
}

function classifyEvents(byRequest: Map<string, KmsTrailEvent>, claims: Map<string, string>, input: ReconcileInput, f: AuditFindings): void {
  const keys = new Set(input.keys);
  for (const e of byRequest.values()) {
    if (keys.size > 0 && e.keyArn !== null && !keys.has(e.keyArn)) continue;
    const r = ref(e, input.manifests);
    if (e.errorCode !== null) {
      f.failed.push(r);
      continue;
    }
    if (r.image === null) continue;
    if (r.image === 'debug') f.debugMode.push(r);
    if (r.image === 'unknown') f.unknownImage.push(r);
    const receipt = claims.get(e.requestId);
    if (receipt === undefined) f.unexplained.push(r);
    else f.matched.push({ ...r, receipt });
  }
}

function checkReceiptCalls(r: StoredReceipt, byRequest: Map<string, KmsTrailEvent>, coverage: { from: number; to: number } | null, f: AuditFindings): void {
  const packedAt = Date.parse(r.predicate.pack.packedAt);
  const covered = coverage !== null && packedAt >= coverage.from && packedAt <= coverage.to;
  for (const call of r.predicate.kms.calls) {
    const e = byRequest.get(call.requestId);
    const miss = (reason: string) => f.missingCalls.push({ receipt: r.key, requestId: call.requestId, operation: call.operation, reason });
    if (e === undefined) {
      if (covered) miss('not in CloudTrail, which covers the time of the pack');
    } else if (e.eventName !== call.operation) miss(`CloudTrail records ${e.eventName}`);
    else if (e.keyArn !== null && e.keyArn !== call.keyArn) miss(`CloudTrail records key ${e.keyArn}`);
    else if (e.errorCode !== null) miss(`CloudTrail records it as refused (${e.errorCode})`);
  }
}

export function reconcile(input: ReconcileInput): AuditReport {
  const byRequest = indexEvents(input.events);
  const f: AuditFindings = { matched: [], unexplained: [], unknownImage: [], debugMode: [], failed: [], failedReceipts: [...input.store.failed], missingCalls: [], outsidePolicy: [] };
  const claims = new Map<string, string>();
  for (const r of input.store.receipts) {
    for (const c of r.predicate.kms.calls) {
      const other = claims.get(c.requestId);
      if (other !== undefined) f.failedReceipts.push({ key: r.key, code: 'REQUEST_ID_CLAIMED_TWICE', message: `request id ${c.requestId} is also named by ${other}` });
      else claims.set(c.requestId, r.key);
    }
  }
  let coverage: { from: number; to: number } | null = null;
  for (const e of byRequest.values()) coverage = coverage === null ? { from: e.time, to: e.time } : { from: Math.min(coverage.from, e.time), to: Math.max(coverage.to, e.time) };
  classifyEvents(byRequest, claims, input, f);
  for (const r of input.store.receipts) {
    checkReceiptCalls(r, byRequest, coverage, f);
    if (input.trustPolicy !== undefined) {
      const why = outsideTrustPolicy(input.trustPolicy, r.predicate);
      if (why !== null) f.outsidePolicy.push({ receipt: r.key, reason: why });
    }
  }
  const { packs, days } = summarize(input.store.receipts, byRequest, f);
  const clean = f.unexplained.length + f.unknownImage.length + f.debugMode.length + f.failedReceipts.length + f.missingCalls.length + f.outsidePolicy.length === 0;
  return {
    coverage: coverage === null ? null : { from: new Date(coverage.from).toISOString(), to: new Date(coverage.to).toISOString() },
    counts: { files: input.files, kmsEvents: byRequest.size, otherEvents: input.otherEvents, receipts: input.store.receipts.length + input.store.failed.length, manifests: input.manifests.length },
    findings: f,
    packs,
    days,
    clean,
  };
}

function summarize(receipts: StoredReceipt[], byRequest: Map<string, KmsTrailEvent>, f: AuditFindings): { packs: AuditReport['packs']; days: DaySummary[] } {
  const packs = new Map<string, AuditReport['packs'][number]>();
  const days = new Map<string, DaySummary>();
  const day = (d: string) => {
    let s = days.get(d);
    if (s === undefined) days.set(d, (s = { day: d, packs: 0, attestedEvents: 0, unexplained: 0 }));
    return s;
  };
  for (const r of receipts) {
    const d = r.predicate.pack.packedAt.slice(0, 10);
    const k = `${r.predicate.pack.identity}\u0000${r.predicate.pack.environment}\u0000${d}`;
    const p = packs.get(k) ?? { identity: r.predicate.pack.identity, environment: r.predicate.pack.environment, day: d, packs: 0 };
    p.packs++;
    packs.set(k, p);
    day(d).packs++;
  }
  for (const e of byRequest.values()) if (e.recipient !== null) day(new Date(e.time).toISOString().slice(0, 10)).attestedEvents++;
  for (const e of f.unexplained) day(e.time.slice(0, 10)).unexplained++;
  const byKey = (a: { day: string }, b: { day: string }) => (a.day < b.day ? -1 : a.day > b.day ? 1 : 0);
  return { packs: [...packs.values()].sort((a, b) => byKey(a, b) || a.identity.localeCompare(b.identity) || a.environment.localeCompare(b.environment)), days: [...days.values()].sort(byKey) };
}
