/**
 * gost's tunnel handler and connector (reverse-proxy tunnels with
 * entrypoints routed by ingress rules) on the relay wire format.
 *
 * @module
 */
export { TunnelHandler, tunnelHandler, TunnelUnavailableError } from "./handler.ts";
export { tunnelConnector } from "./connector.ts";
export { endpointOf, streamHeader } from "./_wire.ts";
export { MAX_CONNECTORS_PER_TUNNEL, MAX_WEIGHT, TunnelConnector, TunnelPool } from "./pool.ts";
export { MAX_HEAD_BYTES } from "./entrypoint.ts";
export {
  DEFAULT_READ_TIMEOUT,
  type EntrypointSpec,
  parseConnectorMetadata,
  parseHandlerMetadata,
  TUNNEL_MUX_DEFAULTS,
  type TunnelConnectorMetadata,
  type TunnelHandlerMetadata,
} from "./metadata.ts";
export { MergedListener } from "./merged_listener.ts";
