/**
 * The optional bind capability of a connector (GOST's `connector.Binder`):
 * asks the proxy server on an established, handshaken conn to listen on an
 * address and hand back what it accepts. relay (BIND) and SOCKS5 (MBIND,
 * UDP-TUN) connectors have it; others cannot bind.
 *
 * @module
 */
import type { BindOptions } from "../../transports/rtcp/reverse.ts";
import type { Conn, Listener } from "../../transports/types.ts";
import type { Connector } from "../types.ts";

export type { BindOptions };

/** A connector that can bind on its server. */
export interface BindConnector extends Connector {
  /**
   * Binds `addr` (`host:port`, empty host = all interfaces) for `network`
   * ("tcp": a listener of carried connections; "udp": a listener of
   * pseudo-connections, one per remote sender) over `conn`, which it owns
   * from then on.
   */
  bind(conn: Conn, network: string, addr: string, opts?: BindOptions): Promise<Listener>;
}

/** True when `c` can bind. */
export function canBind(c: Connector): c is BindConnector {
  return typeof (c as Partial<BindConnector>).bind === "function";
}
