/**
 * The answer cache of one resolver, keyed by question (type and name), as
 * GOST's is: shared by all its nameservers, so an answer one nameserver gave
 * also serves the lookups that would go to the others.
 *
 * @module
 */

/** Lifetime of an answer without records, and of one whose records all say TTL 0. @default 60000 */
export const DEFAULT_CACHE_TTL = 60_000;
/** Entries kept at most; the least recently stored go first. @default 4096 */
export const MAX_CACHE_ENTRIES = 4096;

/** One cached answer. */
export interface CacheEntry {
  /** The addresses (possibly none: a negative answer). */
  readonly ips: readonly string[];
  /** `Date.now()` after which the entry is stale. */
  readonly expires: number;
}

/** Question → addresses, bounded in size. Stale entries stay until replaced (async mode serves them). */
export class AnswerCache {
  readonly #entries = new Map<string, CacheEntry>();
  readonly #max: number;

  constructor(max = MAX_CACHE_ENTRIES) {
    this.#max = max;
  }

  /** The entry for `key`, fresh or stale, or `undefined`. */
  get(key: string): CacheEntry | undefined {
    return this.#entries.get(key);
  }

  /** Stores `ips` for `lifetime` milliseconds. */
  set(key: string, ips: readonly string[], lifetime: number, now = Date.now()): void {
    this.#entries.delete(key); // re-inserted last: the map's order is the eviction order
    this.#entries.set(key, { ips: [...ips], expires: now + lifetime });
    while (this.#entries.size > this.#max) this.#entries.delete(this.#entries.keys().next().value!);
  }

  get size(): number {
    return this.#entries.size;
  }

  clear(): void {
    this.#entries.clear();
  }
}

/** The cache key of a question. */
export function cacheKey(type: number, name: string): string {
  return `${type} ${name}`;
}

/**
 * How long to keep an answer, GOST's rule: `ttl > 0` is fixed; `0` is the
 * smallest non-zero record TTL of the answer section, or 60 s when there is
 * none (a negative answer, or records all at TTL 0). `ttl < 0` is never
 * asked: such nameservers do not cache.
 */
export function cacheLifetime(ttl: number, recordTtls: readonly number[]): number {
  if (ttl > 0) return ttl;
  let min = 0;
  for (const t of recordTtls) if (t > 0 && (min === 0 || t < min)) min = t;
  return min > 0 ? min * 1000 : DEFAULT_CACHE_TTL;
}
