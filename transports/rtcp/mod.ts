/**
 * Remote TCP port forwarding: the `rtcp` listener, the reconnecting reverse
 * listener it (and `rudp`) is built on, and both ends of the smux-carried
 * bind that relay BIND and SOCKS5 MBIND share.
 *
 * @module
 */
export { listenRtcp } from "./listener.ts";
export {
  type BindOptions,
  MAX_RETRY_DELAY,
  MIN_RETRY_DELAY,
  ReverseListener,
  type ReverseListenerOptions,
} from "./reverse.ts";
export {
  HEADER_TIMEOUT,
  MuxBindListener,
  type MuxBindStats,
  type ReadStreamHeader,
  serveMuxBind,
  type ServeMuxBindOptions,
} from "./mux.ts";
