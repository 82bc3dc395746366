import type { Conn } from "../../transports/types.ts";
import type { Connector } from "../types.ts";

/**
 * The `forward` / `tcp` connector: a no-op that hands back the transport conn,
 * so the client's bytes travel unchanged and the server picks the target.
 */
export class ForwardConnector implements Connector {
  connect(conn: Conn): Promise<Conn> {
    return Promise.resolve(conn);
  }
}

export function forwardConnector(): Connector {
  return new ForwardConnector();
}
