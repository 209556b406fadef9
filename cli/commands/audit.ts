// `attested-pack audit`: reconcile CloudTrail's attested KMS calls with the receipt store
// (docs/audit.md). Exit 0 when everything is explained, 1 when anything is not, 2 when the
// evidence itself is unreadable or malformed (never a partial "clean" report).
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { AuditError, renderAuditHtml, renderAuditText, runAudit } from '../audit/index.ts';
import { EXIT_OK, EXIT_REFUSED, EXIT_USAGE, requireOption, stringListOption, stringOption, UsageError, type Command } from '../command.ts';
import { readRootCertificate } from '../verify-options.ts';

export const auditCommand: Command = {
  path: ['audit'],
  summary: 'reconcile CloudTrail attested KMS calls with the receipt store',
  help: `Usage: attested-pack audit --cloudtrail PATH... --receipts DIR --manifest FILE... [options]

Joins every attested KMS call in CloudTrail (additionalEventData.recipient) with the
verified receipt that names its requestID, and reports what does not add up.

Options:
  --cloudtrail PATH     CloudTrail delivery files (gzipped {"Records":[…]}), plain JSON of
                        the same, or \`aws cloudtrail lookup-events\` output; a directory is
                        read recursively (repeatable, required)
  --receipts DIR        the receipt store: <identity>/<environment>/<revision>.json (required)
  --manifest FILE       a published build manifest (repeatable: every image of a rollout)
  --trust-policy FILE   report packs from repositories/refs outside this pack trust policy
  --key ARN             audit only this KMS key (repeatable; default: every key in the log)
  --root FILE           attestation trust anchor (PEM/DER) instead of the AWS Nitro root G1
                        (the simulator's root for demo and test receipts)
  --json                print the report as JSON
  --html FILE           also write a self-contained HTML report with a timeline chart

Exit status: 0 everything explained; 1 unexplained calls, calls from unknown or debug
images, receipts that fail verification or lack their CloudTrail events, packs outside the
trust policy (refused KMS calls are listed but do not fail the audit); 2 unreadable or
malformed input.
`,
  options: {
    cloudtrail: { type: 'string', multiple: true },
    receipts: { type: 'string' },
    manifest: { type: 'string', multiple: true },
    'trust-policy': { type: 'string' },
    key: { type: 'string', multiple: true },
    root: { type: 'string' },
    json: { type: 'boolean' },
    html: { type: 'string' },
  },
  async run({ values, stdout, stderr, cwd }) {
    const trails = stringListOption(values, 'cloudtrail');
    const manifests = stringListOption(values, 'manifest');
    if (trails.length === 0) throw new UsageError('--cloudtrail is required');
    if (manifests.length === 0) throw new UsageError('--manifest is required');
    const rootFile = stringOption(values, 'root');
    const trustPolicy = stringOption(values, 'trust-policy');
    let report;
    try {
      report = runAudit({
        cloudTrail: trails.map((t) => resolve(cwd, t)),
        receipts: resolve(cwd, requireOption(values, 'receipts')),
        manifests: manifests.map((m) => resolve(cwd, m)),
        ...(trustPolicy === undefined ? {} : { trustPolicy: resolve(cwd, trustPolicy) }),
        keys: stringListOption(values, 'key'),
        ...(rootFile === undefined ? {} : { root: readRootCertificate(cwd, rootFile) }),
      });
    } catch (e) {
      if (!(e instanceof AuditError)) throw e;
      stderr.write(`attested-pack audit: ${e.code}: ${e.message}\n`);
      return EXIT_USAGE;
    }
    const html = stringOption(values, 'html');
    if (html !== undefined) writeFileSync(resolve(cwd, html), renderAuditHtml(report, new Date().toISOString()));
    stdout.write(values.json === true ? `${JSON.stringify(report, null, 2)}\n` : renderAuditText(report));
    return report.clean ? EXIT_OK : EXIT_REFUSED;
  },
};
