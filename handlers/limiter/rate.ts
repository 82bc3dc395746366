/**
 * Request-rate limiters (gost `rlimiters`): handler invocations per second
 * per service and per client IP, as token buckets with burst `int(R)+1`
 * (go-gost/x v0.8.1 `limiter/rate/rate.go`, `generator.go`).
 *
 * @module
 */
import { type IP, ipKey, parseIP } from "../matcher/ip.ts";
import { IdleMap } from "./_idle_map.ts";
import { cidrValue, fieldCount, type LimitTable, LineError, parseLimitTable } from "./_table.ts";
import { TokenBucket } from "./token_bucket.ts";

/**
 * Parsed rate limits in requests per second: `$` (one bucket for the
 * service), exact IPs and CIDRs (one bucket per client IP), and `$$` (one
 * bucket per client IP that no IP or CIDR line names).
 */
export type RateLimits = LimitTable<number>;

const FLOAT = /^\+?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * Parses rate limit lines, `KEY R` with R a decimal number of requests per
 * second (`100`, `0.5`). `0` limits nothing (gost skips such lines).
 *
 * @throws {RangeError} naming the line: a bad key, or R missing, not a number or followed by more fields
 */
export function parseRateLimits(lines: readonly string[]): RateLimits {
  return parseLimitTable<number>(lines, "rate", (fields) => {
    fieldCount(fields, 1, 1, "R");
    if (!FLOAT.test(fields[0])) throw new LineError(`"${fields[0]}" is not a rate`);
    const r = Number(fields[0]);
    if (!Number.isFinite(r)) throw new LineError(`"${fields[0]}" is not a rate`);
    return r > 0 ? r : undefined;
  });
}

/** gost's burst for `R` requests per second. */
export function rateBurst(r: number): number {
  return Math.trunc(r) + 1;
}

interface IPEntry {
  ip: IP;
  bucket: TokenBucket;
}

export interface RateLimiterOptions {
  /** The clock, in milliseconds. @default performance.now */
  now?: () => number;
}

/**
 * One request-rate limiter. Buckets keep their tokens across
 * {@linkcode update} when their key stays (gost starts them afresh on every
 * reload); per-IP buckets are dropped once full, lazily.
 */
export class RateLimiter {
  #limits!: RateLimits;
  #service?: TokenBucket;
  readonly #perIP = new IdleMap<IPEntry>({ idle: (e, now) => e.bucket.full(now) });
  readonly #now: () => number;

  constructor(limits: RateLimits, opts: RateLimiterOptions = {}) {
    this.#now = opts.now ?? (() => performance.now());
    this.update(limits);
  }

  /** The limits in force. */
  get limits(): RateLimits {
    return this.#limits;
  }

  /** Replaces the limits at once. */
  update(limits: RateLimits): void {
    const now = this.#now();
    this.#limits = limits;
    this.#service = this.#sync(this.#service, limits.service, now);
    for (const [key, e] of this.#perIP.entries()) {
      const b = this.#sync(e.bucket, this.#ipRate(e.ip), now);
      if (b) e.bucket = b;
      else this.#perIP.delete(key);
    }
  }

  /**
   * Takes one token for a request from `ip` (`""` when the client has no
   * IP: only `$` applies) from every applicable bucket, even when one of
   * them refuses, as gost does.
   *
   * @returns true when every applicable bucket had a token
   */
  allow(ip: string): boolean {
    const now = this.#now();
    let ok = true;
    if (this.#service) ok = this.#service.tryTake(1, now);
    const parsed = ip === "" ? undefined : parseIP(ip);
    if (parsed) {
      const rate = this.#ipRate(parsed);
      if (rate !== undefined) {
        const key = ipKey(parsed);
        let e = this.#perIP.get(key);
        if (!e) {
          e = { ip: parsed, bucket: new TokenBucket(rate, rateBurst(rate), now) };
          this.#perIP.add(key, e, now);
        }
        if (!e.bucket.tryTake(1, now)) ok = false;
      }
    }
    return ok;
  }

  #ipRate(ip: IP): number | undefined {
    const l = this.#limits;
    return l.ips.get(ipKey(ip)) ?? cidrValue(l, ip) ?? l.conn;
  }

  #sync(b: TokenBucket | undefined, rate: number | undefined, now: number): TokenBucket | undefined {
    if (rate === undefined) return undefined;
    if (!b) return new TokenBucket(rate, rateBurst(rate), now);
    b.setRate(rate, rateBurst(rate), now);
    return b;
  }
}
