/**
 * GOST's node selector: a strategy picks among the nodes that are not marked
 * failed; a node is skipped for `failTimeout` after `maxFails` failures.
 *
 * @module
 */

export type Strategy = "round" | "rr" | "random" | "rand" | "fifo" | "ha" | "hash";

export interface SelectorOptions {
  /** @default "round" */
  strategy?: Strategy | string;
  /** @default 1 */
  maxFails?: number;
  /** Milliseconds a failed node is skipped. @default 10000 */
  failTimeout?: number;
}

export const DEFAULT_MAX_FAILS = 1;
export const DEFAULT_FAIL_TIMEOUT = 10_000;

interface Mark {
  fails: number;
  at: number;
}

/** Selects items with failure marking. */
export class Selector<T> {
  readonly #items: T[];
  readonly #marks = new Map<T, Mark>();
  readonly #strategy: string;
  readonly #maxFails: number;
  readonly #failTimeout: number;
  #next = 0;

  constructor(items: T[], opts: SelectorOptions = {}) {
    this.#items = items;
    this.#strategy = (opts.strategy ?? "round").toLowerCase();
    this.#maxFails = opts.maxFails && opts.maxFails > 0 ? opts.maxFails : DEFAULT_MAX_FAILS;
    this.#failTimeout = opts.failTimeout && opts.failTimeout > 0 ? opts.failTimeout : DEFAULT_FAIL_TIMEOUT;
  }

  get size(): number {
    return this.#items.length;
  }
  get items(): readonly T[] {
    return this.#items;
  }

  #alive(t: T): boolean {
    const m = this.#marks.get(t);
    if (!m || m.fails < this.#maxFails) return true;
    if (Date.now() - m.at >= this.#failTimeout) {
      this.#marks.delete(t);
      return true;
    }
    return false;
  }

  /**
   * The next item by strategy among those `accept` lets through; when every
   * one of them is failed, falls back to all of them (dost never turns a
   * dead hop into a direct dial).
   */
  select(accept?: (t: T) => boolean): T | undefined {
    const candidates = accept ? this.#items.filter(accept) : this.#items;
    if (candidates.length === 0) return undefined;
    let pool = candidates.length === 1 ? candidates : candidates.filter((t) => this.#alive(t));
    if (pool.length === 0) pool = candidates;
    switch (this.#strategy) {
      case "random":
      case "rand":
        return pool[Math.floor(Math.random() * pool.length)];
      case "fifo":
      case "ha":
        return pool[0];
      default:
        return pool[this.#next++ % pool.length];
    }
  }

  markFailed(t: T): void {
    const m = this.#marks.get(t) ?? { fails: 0, at: 0 };
    m.fails++;
    m.at = Date.now();
    this.#marks.set(t, m);
  }

  markOk(t: T): void {
    this.#marks.delete(t);
  }
}
