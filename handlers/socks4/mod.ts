/**
 * SOCKS4 and SOCKS4a (`socks4`, `socks4a`): handler and connector.
 *
 * @module
 */
export { socks4Handler } from "./handler.ts";
export { socks4Connector } from "./connector.ts";
export {
  type ConnectorMetadata,
  DEFAULT_READ_TIMEOUT,
  type HandlerMetadata,
  parseConnectorMetadata,
  parseHandlerMetadata,
} from "./metadata.ts";
export * from "./protocol.ts";
