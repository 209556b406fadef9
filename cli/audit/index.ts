// `attested-pack audit` as a library: read the evidence, reconcile, report. The command
// (cli/commands/audit.ts) and the demo call runAudit; tests call it with paths.
import { readFileSync } from 'node:fs';
import { parseBuildManifest, type BuildManifest } from '../../verifier/build-manifest.ts';
import { trustAnchorInfo } from '../../verifier/verify-attestation.ts';
import { parseTrustPolicy, type TrustPolicy } from '../../verifier/trust-policy.ts';
import { readTrail } from './cloudtrail-files.ts';
import { auditFail } from './errors.ts';
import { readReceiptStore } from './receipt-store.ts';
import { reconcile, type AuditReport } from './reconcile.ts';

export { renderAuditText } from './report-text.ts';
export { renderAuditHtml } from './report-html.ts';
export { AuditError, type AuditErrorCode } from './errors.ts';
export type { AuditReport, AuditFindings, EventRef } from './reconcile.ts';

export interface AuditOptions {
  /** CloudTrail files or directories (delivery files, gzipped or not, and lookup-events output). */
  cloudTrail: string[];
  /** The receipt store directory. */
  receipts: string;
  /** Build manifest files (several during a rollout). */
  manifests: string[];
  trustPolicy?: string;
  /** Key ARNs to audit; empty = every KMS key in the log. */
  keys?: string[];
  /** Attestation trust anchor (DER) instead of the AWS Nitro root G1. */
  root?: Uint8Array;
}

function readOrFail(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    return auditFail('AUDIT_INPUT_UNREADABLE', `cannot read ${what} ${file}: ${(e as Error).message}`);
  }
}

export function runAudit(opts: AuditOptions): AuditReport {
  if (opts.manifests.length === 0) auditFail('AUDIT_INPUT_UNREADABLE', 'at least one build manifest is needed');
  const manifests: BuildManifest[] = opts.manifests.map((m) => parseBuildManifest(readOrFail(m, 'build manifest')));
  const trustPolicy: TrustPolicy | undefined = opts.trustPolicy === undefined ? undefined : parseTrustPolicy(readOrFail(opts.trustPolicy, 'trust policy'));
  const trail = readTrail(opts.cloudTrail);
  const store = readReceiptStore(opts.receipts, { manifests, ...(opts.root === undefined ? {} : { root: opts.root }) });
  const report = reconcile({
    events: trail.events,
    otherEvents: trail.otherEvents,
    files: trail.files,
    store,
    manifests,
    ...(trustPolicy === undefined ? {} : { trustPolicy }),
    keys: opts.keys ?? [],
  });
  // Say which root vouched for the receipts, as loudly as `verify receipt` does.
  return { ...report, trust: trustAnchorInfo(opts.root).kind };
}
