/**
 * The keys of GOST's schema that dost does not run yet. A config that sets
 * one is refused at start, naming file:line and key: silently dropping an
 * allow-list or a limit would turn a locked-down gost server into an open
 * proxy. Everything not listed here is implemented.
 *
 * @module
 */
import { type Config, CONFIG_SHAPE, type Shape } from "./schema.ts";
import { ConfigError, errorAt, originOf } from "./origin.ts";

const NOT_YET = "not supported by dost yet";

/**
 * Unsupported keys by schema path (`[]` stands for any list index), with
 * the reason when there is more to say than "not yet".
 */
const UNSUPPORTED: Record<string, string> = {
  "services[].interface": NOT_YET,
  "services[].sockopts": NOT_YET,
  "services[].observer": NOT_YET,
  "services[].recorders": NOT_YET,
  "services[].handler.chainGroup": NOT_YET,
  "services[].handler.limiter": "not supported by dost yet (in gost only a plugin limiter acts here)",
  "services[].handler.observer": NOT_YET,
  "services[].listener.chainGroup": NOT_YET,
  "services[].listener.auth": "only ssh/sshd listeners read it, and dost has none: use handler.auth",
  "services[].listener.auther": "only ssh/sshd listeners read it, and dost has none: use handler.auther",
  "services[].listener.authers": "only ssh/sshd listeners read it, and dost has none: use handler.authers",
  "services[].forwarder.hop": NOT_YET,
  "services[].forwarder.hopGroup": NOT_YET,
  "services[].forwarder.nodes[].filter.protocol": NOT_YET,
  "services[].forwarder.nodes[].filter.path": NOT_YET,
  "services[].forwarder.nodes[].matcher": NOT_YET,
  "services[].forwarder.nodes[].probe": NOT_YET,
  "services[].rewriter": NOT_YET,
  "services[].cache": NOT_YET,
  "services[].quotas": NOT_YET,
  "chains[].hops[].nodes[].filter": NOT_YET,
  "chains[].hops[].nodes[].matcher": NOT_YET,
  "chains[].hops[].nodes[].probe": NOT_YET,
  "bypasses[].network": NOT_YET,
  "services[].forwarder.nodes[].protocol": NOT_YET,
  "services[].forwarder.nodes[].path": NOT_YET,
  "services[].forwarder.nodes[].bypass": NOT_YET,
  "services[].forwarder.nodes[].bypasses": NOT_YET,
  "services[].forwarder.nodes[].http": NOT_YET,
  "services[].forwarder.nodes[].tls": NOT_YET,
  "services[].forwarder.nodes[].auth": NOT_YET,
  "chains[].hops[].interface": NOT_YET,
  "chains[].hops[].sockopts": NOT_YET,
  "chains[].hops[].reload": NOT_YET,
  "chains[].hops[].file": NOT_YET,
  "chains[].hops[].redis": NOT_YET,
  "chains[].hops[].http": NOT_YET,
  "chains[].hops[].plugin": NOT_YET,
  "chains[].hops[].nodes[].host": NOT_YET,
  "chains[].hops[].nodes[].network": NOT_YET,
  "chains[].hops[].nodes[].protocol": NOT_YET,
  "chains[].hops[].nodes[].path": NOT_YET,
  "chains[].hops[].nodes[].interface": NOT_YET,
  "chains[].hops[].nodes[].netns": NOT_YET,
  "chains[].hops[].nodes[].sockopts": NOT_YET,
  "chains[].hops[].nodes[].http": NOT_YET,
  "chains[].hops[].nodes[].tls": NOT_YET,
  "chains[].hops[].nodes[].auth": NOT_YET,
  "authers[].plugin": NOT_YET,
  "admissions[].plugin": NOT_YET,
  "bypasses[].plugin": NOT_YET,
  "hosts[].plugin": NOT_YET,
  "limiters[].plugin": NOT_YET,
  "climiters[].plugin": NOT_YET,
  "rlimiters[].plugin": NOT_YET,
  "resolvers[].plugin": NOT_YET,
  "resolvers[].nameservers[].chain": NOT_YET,
  "ingresses[].plugin": NOT_YET,
  routers: NOT_YET,
  sds: NOT_YET,
  recorders: NOT_YET,
  rewriters: NOT_YET,
  caches: NOT_YET,
  quotas: NOT_YET,
  observers: NOT_YET,
  profiling: NOT_YET,
};

/** TLS sub-keys, wherever a `tls` section appears. */
const UNSUPPORTED_TLS: Record<string, string> = {
  "options.minVersion": NOT_YET,
  "options.maxVersion": NOT_YET,
  "options.cipherSuites": NOT_YET,
  rejectUnknownSNI: NOT_YET,
  serverNames: NOT_YET,
};

/** Keys whose value dost supports only in part. */
const VALUES: Record<string, (v: unknown) => string | undefined> = {};

/** Metadata keys gost reads at service, hop and node level (x v0.8.1 `config/parsing`) that dost does not. */
const SERVICE_MD = [
  "proxyProtocol",
  "interface",
  "so_mark",
  "preUp",
  "preDown",
  "postUp",
  "postDown",
  "ignoreChain",
  "enableStats",
  "observer.resetTraffic",
  "observer.period",
  "observePeriod",
  "netns",
  "netns.out",
  "dialTimeout",
  "limiter.scope",
];
const NODE_MD = ["proxyProtocol", "interface", "so_mark", "netns"];
const UNSUPPORTED_MD: Record<string, ReadonlySet<string>> = {
  "services[].metadata": new Set(SERVICE_MD.map((k) => k.toLowerCase())),
  "chains[].hops[].metadata": new Set(NODE_MD.map((k) => k.toLowerCase())),
  "chains[].hops[].nodes[].metadata": new Set(NODE_MD.map((k) => k.toLowerCase())),
};

/** Top-level hops share the chain hops' rules. */
const ALIASES: [string, string][] = [["hops[]", "chains[].hops[]"]];

function canonical(shapePath: string): string {
  for (const [from, to] of ALIASES) {
    if (shapePath.startsWith(from)) shapePath = to + shapePath.slice(from.length);
  }
  return shapePath;
}

function lookup(shapePath: string): string | undefined {
  shapePath = canonical(shapePath);
  if (shapePath in UNSUPPORTED) return UNSUPPORTED[shapePath];
  // `auth.file` (credentials or cipher settings from a file) and selector `maxLatency`, wherever they appear.
  if (/(^|\.)auths?(\[\])?\.file$/.test(shapePath)) return NOT_YET;
  if (/selector\.maxLatency$/.test(shapePath)) return NOT_YET;
  const tls = /(?:^|\.)tls\.(.+)$/.exec(shapePath);
  return tls ? UNSUPPORTED_TLS[tls[1]] : undefined;
}

/**
 * Throws for the first key that dost does not implement.
 *
 * @throws {ConfigError} `gost.yaml:12: services[0].admission: not supported by dost yet`
 */
export function checkSupported(cfg: Config): void {
  walk(cfg as Record<string, unknown>, CONFIG_SHAPE, "", "");
}

function walk(obj: Record<string, unknown>, shape: Shape, shapePath: string, path: string): void {
  for (const [key, value] of Object.entries(obj)) {
    if (value === undefined || isEmpty(value)) continue;
    const sp = shapePath ? `${shapePath}.${key}` : key;
    const p = path ? `${path}.${key}` : key;
    const reason = lookup(sp);
    if (reason) throw fail(obj, key, p, reason, value);
    const check = VALUES[sp];
    const bad = check?.(value);
    if (bad) throw fail(obj, key, p, bad);
    const field = shape[key];
    const md = UNSUPPORTED_MD[canonical(sp)];
    if (md && field === "metadata") {
      for (const k of Object.keys(value as object)) {
        if (md.has(k.toLowerCase())) throw fail(obj, key, p, `option "${k}" is not supported by dost yet`);
      }
    }
    if (typeof field !== "object") continue;
    if ("struct" in field) walk(value as Record<string, unknown>, field.struct, sp, p);
    else if (field.list !== "any") {
      (value as Record<string, unknown>[]).forEach((item, i) =>
        walk(item, field.list as Shape, `${sp}[]`, `${p}[${i}]`)
      );
    }
  }
}

function fail(obj: object, key: string, path: string, reason: string, value?: unknown): ConfigError {
  // A section with an origin of its own (a file's map, a flag) names that source.
  if (value && typeof value === "object" && !Array.isArray(value) && originOf(value)?.path === path) {
    return errorAt(value, "", reason);
  }
  const e = errorAt(obj, key, reason);
  // Objects made in code have no origin; keep the full path then.
  return e.key === key && path !== key ? new ConfigError(e.file, e.line, path, reason) : e;
}

function isEmpty(v: unknown): boolean {
  return v === "" || v === false || v === 0 || (Array.isArray(v) && v.length === 0) ||
    (v !== null && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 0);
}
