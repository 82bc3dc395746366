/**
 * Turns a loaded config into running objects through the registries:
 * chains (hops of nodes: connector over dialer) and services (listener +
 * handler + router + forwarder). Unsupported component names fail here with
 * the config path that named them.
 *
 * @module
 */
import { splitHostPort } from "../transports/addr.ts";
import { Logger, type LogTarget } from "../transports/log.ts";
import { Metadata } from "../transports/metadata.ts";
import { dialerRegistry, listenerRegistry } from "../transports/registry.ts";
import type { Registry } from "../transports/registry.ts";
import type { GlobalTLSConfig, TLSFileConfig } from "../transports/tls/load.ts";
import type { ClientTLSConfig } from "../transports/types.ts";
import type { Listener, ListenerOptions, ServerTLSConfig } from "../transports/types.ts";
import { StaticAuthenticator } from "../handlers/auth.ts";
import { admissionGate, AdmissionGroup } from "../handlers/admission/mod.ts";
import { composeGates } from "../handlers/gate.ts";
import { BypassGroup, type BypassMatcher } from "../handlers/bypass/mod.ts";
import {
  Chain,
  ChainRouter,
  Hop,
  type Node,
  PolicyRouter,
  resolveAddr,
  Selector,
  STRATEGIES,
} from "../handlers/chain/mod.ts";
import { limitGate, limitHandler } from "../handlers/limiter/mod.ts";
import { type Metrics, metricsGate, metricsHandler, serviceStarted } from "../handlers/metrics/mod.ts";
import { connectorRegistry, handlerRegistry } from "../handlers/registry.ts";
import { Service, type ServiceParts } from "../handlers/service.ts";
import type { Auth, Authenticator, Handler, Target, TargetSelector } from "../handlers/types.ts";
import { MergedListener } from "../handlers/tunnel/merged_listener.ts";
import { HostSelector, type HostTarget } from "../handlers/forward/host_selector.ts";
import { loadComponents, TLS_DIALERS } from "./builtins.ts";
import { type ComponentKind, gostReads } from "./gost_options.ts";
import { checkLogging } from "./logging.ts";
import { ConfigError, errorAt } from "./origin.ts";
import { buildPolicies, checkPolicies, Policies } from "./policies.ts";
import { checkSupported } from "./support.ts";
import { parseDuration } from "../transports/metadata.ts";
import type { ChainConfig, Config, HopConfig, NodeConfig, SelectorConfig, ServiceConfig, TLSConfig } from "./schema.ts";

/** Raised when a config names something dost cannot build. */
export class BuildError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "BuildError";
  }
}

/** A running service with what a reload compares it by. */
export interface ServiceRecord {
  service: Service;
  plan: ServicePlan;
  /** The options its listener read, for the option check when a reload keeps it. */
  listenerMd: Metadata;
}

/** Everything started from one config. */
export class Runtime {
  constructor(
    readonly records: ServiceRecord[],
    readonly chains: Map<string, Chain>,
    readonly policies: Policies = new Policies(),
    readonly metrics?: Metrics,
  ) {}

  get services(): Service[] {
    return this.records.map((r) => r.service);
  }

  /** Starts the accept loop of every service not yet started (each counted in `gost_services` while it runs). */
  serve(): Promise<void[]> {
    return Promise.all(this.services.filter((s) => !s.started).map((s) => serveCounted(s, this.metrics)));
  }

  /** Graceful stop: listeners close at once, open conns get `grace` ms; reloads stop. */
  async shutdown(grace?: number): Promise<void> {
    await Promise.all(this.services.map((s) => s.shutdown(grace)));
    this.policies.close();
  }
}

/** Runs a service's accept loop, counted in `gost_services` while it runs. */
export function serveCounted(s: Service, metrics?: Metrics): Promise<void> {
  return s.serve().finally(serviceStarted(metrics));
}

function get<T>(reg: Registry<T>, name: string, obj: object, key: string): T {
  const f = reg.get(name);
  if (!f) {
    throw errorAt(
      obj,
      key,
      `${reg.kind} type "${name}" is not supported by dost yet (supported: ${reg.names().join(", ")})`,
    );
  }
  return f;
}

function selectorOptions(s?: SelectorConfig) {
  if (!s) return undefined;
  return {
    strategy: s.strategy,
    maxFails: s.maxFails,
    failTimeout: s.failTimeout === undefined ? undefined : parseDuration(s.failTimeout),
  };
}

/**
 * Checks the whole config without opening anything: unsupported keys,
 * names and references, component types, addresses, policy data.
 *
 * @throws {ConfigError} naming file:line and key
 */
export function checkConfig(cfg: Config): void {
  checkSupported(cfg);
  checkLogging(cfg);
  checkPolicies(cfg);
  checkReferences(cfg);
  for (const key of ["metrics", "api"] as const) {
    const section = cfg[key];
    if (!section?.addr) continue;
    try {
      splitHostPort(section.addr);
    } catch (err) {
      throw errorAt(section, "addr", (err as Error).message, key);
    }
  }
  const names = new Set<string>();
  for (const [i, s] of (cfg.services ?? []).entries()) {
    if (names.has(s.name)) throw errorAt(s, "name", `duplicate service name "${s.name}"`, `services[${i}]`);
    names.add(s.name);
    const handlerType = s.handler?.type || "auto";
    const listenerType = s.listener?.type || "tcp";
    get(handlerRegistry, handlerType, s.handler ?? s, s.handler ? "type" : "handler");
    get(listenerRegistry, listenerType, s.listener ?? s, s.listener ? "type" : "listener");
    try {
      splitHostPort(s.addr);
    } catch (err) {
      throw errorAt(s, "addr", (err as Error).message, `services[${i}]`);
    }
    for (const [j, n] of (s.forwarder?.nodes ?? []).entries()) {
      try {
        splitHostPort(n.addr);
      } catch (err) {
        throw errorAt(n, "addr", (err as Error).message, `services[${i}].forwarder.nodes[${j}]`);
      }
    }
  }
  const strategy = (sel: SelectorConfig | undefined, obj: object | undefined) => {
    if (sel?.strategy && !STRATEGIES.has(sel.strategy.toLowerCase())) {
      const why = sel.strategy.toLowerCase() === "hash"
        ? 'strategy "hash" is not supported by dost yet'
        : `unknown strategy "${sel.strategy}" (round, rr, random, rand, fifo, ha)`;
      throw errorAt(sel, "strategy", why, obj ? "" : "selector");
    }
  };
  for (const s of cfg.services ?? []) strategy(s.forwarder?.selector, s.forwarder);
  const hop = (h: HopConfig, path: string) => {
    strategy(h.selector, h);
    for (const [j, n] of (h.nodes ?? []).entries()) {
      get(connectorRegistry, n.connector?.type || "http", n.connector ?? n, n.connector ? "type" : "connector");
      get(dialerRegistry, n.dialer?.type || "tcp", n.dialer ?? n, n.dialer ? "type" : "dialer");
      try {
        splitHostPort(n.addr);
      } catch (err) {
        throw errorAt(n, "addr", (err as Error).message, `${path}.nodes[${j}]`);
      }
    }
  };
  (cfg.hops ?? []).forEach((h, i) => hop(h, `hops[${i}]`));
  for (const [ci, c] of (cfg.chains ?? []).entries()) {
    (c.hops ?? []).forEach((h, i) => hop(h, `chains[${ci}].hops[${i}]`));
  }
}

/**
 * Every reference by name must find its object: gost lets everyone in for a
 * missing auther, treats a missing bypass as "never matches" and a missing
 * limiter as "no limit"; dost refuses to start instead.
 */
function checkReferences(cfg: Config): void {
  const sets = {
    chain: new Set((cfg.chains ?? []).map((x) => x.name)),
    auther: new Set((cfg.authers ?? []).map((x) => x.name)),
    admission: new Set((cfg.admissions ?? []).map((x) => x.name!)),
    bypass: new Set((cfg.bypasses ?? []).map((x) => x.name!)),
    limiter: new Set((cfg.limiters ?? []).map((x) => x.name!)),
    climiter: new Set((cfg.climiters ?? []).map((x) => x.name!)),
    rlimiter: new Set((cfg.rlimiters ?? []).map((x) => x.name!)),
    resolver: new Set((cfg.resolvers ?? []).map((x) => x.name!)),
    hosts: new Set((cfg.hosts ?? []).map((x) => x.name!)),
    logger: new Set((cfg.loggers ?? []).map((x) => x.name!)),
  };
  const one = (obj: object | undefined, key: string, kind: keyof typeof sets) => {
    const v = (obj as Record<string, unknown> | undefined)?.[key];
    if (typeof v === "string" && v && !sets[kind].has(v)) throw errorAt(obj!, key, `no ${kind} named "${v}"`);
  };
  const many = (obj: object | undefined, key: string, kind: keyof typeof sets) => {
    const v = (obj as Record<string, unknown> | undefined)?.[key];
    if (!Array.isArray(v)) return;
    v.forEach((name, i) => {
      if (!sets[kind].has(name)) throw errorAt(obj!, `${key}[${i}]`, `no ${kind} named "${name}"`);
    });
  };
  const dns = (obj: object | undefined) => {
    one(obj, "bypass", "bypass");
    many(obj, "bypasses", "bypass");
    one(obj, "resolver", "resolver");
    one(obj, "hosts", "hosts");
  };
  if (cfg.metrics) one(cfg.metrics, "auther", "auther");
  if (cfg.api) one(cfg.api, "auther", "auther");
  for (const s of cfg.services ?? []) {
    one(s.handler, "chain", "chain");
    one(s.listener, "chain", "chain");
    one(s.handler, "auther", "auther");
    many(s.handler, "authers", "auther");
    one(s, "admission", "admission");
    many(s, "admissions", "admission");
    dns(s);
    one(s, "limiter", "limiter");
    one(s, "climiter", "climiter");
    one(s, "rlimiter", "rlimiter");
    one(s, "logger", "logger");
    many(s, "loggers", "logger");
  }
  const hop = (h: HopConfig) => {
    dns(h);
    for (const n of h.nodes ?? []) dns(n);
  };
  (cfg.hops ?? []).forEach(hop);
  for (const c of cfg.chains ?? []) (c.hops ?? []).forEach(hop);
}

/**
 * Builds services and chains. The whole config is checked and every policy
 * loaded before the first port is bound; a failure releases everything.
 */
export interface BuildOptions {
  /** Named loggers' targets (`loggers:`), for services with `logger`/`loggers`. */
  loggers?: ReadonlyMap<string, LogTarget>;
  /** Collects gost's metrics when set (the `metrics` section or `-metrics`); nothing is wrapped otherwise. */
  metrics?: Metrics;
  /** Counts every service's bytes live (for the Web API's dashboard). @default false */
  liveStats?: boolean;
}

export async function buildRuntime(cfg: Config, log: Logger, opts: BuildOptions = {}): Promise<Runtime> {
  const { policies, chains, plans } = await prepareRuntime(cfg, log, opts);
  const opened: Listener[] = [];
  try {
    const records: ServiceRecord[] = [];
    for (const plan of plans) {
      const { listener, listenerMd } = await plan.open();
      opened.push(listener);
      records.push({ service: newService(plan, listener, opts), plan, listenerMd });
    }
    return new Runtime(records, chains, policies, opts.metrics);
  } catch (err) {
    for (const l of opened) l.close();
    policies.close();
    throw err;
  }
}

/** Everything a config needs except its listeners. */
export interface Prepared {
  policies: Policies;
  chains: Map<string, Chain>;
  plans: ServicePlan[];
}

/**
 * Checks the config, loads its policies and builds its chains and service
 * plans; binds nothing. On failure everything built is released.
 *
 * @throws {ConfigError}
 */
export async function prepareRuntime(cfg: Config, log: Logger, opts: BuildOptions = {}): Promise<Prepared> {
  await loadComponents(cfg);
  checkConfig(cfg);
  let globalTLS: Promise<ServerTLSConfig> | undefined;
  const defaultTLS =
    () => (globalTLS ??= tlsFiles().then((m) => m.defaultServerTLS(globalTLSConfig(cfg.tls), { log })));
  const serverTLS = (tls: TLSConfig | undefined) => {
    if (!tls?.certFile && !tls?.keyFile) return defaultTLS;
    let p: Promise<ServerTLSConfig> | undefined;
    return () => (p ??= tlsFiles().then((m) => m.loadServerTLS(tls, defaultTLS)));
  };

  const policies = await buildPolicies(cfg, log);
  try {
    const topHops = new Map<string, HopConfig>();
    for (const h of cfg.hops ?? []) topHops.set(h.name, h);

    const chains = new Map<string, Chain>();
    for (const [i, c] of (cfg.chains ?? []).entries()) {
      chains.set(c.name, await buildChain(c, `chains[${i}]`, topHops, policies, log, opts.metrics));
    }

    const ctx: BuildContext = {
      chains,
      policies,
      serverTLS,
      log,
      loggers: opts.loggers ?? new Map(),
      metrics: opts.metrics,
      cfg,
    };
    const plans = (cfg.services ?? []).map((s, i) => planService(s, `services[${i}]`, ctx));
    return { policies, chains, plans };
  } catch (err) {
    policies.close();
    throw err;
  }
}

/** A service from its plan and its bound listener. */
export function newService(plan: ServicePlan, listener: Listener, opts: BuildOptions = {}): Service {
  const { handler, log, gate } = plan.parts;
  return new Service(plan.name, listener, handler, log, gate, { countBytes: opts.liveStats });
}

async function buildChain(
  c: ChainConfig,
  path: string,
  topHops: Map<string, HopConfig>,
  policies: Policies,
  log: Logger,
  metrics?: Metrics,
): Promise<Chain> {
  const hops: Hop[] = [];
  for (const [i, h] of (c.hops ?? []).entries()) {
    const hpath = `${path}.hops[${i}]`;
    let hc = h;
    if (!h.nodes?.length) {
      const ref = topHops.get(h.name);
      if (!ref) throw new BuildError(`${hpath}: hop "${h.name}" has no nodes and no top-level hop has that name`);
      hc = ref;
    }
    const nodes: Node[] = [];
    for (const [j, n] of (hc.nodes ?? []).entries()) {
      const node = await buildNode(n, `${hpath}.nodes[${j}]`, log);
      Object.assign(node, selectable(n.metadata, n, `${hpath}.nodes[${j}]`));
      node.bypass = bypassOf(n, policies);
      // A node's own address goes through the node's hosts and resolver, else the hop's.
      const hosts = policies.hosts.get(n.hosts ?? hc.hosts ?? "");
      const resolver = policies.resolvers.get(n.resolver ?? hc.resolver ?? "");
      if (hosts || resolver) node.resolve = (addr, signal) => resolveAddr(addr, hosts, resolver, signal);
      nodes.push(node);
    }
    hops.push(new Hop(hc.name, nodes, selectorOptions(hc.selector), { bypass: bypassOf(hc, policies) }));
  }
  return new Chain(c.name, hops, metrics);
}

async function buildNode(n: NodeConfig, path: string, log: Logger): Promise<Node> {
  const connectorType = n.connector?.type || "http";
  const dialerType = n.dialer?.type || "tcp";
  try {
    splitHostPort(n.addr);
  } catch (err) {
    throw new BuildError(`${path}.addr: ${(err as Error).message}`);
  }
  const nlog = log.with({ node: n.name, connector: connectorType, dialer: dialerType });
  let dialerTLS, connectorTLS;
  try {
    dialerTLS = await clientTLS(n.dialer?.tls, n.addr);
    connectorTLS = await clientTLS(n.connector?.tls, n.addr);
  } catch (err) {
    throw new BuildError(`${path}: ${(err as Error).message}`);
  }
  const dialerMd = new Metadata(n.dialer?.metadata ?? {});
  const dialer = get(dialerRegistry, dialerType, n.dialer ?? n, n.dialer ? "type" : "dialer")({
    metadata: dialerMd,
    tls: dialerTLS,
    log: nlog,
  });
  // grpc with grpcInsecure=true is plaintext HTTP/2: nothing to verify.
  const plaintext = dialerType === "grpc" && (dialerMd.bool("grpcInsecure", "grpc.insecure", "insecure") ?? false);
  const isSocks5 = connectorType === "socks5" || connectorType === "socks";
  // A gost 3.2.6 server fails the second SOCKS5 request on a multiplexed session when the client offers its TLS
  // method (0x80); over a transport that is TLS already, dost does not offer it (the wire stays gost's: 00).
  const muxOverTLS = dialer.multiplex && TLS_DIALERS.has(dialerType) && !plaintext;
  const connectorMd = isSocks5 && muxOverTLS && !new Metadata(n.connector?.metadata ?? {}).has("notls")
    ? new Metadata({ ...n.connector?.metadata, notls: true })
    : new Metadata(n.connector?.metadata ?? {});
  const connector = get(connectorRegistry, connectorType, n.connector ?? n, n.connector ? "type" : "connector")({
    metadata: connectorMd,
    auth: n.connector?.auth as Auth | undefined,
    tls: connectorTLS,
    log: nlog,
  });
  const socksTLS = isSocks5 && !connectorMd.bool("notls");
  if ((TLS_DIALERS.has(dialerType) && !plaintext && !dialerTLS.secure) || (socksTLS && !connectorTLS.secure)) {
    nlog.warn(
      `TLS certificate verification is off for node ${n.name} (${n.addr}), as in gost; set secure=true to verify`,
    );
  }
  // Keys gost's selector reads from the node's own metadata are taken by `selectable()`.
  checkUnused(log, [dialerMd, connectorMd], [
    [n.connector ?? n, n.connector?.metadata, ["connector", connectorType]],
    [n.dialer ?? n, n.dialer?.metadata, ["dialer", dialerType]],
    [n, n.metadata],
  ], SELECTOR_KEYS);
  return { name: n.name, addr: n.addr, connector, dialer };
}

/** The TLS file loader (node:crypto), imported only when a config has TLS settings or a TLS listener. */
const tlsFiles = () => import("../transports/tls/load.ts");

/** A node's client TLS settings; without a `tls` section, the defaults (no verification, SNI = node host). */
async function clientTLS(tls: TLSConfig | undefined, addr: string): Promise<ClientTLSConfig> {
  if (tls && Object.keys(tls).length) return (await tlsFiles()).loadClientTLS(tls as TLSFileConfig, addr);
  let host: string;
  try {
    host = splitHostPort(addr).host;
  } catch {
    host = addr.replace(/^\[|\]$/g, "");
  }
  return { serverName: host || undefined, secure: false };
}

/** The top-level `tls` section in the shape the TLS loader wants (validity as ms). */
function globalTLSConfig(tls: TLSConfig | undefined): GlobalTLSConfig | undefined {
  if (!tls) return undefined;
  const { validity, ...rest } = tls as TLSConfig & { validity?: string };
  return { ...rest, validity: validity === undefined ? undefined : parseDuration(validity) } as GlobalTLSConfig;
}

interface BuildContext {
  chains: Map<string, Chain>;
  policies: Policies;
  loggers: ReadonlyMap<string, LogTarget>;
  metrics?: Metrics;
  cfg: Config;
  serverTLS: (tls: TLSConfig | undefined) => () => Promise<ServerTLSConfig>;
  log: Logger;
}

/** Service metadata keys dost accepts without reading: it applies limiter changes at once. */
const SERVICE_KEYS = new Set(["limiter.refreshinterval", "limiter.cleanupinterval"]);
/** Node metadata keys read by {@linkcode selectable}. */
const SELECTOR_KEYS = new Set(["weight", "backup", "maxfails", "max_fails", "failtimeout", "fail_timeout"]);

/** Where an option sits, and the gost component that would read it there (none for service/node metadata). */
type OptionSection = [owner: object, md: Record<string, unknown> | undefined, reader?: [ComponentKind, string]];

/**
 * Options (metadata keys) that no dost component read: when gost's component
 * in that place reads the key, dost refuses it (gost would act on it, dost
 * would not); otherwise one warning. The command line gives every un-prefixed
 * key to the handler, the listener and the service (or the connector, dialer,
 * node and hop), so an option counts as used when any of them asked for it.
 *
 * @throws {ConfigError} for the first option gost would act on
 */
function checkUnused(log: Logger, mds: Metadata[], sections: OptionSection[], known: ReadonlySet<string>): void {
  const asked = (k: string) => mds.some((m) => !m.unasked().includes(k));
  const seen = new Set<string>();
  for (const [owner, md, reader] of sections) {
    for (const key of Object.keys(md ?? {})) {
      const k = key.toLowerCase();
      if (known.has(k) || asked(k)) continue;
      if (reader && gostReads(reader[0], reader[1], k)) {
        throw errorAt(
          owner,
          "metadata",
          `option "${key}" of gost's ${reader[1]} ${reader[0]} is not supported by dost yet`,
        );
      }
      if (seen.has(k)) continue;
      seen.add(k);
      log.warn(errorAt(owner, "metadata", `option "${key}" is not used by dost, ignored`).message);
    }
  }
}

/** Node metadata gost's selector reads: `weight`, `backup`, `maxFails`, `failTimeout`. */
function selectable(md: Record<string, unknown> | undefined, obj: object, path: string) {
  const m = new Metadata(md ?? {});
  try {
    const failTimeout = m.duration("failTimeout", "fail_timeout");
    return {
      weight: m.int("weight"),
      backup: m.bool("backup"),
      maxFails: m.int("maxFails", "max_fails"),
      failTimeout,
    };
  } catch (err) {
    throw errorAt(obj, "metadata", (err as Error).message, path);
  }
}

/** `bypass` and `bypasses` of a service, hop or node as one matcher. */
function bypassOf(o: { bypass?: string; bypasses?: string[] }, policies: Policies): BypassMatcher | undefined {
  const names = [...(o.bypass ? [o.bypass] : []), ...(o.bypasses ?? [])];
  const list = names.map((n) => policies.bypasses.get(n)!);
  return list.length === 0 ? undefined : list.length === 1 ? list[0] : new BypassGroup(list);
}

/** A service with everything built but its listener, which `open()` binds. */
export interface ServicePlan {
  name: string;
  addr: string;
  /** Equal keys: a running listener can stay when the config is reloaded. */
  listenerKey: string;
  /** Handler and listener type names. */
  types: { handler: string; listener: string };
  parts: ServiceParts;
  /** Refuses options gost would act on but dost did not read (the listener's read options are in `listenerMd`). */
  check(listenerMd: Metadata): void;
  open(): Promise<{ listener: Listener; listenerMd: Metadata }>;
  /** The handler before any wrapper (what a reload hands state over between). */
  raw?: Handler;
  /** A reload kept this service's listener: take over the running handler's state (live tunnels). */
  inherit?(prev: ServicePlan): void;
}

/** The tunnel handler's capabilities the service plumbing uses. */
interface EntrypointHandler extends Handler {
  readonly entrypointSpecs: readonly unknown[];
  openEntrypoints(): Listener[];
  adopt(prev: Handler): void;
}

function planService(s: ServiceConfig, path: string, ctx: BuildContext): ServicePlan {
  const { policies } = ctx;
  const handlerType = s.handler?.type || "auto";
  const listenerType = s.listener?.type || "tcp";
  const loggerNames = [...(s.logger ? [s.logger] : []), ...(s.loggers ?? [])];
  const base = loggerNames.length ? Logger.fanout(loggerNames.map((n) => ctx.loggers.get(n)!)) : ctx.log;
  const log = base.with({ service: s.name, listener: listenerType, handler: handlerType });

  const chain = s.handler?.chain ? ctx.chains.get(s.handler.chain) : undefined;

  // Any auther/authers means `auth` is ignored; the list admits a user if any member does.
  let auther: Authenticator | undefined;
  const names = [...(s.handler?.auther ? [s.handler.auther] : []), ...(s.handler?.authers ?? [])];
  if (names.length) {
    const list = names.map((n) => policies.authers.get(n)!);
    auther = list.length === 1 ? list[0] : { authenticate: (u, p) => list.some((a) => a.authenticate(u, p)) };
  } else if (s.handler?.auth?.username) {
    auther = new StaticAuthenticator([s.handler.auth as Auth]);
  }

  let forwarder: TargetSelector | undefined;
  const fnodes = s.forwarder?.nodes ?? [];
  if (fnodes.length) {
    const targets: HostTarget[] = fnodes.map((n, j) => ({
      name: n.name,
      addr: n.addr,
      network: n.network,
      host: n.filter?.host || n.host || undefined,
      ...selectable(n.metadata, n, `${path}.forwarder.nodes[${j}]`),
    }));
    const make = (list: Target[]) => new Selector(list, selectorOptions(s.forwarder?.selector));
    if (targets.some((t) => t.host)) {
      // Host filters pick among sniffed requests only (gost never selects them otherwise).
      if (!new Metadata(s.handler?.metadata ?? {}).bool("sniffing")) {
        const j = fnodes.findIndex((n) => n.filter?.host || n.host);
        const n = fnodes[j];
        throw errorAt(
          n.filter?.host ? n.filter : n,
          "host",
          "a host filter needs sniffing: true on the handler",
          `${path}.forwarder.nodes[${j}]`,
        );
      }
      forwarder = new HostSelector(targets, make);
    } else forwarder = make(targets);
  }

  const router = new PolicyRouter(new ChainRouter(chain), {
    bypass: bypassOf(s, policies),
    hosts: s.hosts ? policies.hosts.get(s.hosts) : undefined,
    resolver: s.resolver ? policies.resolvers.get(s.resolver) : undefined,
    retries: s.handler?.retries,
  });
  const metadata = new Metadata(s.handler?.metadata ?? {});
  const factory = get(handlerRegistry, handlerType, s.handler ?? s, s.handler ? "type" : "handler");
  let raw: Handler;
  try {
    raw = factory({
      metadata,
      auther,
      router,
      forwarder,
      tls: ctx.serverTLS(s.handler?.tls as TLSConfig | undefined),
      log,
      ingresses: policies.ingresses,
    });
  } catch (err) {
    // The tunnel handler checks its metadata (entrypoints, ingress names) here; others throw as they did.
    if (handlerType !== "tunnel" || err instanceof ConfigError) throw err;
    throw errorAt(s.handler ?? s, "metadata", (err as Error).message, path);
  }
  let handler = raw;
  const rate = s.rlimiter ? policies.rlimiters.get(s.rlimiter) : undefined;
  if (rate) handler = limitHandler(handler, rate);
  // Outside the rate limit: gost counts its refusals as handler errors.
  handler = metricsHandler(handler, ctx.metrics, s.name);

  // rtcp/rudp listeners bind through `listener.chain` (the CLI puts -F there for them).
  let bind: ListenerOptions["bind"];
  if (s.listener?.chain) {
    const lrouter = new ChainRouter(ctx.chains.get(s.listener.chain));
    bind = lrouter.bind?.bind(lrouter);
  }
  const listenerFactory = get(listenerRegistry, listenerType, s.listener ?? s, s.listener ? "type" : "listener");
  const admissionNames = [...(s.admission ? [s.admission] : []), ...(s.admissions ?? [])];
  const admitter = admissionNames.length
    ? new AdmissionGroup(admissionNames.map((n) => policies.admissions.get(n)!))
    : undefined;
  const climiter = s.climiter ? policies.climiters.get(s.climiter) : undefined;
  const traffic = s.limiter ? policies.limiters.get(s.limiter) : undefined;

  const gate = composeGates(
    // Admission first (a refused client costs nothing), then the connection and traffic limits;
    // metrics last: refused clients are not requests.
    admitter && admissionGate(admitter, log),
    limitGate({ conn: climiter, traffic, log }),
    metricsGate(ctx.metrics, s.name),
  );

  const check = (listenerMd: Metadata) =>
    checkUnused(ctx.log, [metadata, listenerMd], [
      [s.handler ?? s, s.handler?.metadata, ["handler", handlerType]],
      [s.listener ?? s, s.listener?.metadata, ["listener", listenerType]],
      [s, s.metadata],
    ], SERVICE_KEYS);

  return {
    name: s.name,
    addr: s.addr,
    listenerKey: listenerKey(s, ctx.cfg),
    types: { handler: handlerType, listener: listenerType },
    parts: { handler, gate, log },
    check,
    inherit(prev: ServicePlan) {
      if (prev.raw) (raw as Partial<EntrypointHandler>).adopt?.(prev.raw);
    },
    raw,
    async open() {
      const listenerMd = new Metadata(s.listener?.metadata ?? {});
      let listener: Listener;
      try {
        listener = await listenerFactory({
          addr: s.addr,
          metadata: listenerMd,
          tls: ctx.serverTLS(s.listener?.tls as TLSConfig | undefined),
          log,
          bind,
        });
      } catch (err) {
        throw new BuildError(`${path}: cannot listen on "${s.addr}": ${(err as Error).message}`, { cause: err });
      }
      // The listener's options are known only once it is built; nothing has been served on it yet.
      try {
        check(listenerMd);
      } catch (err) {
        listener.close();
        throw err;
      }
      // A tunnel handler's entrypoints are accepted from beside the service's own listener.
      const eh = raw as Partial<EntrypointHandler>;
      if (typeof eh.openEntrypoints === "function" && eh.entrypointSpecs?.length) {
        let extra: Listener[];
        try {
          extra = eh.openEntrypoints();
        } catch (err) {
          listener.close();
          throw new BuildError(`${path}: cannot listen on the entrypoint: ${(err as Error).message}`, { cause: err });
        }
        listener = new MergedListener(listener, extra);
      }
      return { listener, listenerMd };
    },
  };
}

/**
 * What a running listener depends on: its address, its listener section,
 * the chain an rtcp/rudp listener binds through, and the TLS files it would
 * load (by content, so a renewed certificate makes a new listener).
 */
function listenerKey(s: ServiceConfig, cfg: Config): string {
  const chain = s.listener?.chain ? (cfg.chains ?? []).find((c) => c.name === s.listener!.chain) : undefined;
  const files = [
    s.listener?.tls?.certFile,
    s.listener?.tls?.keyFile,
    s.listener?.tls?.caFile,
    cfg.tls?.certFile,
    cfg.tls?.keyFile,
  ]
    .filter((f): f is string => Boolean(f))
    .map((f) => {
      try {
        const st = Deno.statSync(f);
        return `${f}:${st.size}:${st.mtime?.getTime()}`;
      } catch {
        return `${f}:missing`;
      }
    });
  // A tunnel handler's entrypoints are listeners too.
  const md = (s.handler?.type === "tunnel" ? s.handler?.metadata : undefined) ?? {};
  const eps = Object.entries(md).filter(([k]) => ["entrypoint", "entrypoints"].includes(k.toLowerCase()));
  return JSON.stringify([s.addr, s.listener ?? {}, chain ?? null, cfg.tls ?? null, files, eps]);
}
