import type { Dialer } from "../../transports/types.ts";
import type { Connector } from "../types.ts";
import type { BypassMatcher } from "../bypass/mod.ts";
import type { Selectable } from "./selector.ts";

/** One proxy in a hop: where it is and how to speak to it. */
export interface Node extends Selectable {
  name: string;
  /** `host:port` of the proxy. */
  addr: string;
  connector: Connector;
  dialer: Dialer;
  /** Targets this node must not carry (node-level `bypass`): the hop skips it for them. */
  bypass?: BypassMatcher;
  /** Maps the node's own address through the node's (else the hop's) hosts and resolver. */
  resolve?: (addr: string, signal?: AbortSignal) => Promise<string>;
}
