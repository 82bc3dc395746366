/**
 * Registration of the HTTP/2 components: the `h2`/`h2c` and `grpc` tunnel
 * transports and the `http2` proxy (listener, dialer, handler, connector).
 * Called from config/builtins.ts.
 *
 * @module
 */
import { dialerRegistry, listenerRegistry } from "../transports/registry.ts";
import { h2cDialer, h2Dialer, listenH2, listenH2c } from "../transports/h2/mod.ts";
import { grpcDialer, listenGrpc } from "../transports/grpc/mod.ts";
import { http2Dialer, listenHttp2 } from "../transports/http2/mod.ts";
import { connectorRegistry, handlerRegistry } from "../handlers/registry.ts";
import { http2Connector, http2Handler } from "../handlers/http2/mod.ts";

/** Registers this area's listeners, dialers, handlers and connectors. */
export function registerH2(): void {
  listenerRegistry.register("h2", listenH2);
  listenerRegistry.register("h2c", listenH2c);
  dialerRegistry.register("h2", h2Dialer);
  dialerRegistry.register("h2c", h2cDialer);

  listenerRegistry.register("grpc", listenGrpc);
  dialerRegistry.register("grpc", grpcDialer);

  listenerRegistry.register("http2", listenHttp2);
  dialerRegistry.register("http2", http2Dialer);
  handlerRegistry.register("http2", http2Handler);
  connectorRegistry.register("http2", http2Connector);
}
