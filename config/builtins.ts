/**
 * Explicit registration of every built-in component under GOST's scheme
 * names. Called once from main.ts (and by tests that build configs).
 *
 * @module
 */
import { dialerRegistry, listenerRegistry } from "../transports/registry.ts";
import { listenTcp, tcpDialer } from "../transports/tcp/mod.ts";
import { connectorRegistry, handlerRegistry } from "../handlers/registry.ts";
import type { Registry } from "../transports/registry.ts";

let done = false;

/** Registers `names` in `reg`, each loading `pick(module)` from `load()` when a config first uses it. */
function lazy<T, M>(reg: Registry<T>, names: string[], load: () => Promise<M>, pick: (m: M) => T): void {
  for (const n of names) reg.registerLazy(n, async () => pick(await load()));
}

/**
 * Registers every built-in component under GOST's names. Only tcp is
 * imported at once; each other transport and protocol is imported when a
 * config uses it, so start-up and idle memory pay only for what runs.
 */
export function registerBuiltins(): void {
  if (done) return;
  done = true;

  listenerRegistry.register("tcp", listenTcp);
  dialerRegistry.register("tcp", tcpDialer);

  const tls = () => import("../transports/tls/mod.ts");
  lazy(listenerRegistry, ["tls"], tls, (m) => m.listenTls);
  lazy(dialerRegistry, ["tls"], tls, (m) => m.tlsDialer);
  const ws = () => import("../transports/ws/mod.ts");
  lazy(listenerRegistry, ["ws"], ws, (m) => m.listenWs);
  lazy(listenerRegistry, ["wss"], ws, (m) => m.listenWss);
  lazy(dialerRegistry, ["ws"], ws, (m) => m.wsDialer);
  lazy(dialerRegistry, ["wss"], ws, (m) => m.wssDialer);
  const mws = () => import("../transports/mws/mod.ts");
  lazy(listenerRegistry, ["mws"], mws, (m) => m.listenMws);
  lazy(listenerRegistry, ["mwss"], mws, (m) => m.listenMwss);
  lazy(dialerRegistry, ["mws"], mws, (m) => m.mwsDialer);
  lazy(dialerRegistry, ["mwss"], mws, (m) => m.mwssDialer);
  const h2 = () => import("../transports/h2/mod.ts");
  lazy(listenerRegistry, ["h2"], h2, (m) => m.listenH2);
  lazy(listenerRegistry, ["h2c"], h2, (m) => m.listenH2c);
  lazy(dialerRegistry, ["h2"], h2, (m) => m.h2Dialer);
  lazy(dialerRegistry, ["h2c"], h2, (m) => m.h2cDialer);
  const grpc = () => import("../transports/grpc/mod.ts");
  lazy(listenerRegistry, ["grpc"], grpc, (m) => m.listenGrpc);
  lazy(dialerRegistry, ["grpc"], grpc, (m) => m.grpcDialer);
  const http2 = () => import("../transports/http2/mod.ts");
  lazy(listenerRegistry, ["http2"], http2, (m) => m.listenHttp2);
  lazy(dialerRegistry, ["http2"], http2, (m) => m.http2Dialer);
  const pht = () => import("../transports/pht/mod.ts");
  lazy(listenerRegistry, ["pht"], pht, (m) => m.listenPht);
  lazy(listenerRegistry, ["phts"], pht, (m) => m.listenPhts);
  lazy(dialerRegistry, ["pht"], pht, (m) => m.phtDialer);
  lazy(dialerRegistry, ["phts"], pht, (m) => m.phtsDialer);
  const h3 = () => import("../transports/h3/mod.ts");
  // The http3 listener is PHT over HTTP/3 too (gost's is an HTTP/3 server for its reverse-proxy handler).
  lazy(listenerRegistry, ["h3", "http3"], h3, (m) => m.listenH3);
  lazy(dialerRegistry, ["h3", "http3"], h3, (m) => m.h3Dialer);
  lazy(listenerRegistry, ["rtcp"], () => import("../transports/rtcp/mod.ts"), (m) => m.listenRtcp);
  lazy(listenerRegistry, ["rudp"], () => import("../transports/rudp/mod.ts"), (m) => m.listenRudp);
  const udp = () => import("../transports/udp/mod.ts");
  lazy(listenerRegistry, ["udp"], udp, (m) => m.listenUdp);
  lazy(dialerRegistry, ["udp"], udp, (m) => m.udpDialer);
  const obfs = () => import("../transports/obfs/mod.ts");
  lazy(listenerRegistry, ["ohttp"], obfs, (m) => m.listenOhttp);
  lazy(listenerRegistry, ["otls"], obfs, (m) => m.listenOtls);
  lazy(dialerRegistry, ["ohttp"], obfs, (m) => m.ohttpDialer);
  lazy(dialerRegistry, ["ohttps"], obfs, (m) => m.ohttpsDialer);
  lazy(dialerRegistry, ["otls"], obfs, (m) => m.otlsDialer);
  const wt = () => import("../transports/wt/mod.ts");
  lazy(listenerRegistry, ["wt"], wt, (m) => m.listenWt);
  lazy(dialerRegistry, ["wt"], wt, (m) => m.wtDialer);
  const quic = () => import("../transports/quic/mod.ts");
  lazy(listenerRegistry, ["quic"], quic, (m) => m.listenQuic);
  lazy(dialerRegistry, ["quic"], quic, (m) => m.quicDialer);
  const mtcp = () => import("../transports/mtcp/mod.ts");
  lazy(listenerRegistry, ["mtcp"], mtcp, (m) => m.listenMtcp);
  lazy(listenerRegistry, ["mtls"], mtcp, (m) => m.listenMtls);
  lazy(dialerRegistry, ["mtcp"], mtcp, (m) => m.mtcpDialer);
  lazy(dialerRegistry, ["mtls"], mtcp, (m) => m.mtlsDialer);
  const tunnel = () => import("../handlers/tunnel/mod.ts");
  lazy(handlerRegistry, ["tunnel"], tunnel, (m) => m.tunnelHandler);
  lazy(connectorRegistry, ["tunnel"], tunnel, (m) => m.tunnelConnector);

  lazy(handlerRegistry, ["auto"], () => import("../handlers/auto/mod.ts"), (m) => m.autoHandler);
  const http = () => import("../handlers/http/mod.ts");
  lazy(handlerRegistry, ["http"], http, (m) => m.httpHandler);
  lazy(connectorRegistry, ["http"], http, (m) => m.httpConnector);
  const socks5 = () => import("../handlers/socks5/mod.ts");
  lazy(handlerRegistry, ["socks5", "socks"], socks5, (m) => m.socks5Handler);
  lazy(connectorRegistry, ["socks5", "socks"], socks5, (m) => m.socks5Connector);
  const socks4 = () => import("../handlers/socks4/mod.ts");
  lazy(handlerRegistry, ["socks4", "socks4a"], socks4, (m) => m.socks4Handler);
  lazy(connectorRegistry, ["socks4", "socks4a"], socks4, (m) => m.socks4Connector);
  const relay = () => import("../handlers/relay/mod.ts");
  lazy(handlerRegistry, ["relay"], relay, (m) => m.relayHandler);
  lazy(connectorRegistry, ["relay"], relay, (m) => m.relayConnector);
  const forward = () => import("../handlers/forward/mod.ts");
  // rtcp/rudp/udp services forward what their listener accepts to the service's targets.
  lazy(handlerRegistry, ["forward", "tcp", "rtcp"], forward, (m) => m.forwardHandler);
  lazy(handlerRegistry, ["rudp", "udp"], forward, (m) => m.udpForwardHandler);
  lazy(connectorRegistry, ["forward", "tcp"], forward, (m) => m.forwardConnector);
  const h2proxy = () => import("../handlers/http2/mod.ts");
  lazy(handlerRegistry, ["http2"], h2proxy, (m) => m.http2Handler);
  lazy(connectorRegistry, ["http2"], h2proxy, (m) => m.http2Connector);
}

/** Imports the components a config names (types that dost does not have are left for the checks to report). */
export async function loadComponents(cfg: import("./schema.ts").Config): Promise<void> {
  const wanted: Promise<boolean>[] = [];
  for (const s of cfg.services ?? []) {
    wanted.push(handlerRegistry.load(s.handler?.type || "auto"), listenerRegistry.load(s.listener?.type || "tcp"));
  }
  for (const h of [...(cfg.hops ?? []), ...(cfg.chains ?? []).flatMap((c) => c.hops ?? [])]) {
    for (const n of h.nodes ?? []) {
      wanted.push(connectorRegistry.load(n.connector?.type || "http"), dialerRegistry.load(n.dialer?.type || "tcp"));
    }
  }
  await Promise.all(wanted);
}

/** Dialers whose transport is TLS (for the "verification is off" start-up warning). */
export const TLS_DIALERS: ReadonlySet<string> = new Set([
  "tls",
  "mtls",
  "wss",
  "mwss",
  "h2",
  "http2",
  "grpc",
  "phts",
  "h3",
  "http3",
  "quic",
  "wt",
]);
