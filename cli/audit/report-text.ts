// The audit report for a person at a terminal: the verdict first, then each finding list
// (empty ones say so), then the summary by identity/environment/day.
import type { AuditReport, EventRef } from './reconcile.ts';

function eventLine(e: EventRef): string {
  return `  ${e.time}  ${e.eventName.padEnd(15)} ${e.requestId}  key ${e.keyArn ?? '?'}${e.moduleId === null ? '' : `  module ${e.moduleId}`}${e.errorCode === null ? '' : `  ${e.errorCode}`}${e.image === 'unknown' ? '  IMAGE IN NO MANIFEST' : e.image === 'debug' ? '  DEBUG MODE' : ''}`;
}

function section(title: string, lines: string[]): string[] {
  return [`${title} (${lines.length})`, ...(lines.length === 0 ? ['  none'] : lines), ''];
}

export function renderAuditText(r: AuditReport): string {
  const f = r.findings;
  const out: string[] = [
    ...(r.trust === undefined || r.trust === 'aws' ? [] : [`!!! receipts verified against a ${r.trust.toUpperCase()} root — NOT AWS Nitro hardware !!!`]),
    r.clean ? 'AUDIT CLEAN: every attested KMS call is explained by a verified receipt' : 'AUDIT FOUND UNEXPLAINED ACTIVITY',
    `CloudTrail: ${r.counts.kmsEvents} KMS events (${r.counts.otherEvents} other events) in ${r.counts.files} files${r.coverage === null ? '' : `, ${r.coverage.from} .. ${r.coverage.to}`}`,
    `Receipts: ${r.counts.receipts}; manifests: ${r.counts.manifests}; matched attested calls: ${f.matched.length}`,
    '',
    ...section('UNEXPLAINED attested KMS calls (no receipt names their request id)', f.unexplained.map(eventLine)),
    ...section('Calls from images in no build manifest', f.unknownImage.map(eventLine)),
    ...section('Calls from debug-mode enclaves', f.debugMode.map(eventLine)),
    ...section('Receipts that fail verification', f.failedReceipts.map((x) => `  ${x.key}  ${x.code}: ${x.message}`)),
    ...section('Receipt KMS calls missing from CloudTrail', f.missingCalls.map((x) => `  ${x.receipt}  ${x.operation} ${x.requestId}: ${x.reason}`)),
    ...section('Packs outside the trust policy', f.outsidePolicy.map((x) => `  ${x.receipt}: ${x.reason}`)),
    ...section('Refused KMS calls (failed events, reported separately)', f.failed.map(eventLine)),
    'Packs by identity / environment / day',
    ...(r.packs.length === 0 ? ['  none'] : r.packs.map((p) => `  ${p.day}  ${p.identity}/${p.environment}: ${p.packs}`)),
  ];
  return `${out.join('\n')}\n`;
}
