import type { Dialer } from "../../transports/types.ts";
import type { Connector } from "../types.ts";

/** One proxy in a hop: where it is and how to speak to it. */
export interface Node {
  name: string;
  /** `host:port` of the proxy. */
  addr: string;
  connector: Connector;
  dialer: Dialer;
}
