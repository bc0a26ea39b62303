/**
 * Pacing for a fan-out shard: a token bucket of capacity one, kept as the time the next token
 * becomes available (the "virtual scheduling" form of the generic cell rate algorithm). Every
 * `acquire` reserves the next free slot, so concurrent callers are spaced at least 1 / rate apart
 * whatever order they arrive in: in any window of w seconds a bucket grants at most ⌈rate · w⌉
 * tokens, and shards whose rates sum to the stage's budget stay within budget · w + shards.
 *
 * Backing off: the poster has already retried a throttled post (429) with its own backoff when
 * it reports one, so the bucket halves its rate (down to a sixteenth of the configured rate)
 * and waits one new interval before the next grant; each accepted post wins back a hundredth
 * of the configured rate. The rate never rises above the configured one, so the bound holds.
 */

export interface Clock {
  /** Milliseconds, monotonic enough for pacing (Date.now on Lambda; a controlled clock in tests). */
  now(): number;
  /** Resolves after `ms` milliseconds of this clock. */
  sleep(ms: number): Promise<void>;
}

export const SYSTEM_CLOCK: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** The slowest a throttled bucket goes, as a fraction of its configured rate. */
const MIN_RATE_FRACTION = 1 / 16;
/** What one accepted post wins back after a throttle, as a fraction of the configured rate. */
const RECOVERY_FRACTION = 1 / 100;

export class TokenBucket {
  private rate: number;
  /** Clock time at which the next token may be granted. */
  private nextFree: number;

  /** `ratePerSecond` tokens a second, the first one available now. */
  constructor(
    readonly ratePerSecond: number,
    private readonly clock: Clock = SYSTEM_CLOCK,
  ) {
    if (!(Number.isFinite(ratePerSecond) && ratePerSecond > 0)) {
      throw new RangeError(`A token bucket needs a positive rate (got ${ratePerSecond})`);
    }
    this.rate = ratePerSecond;
    this.nextFree = clock.now();
  }

  /** The rate currently granted (lower than the configured one after throttling). */
  get currentRate(): number {
    return this.rate;
  }

  /**
   * Waits for a token. With `deadline` (clock ms), reserves nothing and returns false when the
   * token would come after it, so a shard near its timeout stops instead of waiting past it.
   */
  async acquire(deadline = Number.POSITIVE_INFINITY): Promise<boolean> {
    const now = this.clock.now();
    const slot = Math.max(now, this.nextFree);
    if (slot > deadline) return false;
    this.nextFree = slot + 1000 / this.rate;
    if (slot > now) await this.clock.sleep(slot - now);
    return true;
  }

  /** A post was throttled after the poster's own retries: slow down. */
  throttled(): void {
    this.rate = Math.max(this.ratePerSecond * MIN_RATE_FRACTION, this.rate / 2);
    this.nextFree = Math.max(this.nextFree, this.clock.now() + 1000 / this.rate);
  }

  /** A post went through: recover towards the configured rate. */
  accepted(): void {
    if (this.rate < this.ratePerSecond) {
      this.rate = Math.min(this.ratePerSecond, this.rate + this.ratePerSecond * RECOVERY_FRACTION);
    }
  }
}
