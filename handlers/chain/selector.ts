/**
 * GOST's node selector (x v0.8.1 `selector/`): among the candidates, drop
 * the failed ones (a node is failed for `failTimeout` after `maxFails`
 * failures), then the backups while a primary is left, then a strategy
 * picks. Unlike gost, an all-failed set is never empty: dost keeps using
 * the failed nodes rather than let a hop vanish and dial around the proxy.
 *
 * @module
 */

export type Strategy = "round" | "rr" | "random" | "rand" | "fifo" | "ha";

/** Strategy names dost runs; gost's `hash` needs the client address and is refused at start. */
export const STRATEGIES: ReadonlySet<string> = new Set(["round", "rr", "random", "rand", "fifo", "ha"]);

export interface SelectorOptions {
  /** @default "round" */
  strategy?: Strategy | string;
  /** @default 1 */
  maxFails?: number;
  /** Milliseconds a failed node is skipped. @default 10000 */
  failTimeout?: number;
}

/** What an item may say about itself (node metadata `weight`, `backup`, `maxFails`, `failTimeout`). */
export interface Selectable {
  /** Weight for the random strategy; ≤ 0 counts as 1. */
  weight?: number;
  /** Used only when every other candidate has failed. */
  backup?: boolean;
  /** Overrides the selector's `maxFails` for this item. */
  maxFails?: number;
  /** Overrides the selector's `failTimeout` (ms) for this item. */
  failTimeout?: number;
}

export const DEFAULT_MAX_FAILS = 1;
export const DEFAULT_FAIL_TIMEOUT = 10_000;

interface Mark {
  fails: number;
  at: number;
}

/** Selects items with failure marking. */
export class Selector<T extends Selectable | object> {
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

  /**
   * A failed item keeps its count after `failTimeout` (gost): it is eligible
   * again, and one more failure excludes it again.
   */
  #alive(t: T): boolean {
    const m = this.#marks.get(t);
    const s = t as Selectable;
    const maxFails = s.maxFails && s.maxFails > 0 ? s.maxFails : this.#maxFails;
    const failTimeout = s.failTimeout && s.failTimeout > 0 ? s.failTimeout : this.#failTimeout;
    return !m || m.fails < maxFails || Date.now() - m.at >= failTimeout;
  }

  /**
   * The next item by strategy among those `accept` lets through; when every
   * one of them is failed, falls back to all of them.
   */
  select(accept?: (t: T) => boolean): T | undefined {
    const candidates = accept ? this.#items.filter(accept) : this.#items;
    if (candidates.length === 0) return undefined;
    if (candidates.length === 1) return candidates[0];
    let pool = candidates.filter((t) => this.#alive(t));
    if (pool.length === 0) pool = candidates;
    if (pool.length > 1) {
      const primaries = pool.filter((t) => !(t as Selectable).backup);
      if (primaries.length > 0) pool = primaries;
    }
    switch (this.#strategy) {
      case "random":
      case "rand":
        return weighted(pool);
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

function weighted<T>(pool: T[]): T {
  const w = pool.map((t) => {
    const x = (t as Selectable).weight ?? 0;
    return x > 0 ? x : 1;
  });
  let r = Math.random() * w.reduce((a, b) => a + b, 0);
  for (let i = 0; i < pool.length; i++) {
    r -= w[i];
    if (r < 0) return pool[i];
  }
  return pool[pool.length - 1];
}
