/**
 * GOST's relay protocol: the `relay` handler and connector and the wire codec.
 *
 * @module
 */
export { relayHandler } from "./handler.ts";
export { MAX_DATAGRAM, relayConnector } from "./connector.ts";
export {
  DEFAULT_READ_TIMEOUT,
  parseConnectorMetadata,
  parseHandlerMetadata,
  type RelayConnectorMetadata,
  type RelayHandlerMetadata,
} from "./metadata.ts";
export * from "./protocol.ts";
