/**
 * The line grammar every gost limiter shares (`KEY VALUE...`, whitespace
 * separated; KEY is `$`, `$$`, an IP or a CIDR) and the table it parses
 * into, with the lookup of a client IP's entry.
 *
 * @module
 */
import { type CIDR, cidrContains, type IP, ipKey, parseCIDR, parseIP } from "../matcher/ip.ts";

/** The service-wide key. */
export const SERVICE_KEY = "$";
/** The per-connection (traffic) or per-IP (conn, rate) key. */
export const CONN_KEY = "$$";

/** Limits by key; only lines that limit something are kept. */
export interface LimitTable<V> {
  /** `$`: the whole service. */
  service?: V;
  /** `$$`: each connection (traffic), or each client IP no IP/CIDR line names (conn, rate). */
  conn?: V;
  /** Exact client IPs, keyed by `ipKey` (so `::ffff:1.2.3.4` is `1.2.3.4`). */
  ips: Map<string, V>;
  /** CIDRs, most specific first. */
  cidrs: { cidr: CIDR; value: V }[];
}

/** Why a line's values are bad; {@linkcode parseLimitTable} turns it into a `RangeError` naming the line. */
export class LineError extends Error {}

/**
 * Parses one line's value fields (after the key) into a value, or
 * `undefined` when the line limits nothing (gost skips it).
 *
 * @throws {LineError} saying what is wrong with the values
 */
export type ValueParser<V> = (fields: string[]) => V | undefined;

/**
 * Parses limiter lines into a table. Blank lines are skipped; a later line
 * for the same key replaces an earlier one (gost keeps them in a map).
 *
 * @throws {RangeError} naming the first bad line: a key that is not `$`, `$$`, an IP or a CIDR, or a bad value
 */
export function parseLimitTable<V>(lines: readonly string[], kind: string, parse: ValueParser<V>): LimitTable<V> {
  const t: LimitTable<V> = { ips: new Map(), cidrs: [] };
  const cidrs = new Map<string, { cidr: CIDR; value: V }>();
  for (const raw of lines) {
    const line = raw.replaceAll("\t", " ").trim();
    if (line === "") continue;
    const [key, ...fields] = line.split(/ +/);
    const bad = (why: string) => new RangeError(`Invalid ${kind} limit "${line}": ${why}`);
    const special = key === SERVICE_KEY || key === CONN_KEY;
    const ip = special ? undefined : parseIP(key);
    const cidr = special || ip ? undefined : parseCIDR(key);
    if (!special && !ip && !cidr) throw bad(`key "${key}" is not $, $$, an IP address or a CIDR`);
    let value: V | undefined;
    try {
      value = parse(fields);
    } catch (err) {
      if (err instanceof LineError) throw bad(err.message);
      throw err;
    }
    if (key === SERVICE_KEY) {
      t.service = value;
    } else if (key === CONN_KEY) {
      t.conn = value;
    } else if (ip) {
      if (value === undefined) t.ips.delete(ipKey(ip));
      else t.ips.set(ipKey(ip), value);
    } else if (cidr) {
      const id = `${cidr.v6}/${cidr.base.toString(16)}/${cidr.bits}`;
      cidrs.delete(id);
      if (value !== undefined) cidrs.set(id, { cidr, value });
    }
  }
  t.cidrs = [...cidrs.values()].sort((a, b) => b.cidr.bits - a.cidr.bits);
  return t;
}

/** The value of the most specific CIDR holding `ip`. */
export function cidrValue<V>(t: LimitTable<V>, ip: IP): V | undefined {
  for (const e of t.cidrs) if (cidrContains(e.cidr, ip)) return e.value;
  return undefined;
}

/** Checks the number of value fields. */
export function fieldCount(fields: string[], min: number, max: number, what: string): void {
  if (fields.length < min) throw new LineError(`missing ${what}`);
  if (fields.length > max) throw new LineError(`unexpected "${fields.slice(max).join(" ")}" after ${what}`);
}
