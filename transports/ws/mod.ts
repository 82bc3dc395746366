/**
 * The `ws` and `wss` transports: one WebSocket per tunnel connection
 * (shared/spec/websocket.md §1–§3), on dost's own RFC 6455 code (`_ws`), so
 * the dialer also works as a later hop over a stream that is not a socket.
 *
 * @module
 */
export { ConnQueue, listenWs, listenWss, WsListener } from "./listener.ts";
export { WsDialer, wsDialer, wssDialer } from "./dialer.ts";
export {
  DEFAULT_BACKLOG,
  parseDialerMetadata,
  parseListenerMetadata,
  type WsDialerOptions,
  type WsListenerOptions,
} from "./metadata.ts";
