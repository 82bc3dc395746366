/**
 * Registration of the h3 components (owned by the h3 work; see config/builtins.ts).
 *
 * GOST names, and what dost does with them:
 * - listener `h3`: PHT over HTTP/3 (`-L h3://:8443`).
 * - dialers `h3` and `http3`: the same PHT-over-HTTP/3 client
 *   (`-F h3://…` and `-F http3://…` both reach an `h3` listener).
 * - listener `http3` is deliberately NOT registered: in GOST it is an
 *   HTTP/3 reverse-proxy front end for the `http3` handler, which does not
 *   talk to `-F http3://` (shared/spec/cli-and-config.md §2.2). Leaving it
 *   out makes dost refuse `-L http3://` (unknown listener) instead of
 *   silently serving something else; use `-L h3://` for a PHT/HTTP3 server.
 *
 * @module
 */
import { dialerRegistry, listenerRegistry } from "../transports/registry.ts";
import { h3Dialer, listenH3 } from "../transports/h3/mod.ts";

/** Registers this area's listeners, dialers, handlers and connectors. */
export function registerH3(): void {
  listenerRegistry.register("h3", listenH3);
  dialerRegistry.register("h3", h3Dialer);
  dialerRegistry.register("http3", h3Dialer);
}
