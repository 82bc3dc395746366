/**
 * Connection-count limiters (gost `climiters`): at most N open connections
 * per service and per client IP (go-gost/x v0.8.1 `limiter/conn/conn.go`).
 *
 * @module
 */
import { ipKey, parseIP } from "../matcher/ip.ts";
import { cidrValue, fieldCount, type LimitTable, LineError, parseLimitTable } from "./_table.ts";

/**
 * Parsed connection limits: `$` (one counter for the service), exact IPs
 * and CIDRs (one counter per client IP), and `$$` (one counter per client
 * IP that no IP or CIDR line names).
 */
export type ConnLimits = LimitTable<number>;

/**
 * Parses connection limit lines, `KEY N` with N an integer. `0` limits
 * nothing (gost skips such lines).
 *
 * @throws {RangeError} naming the line: a bad key, or N missing, not an integer or followed by more fields
 */
export function parseConnLimits(lines: readonly string[]): ConnLimits {
  return parseLimitTable<number>(lines, "connection", (fields) => {
    fieldCount(fields, 1, 1, "N");
    if (!/^\+?\d+$/.test(fields[0])) throw new LineError(`"${fields[0]}" is not a connection count`);
    const n = Number(fields[0]);
    return n > 0 ? n : undefined;
  });
}

/**
 * One connection limiter. Counts are kept apart from the limits, so
 * {@linkcode update} applies new limits to the connections already open
 * (gost restarts its counters at zero on every reload).
 */
export class ConnLimiter {
  #limits!: ConnLimits;
  #service = 0;
  /** Open connections per client IP (by `ipKey`); an IP leaves the map when its last one closes. */
  readonly #perIP = new Map<string, number>();

  constructor(limits: ConnLimits) {
    this.update(limits);
  }

  /** The limits in force. */
  get limits(): ConnLimits {
    return this.#limits;
  }

  /** Replaces the limits; open connections stay counted. */
  update(limits: ConnLimits): void {
    this.#limits = limits;
  }

  /** Open connections counted for the service. */
  get active(): number {
    return this.#service;
  }

  /**
   * Counts a new connection from `ip` (`""` when the client has no IP: only
   * `$` applies). Every applicable counter goes up, unless one would pass
   * its limit: then none does.
   *
   * @returns a function that uncounts it (calling it again does nothing), or
   * `undefined` when a limit refuses the connection
   */
  acquire(ip: string): (() => void) | undefined {
    const l = this.#limits;
    if (l.service !== undefined && this.#service >= l.service) return undefined;
    const parsed = ip === "" ? undefined : parseIP(ip);
    const key = parsed ? ipKey(parsed) : undefined;
    if (parsed && key) {
      const max = l.ips.get(key) ?? cidrValue(l, parsed) ?? l.conn;
      if (max !== undefined && (this.#perIP.get(key) ?? 0) >= max) return undefined;
      this.#perIP.set(key, (this.#perIP.get(key) ?? 0) + 1);
    }
    this.#service++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#service--;
      if (key) {
        const n = (this.#perIP.get(key) ?? 1) - 1;
        if (n > 0) this.#perIP.set(key, n);
        else this.#perIP.delete(key);
      }
    };
  }
}
