/**
 * The HTTP/2 proxy handler and connector (shared/spec/http-proxy.md §3);
 * they work only with the `http2` listener and dialer.
 *
 * @module
 */
export { Http2Handler, http2Handler } from "./handler.ts";
export { DEFAULT_CONNECT_TIMEOUT, Http2Connector, http2Connector, USER_AGENT } from "./connector.ts";
