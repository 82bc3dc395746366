/**
 * Client filters (gost `admission`): IP literals, CIDRs and host names
 * (resolved once per load) checked against a client's address, as
 * blacklist or whitelist (go-gost/x v0.8.1 `admission/admission.go`).
 *
 * @module
 */
import { type CIDR, cidrContains, ipKey, parseCIDR, parseIP } from "../matcher/ip.ts";

/** Admits or refuses a client by its IP. */
export interface Admitter {
  /** True when the client at `ip` may use the service; an empty `ip` (no IP address) is admitted. */
  admit(ip: string): boolean;
}

interface Compiled {
  ips: Set<string>;
  cidrs: CIDR[];
}

/**
 * Turns patterns into IPs and CIDRs. gost resolves a host name with the
 * system resolver and drops one that does not resolve; dost refuses it
 * instead (a dropped entry silently opens a blacklist).
 *
 * @throws {TypeError} naming a pattern that is neither an IP, a CIDR nor a resolvable name
 */
export async function compileAdmission(patterns: readonly string[]): Promise<Compiled> {
  const c: Compiled = { ips: new Set(), cidrs: [] };
  for (const raw of patterns) {
    const p = raw.trim();
    if (p === "") continue;
    const ip = parseIP(p);
    if (ip) {
      c.ips.add(ipKey(ip));
      continue;
    }
    const cidr = parseCIDR(p);
    if (cidr) {
      c.cidrs.push(cidr);
      continue;
    }
    if (p.includes("/") || /\s|:/.test(p)) throw new TypeError(`Invalid admission pattern "${p}"`);
    let addr: string;
    try {
      // Names are rare in admission lists: the resolver module is imported only for them.
      const { lookup } = await import("node:dns/promises");
      addr = (await lookup(p)).address;
    } catch (err) {
      throw new TypeError(`Admission pattern "${p}" does not resolve: ${(err as Error).message}`);
    }
    c.ips.add(ipKey(parseIP(addr)!));
  }
  return c;
}

/** One named admission. */
export class Admission implements Admitter {
  #compiled: Compiled = { ips: new Set(), cidrs: [] };

  constructor(readonly name: string, readonly whitelist = false) {}

  /** Replaces the compiled patterns (first load and reloads). */
  set(compiled: Compiled): void {
    this.#compiled = compiled;
  }

  admit(ip: string): boolean {
    if (ip === "") return true;
    const parsed = parseIP(ip);
    const c = this.#compiled;
    const matched = parsed !== undefined &&
      (c.ips.has(ipKey(parsed)) || c.cidrs.some((x) => cidrContains(x, parsed)));
    return this.whitelist ? matched : !matched;
  }
}

/** Several admissions: every one must admit (gost and its docs agree). */
export class AdmissionGroup implements Admitter {
  constructor(readonly members: readonly Admitter[]) {}
  admit(ip: string): boolean {
    return this.members.every((m) => m.admit(ip));
  }
}
