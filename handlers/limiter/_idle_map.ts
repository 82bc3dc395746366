/**
 * A map of per-client-IP state (token buckets) that stays bounded without a
 * timer: entries that are idle are dropped lazily, when a new entry is added.
 *
 * @module
 */

/** How often (at most) adding an entry sweeps idle ones out. @default 60 s */
export const SWEEP_INTERVAL = 60_000;
/** Entries kept at most; reaching it sweeps, and drops the oldest if need be. @default 65536 */
export const MAX_ENTRIES = 65_536;

export interface IdleMapOptions<E> {
  /**
   * True when `e` may be dropped at `now` without changing behaviour: for a
   * token bucket, when it is full (a full bucket acts exactly like a new one).
   */
  idle(e: E, now: number): boolean;
  /** @default {@linkcode SWEEP_INTERVAL} */
  sweepInterval?: number;
  /** @default {@linkcode MAX_ENTRIES} */
  maxEntries?: number;
}

export class IdleMap<E> {
  readonly #map = new Map<string, E>();
  readonly #idle: (e: E, now: number) => boolean;
  readonly #interval: number;
  readonly #max: number;
  #lastSweep = -Infinity;

  constructor(opts: IdleMapOptions<E>) {
    this.#idle = opts.idle;
    this.#interval = opts.sweepInterval ?? SWEEP_INTERVAL;
    this.#max = opts.maxEntries ?? MAX_ENTRIES;
  }

  get size(): number {
    return this.#map.size;
  }

  get(key: string): E | undefined {
    return this.#map.get(key);
  }

  /** Adds an entry, sweeping first when a sweep is due or the map is full. */
  add(key: string, e: E, now: number): void {
    if (now - this.#lastSweep >= this.#interval || this.#map.size >= this.#max) this.sweep(now);
    this.#map.set(key, e);
  }

  delete(key: string): void {
    this.#map.delete(key);
  }

  entries(): IterableIterator<[string, E]> {
    return this.#map.entries();
  }

  /**
   * Drops idle entries; if the map is still nearly full, drops the oldest
   * ones down to 7/8 of the bound (a flood of new client IPs then costs those
   * IPs their bucket state, not unbounded memory, and a sweep of the whole
   * map runs at most once per `maxEntries / 8` inserts).
   */
  sweep(now: number): void {
    this.#lastSweep = now;
    for (const [k, e] of this.#map) if (this.#idle(e, now)) this.#map.delete(k);
    const keep = this.#max - Math.ceil(this.#max / 8);
    for (const k of this.#map.keys()) {
      if (this.#map.size <= keep) break;
      this.#map.delete(k);
    }
  }
}
