// The HTML report in a real browser (Debian chromium, headless; .ci/run installs it): it
// renders, the timeline chart is there with the unexplained day marked, and the unexplained
// call's row is in the table. The same run can refresh docs/audit-report.png
// (UPDATE_AUDIT_SCREENSHOT=1), the screenshot docs/audit.md shows.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { renderAuditHtml, runAudit } from '../cli/audit/index.ts';
import { buildAuditWorld, type AuditWorld } from './audit-world.ts';

const run = promisify(execFile);
let w: AuditWorld;
let page: string;
let profile: string;

async function chromium(args: string[]): Promise<string> {
  const { stdout } = await run('chromium', [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run', '--disable-extensions',
    `--user-data-dir=${profile}`, ...args,
  ], { timeout: 90_000, maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

beforeAll(async () => {
  w = await buildAuditWorld();
  const report = runAudit({ cloudTrail: [w.cloudTrailDir], receipts: w.storeDir, manifests: [w.manifestFile], root: w.rootDer });
  page = join(w.dir, 'audit.html');
  writeFileSync(page, renderAuditHtml(report, '2026-11-23T09:00:00.000Z'));
  profile = mkdtempSync(join(tmpdir(), 'audit-chromium-'));
}, 120_000);
afterAll(() => {
  w?.close();
  if (profile !== undefined) rmSync(profile, { recursive: true, force: true });
});

describe('HTML audit report in headless chromium', () => {
  it('renders the verdict, the timeline chart and the unexplained rows', async () => {
    const dom = await chromium(['--dump-dom', `file://${page}`]);
    expect(dom).toContain('<h1 id="verdict" class="dirty">Audit found unexplained activity (1 unexplained call)</h1>');
    expect(dom).toMatch(/<svg id="timeline"[^>]*>/);
    expect((dom.match(/<rect class="packs"/g) ?? []).length).toBe(3);
    expect((dom.match(/<rect class="unexplained"/g) ?? []).length).toBe(1);
    const row = new RegExp(`<tr class="unexplained"><td>[^<]+</td><td>Decrypt</td><td><code>${w.withheldDecrypt}</code>`);
    expect(dom).toMatch(row);
    expect(dom).toContain('DEBUG MODE');
  }, 120_000);

  it('takes a screenshot (a real PNG of the page)', async () => {
    const png = join(w.dir, 'audit.png');
    await chromium(['--hide-scrollbars', '--window-size=1000,1400', `--screenshot=${png}`, `file://${page}`]);
    const bytes = readFileSync(png);
    expect(bytes.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    expect(bytes.readUInt32BE(16)).toBe(1000);
    if (process.env.UPDATE_AUDIT_SCREENSHOT === '1') copyFileSync(png, new URL('../docs/audit-report.png', import.meta.url).pathname);
  }, 120_000);
});
