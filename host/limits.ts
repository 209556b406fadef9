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

export class PackLimiter {
  readonly maxConcurrent: number;
  readonly maxQueued: number;
  #running = 0;
  #queue: Array<{ start: () => void; cancel: (e: Error) => void }> = [];

  constructor(maxConcurrent: number, maxQueued: number) {
    this.maxConcurrent = maxConcurrent;
    this.maxQueued = maxQueued;
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
    const release = () => {
      if (released) return;
      released = true;
      this.#running--;
      const next = this.#queue.shift();
      if (next !== undefined) next.start();
    };
    if (this.#running < this.maxConcurrent) {
      this.#running++;
      return Promise.resolve(release);
    }
    if (this.#queue.length >= this.maxQueued) return Promise.reject(new QueueFullError(Math.max(1, this.#queue.length)));
    return new Promise((resolve, reject) => {
      const entry = {
        start: () => {
          signal?.removeEventListener('abort', onAbort);
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
