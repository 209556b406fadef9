// The simulators' latency model (simulator/latency.ts): seeded and reproducible, jitter
// within bounds, refusals for nonsense; the KMS emulator's --latency-ms flags and the
// simulated NSM's attestation latency really wait (lower bounds only: never flaky).
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GenerateRandomCommand } from '@aws-sdk/client-kms';
import { checkLatencyModel, latencySequence, LatencyModelError } from '../simulator/latency.ts';
import { startHarness } from './kms-harness.ts';
import { main } from '../cli/main.ts';
import { createTestCa } from '../simulator/attestation-issuer.ts';
import { createSimulatedNsm } from '../simulator/nsm.ts';
import { fakeManifest } from './pack-world.ts';

describe('latency model', () => {
  it('is reproducible from its seed, stays within fixed ± jitter and averages to fixed', () => {
    const a = latencySequence({ fixedMs: 15, jitterMs: 3, seed: 42 });
    const b = latencySequence({ fixedMs: 15, jitterMs: 3, seed: 42 });
    const c = latencySequence({ fixedMs: 15, jitterMs: 3, seed: 43 });
    const xs = Array.from({ length: 2000 }, () => a());
    expect(Array.from({ length: 2000 }, () => b())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c())).not.toEqual(xs.slice(0, 5));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(12);
    expect(Math.max(...xs)).toBeLessThanOrEqual(18);
    expect(Math.abs(xs.reduce((s, x) => s + x, 0) / xs.length - 15)).toBeLessThan(0.2);
    const fixed = latencySequence({ fixedMs: 7 });
    expect([fixed(), fixed()]).toEqual([7, 7]);
  });

  it('refuses negative, fractional, oversized values and jitter above the latency', () => {
    for (const bad of [{ fixedMs: -1 }, { fixedMs: 1.5 }, { fixedMs: 10_001 }, { fixedMs: 5, jitterMs: 6 }, { fixedMs: 5, jitterMs: -1 }, { fixedMs: 5, seed: -3 }]) {
      expect(() => checkLatencyModel(bad)).toThrow(LatencyModelError);
    }
  });
});

describe('KMS emulator latency', () => {
  it('every request waits at least fixed − jitter', async () => {
    const h = await startHarness({ latency: { fixedMs: 40, jitterMs: 5, seed: 1 } });
    try {
      const kms = h.client();
      for (let i = 0; i < 3; i++) {
        const t = performance.now();
        await kms.send(new GenerateRandomCommand({ NumberOfBytes: 8 }));
        expect(performance.now() - t).toBeGreaterThanOrEqual(34);
      }
    } finally {
      await h.close();
    }
  });

  it('kms-emulator: --latency-jitter-ms/--latency-seed without --latency-ms, jitter above latency and non-integers are usage errors', async () => {
    const sink = { write: () => true } as unknown as NodeJS.WritableStream;
    const dir = mkdtempSync(join(tmpdir(), 'latency-cli-'));
    try {
      for (const args of [['--latency-jitter-ms', '3'], ['--latency-seed', '3'], ['--latency-ms', '5', '--latency-jitter-ms', '6'], ['--latency-ms', '1.5'], ['--latency-ms', '-1'], ['--latency-ms', '20000']]) {
        expect(await main(['kms-emulator', '--state', dir, ...args], { stdout: sink as never, stderr: sink as never })).toBe(2);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('simulated NSM attestation latency', () => {
  it('an attestation takes at least the configured time', async () => {
    const nsm = createSimulatedNsm({ ca: await createTestCa(), pcrs: fakeManifest(), attestationLatency: { fixedMs: 30 } });
    const t = performance.now();
    await nsm.attest({});
    expect(performance.now() - t).toBeGreaterThanOrEqual(29);
  });
});
