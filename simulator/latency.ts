// A seeded latency model for the simulators: each call waits `fixedMs` plus a jitter drawn
// uniformly from [-jitterMs, +jitterMs], so the mean is `fixedMs` (one "round trip") and a
// run is reproducible from its seed. Used by the KMS emulator (`--latency-ms`) and the
// simulated NSM (attestation latency) to show wall time under realistic round trips.
import { setTimeout as sleep } from 'node:timers/promises';
import { mulberry32 } from './mulberry32.ts';

export interface LatencyModel {
  fixedMs: number;
  jitterMs?: number;
  /** PRNG seed (32-bit integer); default 1. */
  seed?: number;
}

/** Largest delay we accept: a model is for round trips, not for outages. */
export const MAX_LATENCY_MS = 10_000;

export class LatencyModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LatencyModelError';
  }
}

/** Refuses anything but integers 0 ≤ jitter ≤ fixed ≤ MAX_LATENCY_MS (no clamping surprises). */
export function checkLatencyModel(m: LatencyModel): Required<LatencyModel> {
  const jitter = m.jitterMs ?? 0;
  const seed = m.seed ?? 1;
  if (!Number.isSafeInteger(m.fixedMs) || m.fixedMs < 0 || m.fixedMs > MAX_LATENCY_MS) throw new LatencyModelError(`latency must be an integer 0..${MAX_LATENCY_MS} ms`);
  if (!Number.isSafeInteger(jitter) || jitter < 0 || jitter > m.fixedMs) throw new LatencyModelError('latency jitter must be an integer between 0 and the latency');
  if (!Number.isSafeInteger(seed) || seed < 0 || seed > 0xffffffff) throw new LatencyModelError('latency seed must be an integer 0..4294967295');
  return { fixedMs: m.fixedMs, jitterMs: jitter, seed };
}


/** The sequence of delays (ms) a model produces, one per call. */
export function latencySequence(model: LatencyModel): () => number {
  const m = checkLatencyModel(model);
  const next = mulberry32(m.seed);
  return () => m.fixedMs + m.jitterMs * (2 * next() - 1);
}

/** A function that waits one delay of the model per call (no wait at all for 0 ms). */
export function latencyDelay(model: LatencyModel | undefined): () => Promise<void> {
  if (model === undefined || (model.fixedMs === 0 && (model.jitterMs ?? 0) === 0)) {
    if (model !== undefined) checkLatencyModel(model);
    return async () => undefined;
  }
  const next = latencySequence(model);
  return async () => {
    await sleep(next());
  };
}
