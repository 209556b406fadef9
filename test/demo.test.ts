// The README's first set-up command, run as a new user would. Under CI it is run exactly as
// written — `npm ci && ./bin/attested-pack demo` — in a fresh clone of this checkout (with
// its own empty download cache); elsewhere the demo runs from this checkout. It must
// succeed, label what is simulated, and leave a receipt an independent `verify receipt` accepts.
import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeEif } from '../build/describe.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const CLI = fileURLToPath(new URL('../bin/attested-pack', import.meta.url));

describe('attested-pack demo', () => {
  it('runs the whole chain, refuses the tampered image, and leaves a verifiable receipt', () => {
    const dir = mkdtempSync(join(tmpdir(), 'demo-test-'));
    try {
      const work = join(dir, 'work');
      let r;
      if (process.env.CI === 'true') {
        const clone = join(dir, 'clone');
        execFileSync('git', ['clone', '-q', REPO, clone]);
        r = spawnSync('sh', ['-c', `npm ci --no-audit --no-fund >&2 && ./bin/attested-pack demo --dir '${work}' --json`], { cwd: clone, encoding: 'utf8', timeout: 540_000 });
      } else {
        r = spawnSync(process.execPath, [CLI, 'demo', '--dir', work, '--json'], { encoding: 'utf8', timeout: 300_000 });
      }
      expect(r.status, r.stderr).toBe(0);
      const summary = JSON.parse(r.stdout.trim().split('\n').pop() as string) as {
        ok: boolean; simulated: { nsm: string; root: string }; image: { eif: string; manifest: string; pcrs: Record<string, string> };
        tamperedImage: { pcr0: string; refused: string }; repo: { commit: string; repository: string }; artifact: string; receipt: string;
        refusals: Array<{ attack: string; code: string; detail: string }>;
        audit: { clean: boolean; unexplainedAfterHostPack: number; html: string };
      };
      expect(summary.ok).toBe(true);
      expect(summary.simulated.nsm).toBe('SIMULATED');
      // Progress went to stderr, step by step, with simulation labelled.
      expect(r.stderr).toContain('[12/12]');
      expect(r.stderr).toContain('SIMULATED');
      expect(r.stderr).toContain('DEVELOPMENT');
      // The enclave itself refused issue 12's attacks, each with its stable code.
      // The audit of the demo's own packs was clean; a pack the host made on its own was flagged.
      expect(summary.audit).toMatchObject({ clean: true, unexplainedAfterHostPack: 2 });
      expect(summary.refusals.map((x) => x.detail)).toEqual(['COMMIT_NOT_TRUSTED', 'REF_NOT_ALLOWED', 'KEY_NOT_ALLOWED_FOR_ENVIRONMENT', 'OIDC_REQUEST_MISMATCH']);
      expect(summary.tamperedImage.pcr0).not.toBe(summary.image.pcrs['0']);
      expect(summary.tamperedImage.refused).toMatch(/explicit deny/);
      for (const f of [summary.artifact, summary.receipt, summary.image.manifest]) expect(existsSync(f)).toBe(true);

      // An auditor's independent check of what the demo left behind.
      const v = spawnSync(process.execPath, [CLI, 'verify', 'receipt', summary.receipt, '--manifest', summary.image.manifest, '--artifact', summary.artifact, '--root', summary.simulated.root,
        '--repository', summary.repo.repository, '--ref', 'refs/heads/main', '--commit', summary.repo.commit, '--json'], { encoding: 'utf8' });
      expect(v.status, v.stderr).toBe(0);
      const verdict = JSON.parse(v.stdout) as { ok: boolean; trust: { kind: string }; predicate: { source: { commit: string } }; enclave: { pcrs: Record<string, string> } };
      expect(verdict.ok).toBe(true);
      // The simulated enclave reported exactly the PCRs measured from the EIF that was built.
      const measured = describeEif(readFileSync(summary.image.eif)).pcrs;
      for (const i of ['0', '1', '2'] as const) expect(verdict.enclave.pcrs[i]).toBe(measured[i]);
      expect(verdict.trust.kind).toBe('simulated');
      expect(verdict.predicate.source.commit).toBe(summary.repo.commit);
      // Each wrong expectation is refused with a code.
      for (const wrong of [['--repository', 'example-org/other'], ['--ref', 'refs/heads/feature'], ['--commit', 'f'.repeat(summary.repo.commit.length)]]) {
        const w = spawnSync(process.execPath, [CLI, 'verify', 'receipt', summary.receipt, '--manifest', summary.image.manifest, '--root', summary.simulated.root, ...wrong, '--json'], { encoding: 'utf8' });
        expect(w.status, wrong.join(' ')).toBe(1);
        expect(JSON.parse(w.stdout).error.code).toBe('EXPECTATION_MISMATCH');
      }
      // The receipt does not verify against the AWS root: nothing trusts the simulator by default.
      const aws = spawnSync(process.execPath, [CLI, 'verify', 'receipt', summary.receipt, '--manifest', summary.image.manifest, '--json'], { encoding: 'utf8' });
      expect(aws.status).toBe(1);
      expect(JSON.parse(aws.stdout).error.code).toBe('CHAIN_UNTRUSTED_ROOT');
      // The artifact is ciphertext: no secret value appears in it.
      expect(readFileSync(summary.artifact, 'utf8')).not.toContain('correct-horse-battery');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);
});
