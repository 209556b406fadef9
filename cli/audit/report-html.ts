// The audit report as one self-contained HTML file (no scripts, no external assets): the
// verdict, a timeline chart (inline SVG: packs per day as bars, days with unexplained calls
// marked red) and the finding tables. Every value is escaped; the page has a strict CSP.
import type { AuditReport, EventRef } from './reconcile.ts';

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function timeline(r: AuditReport): string {
  const days = r.days;
  const w = 760;
  const h = 220;
  const pad = 40;
  if (days.length === 0) return '<p>No packs or events in the audited period.</p>';
  const max = Math.max(1, ...days.map((d) => Math.max(d.packs, d.unexplained)));
  const slot = (w - 2 * pad) / days.length;
  const bar = Math.max(2, Math.min(40, slot * 0.6));
  const y = (n: number) => h - pad - (n / max) * (h - 2 * pad);
  const parts = days.map((d, i) => {
    const x = pad + i * slot + (slot - bar) / 2;
    const packs = `<rect class="packs" x="${x.toFixed(1)}" y="${y(d.packs).toFixed(1)}" width="${bar.toFixed(1)}" height="${(h - pad - y(d.packs)).toFixed(1)}"><title>${esc(d.day)}: ${d.packs} packs</title></rect>`;
    const flag = d.unexplained === 0 ? '' : `<rect class="unexplained" x="${(x + bar / 4).toFixed(1)}" y="${y(d.unexplained).toFixed(1)}" width="${(bar / 2).toFixed(1)}" height="${(h - pad - y(d.unexplained)).toFixed(1)}"><title>${esc(d.day)}: ${d.unexplained} unexplained</title></rect>`;
    const label = days.length <= 31 || i % Math.ceil(days.length / 15) === 0 ? `<text x="${(x + bar / 2).toFixed(1)}" y="${h - pad + 14}" text-anchor="middle">${esc(d.day.slice(5))}</text>` : '';
    return packs + flag + label;
  });
  return `<svg id="timeline" role="img" aria-label="packs per day" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" xmlns="http://www.w3.org/2000/svg">
<line x1="${pad}" y1="${h - pad}" x2="${w - pad}" y2="${h - pad}" stroke="#444"/><text x="${pad - 6}" y="${y(max) + 4}" text-anchor="end">${max}</text><text x="${pad - 6}" y="${h - pad}" text-anchor="end">0</text>
${parts.join('\n')}
</svg>
<p class="legend"><span class="key packs"></span> packs (verified receipts) <span class="key unexplained"></span> unexplained attested KMS calls</p>`;
}

function eventTable(id: string, title: string, events: EventRef[], rowClass: string): string {
  const rows = events.map((e) => `<tr class="${rowClass}"><td>${esc(e.time)}</td><td>${esc(e.eventName)}</td><td><code>${esc(e.requestId)}</code></td><td><code>${esc(e.keyArn ?? '?')}</code></td><td>${esc(e.moduleId ?? '')}</td><td>${esc(e.errorCode ?? '')}</td><td>${e.image === 'unknown' ? 'in no manifest' : e.image === 'debug' ? 'DEBUG MODE' : e.image === 'manifest' ? 'manifest' : ''}</td></tr>`);
  return `<h2 id="${id}">${esc(title)} (${events.length})</h2>${events.length === 0 ? '<p>None.</p>' : `<table><tr><th>time</th><th>operation</th><th>request id</th><th>key</th><th>enclave module</th><th>error</th><th>image</th></tr>${rows.join('')}</table>`}`;
}

function rowsTable(id: string, title: string, head: string[], rows: string[][]): string {
  const body = rows.map((r) => `<tr class="finding">${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('');
  return `<h2 id="${id}">${esc(title)} (${rows.length})</h2>${rows.length === 0 ? '<p>None.</p>' : `<table><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>${body}</table>`}`;
}

const STYLE = `body{font:14px system-ui,sans-serif;margin:24px;color:#222}h1.clean{color:#176f2c}h1.dirty{color:#b00020}
table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:left;font-size:12px}
tr.unexplained td{background:#fde2e4}tr.finding td{background:#fff4d6}svg text{font-size:10px;fill:#333}
rect.packs{fill:#3b6ea5}rect.unexplained{fill:#d11a2a}.key{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px}
.key.packs{background:#3b6ea5}.key.unexplained{background:#d11a2a}`;

export function renderAuditHtml(r: AuditReport, generatedAt: string): string {
  const f = r.findings;
  const verdict = r.clean ? 'Audit clean: every attested KMS call is explained by a verified receipt' : `Audit found unexplained activity (${f.unexplained.length} unexplained call${f.unexplained.length === 1 ? '' : 's'})`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>attested-pack audit</title><style>${STYLE}</style></head><body>
<h1 id="verdict" class="${r.clean ? 'clean' : 'dirty'}">${esc(verdict)}</h1>
<p>CloudTrail: ${r.counts.kmsEvents} KMS events in ${r.counts.files} files${r.coverage === null ? '' : `, ${esc(r.coverage.from)} to ${esc(r.coverage.to)}`}. Receipts: ${r.counts.receipts}. Matched attested calls: ${f.matched.length}. Generated ${esc(generatedAt)}.</p>
<h2>Timeline</h2>
${timeline(r)}
${eventTable('unexplained', 'Unexplained attested KMS calls', f.unexplained, 'unexplained')}
${eventTable('unknown-image', 'Calls from images in no build manifest', f.unknownImage, 'unexplained')}
${eventTable('debug-mode', 'Calls from debug-mode enclaves', f.debugMode, 'unexplained')}
${rowsTable('failed-receipts', 'Receipts that fail verification', ['receipt', 'code', 'message'], f.failedReceipts.map((x) => [x.key, x.code, x.message]))}
${rowsTable('missing-calls', 'Receipt KMS calls missing from CloudTrail', ['receipt', 'operation', 'request id', 'reason'], f.missingCalls.map((x) => [x.receipt, x.operation, x.requestId, x.reason]))}
${rowsTable('outside-policy', 'Packs outside the trust policy', ['receipt', 'reason'], f.outsidePolicy.map((x) => [x.receipt, x.reason]))}
${eventTable('failed', 'Refused KMS calls (failed events)', f.failed, 'failed')}
${rowsTable('summary', 'Packs by identity / environment / day', ['day', 'identity', 'environment', 'packs'], r.packs.map((p) => [p.day, p.identity, p.environment, String(p.packs)])).replaceAll('class="finding"', 'class="summary"')}
</body></html>
`;
}
