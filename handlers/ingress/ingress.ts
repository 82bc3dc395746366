/**
 * Ingress: hostname → tunnel rules for the tunnel handler's entrypoints
 * (x v0.8.1 `ingress/ingress.go`). `*.example.com` and `.example.com` both
 * mean "example.com and every name below it"; a lookup tries the exact name,
 * then `.name`, then each parent wildcard (`.b.example.com`, `.example.com`,
 * `.com`). A later rule for the same key replaces an earlier one.
 *
 * Unlike gost, a rule whose endpoint is not a UUID, or a line that is not
 * `hostname endpoint`, is an error rather than skipped; names are matched
 * case-insensitively.
 *
 * @module
 */
import { formatUuid, parseEndpoint, type TunnelEndpoint } from "./endpoint.ts";

/** One rule as configured. */
export interface IngressRule {
  hostname: string;
  endpoint: string;
}

/** A rule that matched, with its parsed endpoint. */
export interface IngressMatch extends TunnelEndpoint {
  hostname: string;
  endpoint: string;
}

const HOSTNAME = /^[A-Za-z0-9_*]([A-Za-z0-9_.-]*)$/;

/** The lookup key of a rule's hostname (`*.a` and `.a` → `.a`, `*a` → `a`); throws TypeError when malformed. */
function ruleKey(hostname: string): string {
  let h = hostname.trim().toLowerCase();
  if (h === "*") return "*"; // dost: the default for plain TCP (see Ingress.default)
  if (h.startsWith("*")) h = h.slice(1);
  const bare = h.startsWith(".") ? h.slice(1) : h;
  if (bare === "" || !HOSTNAME.test(bare) || bare.includes("*") || bare.includes("..") || bare.endsWith(".")) {
    throw new TypeError(`Invalid ingress hostname "${hostname}"`);
  }
  return h;
}

/** Checks and compiles rules; throws TypeError naming the first bad one. */
export function compileRules(rules: readonly IngressRule[]): Map<string, IngressMatch> {
  const out = new Map<string, IngressMatch>();
  for (const r of rules) {
    const key = ruleKey(r.hostname ?? "");
    let ep: TunnelEndpoint;
    try {
      ep = parseEndpoint((r.endpoint ?? "").trim());
    } catch (err) {
      throw new TypeError(`Ingress rule for "${r.hostname}": ${(err as Error).message}`);
    }
    out.set(key, { hostname: r.hostname, endpoint: r.endpoint, ...ep });
  }
  return out;
}

/**
 * Rules from loader lines (`hostname endpoint`, `#` comments already gone;
 * a Redis hash gives `field value` lines of the same shape).
 */
export function parseIngressLines(lines: readonly string[]): IngressRule[] {
  return lines.map((line) => {
    const parts = line.trim().split(/\s+/).filter((s) => s !== "");
    if (parts.length !== 2) throw new TypeError(`Invalid ingress line "${line}": want "hostname endpoint"`);
    return { hostname: parts[0], endpoint: parts[1] };
  });
}

/** A named, replaceable set of rules. */
export class Ingress {
  #rules: Map<string, IngressMatch>;

  constructor(readonly name: string, rules: readonly IngressRule[] = []) {
    this.#rules = compileRules(rules);
  }

  /** Replaces every rule (already checked by {@linkcode compileRules}, or checked here). */
  set(rules: readonly IngressRule[] | Map<string, IngressMatch>): void {
    this.#rules = rules instanceof Map ? rules : compileRules(rules);
  }

  get size(): number {
    return this.#rules.size;
  }

  /**
   * The rule for hostname `*`: where an entrypoint sends plain TCP, which
   * names no host (a dost extension; gost never matches `*`). It is not used
   * for HTTP or TLS.
   */
  get default(): IngressMatch | undefined {
    return this.#rules.get("*");
  }

  /** The rule for `host` (a port is ignored), or undefined. */
  getRule(host: string): IngressMatch | undefined {
    let h = stripPort(host).toLowerCase();
    if (h.endsWith(".")) h = h.slice(0, -1);
    if (h === "" || h === "*") return undefined;
    const exact = this.#rules.get(h) ?? this.#rules.get("." + h);
    if (exact) return exact;
    for (let i = h.indexOf("."); i >= 0; i = h.indexOf(".", i + 1)) {
      const m = this.#rules.get(h.slice(i));
      if (m) return m;
    }
    return undefined;
  }

  /** The rules in a printable form (for logs and tests). */
  list(): { hostname: string; endpoint: string }[] {
    return [...this.#rules.values()].map((m) => ({
      hostname: m.hostname,
      endpoint: (m.private ? "$" : "") + formatUuid(m.id),
    }));
  }
}

/** `host` of `host:port` / `[v6]:port`; anything else as given (brackets removed). */
export function stripPort(hostport: string): string {
  if (hostport.startsWith("[")) {
    const end = hostport.indexOf("]");
    return end > 0 ? hostport.slice(1, end) : hostport;
  }
  const i = hostport.lastIndexOf(":");
  if (i >= 0 && hostport.indexOf(":") === i) return hostport.slice(0, i);
  return hostport;
}
