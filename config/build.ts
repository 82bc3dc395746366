/**
 * Turns a loaded config into running objects through the registries:
 * chains (hops of nodes: connector over dialer) and services (listener +
 * handler + router + forwarder). Unsupported component names fail here with
 * the config path that named them.
 *
 * @module
 */
import { splitHostPort } from "../transports/addr.ts";
import type { Logger } from "../transports/log.ts";
import { Metadata } from "../transports/metadata.ts";
import { dialerRegistry, listenerRegistry } from "../transports/registry.ts";
import type { Registry } from "../transports/registry.ts";
import { defaultServerTLS, type GlobalTLSConfig, loadClientTLS, loadServerTLS } from "../transports/tls/mod.ts";
import type { Listener, ListenerOptions, ServerTLSConfig } from "../transports/types.ts";
import { StaticAuthenticator } from "../handlers/auth.ts";
import { Chain, ChainRouter, Hop, type Node, Selector } from "../handlers/chain/mod.ts";
import { connectorRegistry, handlerRegistry } from "../handlers/registry.ts";
import { Service } from "../handlers/service.ts";
import type { Auth, Authenticator, Target, TargetSelector } from "../handlers/types.ts";
import { TLS_DIALERS } from "./builtins.ts";
import { parseDuration } from "../transports/metadata.ts";
import type { ChainConfig, Config, HopConfig, NodeConfig, SelectorConfig, ServiceConfig, TLSConfig } from "./schema.ts";

/** Raised when a config names something dost cannot build. */
export class BuildError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BuildError";
  }
}

/** Everything started from one config. */
export class Runtime {
  constructor(readonly services: Service[], readonly chains: Map<string, Chain>) {}

  /** Starts every service's accept loop. */
  serve(): Promise<void[]> {
    return Promise.all(this.services.map((s) => s.serve()));
  }

  /** Graceful stop: listeners close at once, open conns get `grace` ms. */
  async shutdown(grace?: number): Promise<void> {
    await Promise.all(this.services.map((s) => s.shutdown(grace)));
  }
}

function get<T>(reg: Registry<T>, name: string, path: string): T {
  const f = reg.get(name);
  if (!f) {
    throw new BuildError(
      `${path}: ${reg.kind} type "${name}" is not supported by dost yet (supported: ${reg.names().join(", ")})`,
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

/** Builds services and chains; listeners are opened (ports bound) before this resolves. */
export async function buildRuntime(cfg: Config, log: Logger): Promise<Runtime> {
  let globalTLS: Promise<ServerTLSConfig> | undefined;
  const defaultTLS = () => (globalTLS ??= defaultServerTLS(globalTLSConfig(cfg.tls), { log }));
  const serverTLS = (tls: TLSConfig | undefined) => {
    if (!tls?.certFile && !tls?.keyFile) return defaultTLS;
    let p: Promise<ServerTLSConfig> | undefined;
    return () => (p ??= loadServerTLS(tls, defaultTLS));
  };

  const authers = new Map<string, Authenticator>();
  for (const a of cfg.authers ?? []) authers.set(a.name, new StaticAuthenticator((a.auths ?? []) as Auth[]));

  const topHops = new Map<string, HopConfig>();
  for (const h of cfg.hops ?? []) topHops.set(h.name, h);

  const chains = new Map<string, Chain>();
  for (const [i, c] of (cfg.chains ?? []).entries()) {
    chains.set(c.name, await buildChain(c, `chains[${i}]`, topHops, log));
  }

  const services: Service[] = [];
  const opened: Listener[] = [];
  try {
    for (const [i, s] of (cfg.services ?? []).entries()) {
      const svc = await buildService(s, `services[${i}]`, { chains, authers, serverTLS, log });
      opened.push(svc.listener);
      services.push(svc);
    }
  } catch (err) {
    for (const l of opened) l.close();
    throw err;
  }
  return new Runtime(services, chains);
}

async function buildChain(
  c: ChainConfig,
  path: string,
  topHops: Map<string, HopConfig>,
  log: Logger,
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
    for (const [j, n] of (hc.nodes ?? []).entries()) nodes.push(await buildNode(n, `${hpath}.nodes[${j}]`, log));
    hops.push(new Hop(hc.name, nodes, selectorOptions(hc.selector)));
  }
  return new Chain(c.name, hops);
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
    dialerTLS = await loadClientTLS(n.dialer?.tls as TLSConfig | undefined, n.addr);
    connectorTLS = await loadClientTLS(n.connector?.tls as TLSConfig | undefined, n.addr);
  } catch (err) {
    throw new BuildError(`${path}: ${(err as Error).message}`);
  }
  const dialerMd = new Metadata(n.dialer?.metadata ?? {});
  const dialer = get(dialerRegistry, dialerType, `${path}.dialer.type`)({
    metadata: dialerMd,
    tls: dialerTLS,
    log: nlog,
  });
  const connectorMd = new Metadata(n.connector?.metadata ?? {});
  const connector = get(connectorRegistry, connectorType, `${path}.connector.type`)({
    metadata: connectorMd,
    auth: n.connector?.auth as Auth | undefined,
    tls: connectorTLS,
    log: nlog,
  });
  const socksTLS = (connectorType === "socks5" || connectorType === "socks") && !connectorMd.bool("notls");
  // grpc with grpcInsecure=true is plaintext HTTP/2: nothing to verify.
  const plaintext = dialerType === "grpc" && (dialerMd.bool("grpcInsecure", "grpc.insecure", "insecure") ?? false);
  if ((TLS_DIALERS.has(dialerType) && !plaintext && !dialerTLS.secure) || (socksTLS && !connectorTLS.secure)) {
    nlog.warn(
      `TLS certificate verification is off for node ${n.name} (${n.addr}), as in gost; set secure=true to verify`,
    );
  }
  return { name: n.name, addr: n.addr, connector, dialer };
}

/** The top-level `tls` section in the shape the TLS loader wants (validity as ms). */
function globalTLSConfig(tls: TLSConfig | undefined): GlobalTLSConfig | undefined {
  if (!tls) return undefined;
  const { validity, ...rest } = tls as TLSConfig & { validity?: string };
  return { ...rest, validity: validity === undefined ? undefined : parseDuration(validity) } as GlobalTLSConfig;
}

interface BuildContext {
  chains: Map<string, Chain>;
  authers: Map<string, Authenticator>;
  serverTLS: (tls: TLSConfig | undefined) => () => Promise<ServerTLSConfig>;
  log: Logger;
}

async function buildService(s: ServiceConfig, path: string, ctx: BuildContext): Promise<Service> {
  const handlerType = s.handler?.type || "auto";
  const listenerType = s.listener?.type || "tcp";
  const log = ctx.log.with({ service: s.name, listener: listenerType, handler: handlerType });

  const chainName = s.handler?.chain;
  let chain: Chain | undefined;
  if (chainName) {
    chain = ctx.chains.get(chainName);
    if (!chain) throw new BuildError(`${path}.handler.chain: no chain named "${chainName}"`);
  }

  let auther: Authenticator | undefined;
  const names = s.handler?.authers ?? (s.handler?.auther ? [s.handler.auther] : []);
  if (names.length) {
    const list = names.map((n, i) => {
      const a = ctx.authers.get(n);
      if (!a) {
        throw new BuildError(`${path}.handler.auther${names.length > 1 ? `s[${i}]` : ""}: no auther named "${n}"`);
      }
      return a;
    });
    auther = { authenticate: (u, p) => list.some((a) => a.authenticate(u, p)) };
  } else if (s.handler?.auth) {
    auther = new StaticAuthenticator([s.handler.auth as Auth]);
  }

  let forwarder: TargetSelector | undefined;
  const fnodes = s.forwarder?.nodes ?? [];
  if (fnodes.length) {
    const targets: Target[] = fnodes.map((n) => ({ name: n.name, addr: n.addr, network: n.network }));
    forwarder = new Selector(targets, selectorOptions(s.forwarder?.selector));
  }

  const metadata = new Metadata(s.handler?.metadata ?? {});
  const handler = get(handlerRegistry, handlerType, `${path}.handler.type`)({
    metadata,
    auther,
    router: new ChainRouter(chain),
    forwarder,
    tls: ctx.serverTLS(s.handler?.tls as TLSConfig | undefined),
    log,
  });

  // rtcp/rudp listeners bind through `listener.chain` (the CLI puts -F there for them).
  let bind: ListenerOptions["bind"];
  const lchainName = s.listener?.chain;
  if (lchainName) {
    const lchain = ctx.chains.get(lchainName);
    if (!lchain) throw new BuildError(`${path}.listener.chain: no chain named "${lchainName}"`);
    const router = new ChainRouter(lchain);
    bind = router.bind?.bind(router);
  }
  const listenerFactory = get(listenerRegistry, listenerType, `${path}.listener.type`);
  let listener: Listener;
  try {
    listener = await listenerFactory({
      addr: s.addr,
      metadata: new Metadata(s.listener?.metadata ?? {}),
      tls: ctx.serverTLS(s.listener?.tls as TLSConfig | undefined),
      log,
      bind,
    });
  } catch (err) {
    throw new BuildError(`${path}: cannot listen on "${s.addr}": ${(err as Error).message}`);
  }
  return new Service(s.name, listener, handler, log);
}
