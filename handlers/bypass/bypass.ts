/**
 * Target filters (gost `bypass`): decide whether a request's target
 * `host:port` is bypassed. A service refuses bypassed targets; a hop or
 * node is skipped for them. Pattern classes and matching order follow
 * go-gost/x v0.8.1 `bypass/bypass.go` (spec access-control.md §5.2–5.3).
 *
 * @module
 */
import { compileGlob } from "../matcher/glob.ts";
import { goSplitHostPort, hostOf, parsePortRange, type PortRange } from "../matcher/hostport.ts";
import { type CIDR, cidrContains, type IP, parseCIDR, parseIP } from "../matcher/ip.ts";

/** Whether a target is bypassed. */
export interface BypassMatcher {
  /** True when `addr` (`host:port` or a bare host) is bypassed. */
  contains(addr: string): boolean;
  readonly whitelist: boolean;
}

interface Compiled {
  ranges: [IP, IP][];
  /**
   * Address patterns: host (or `.suffix`) → port ranges, `null` = any port.
   * gost keeps one range per host, so `h:80` and `h:443` lose one of them;
   * dost keeps both.
   */
  addrs: Map<string, (PortRange | null)[]>;
  cidrs: CIDR[];
  globs: { re: RegExp; ports: PortRange | null }[];
}

const cmp = (
  a: IP,
  b: IP,
): number => (a.v6 !== b.v6 ? (a.v6 ? 1 : -1) : a.value < b.value ? -1 : a.value > b.value ? 1 : 0);

/** Sorts patterns into gost's four classes, first that fits. */
export function compilePatterns(patterns: readonly string[]): Compiled {
  const c: Compiled = { ranges: [], addrs: new Map(), cidrs: [], globs: [] };
  for (const raw of patterns) {
    const p = raw.trim();
    if (p === "") continue;
    const cidr = parseCIDR(p);
    if (cidr) {
      c.cidrs.push(cidr);
      continue;
    }
    if (/[*?]/.test(p)) {
      const hp = goSplitHostPort(p);
      const re = compileGlob(hp?.host || p);
      if (re) {
        c.globs.push({ re, ports: hp ? parsePortRange(hp.port) ?? null : null });
        continue;
      }
    }
    const range = parseIPRange(p);
    if (range) {
      c.ranges.push(range);
      continue;
    }
    const hp = goSplitHostPort(p);
    const [key, ports] = !hp || hp.host === "" ? [p, null] : [hp.host, parsePortRange(hp.port) ?? null];
    const list = c.addrs.get(key);
    if (list) list.push(ports);
    else c.addrs.set(key, [ports]);
  }
  return c;
}

function parseIPRange(s: string): [IP, IP] | undefined {
  const parts = s.split("-");
  if (parts.length > 2) return undefined;
  const ips = parts.map((x) => parseIP(x.trim()));
  if (ips.some((x) => !x)) return undefined;
  return [ips[0]!, ips[ips.length - 1]!];
}

function portIn(r: PortRange | null, port: number): boolean {
  return r === null || (port >= r.min && port <= r.max);
}

/** gost's `matched`: ranges, then address patterns (host, .host, dot suffixes), then CIDRs, then globs. */
export function matches(c: Compiled, addr: string): boolean {
  const hp = goSplitHostPort(addr);
  let host = hp?.host || addr;
  const port = hp && /^\d+$/.test(hp.port) ? Number(hp.port) : 0;
  const ip = parseIP(host);
  if (ip && c.ranges.some(([lo, hi]) => cmp(ip, lo) >= 0 && cmp(ip, hi) <= 0)) return true;
  if (c.addrs.size) {
    const hit = (k: string) => c.addrs.get(k)?.some((r) => portIn(r, port)) ?? false;
    if (hit(host) || hit("." + host)) return true;
    for (let i = host.indexOf("."); i > 0; i = host.indexOf(".")) {
      if (hit(host.slice(i))) return true;
      host = host.slice(i + 1);
    }
  }
  if (ip && c.cidrs.some((x) => cidrContains(x, ip))) return true;
  const h = hostOf(addr);
  return c.globs.some((g) => g.re.test(h) && portIn(g.ports, port));
}

/** One named bypass: patterns (inline and loaded) with blacklist or whitelist sense. */
export class Bypass implements BypassMatcher {
  #compiled: Compiled;

  constructor(readonly name: string, patterns: readonly string[], readonly whitelist = false) {
    this.#compiled = compilePatterns(patterns);
  }

  /** Replaces the patterns (reload). */
  update(patterns: readonly string[]): void {
    this.#compiled = compilePatterns(patterns);
  }

  contains(addr: string): boolean {
    if (addr === "") return false;
    const m = matches(this.#compiled, addr);
    return this.whitelist ? !m : m;
  }
}

/**
 * Several bypasses (`bypasses: [a, b]`): bypassed when there is a whitelist
 * and the target matches none of the whitelists, or when any blacklist
 * matches (gost `bypassGroup`: whitelists are OR-ed).
 */
export class BypassGroup implements BypassMatcher {
  constructor(readonly members: readonly BypassMatcher[]) {}

  get whitelist(): boolean {
    return this.members.some((m) => m.whitelist);
  }

  contains(addr: string): boolean {
    const white = this.members.filter((m) => m.whitelist);
    if (white.length && white.every((m) => m.contains(addr))) return true;
    return this.members.some((m) => !m.whitelist && m.contains(addr));
  }
}
