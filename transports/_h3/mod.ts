/**
 * HTTP/3 (RFC 9114) with QPACK (RFC 9204, static table and literals only)
 * over Deno's QUIC, small enough to read in one sitting: a server that turns
 * request streams into `Request`s for a `(req) => Promise<Response>`
 * handler, and a fetch-like client. Used by the `h3`/`http3` transports to
 * carry PHT.
 *
 * @module
 */
export { type H3Handler, type H3RequestInfo, serveH3, type ServeH3Options } from "./server.ts";
export { type Fetcher, H3ClosedError, type H3Fetcher, h3Fetcher } from "./client.ts";
export { type H3Options, MAX_CONTROL_FRAME_SIZE } from "./connection.ts";
export { ErrorCode, errorName, H3Error } from "./frames.ts";
export { DEFAULT_MAX_FIELD_SECTION_SIZE } from "./qpack.ts";

/** The ALPN protocol id of HTTP/3. */
export const ALPN_H3 = "h3";
