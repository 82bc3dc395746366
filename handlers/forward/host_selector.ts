/**
 * Forwarder targets picked by the host a sniffing handler found (gost's
 * `forwarder.nodes[].filter.host` / `host`, x v0.8.1 `hop/hop.go`
 * `checkHost`): `example.com` matches that name only, `.example.com` and
 * `*.example.com` also every name below it. The exact filter wins over a
 * wildcard, a longer wildcard over a shorter one; targets without a host
 * filter serve only names no filter matches (gost also mixes them in with
 * the matching ones, and its `.example.com` matches `badexample.com` too).
 *
 * @module
 */
import type { Target, TargetSelector } from "../types.ts";

/** A target with its host filter (lower-cased; `*.` already turned into `.`), or none. */
export interface HostTarget extends Target {
  host?: string;
}

/** Builds a selector per distinct host filter (and one for the rest) from `make`. */
export class HostSelector implements TargetSelector {
  readonly #groups: { filter: string; sel: TargetSelector; targets: Set<Target> }[] = [];
  readonly #fallback?: { sel: TargetSelector; targets: Set<Target> };

  constructor(targets: HostTarget[], make: (targets: Target[]) => TargetSelector) {
    const by = new Map<string, Target[]>();
    const rest: Target[] = [];
    for (const t of targets) {
      const f = normalizeFilter(t.host);
      if (f === "") rest.push(t);
      else by.set(f, [...(by.get(f) ?? []), t]);
    }
    for (const [filter, list] of by) this.#groups.push({ filter, sel: make(list), targets: new Set(list) });
    // Exact names first, then wildcards from the longest.
    this.#groups.sort((a, b) =>
      Number(a.filter.startsWith(".")) - Number(b.filter.startsWith(".")) || b.filter.length - a.filter.length
    );
    if (rest.length) this.#fallback = { sel: make(rest), targets: new Set(rest) };
  }

  get size(): number {
    return this.#groups.reduce((n, g) => n + g.sel.size, this.#fallback?.sel.size ?? 0);
  }

  /** Without a host only the targets without a filter are candidates. */
  select(): Target | undefined {
    return this.#fallback?.sel.select();
  }

  /** The target for `host` (a port is ignored), or undefined when no filter matches and there is no fallback. */
  selectFor(host: string): Target | undefined {
    const h = stripPort(host).toLowerCase().replace(/\.$/, "");
    for (const g of this.#groups) {
      const f = g.filter;
      if (f.startsWith(".") ? h === f.slice(1) || h.endsWith(f) : h === f) return g.sel.select();
    }
    return this.select();
  }

  markFailed(t: Target): void {
    this.#owner(t)?.markFailed(t);
  }
  markOk(t: Target): void {
    this.#owner(t)?.markOk(t);
  }

  #owner(t: Target): TargetSelector | undefined {
    for (const g of this.#groups) if (g.targets.has(t)) return g.sel;
    return this.#fallback?.targets.has(t) ? this.#fallback.sel : undefined;
  }
}

/** `*.a` → `.a`, `*a` → `.a` (as gost's config parser), lower-cased; "" for none. */
export function normalizeFilter(host: string | undefined): string {
  let h = (host ?? "").trim().toLowerCase();
  if (h.startsWith("*")) {
    h = h.slice(1);
    if (!h.startsWith(".")) h = "." + h;
  }
  return h;
}

/** True when `s` can select by host. */
export function isHostSelector(s: TargetSelector | undefined): s is HostSelector {
  return typeof (s as Partial<HostSelector> | undefined)?.selectFor === "function";
}

function stripPort(hostport: string): string {
  if (hostport.startsWith("[")) {
    const end = hostport.indexOf("]");
    return end > 0 ? hostport.slice(1, end) : hostport;
  }
  const i = hostport.lastIndexOf(":");
  return i >= 0 && hostport.indexOf(":") === i ? hostport.slice(0, i) : hostport;
}
