/**
 * The `http2` transport (shared/spec/http-proxy.md §3): the HTTP/2 proxy's
 * listener, whose conns carry one request each for the `http2` handler, and
 * its dialer, whose conns are handles on a shared HTTP/2 connection for the
 * `http2` connector. Built on dost's HTTP/2 (transports/h2).
 *
 * @module
 */
export { Http2Listener, listenHttp2 } from "./listener.ts";
export { Http2ClientConn, Http2Dialer, http2Dialer, IDLE_TIMEOUT } from "./dialer.ts";
export {
  canonical,
  Http1RequestConn,
  type Http2RequestConn,
  isHttp2RequestConn,
  type ProxyRequest,
  statusText,
  StreamRequestConn,
} from "./conn.ts";
export { DEFAULT_BACKLOG, type Http2ListenerOptions, parseListenerMetadata } from "./metadata.ts";
