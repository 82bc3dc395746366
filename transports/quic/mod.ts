/**
 * The `quic` transport (GOST's `-L quic://` listener and `-F quic://`
 * dialer): every QUIC bidirectional stream is one tunnel conn, on Deno's
 * QUIC (`--unstable-net`).
 *
 * @module
 */
export { listenQuic, QuicListener } from "./listener.ts";
export { OPEN_STREAM_TIMEOUT, QuicDialer, quicDialer } from "./dialer.ts";
export { MAX_READ, QuicStreamConn } from "./_stream.ts";
export {
  DEFAULT_BACKLOG,
  DEFAULT_HANDSHAKE_TIMEOUT,
  DEFAULT_KEEPALIVE_PERIOD,
  DEFAULT_MAX_IDLE_TIMEOUT,
  DEFAULT_MAX_STREAMS,
  parseDialerMetadata,
  parseListenerMetadata,
  type QuicDialerOptions,
  type QuicListenerOptions,
} from "./metadata.ts";
