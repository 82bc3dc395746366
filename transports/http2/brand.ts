import type { Conn } from "../types.ts";

/**
 * Marks the `http2` listener's request conns. On its own so that policy
 * wrappers can recognise them without importing the HTTP/2 engine.
 */
export const HTTP2_REQUEST_BRAND: unique symbol = Symbol("Http2RequestConn");

/** True for the `http2` listener's request conns (they carry `request` and `respond()`). */
export function hasHttp2RequestBrand(c: Conn): boolean {
  return (c as unknown as Record<symbol, unknown>)[HTTP2_REQUEST_BRAND] === true;
}
