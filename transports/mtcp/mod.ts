/**
 * The `mtcp` and `mtls` transports: smux sessions straight over TCP, or over
 * TLS (GOST's listener/mtcp, listener/mtls, dialer/mtcp, dialer/mtls). The
 * dialer is a smux client keeping one session per node, the listener a smux
 * server accepting streams from every session. One folder serves both names,
 * as mws serves mws and mwss: they differ only by the TLS layer and GOST's
 * default smux version (mtcp 2, mtls 1).
 *
 * @module
 */
export { listenMtcp, listenMtls, MtcpListener } from "./listener.ts";
export { MtcpDialer, mtcpDialer, mtlsDialer } from "./dialer.ts";
export {
  DEFAULT_BACKLOG,
  MTCP_MUX_VERSION,
  type MtcpDialerOptions,
  type MtcpListenerOptions,
  parseDialerMetadata,
  parseListenerMetadata,
} from "./metadata.ts";
