/**
 * Traffic limiters (gost `limiters`): bytes per second per service, per
 * connection and per client IP, as token buckets whose burst is the rate
 * (go-gost/x v0.8.1 `limiter/traffic/traffic.go`, `limiter.go`).
 *
 * @module
 */
import type { Conn } from "../../transports/types.ts";
import { addrIP, cidrContains, type IP, ipKey, parseIP } from "../matcher/ip.ts";
import { IdleMap } from "./_idle_map.ts";
import { fieldCount, type LimitTable, LineError, parseLimitTable } from "./_table.ts";
import { type Direction, LimitedConn, type TrafficBudget } from "./_traffic_conn.ts";
import { TokenBucket } from "./token_bucket.ts";
import { parseBase2Bytes } from "./units.ts";

/** Bytes per second each way; 0 = unlimited. */
export interface TrafficRate {
  /** Bytes read from the client (upload). */
  in: number;
  /** Bytes written to the client (download). */
  out: number;
}

/**
 * Parsed traffic limits: `$` (the service), `$$` (each connection), exact
 * client IPs (one bucket shared by all their connections) and CIDRs (one
 * bucket per client IP inside).
 */
export type TrafficLimits = LimitTable<TrafficRate>;

function parseSize(s: string): number {
  const v = parseBase2Bytes(s);
  if (v === undefined) throw new LineError(`invalid size "${s}" (use B, KB, MB, GB…; a bare number is not a size)`);
  if (v < 0) throw new LineError(`negative size "${s}"`);
  return v;
}

/**
 * Parses traffic limit lines, `KEY IN [OUT]`: KEY is `$`, `$$`, an IP or a
 * CIDR; IN and OUT are sizes per second as gost's `units.ParseBase2Bytes`
 * reads them (`100MB`, `512KB`, `1.5MB`, `0`). A missing OUT, or 0, is
 * unlimited, as in gost (`$$ 10MB` limits uploads only).
 *
 * gost skips a line with fewer than two fields and treats a bad size as
 * unlimited (`16384` does not throttle); dost refuses both, so a typo is
 * found when the config is checked instead of silently not limiting.
 *
 * @throws {RangeError} naming the line: a bad key, a bad or negative size, a missing IN or a fourth field
 */
export function parseTrafficLimits(lines: readonly string[]): TrafficLimits {
  return parseLimitTable<TrafficRate>(lines, "traffic", (fields) => {
    fieldCount(fields, 1, 2, "IN [OUT]");
    const rate = { in: parseSize(fields[0]), out: fields.length > 1 ? parseSize(fields[1]) : 0 };
    return rate.in > 0 || rate.out > 0 ? rate : undefined;
  });
}

/** A bucket per direction, each present only when that direction is limited. */
interface Buckets {
  in?: TokenBucket;
  out?: TokenBucket;
}

interface IPEntry extends Buckets {
  ip: IP;
}

const UNLIMITED: TrafficRate = { in: 0, out: 0 };

/** Makes `b` match `rate`: keeps a bucket's tokens when only its rate changes. */
function sync(b: Buckets, rate: TrafficRate | undefined, now: number): void {
  for (const dir of ["in", "out"] as const) {
    const r = rate?.[dir] ?? 0;
    if (r <= 0) delete b[dir];
    else if (b[dir]) b[dir].setRate(r, r, now);
    else b[dir] = new TokenBucket(r, r, now);
  }
}

function bucketsIdle(e: Buckets, now: number): boolean {
  return (e.in?.full(now) ?? true) && (e.out?.full(now) ?? true);
}

/** What one wrapped conn remembers between reads and writes. */
interface ConnState {
  /** The limiter generation `own` and `ipRate` were computed for. */
  gen: number;
  ip?: IP;
  key: string;
  /** The conn's own `$$` buckets. */
  own: Buckets;
  /** The rate of the conn's IP or CIDR line. */
  ipRate: TrafficRate;
}

export interface TrafficLimiterOptions {
  /** The clock, in milliseconds. @default performance.now */
  now?: () => number;
}

/**
 * One traffic limiter (a `limiters[]` entry), shared by the services that
 * name it. Each wrapped conn is throttled by the `$` bucket, its own `$$`
 * bucket and its IP's bucket at once, so the slowest wins. The IP's rate
 * is, per direction, that of its exact IP line, else that of the most
 * specific CIDR line holding it that limits that direction (as in gost, a
 * 0 in an exact line falls back to the CIDR; where CIDRs overlap, gost
 * takes the widest and dost the most specific).
 *
 * Per-IP buckets (IP and CIDR lines) are created on first use and dropped
 * once full, lazily when another is added: a full bucket behaves exactly
 * like a new one, and with burst = rate one is full after a second or two
 * of idleness, so the map holds only recently active IPs.
 */
export class TrafficLimiter {
  #limits!: TrafficLimits;
  #gen = 0;
  /** When the limits were last set: a conn's own buckets are brought up to date as of then. */
  #updatedAt = 0;
  readonly #service: Buckets = {};
  readonly #perIP = new IdleMap<IPEntry>({ idle: bucketsIdle });
  readonly #now: () => number;

  constructor(limits: TrafficLimits, opts: TrafficLimiterOptions = {}) {
    this.#now = opts.now ?? (() => performance.now());
    this.update(limits);
  }

  /** The limits in force. */
  get limits(): TrafficLimits {
    return this.#limits;
  }

  /**
   * Replaces the limits. Conns already wrapped pick them up on their next
   * read or write; buckets whose key stays keep their tokens.
   */
  update(limits: TrafficLimits): void {
    const now = this.#now();
    this.#limits = limits;
    this.#gen++;
    this.#updatedAt = now;
    sync(this.#service, limits.service, now);
    for (const [key, e] of this.#perIP.entries()) {
      sync(e, this.#ipRate(e.ip), now);
      if (!e.in && !e.out) this.#perIP.delete(key);
    }
  }

  /** Wraps an accepted conn; reads and writes pass through untouched while nothing limits them. */
  wrap(conn: Conn): Conn {
    const ip = parseIP(addrIP(conn.remoteAddr));
    const state: ConnState = { gen: -1, ip, key: ip ? ipKey(ip) : "", own: {}, ipRate: UNLIMITED };
    const budget: TrafficBudget = { buckets: (dir) => this.#buckets(state, dir), now: this.#now };
    return new LimitedConn(conn, budget);
  }

  /** Per direction: the exact IP line, else the most specific CIDR line that limits that direction. */
  #ipRate(ip: IP): TrafficRate {
    const exact = this.#limits.ips.get(ipKey(ip));
    const rate = { in: exact?.in ?? 0, out: exact?.out ?? 0 };
    for (const { cidr, value } of this.#limits.cidrs) {
      if (rate.in > 0 && rate.out > 0) break;
      if (!cidrContains(cidr, ip)) continue;
      if (rate.in === 0) rate.in = value.in;
      if (rate.out === 0) rate.out = value.out;
    }
    return rate;
  }

  #buckets(s: ConnState, dir: Direction): TokenBucket[] {
    if (s.gen !== this.#gen) {
      s.gen = this.#gen;
      // Nothing touched the conn's buckets since the update (this is their first use after it), so
      // changing them as of the update's time is exact, as if they had been changed then.
      sync(s.own, this.#limits.conn, this.#updatedAt);
      s.ipRate = s.ip ? this.#ipRate(s.ip) : UNLIMITED;
    }
    const out: TokenBucket[] = [];
    const svc = this.#service[dir];
    if (svc) out.push(svc);
    const own = s.own[dir];
    if (own) out.push(own);
    if (s.ipRate[dir] > 0) {
      let e = this.#perIP.get(s.key);
      if (!e) {
        const now = this.#now();
        e = { ip: s.ip! };
        sync(e, s.ipRate, now);
        this.#perIP.add(s.key, e, now);
      }
      const b = e[dir];
      if (b) out.push(b);
    }
    return out;
  }
}
