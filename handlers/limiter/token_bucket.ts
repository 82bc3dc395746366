/**
 * A token bucket with the semantics of Go's `golang.org/x/time/rate.Limiter`,
 * which gost's limiters are built on: tokens accrue at `rate` per second up
 * to `burst`, a new bucket starts full, and a reservation may take the
 * bucket into debt, the reserver then waiting until the debt is earned back.
 * Time is passed in (milliseconds, any monotonic origin), so the arithmetic
 * is testable with a fake clock.
 *
 * @module
 */

export class TokenBucket {
  #rate: number;
  #burst: number;
  #tokens: number;
  #last: number;

  /**
   * @param rate tokens per second, > 0
   * @param burst the most tokens the bucket holds, > 0
   * @param now the current time in milliseconds
   */
  constructor(rate: number, burst: number, now: number) {
    this.#rate = rate;
    this.#burst = burst;
    this.#tokens = burst;
    this.#last = now;
  }

  /** Tokens per second. */
  get rate(): number {
    return this.#rate;
  }

  /** The most tokens the bucket holds, and so the most one reservation takes. */
  get burst(): number {
    return this.#burst;
  }

  /** Tokens available at `now` (negative while reservations are being earned). */
  tokens(now: number): number {
    this.#advance(now);
    return this.#tokens;
  }

  /** True when the bucket is full at `now`: it then behaves exactly like a new one. */
  full(now: number): boolean {
    return this.tokens(now) >= this.#burst;
  }

  /** Changes rate and burst, keeping the tokens earned so far (at most the new burst). */
  setRate(rate: number, burst: number, now: number): void {
    this.#advance(now);
    this.#rate = rate;
    this.#burst = burst;
    if (this.#tokens > burst) this.#tokens = burst;
  }

  /**
   * Takes `n` tokens (callers keep `n` to at most {@linkcode burst}), going
   * into debt if need be.
   *
   * @returns milliseconds until the taken tokens are earned: 0 when they were there
   */
  reserve(n: number, now: number): number {
    this.#advance(now);
    this.#tokens -= n;
    return this.#tokens >= 0 ? 0 : (-this.#tokens / this.#rate) * 1000;
  }

  /** Gives back tokens a reservation took and did not use. */
  refund(n: number, now: number): void {
    this.#advance(now);
    this.#tokens = Math.min(this.#burst, this.#tokens + n);
  }

  /** Takes `n` tokens only if they are there now (Go's `AllowN`); never goes into debt. */
  tryTake(n: number, now: number): boolean {
    this.#advance(now);
    if (this.#tokens < n) return false;
    this.#tokens -= n;
    return true;
  }

  #advance(now: number): void {
    if (now <= this.#last) return;
    const earned = ((now - this.#last) / 1000) * this.#rate;
    this.#tokens = Math.min(this.#burst, this.#tokens + earned);
    this.#last = now;
  }
}
