// Admission control: at most `concurrency` requests run at once and at most `capacity` wait;
// a request that finds the waiting line full is refused at once (the server answers 429) rather
// than queued without bound, so memory and latency stay bounded under any load.

export class QueueFullError extends Error {
  override name = 'QueueFullError';
}

export class BoundedQueue {
  private running = 0;
  private readonly waiting: { start: () => void; cancel: (e: Error) => void }[] = [];

  constructor(
    readonly concurrency: number,
    readonly capacity: number,
  ) {
    if (!Number.isInteger(concurrency) || concurrency < 1)
      throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
    if (!Number.isInteger(capacity) || capacity < 0)
      throw new RangeError(`queue capacity must be a non-negative integer, got ${capacity}`);
  }

  get active(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Runs `job` when a slot is free; throws QueueFullError when the line is full. */
  async run<T>(job: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.capacity)
        throw new QueueFullError(
          `${this.running} requests running and ${this.waiting.length} waiting; try again shortly`,
        );
      await new Promise<void>((start, cancel) => {
        const entry = { start, cancel };
        this.waiting.push(entry);
        signal?.addEventListener(
          'abort',
          () => {
            const i = this.waiting.indexOf(entry);
            if (i >= 0) {
              this.waiting.splice(i, 1);
              cancel(new Error('request cancelled while waiting'));
            }
          },
          { once: true },
        );
      });
    } else this.running++;
    try {
      return await job();
    } finally {
      const next = this.waiting.shift();
      if (next)
        next.start(); // the slot passes straight to the next waiter
      else this.running--;
    }
  }

  /** Refuses everything still waiting (shutdown). */
  drain(err: Error): void {
    for (const w of this.waiting.splice(0)) w.cancel(err);
  }
}
