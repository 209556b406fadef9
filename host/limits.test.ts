// Retry-After is a real estimate in seconds (queued packs ahead × mean pack duration ÷
// concurrency), not the queue length.
import { describe, expect, it } from 'vitest';
import { DEFAULT_PACK_MS, PackLimiter, QueueFullError } from './limits.ts';

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(() => undefined, (e: unknown) => e);
}

describe('PackLimiter Retry-After', () => {
  it('before any pack finished: the default duration per round of slots', async () => {
    const limiter = new PackLimiter(1, 1, { now: () => 0 });
    await limiter.acquire();
    void limiter.acquire(); // queued
    const e = await rejection(limiter.acquire());
    expect(e).toBeInstanceOf(QueueFullError);
    // One queued pack plus the newcomer, one slot: two rounds of the default duration.
    expect((e as QueueFullError).retryAfterSeconds).toBe(2 * DEFAULT_PACK_MS / 1000);
  });

  it('from measured pack durations, concurrency and the queue ahead', async () => {
    let t = 0;
    const limiter = new PackLimiter(2, 3, { now: () => t });
    for (let i = 0; i < 4; i++) {
      const release = await limiter.acquire();
      t += 30_000; // each pack takes 30 s
      release();
    }
    const held = [await limiter.acquire(), await limiter.acquire()];
    const queued = [limiter.acquire(), limiter.acquire(), limiter.acquire()];
    const e = await rejection(limiter.acquire());
    // Three queued + the newcomer on two slots = 2 rounds × 30 s.
    expect((e as QueueFullError).retryAfterSeconds).toBe(60);
    expect(limiter.retryAfterSeconds()).toBe(60);
    // Not the queue length (the old value was 3).
    expect((e as QueueFullError).retryAfterSeconds).not.toBe(limiter.queued);
    for (const r of held) r();
    for (const q of queued) (await q)();
  });

  it('a short pack never yields less than one second', async () => {
    const limiter = new PackLimiter(1, 0, { now: () => 0 });
    const release = await limiter.acquire();
    release(); // took 0 ms
    await limiter.acquire();
    expect(((await rejection(limiter.acquire())) as QueueFullError).retryAfterSeconds).toBe(1);
  });
});
