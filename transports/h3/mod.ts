/**
 * The `h3` transport: PHT carried over HTTP/3 (GOST's `-L h3://` listener
 * and `-F h3://` / `-F http3://` dialer), on Deno's QUIC with dost's own
 * HTTP/3 and QPACK (`../_h3/`). Needs `--unstable-net`.
 *
 * @module
 */
export { H3Listener, listenH3 } from "./listener.ts";
export { H3Dialer, h3Dialer, REUSED_TIMEOUT, SESSIONS_PER_CONNECTION } from "./dialer.ts";
export {
  DEFAULT_HANDSHAKE_TIMEOUT,
  DEFAULT_KEEPALIVE_PERIOD,
  DEFAULT_MAX_IDLE_TIMEOUT,
  DEFAULT_MAX_STREAMS,
  type H3DialerOptions,
  type H3ListenerOptions,
  parseDialerMetadata,
  parseListenerMetadata,
} from "./metadata.ts";
export { certificateHash, probeCertificate, ProbeError } from "./_probe.ts";
export { connectQuicNode, type QuicNodeOptions } from "./_connect.ts";
export { acceptQuic, type AcceptQuicOptions } from "./_accept.ts";
