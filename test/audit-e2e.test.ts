// The audit end to end: packs through the KMS emulator (which writes SIMULATED CloudTrail),
// receipts in a store, one receipt withheld, refused attempts by an image in no manifest and
// by a debug-mode enclave. The audit must find exactly those — and the CLI must say so.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runAudit } from '../cli/audit/index.ts';
import { runCli } from './cli-support.ts';
import { buildAuditWorld, type AuditWorld } from './audit-world.ts';
import { samplePolicyBytes } from '../verifier/test-trust-policy.ts';

let w: AuditWorld;
beforeAll(async () => {
  w = await buildAuditWorld();
}, 120_000);
afterAll(() => w?.close());

const audit = (over: Partial<Parameters<typeof runAudit>[0]> = {}) =>
  runAudit({ cloudTrail: [w.cloudTrailDir], receipts: w.storeDir, manifests: [w.manifestFile], root: w.rootDer, ...over });

describe('audit end to end', () => {
  it('the emulator wrote one SIMULATED CloudTrail delivery file per call', () => {
    const files = readdirSync(w.cloudTrailDir);
    // 3 admin calls + 5 packs × (Decrypt + Encrypt) + 2 refused attempts
    expect(files).toHaveLength(15);
    expect(files.every((f) => /^111122223333_CloudTrail_us-east-1_\d{8}T\d{4}Z_\w+\.json\.gz$/.test(f))).toBe(true);
  });

  it('finds exactly the withheld pack, and reports the two refused attempts apart', () => {
    const r = audit();
    const f = r.findings;
    expect(f.unexplained.map((e) => e.requestId)).toEqual([w.withheldDecrypt]);
    expect(f.matched).toHaveLength(4);
    expect(f.failed.map((e) => [e.eventName, e.errorCode, e.image])).toEqual([
      ['Decrypt', 'AccessDeniedException', 'unknown'],
      ['Decrypt', 'AccessDeniedException', 'debug'],
    ]);
    expect(f.unknownImage).toEqual([]);
    expect(f.debugMode).toEqual([]);
    expect(f.failedReceipts).toEqual([]);
    expect(f.missingCalls).toEqual([]);
    expect(r.clean).toBe(false);
    expect(r.days.map((d) => [d.day, d.packs, d.unexplained])).toEqual([['2026-11-20', 2, 0], ['2026-11-21', 1, 1], ['2026-11-22', 1, 0]]);
    expect(r.packs).toEqual([
      { identity: 'payments-api', environment: 'production', day: '2026-11-20', packs: 2 },
      { identity: 'payments-api', environment: 'production', day: '2026-11-21', packs: 1 },
      { identity: 'payments-api', environment: 'production', day: '2026-11-22', packs: 1 },
    ]);
  });

  it('--key limits the audit to the named keys', () => {
    expect(audit({ keys: [w.envelopeKey] }).findings.unexplained).toEqual([]);
    expect(audit({ keys: [w.sopsKey] }).findings.unexplained).toHaveLength(1);
  });

  it('a receipt that does not verify is reported, and its calls become unexplained', () => {
    const key = w.storedReceipts[0]!;
    const file = join(w.storeDir, key);
    const good = readFileSync(file);
    try {
      const tampered = good.toString('utf8').replace(/"sig": "([A-Za-z0-9+/])/, (_m, c: string) => `"sig": "${c === 'A' ? 'B' : 'A'}`);
      writeFileSync(file, tampered);
      const r = audit();
      expect(r.findings.failedReceipts.map((x) => x.key)).toEqual([key]);
      expect(r.findings.unexplained).toHaveLength(2);
    } finally {
      writeFileSync(file, good);
    }
  });

  it('a receipt whose call is missing from CloudTrail is reported', () => {
    const files = readdirSync(w.cloudTrailDir).sort();
    const r0 = audit();
    const victim = r0.findings.matched[1]!;
    const file = join(w.cloudTrailDir, victim.source.split('#')[0]!.split('/').pop()!);
    const bytes = readFileSync(file);
    rmSync(file);
    try {
      const r = audit();
      expect(r.findings.missingCalls.map((m) => [m.requestId, m.operation])).toEqual([[victim.requestId, 'Decrypt']]);
    } finally {
      writeFileSync(file, bytes);
      expect(readdirSync(w.cloudTrailDir).sort()).toEqual(files);
    }
  });

  it('packs outside the trust policy: repository by id, environment, ref', () => {
    // The world's receipts: repository id 123456789 (owner 987654), payments-api/production, refs/heads/main.
    const policy = (edit: (p: Record<string, any>) => void) => {
      const f = join(w.dir, `policy-${Math.random().toString(16).slice(2)}.json`);
      writeFileSync(f, samplePolicyBytes(edit));
      return audit({ trustPolicy: f, keys: [w.envelopeKey] }).findings.outsidePolicy.map((x) => x.reason);
    };
    const ours = (p: Record<string, any>) => { p.repositories[0].github = { repositoryId: '123456789', repositoryOwnerId: '987654' }; };
    expect(policy(ours)).toEqual([]);
    expect(policy(() => undefined)).toEqual(Array(4).fill('repository example/secrets (id 123456789) is not in the trust policy'));
    expect(policy((p) => { ours(p); delete p.repositories[0].environments.production; })[0]).toMatch(/environment production is not allowed/);
    expect(policy((p) => { ours(p); p.repositories[0].environments.production.refs = ['refs/heads/release']; })[0]).toMatch(/ref refs\/heads\/main is not allowed/);
  });

  it('the CLI: text report, exit 1; --json; a clean audit exits 0', async () => {
    const rootFile = join(w.dir, 'root.pem');
    writeFileSync(rootFile, w.rootPem);
    const args = ['audit', '--cloudtrail', w.cloudTrailDir, '--receipts', w.storeDir, '--manifest', w.manifestFile, '--root', rootFile];
    const text = await runCli(args);
    expect(text.code).toBe(1);
    expect(text.out).toContain('AUDIT FOUND UNEXPLAINED ACTIVITY');
    expect(text.out).toContain(w.withheldDecrypt);
    expect(text.out).toContain('DEBUG MODE');
    const json = await runCli([...args, '--json']);
    expect(JSON.parse(json.out).findings.unexplained[0].requestId).toBe(w.withheldDecrypt);
    const clean = await runCli([...args, '--key', w.envelopeKey]);
    expect(clean.code).toBe(0);
    expect(clean.out).toContain('AUDIT CLEAN');
  });
});

