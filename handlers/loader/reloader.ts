/**
 * Periodic reload that keeps the last good data (GOST's `reload:` key; x@HEAD
 * `auth/auth.go` keeps the old set on failure, dost does so for every object).
 *
 * @module
 */

/** Shortest reload period; GOST clamps shorter ones to 1 s. @default 1000 */
export const MIN_RELOAD_PERIOD = 1000;
/** Longest delay `setTimeout` honours (about 24.8 days); longer periods wait this long. */
const MAX_TIMER = 2 ** 31 - 1;

export interface ReloaderOptions<T> {
  /** Period in ms; <= 0 loads once. Values below 1 s are clamped to 1 s, like GOST. */
  period: number;
  /** Loads the data; should stop when `signal` aborts. */
  load: (signal: AbortSignal) => Promise<T>;
  /** Installs freshly loaded data. */
  apply: (value: T) => void;
  /** Reports a failed reload (or a throwing `apply`); the last good data stays. */
  onError: (err: unknown) => void;
  /** Lower bound of the period, for tests only. @default 1000 */
  minPeriod?: number;
}

/** Loads once at start, then every period; a failed reload keeps the last good data. */
export class Reloader<T> {
  readonly #opts: ReloaderOptions<T>;
  readonly #period: number;
  #started = false;
  #closed = false;
  #timer?: ReturnType<typeof setTimeout>;
  #inFlight?: AbortController;

  constructor(opts: ReloaderOptions<T>) {
    this.#opts = opts;
    const min = opts.minPeriod ?? MIN_RELOAD_PERIOD;
    this.#period = opts.period > 0 ? Math.min(Math.max(opts.period, min), MAX_TIMER) : 0;
  }

  /** The effective period in ms after clamping; 0 = load once. */
  get period(): number {
    return this.#period;
  }

  /**
   * Runs the first load and applies it; rejects if that fails (dost fails
   * closed at start) or the reloader is closed meanwhile. Then schedules
   * reloads. May be called once.
   */
  async start(): Promise<void> {
    if (this.#started) throw new Error("Reloader already started");
    this.#started = true;
    if (this.#closed) throw new Error("Reloader closed");
    const value = await this.#load();
    if (this.#closed) throw new Error("Reloader closed before its first load finished");
    this.#opts.apply(value);
    this.#schedule();
  }

  /** Stops the timer and aborts a load in flight; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#inFlight?.abort(new Deno.errors.Interrupted("Reloader closed"));
  }

  async #load(): Promise<T> {
    const ac = new AbortController();
    this.#inFlight = ac;
    try {
      return await this.#opts.load(ac.signal);
    } finally {
      if (this.#inFlight === ac) this.#inFlight = undefined;
    }
  }

  #schedule(): void {
    if (this.#closed || this.#period <= 0) return;
    this.#timer = setTimeout(() => this.#tick(), this.#period);
  }

  async #tick(): Promise<void> {
    this.#timer = undefined;
    try {
      const value = await this.#load();
      if (this.#closed) return;
      this.#opts.apply(value);
    } catch (e) {
      if (this.#closed) return;
      try {
        this.#opts.onError(e);
      } catch {
        // a throwing reporter must not stop the reloads
      }
    }
    this.#schedule();
  }
}
