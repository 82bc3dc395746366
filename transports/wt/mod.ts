/**
 * The `wt` transport: WebTransport over HTTP/3 (GOST's `-L wt://` listener
 * and `-F wt://` dialer), wire-compatible with gost 3.2.6's
 * quic-go/webtransport-go v0.9.0 (draft-02). The dialer keeps one session
 * per node and opens one stream per dial; the listener accepts every stream
 * of every session. Runs on Deno's QUIC with dost's own HTTP/3 (`../_h3/`),
 * since Deno's built-in WebTransport speaks a later draft that gost does not
 * accept. Needs `--unstable-net`.
 *
 * @module
 */
export { listenWt, WtListener } from "./listener.ts";
export { WtDialer, wtDialer } from "./dialer.ts";
export {
  DEFAULT_BACKLOG,
  DEFAULT_HANDSHAKE_TIMEOUT,
  DEFAULT_KEEPALIVE_PERIOD,
  DEFAULT_MAX_IDLE_TIMEOUT,
  DEFAULT_MAX_STREAMS,
  DEFAULT_PATH,
  parseDialerMetadata,
  parseListenerMetadata,
  type WtDialerOptions,
  type WtListenerOptions,
} from "./metadata.ts";
