/**
 * SOCKS5 (`socks5`, `socks`): handler and connector, GOST-compatible
 * including the TLS methods 0x80/0x82.
 *
 * @module
 */
export { replyForDialError, selectMethod, socks5Handler, unwrapConn } from "./handler.ts";
export { offeredMethods, socks5Connector } from "./connector.ts";
export {
  type ConnectorMetadata,
  DEFAULT_READ_TIMEOUT,
  DEFAULT_UDP_BUFFER_SIZE,
  type HandlerMetadata,
  parseConnectorMetadata,
  parseHandlerMetadata,
} from "./metadata.ts";
export * from "./protocol.ts";
export { Watchdog } from "./watchdog.ts";
