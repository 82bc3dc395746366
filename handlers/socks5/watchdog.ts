/**
 * A handshake deadline for conns that have no deadlines of their own: when
 * the time is up (or the signal aborts) it runs `fire`, which closes the conns
 * so pending reads fail; `error()` then turns that I/O error into the reason.
 *
 * @module
 */

export class Watchdog {
  #timer: ReturnType<typeof setTimeout> | undefined;
  #signal?: AbortSignal;
  #onAbort?: () => void;
  #reason: unknown;

  /**
   * @param ms deadline in milliseconds; 0 or less means none
   * @param what names the guarded step in the timeout message
   * @param fire closes whatever the guarded step is blocked on
   */
  constructor(ms: number, what: string, fire: () => void, signal?: AbortSignal) {
    const trip = (reason: unknown) => {
      if (this.#reason !== undefined) return;
      this.#reason = reason;
      this.stop();
      fire();
    };
    if (ms > 0) {
      this.#timer = setTimeout(() => trip(new Deno.errors.TimedOut(`${what} timed out after ${ms / 1000}s`)), ms);
    }
    if (signal) {
      this.#signal = signal;
      this.#onAbort = () => trip(signal.reason ?? new Error(`${what} aborted`));
      if (signal.aborted) this.#onAbort();
      else signal.addEventListener("abort", this.#onAbort, { once: true });
    }
  }

  /** True once the deadline passed or the signal aborted. */
  get tripped(): boolean {
    return this.#reason !== undefined;
  }

  /** The timeout/abort reason when tripped (the I/O error it caused is noise), else `err`. */
  error(err: unknown): unknown {
    return this.#reason ?? err;
  }

  /** Throws the reason when tripped. */
  check(): void {
    if (this.#reason !== undefined) throw this.#reason;
  }

  /** Disarms the timer and the abort listener. Idempotent. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#onAbort) this.#signal?.removeEventListener("abort", this.#onAbort);
    this.#onAbort = undefined;
  }
}
