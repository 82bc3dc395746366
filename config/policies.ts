/**
 * The named policy objects of a config — authers, admissions, bypasses,
 * hosts, resolvers and the three kinds of limiter — built from their inline
 * data and their loaders (file, redis, http, with `reload`). Every inline
 * value is checked before anything is loaded; every first load must succeed
 * before a port opens (dost fails closed); a reload that fails keeps the
 * last good data and logs why.
 *
 * @module
 */
import type { Logger } from "../transports/log.ts";
import { AutherTable, parseAuthLines } from "../handlers/auth.ts";
import { Admission, compileAdmission } from "../handlers/admission/mod.ts";
import { Bypass, compilePatterns } from "../handlers/bypass/mod.ts";
import { checkPattern } from "../handlers/bypass/check.ts";
import { type HostMapping, Hosts, parseHostsLines } from "../handlers/hosts/mod.ts";
import { compileRules, Ingress, type IngressRule, parseIngressLines } from "../handlers/ingress/mod.ts";
import {
  ConnLimiter,
  parseConnLimits,
  parseRateLimits,
  parseTrafficLimits,
  RateLimiter,
  TrafficLimiter,
} from "../handlers/limiter/mod.ts";
import { type LoaderSpec, loadSources, Reloader, type TextFormat, validateLoaderSpec } from "../handlers/loader/mod.ts";
import type { DnsResolver, NameserverOptions } from "../handlers/resolver/mod.ts";
import { parseNameserverAddr } from "../handlers/resolver/addr.ts";
import { parseCIDR, parseIP } from "../handlers/matcher/ip.ts";
import { ConfigError, errorAt } from "./origin.ts";
import { type Config, goDurationToMs, type LimiterConfig, type LoaderFields } from "./schema.ts";

/** Every named policy object of one runtime. */
export class Policies {
  readonly authers = new Map<string, AutherTable>();
  readonly admissions = new Map<string, Admission>();
  readonly bypasses = new Map<string, Bypass>();
  readonly hosts = new Map<string, Hosts>();
  readonly ingresses = new Map<string, Ingress>();
  readonly resolvers = new Map<string, DnsResolver>();
  readonly limiters = new Map<string, TrafficLimiter>();
  readonly climiters = new Map<string, ConnLimiter>();
  readonly rlimiters = new Map<string, RateLimiter>();
  readonly #closers: (() => void)[] = [];

  onClose(f: () => void): void {
    this.#closers.push(f);
  }

  /** Stops every reload timer and releases resolvers. */
  close(): void {
    for (const f of this.#closers.splice(0)) {
      try {
        f();
      } catch { /* closing is best effort */ }
    }
  }
}

type Named = LoaderFields & { name?: string };

const ms = (d: string | undefined): number => (d === undefined ? 0 : goDurationToMs(d) ?? 0);

function loaderSpec(o: Named): LoaderSpec | undefined {
  const spec: LoaderSpec = {};
  if (o.file?.path) spec.file = { path: o.file.path };
  if (o.redis?.addr) {
    const r = o.redis;
    spec.redis = { addr: r.addr!, db: r.db, username: r.username, password: r.password, key: r.key, type: r.type };
  }
  if (o.http?.url) spec.http = { url: o.http.url, timeout: ms(o.http.timeout) };
  return spec.file || spec.redis || spec.http ? spec : undefined;
}

/** Runs `check` on each item, turning its error into a ConfigError at `key[i]` of `obj`. */
function each<T>(obj: object, key: string, items: readonly T[] | undefined, check: (item: T) => void): void {
  (items ?? []).forEach((item, i) => {
    try {
      check(item);
    } catch (err) {
      throw errorAt(obj, `${key}[${i}]`, (err as Error).message);
    }
  });
}

function attempt(obj: object, key: string, f: () => void): void {
  try {
    f();
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw errorAt(obj, key, (err as Error).message);
  }
}

/** Names must be set and unique within a section, since services refer to objects by name. */
function checkNames(items: Named[] | undefined, section: string): void {
  const seen = new Set<string>();
  (items ?? []).forEach((o, i) => {
    if (!o.name) throw errorAt(o, "name", "missing", `${section}[${i}]`);
    if (seen.has(o.name)) throw errorAt(o, "name", `duplicate name "${o.name}" in ${section}`);
    seen.add(o.name);
  });
}

/**
 * Checks every policy object's inline data and loader settings without any
 * I/O. Admission host names are checked for form here and resolved at load.
 *
 * @throws {ConfigError}
 */
export function checkPolicies(cfg: Config): void {
  const sections = [
    "authers",
    "admissions",
    "bypasses",
    "hosts",
    "ingresses",
    "limiters",
    "climiters",
    "rlimiters",
  ] as const;
  for (const section of sections) {
    checkNames(cfg[section] as Named[] | undefined, section);
    for (const o of (cfg[section] ?? []) as Named[]) {
      const spec = loaderSpec(o);
      if (spec) attempt(o, spec.redis ? "redis" : spec.http ? "http" : "file", () => validateLoaderSpec(spec));
      if (o.reload && !spec) throw errorAt(o, "reload", "set, but there is no file, redis or http to reload from");
    }
  }
  checkNames(cfg.resolvers, "resolvers");
  for (const a of cfg.admissions ?? []) each(a, "matchers", a.matchers, checkAdmissionPattern);
  for (const b of cfg.bypasses ?? []) each(b, "matchers", b.matchers, checkPattern);
  for (const h of cfg.hosts ?? []) {
    attempt(h, "mappings", () => new Hosts(h.name!, (h.mappings ?? []) as HostMapping[]));
  }
  for (const g of cfg.ingresses ?? []) each(g, "rules", g.rules, (r) => compileRules([r as IngressRule]));
  for (const l of cfg.limiters ?? []) attempt(l, "limits", () => parseTrafficLimits(l.limits ?? []));
  for (const l of cfg.climiters ?? []) attempt(l, "limits", () => parseConnLimits(l.limits ?? []));
  for (const l of cfg.rlimiters ?? []) attempt(l, "limits", () => parseRateLimits(l.limits ?? []));
  for (const r of cfg.resolvers ?? []) {
    if (!r.nameservers?.length) throw errorAt(r, "nameservers", "a resolver needs at least one nameserver");
    each(r, "nameservers", r.nameservers, (ns) => {
      if (!ns.addr) throw new TypeError("addr: missing");
      parseNameserverAddr(ns.addr);
    });
  }
}

/** IPs and CIDRs as such; anything else must look like a host name (it is resolved at load). */
function checkAdmissionPattern(p: string): void {
  const s = p.trim();
  if (parseIP(s) || parseCIDR(s)) return;
  if (!/^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$/.test(s)) {
    throw new TypeError(`Invalid admission pattern "${s}": not an IP, a CIDR or a host name`);
  }
}

/**
 * Builds and first-loads every policy object. On failure everything built
 * so far is released.
 *
 * @throws {ConfigError} naming the object and the source that failed
 */
export async function buildPolicies(cfg: Config, log: Logger): Promise<Policies> {
  const p = new Policies();
  try {
    for (const a of cfg.authers ?? []) {
      const t = new AutherTable(a.name);
      const inline = new Map((a.auths ?? []).filter((x) => x.username).map((x) => [x.username!, x.password ?? ""]));
      await loaded(p, a, "auth", "hash", log, (items) => {
        const users = new Map(inline);
        for (const list of items) for (const [u, pw] of parseAuthLines(list)) users.set(u, pw);
        return users;
      }, (users) => t.set(users));
      p.authers.set(a.name, t);
    }
    for (const a of cfg.admissions ?? []) {
      const adm = new Admission(a.name!, Boolean(a.whitelist || a.reverse));
      await loaded(
        p,
        a,
        "lines",
        "set",
        log,
        (items) => compileAdmission([...(a.matchers ?? []), ...items.flat()]),
        (c) => adm.set(c),
      );
      p.admissions.set(a.name!, adm);
    }
    for (const b of cfg.bypasses ?? []) {
      const bp = new Bypass(b.name!, [], Boolean(b.whitelist || b.reverse));
      await loaded(p, b, "lines", "set", log, (items) => {
        const all = [...(b.matchers ?? []), ...items.flat()];
        all.forEach(checkPattern);
        compilePatterns(all);
        return all;
      }, (all) => bp.update(all));
      p.bypasses.set(b.name!, bp);
    }
    for (const h of cfg.hosts ?? []) {
      const hosts = new Hosts(h.name!);
      const inline = (h.mappings ?? []) as HostMapping[];
      await loaded(p, h, "lines", "set", log, (items) => {
        const all = [...inline, ...parseHostsLines(items.flat())];
        new Hosts(h.name!, all); // throws on a bad mapping before it replaces good data
        return all;
      }, (all) => hosts.update(all));
      p.hosts.set(h.name!, hosts);
    }
    for (const g of cfg.ingresses ?? []) {
      const ing = new Ingress(g.name!);
      const inline = (g.rules ?? []) as IngressRule[];
      // Later sources win for the same hostname: inline, then file, redis, http (gost's precedence).
      await loaded(
        p,
        g,
        "lines",
        "hash",
        log,
        (items) => compileRules([...inline, ...parseIngressLines(items.flat())]),
        (m) => ing.set(m),
      );
      p.ingresses.set(g.name!, ing);
    }
    const limiters = async <L, T extends { update(l: L): void }>(
      items: LimiterConfig[] | undefined,
      into: Map<string, T>,
      parse: (lines: string[]) => L,
      make: (l: L) => T,
    ) => {
      for (const l of items ?? []) {
        let lim: T | undefined;
        const lines = (loadedLines: string[][]) => parse([...(l.limits ?? []), ...loadedLines.flat()]);
        await loaded(p, l, "lines", "set", log, lines, (v) => lim ? lim.update(v) : (lim = make(v)));
        into.set(l.name!, lim!);
      }
    };
    await limiters(cfg.limiters, p.limiters, parseTrafficLimits, (l) => new TrafficLimiter(l));
    await limiters(cfg.climiters, p.climiters, parseConnLimits, (l) => new ConnLimiter(l));
    await limiters(cfg.rlimiters, p.rlimiters, parseRateLimits, (l) => new RateLimiter(l));
    // The DNS client (with its TLS and HTTPS code) is imported only when a config has resolvers.
    const { DnsResolver } = cfg.resolvers?.length ? await import("../handlers/resolver/mod.ts") : { DnsResolver: null };
    for (const r of cfg.resolvers ?? []) {
      const ns: NameserverOptions[] = (r.nameservers ?? []).map((n) => ({
        addr: n.addr!,
        prefer: n.prefer,
        only: n.only,
        ttl: n.ttl === undefined ? undefined : goDurationToMs(n.ttl),
        timeout: n.timeout === undefined ? undefined : goDurationToMs(n.timeout),
        async: n.async,
        clientIP: n.clientIP,
      }));
      const res = new DnsResolver!(ns, { log: log.with({ kind: "resolver", resolver: r.name }) });
      p.onClose(() => res.close());
      p.resolvers.set(r.name!, res);
    }
  } catch (err) {
    p.close();
    throw err;
  }
  return p;
}

/**
 * Loads an object's sources once (items per source: file, redis, http, in
 * gost's order of precedence) and, with `reload`, again every period.
 */
async function loaded<T>(
  p: Policies,
  o: Named,
  format: TextFormat,
  redisType: "set" | "hash",
  log: Logger,
  compile: (items: string[][]) => T | Promise<T>,
  apply: (value: T) => void,
): Promise<void> {
  const spec = loaderSpec(o);
  const where = spec?.redis ? "redis" : spec?.http ? "http" : "file";
  if (!spec) {
    try {
      apply(await compile([]));
    } catch (err) {
      throw errorAt(o, "", (err as Error).message);
    }
    return;
  }
  const olog = log.with({ name: o.name });
  const r = new Reloader<T>({
    period: ms(o.reload),
    load: async (signal) => {
      const got = await loadSources(spec, { format, redisType, signal });
      return await compile([got.file ?? [], got.redis ?? [], got.http ?? []]);
    },
    apply,
    onError: (err) => olog.warn(`reload of "${o.name}" failed, keeping the last good data: ${(err as Error).message}`),
  });
  try {
    await r.start();
  } catch (err) {
    r.close();
    throw errorAt(o, where, (err as Error).message);
  }
  p.onClose(() => r.close());
}
