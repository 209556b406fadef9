// Unwrapping a pack's SOPS data keys at once instead of one KMS round trip after another,
// without changing what a pack answers: tasks run with bounded concurrency, but results
// are used strictly in file order, so the refusal names the first failing file *in file
// order* (never the first to fail in time) with the same error a sequential pack would
// give. Identical wrapped keys (same key ARN, ciphertext and context) cost one KMS call.
// Everything here is per pack: nothing is cached across packs.
import type { KmsDecryptFn } from './sops/unwrap.ts';

/**
 * Default number of data keys unwrapped at once by one pack: 16 covers a typical identity
 * (≤ 16 files) in one KMS round trip, and a few concurrent packs stay far below KMS's
 * per-account request quotas for Decrypt (thousands per second).
 */
export const DEFAULT_UNWRAP_CONCURRENCY = 16;
export const MAX_UNWRAP_CONCURRENCY = 64;

export function checkConcurrency(n: number | undefined): number {
  const c = n ?? DEFAULT_UNWRAP_CONCURRENCY;
  if (!Number.isSafeInteger(c) || c < 1 || c > MAX_UNWRAP_CONCURRENCY) {
    throw new RangeError(`unwrap concurrency must be an integer 1..${MAX_UNWRAP_CONCURRENCY}, got ${String(n)}`);
  }
  return c;
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

export interface OrderedPool<T> {
  /** Number of items; task i produces item i. */
  count: number;
  task(index: number): Promise<T>;
  /** Called in index order, only while every earlier item succeeded. */
  consume(index: number, value: T): void;
  /** Called exactly once for every produced value (consumed or not), e.g. to zero a key. */
  dispose(value: T): void;
  concurrency?: number;
}

/**
 * Run `task` for every index with at most `concurrency` in flight; no new task starts
 * past the lowest index that has failed. Every started task settles before this returns
 * (no KMS call outlives the pack), then results are consumed in order and the first
 * failure in index order is thrown.
 */
export async function runInOrder<T>(pool: OrderedPool<T>): Promise<void> {
  const concurrency = checkConcurrency(pool.concurrency);
  const results: Array<Settled<T> | undefined> = new Array<Settled<T> | undefined>(pool.count);
  let next = 0;
  let firstFailed = Number.POSITIVE_INFINITY;
  const worker = async (): Promise<void> => {
    while (next < pool.count && next < firstFailed) {
      const i = next;
      next += 1;
      try {
        results[i] = { ok: true, value: await pool.task(i) };
      } catch (error) {
        results[i] = { ok: false, error };
        firstFailed = Math.min(firstFailed, i);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, pool.count) }, worker));
  let failure: Settled<T> | undefined;
  for (let i = 0; i < pool.count; i++) {
    const r = results[i];
    if (r === undefined || !r.ok) {
      failure ??= r ?? { ok: false, error: new Error(`internal: item ${i} was never run`) };
      continue;
    }
    try {
      if (failure === undefined) pool.consume(i, r.value);
    } catch (error) {
      failure = { ok: false, error };
    } finally {
      pool.dispose(r.value);
    }
  }
  if (failure !== undefined && !failure.ok) throw failure.error;
}

function dedupKey(req: Parameters<KmsDecryptFn>[0]): string {
  const context = Object.entries(req.encryptionContext).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([req.keyArn, Buffer.from(req.ciphertextBlob).toString('base64'), context]);
}

/**
 * One KMS call per distinct (key ARN, ciphertext, encryption context) within one pack.
 * Every caller gets its own copy of the plaintext (callers zero what they get);
 * `clear()` zeroes the shared copies — call it when the pack ends.
 */
export function dedupKmsDecrypt(decrypt: KmsDecryptFn): KmsDecryptFn & { clear(): void; calls(): number } {
  const inflight = new Map<string, Promise<Uint8Array>>();
  const obtained: Uint8Array[] = [];
  let cleared = false;
  let calls = 0;
  const fn = async (req: Parameters<KmsDecryptFn>[0]): Promise<Uint8Array> => {
    if (cleared) throw new Error('internal: KMS decrypt used after its pack ended');
    const k = dedupKey(req);
    let p = inflight.get(k);
    if (p === undefined) {
      calls += 1;
      p = decrypt(req).then((b) => {
        // A result arriving after clear() is zeroed at once.
        if (cleared) b.fill(0);
        else obtained.push(b);
        return b;
      });
      inflight.set(k, p);
    }
    return Uint8Array.from(await p);
  };
  return Object.assign(fn, {
    clear() {
      cleared = true;
      for (const b of obtained) b.fill(0);
      obtained.length = 0;
      inflight.clear();
    },
    calls: () => calls,
  });
}

/**
 * Like the pack's per-phase timer, but for calls that overlap: adds to `bucket.ms` only
 * the wall time during which at least one call is in flight (so phases still sum to the
 * pack's total time).
 */
export function wallTimed<A extends unknown[], R>(bucket: { ms: number }, fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  let inFlight = 0;
  let since = 0;
  return async (...args) => {
    if (inFlight === 0) since = performance.now();
    inFlight += 1;
    try {
      return await fn(...args);
    } finally {
      inFlight -= 1;
      if (inFlight === 0) bucket.ms += performance.now() - since;
    }
  };
}
