/**
 * Registration of the reverse components (see config/builtins.ts): remote
 * port forwarding (`rtcp`, `rudp`) and UDP port forwarding (`udp`).
 *
 * @module
 */
import { dialerRegistry, listenerRegistry } from "../transports/registry.ts";
import { listenRtcp } from "../transports/rtcp/mod.ts";
import { listenRudp } from "../transports/rudp/mod.ts";
import { listenUdp, udpDialer } from "../transports/udp/mod.ts";
import { handlerRegistry } from "../handlers/registry.ts";
import { forwardHandler, udpForwardHandler } from "../handlers/forward/mod.ts";

/** Registers this area's listeners, dialers, handlers and connectors. */
export function registerReverse(): void {
  listenerRegistry.register("rtcp", listenRtcp);
  listenerRegistry.register("rudp", listenRudp);
  listenerRegistry.register("udp", listenUdp);
  dialerRegistry.register("udp", udpDialer);
  // The per-connection side of rtcp/rudp is local forwarding to the service's targets.
  handlerRegistry.register("rtcp", forwardHandler);
  handlerRegistry.register("rudp", udpForwardHandler);
  handlerRegistry.register("udp", udpForwardHandler);
}
