// Bounded concurrency for packs: at most `maxConcurrent` run (the enclave is one machine),
// at most `maxQueued` wait; beyond that the caller is told to come back later (429 with
// Retry-After) instead of piling up. Waiters give up at their own deadline.
export class QueueFullError extends Error {
  override readonly name = 'QueueFullError';
  readonly retryAfterSeconds: number;

  constructor(retryAfterSeconds: number) {
    super('too many packs in progress; retry later');
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export class QueueTimeoutError extends Error {
  override readonly name = 'QueueTimeoutError';
}

/** Assumed pack duration until one has finished (a pack takes a few seconds). */
export const DEFAULT_PACK_MS = 10_000;
/** Retry-After is estimated from the mean of this many most recent pack durations. */
const DURATION_SAMPLES = 16;

export interface PackLimiterOptions {
  /** Clock in ms (tests). */
  now?: () => number;
  /** Duration assumed before any pack has finished. */
  defaultPackMs?: number;
}

export class PackLimiter {
  readonly maxConcurrent: number;
  readonly maxQueued: number;
  #running = 0;
  #queue: Array<{ start: () => void; cancel: (e: Error) => void }> = [];
  readonly #now: () => number;
  readonly #durations: number[] = [];
  readonly #defaultPackMs: number;

  constructor(maxConcurrent: number, maxQueued: number, options: PackLimiterOptions = {}) {
    this.maxConcurrent = maxConcurrent;
    this.maxQueued = maxQueued;
    this.#now = options.now ?? Date.now;
    this.#defaultPackMs = options.defaultPackMs ?? DEFAULT_PACK_MS;
  }

  /**
   * Seconds until a slot is likely free for a newcomer: every queued pack and the newcomer
   * need a slot, `maxConcurrent` at a time, each taking about the mean recent duration.
   */
  retryAfterSeconds(): number {
    const mean = this.#durations.length === 0 ? this.#defaultPackMs : this.#durations.reduce((a, b) => a + b, 0) / this.#durations.length;
    const rounds = Math.ceil((this.#queue.length + 1) / Math.max(1, this.maxConcurrent));
    return Math.max(1, Math.ceil((rounds * mean) / 1000));
  }

  #record(ms: number): void {
    this.#durations.push(ms);
    if (this.#durations.length > DURATION_SAMPLES) this.#durations.shift();
  }

  get running(): number {
    return this.#running;
  }

  get queued(): number {
    return this.#queue.length;
  }

  /** Wait for a slot; resolves to the release function. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    let released = false;
    let startedAt = this.#now();
    const release = () => {
      if (released) return;
      released = true;
      this.#record(this.#now() - startedAt);
      this.#running--;
      const next = this.#queue.shift();
      if (next !== undefined) next.start();
    };
    if (this.#running < this.maxConcurrent) {
      this.#running++;
      return Promise.resolve(release);
    }
    if (this.#queue.length >= this.maxQueued) return Promise.reject(new QueueFullError(this.retryAfterSeconds()));
    return new Promise((resolve, reject) => {
      const entry = {
        start: () => {
          signal?.removeEventListener('abort', onAbort);
          startedAt = this.#now();
          this.#running++;
          resolve(release);
        },
        cancel: reject,
      };
      const onAbort = () => {
        const i = this.#queue.indexOf(entry);
        if (i >= 0) this.#queue.splice(i, 1);
        reject(new QueueTimeoutError('gave up waiting for a pack slot'));
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#queue.push(entry);
    });
  }
}
