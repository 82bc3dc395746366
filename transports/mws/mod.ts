/**
 * The `mws` and `mwss` transports: smux sessions over WebSocket
 * (shared/spec/websocket.md §4–§5). The dialer is a smux client keeping one
 * session per node, the listener a smux server accepting streams from every
 * session.
 *
 * @module
 */
export { listenMws, listenMwss, MwsListener } from "./listener.ts";
export { MwsDialer, mwsDialer, mwssDialer } from "./dialer.ts";
export { SESSION_TIMEOUT } from "../_mux/session_dialer.ts";
export {
  type MwsDialerOptions,
  type MwsListenerOptions,
  parseDialerMetadata,
  parseListenerMetadata,
} from "./metadata.ts";
