/**
 * Explicit registration of every built-in component under GOST's scheme
 * names. Called once from main.ts (and by tests that build configs).
 *
 * @module
 */
import { dialerRegistry, listenerRegistry } from "../transports/registry.ts";
import { listenTcp, tcpDialer } from "../transports/tcp/mod.ts";
import { listenTls, tlsDialer } from "../transports/tls/mod.ts";
import { listenWs, listenWss, wsDialer, wssDialer } from "../transports/ws/mod.ts";
import { listenMws, listenMwss, mwsDialer, mwssDialer } from "../transports/mws/mod.ts";
import { connectorRegistry, handlerRegistry } from "../handlers/registry.ts";
import { autoHandler } from "../handlers/auto/mod.ts";
import { forwardConnector, forwardHandler } from "../handlers/forward/mod.ts";
import { httpConnector, httpHandler } from "../handlers/http/mod.ts";
import { relayConnector, relayHandler } from "../handlers/relay/mod.ts";
import { socks4Connector, socks4Handler } from "../handlers/socks4/mod.ts";
import { socks5Connector, socks5Handler } from "../handlers/socks5/mod.ts";

import { registerH2 } from "./builtins_h2.ts";
import { registerPht } from "./builtins_pht.ts";
import { registerH3 } from "./builtins_h3.ts";
import { registerReverse } from "./builtins_reverse.ts";

let done = false;

export function registerBuiltins(): void {
  if (done) return;
  done = true;

  listenerRegistry.register("tcp", listenTcp);
  listenerRegistry.register("tls", listenTls);
  dialerRegistry.register("tcp", tcpDialer);
  dialerRegistry.register("tls", tlsDialer);
  listenerRegistry.register("ws", listenWs);
  listenerRegistry.register("wss", listenWss);
  listenerRegistry.register("mws", listenMws);
  listenerRegistry.register("mwss", listenMwss);
  dialerRegistry.register("ws", wsDialer);
  dialerRegistry.register("wss", wssDialer);
  dialerRegistry.register("mws", mwsDialer);
  dialerRegistry.register("mwss", mwssDialer);

  handlerRegistry.register("auto", autoHandler);
  handlerRegistry.register("http", httpHandler);
  for (const n of ["socks5", "socks"]) handlerRegistry.register(n, socks5Handler);
  for (const n of ["socks4", "socks4a"]) handlerRegistry.register(n, socks4Handler);
  handlerRegistry.register("relay", relayHandler);
  for (const n of ["forward", "tcp"]) handlerRegistry.register(n, forwardHandler);

  connectorRegistry.register("http", httpConnector);
  for (const n of ["socks5", "socks"]) connectorRegistry.register(n, socks5Connector);
  for (const n of ["socks4", "socks4a"]) connectorRegistry.register(n, socks4Connector);
  connectorRegistry.register("relay", relayConnector);
  for (const n of ["forward", "tcp"]) connectorRegistry.register(n, forwardConnector);

  // One file per area, so the areas can grow independently.
  registerH2();
  registerPht();
  registerH3();
  registerReverse();
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
]);
