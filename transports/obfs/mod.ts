/**
 * gost's obfuscation transports over TCP, wire-compatible with gost 3.2.6:
 *
 * - `ohttp` (listener, dialer): the stream after a fake WebSocket upgrade
 *   (`GET` + `Upgrade: websocket`, answered `101`), then unframed.
 * - `otls` (listener, dialer): the stream inside plaintext TLS 1.2 records
 *   after a fake ClientHello/ServerHello; the client's first bytes ride in
 *   the hello's SessionTicket extension.
 * - `ohttps` (dialer): plain `ohttp`, as in gost 3.2.6 (no TLS).
 *
 * Neither obfuscation encrypts or authenticates anything: they only make
 * the first bytes look like HTTP or TLS to a passive observer.
 *
 * @module
 */
export { listenOhttp, listenOtls, type ObfsHandshake, ObfsListener } from "./listener.ts";
export { OhttpDialer, ohttpDialer, ohttpsDialer, OtlsDialer, otlsDialer } from "./dialer.ts";
export {
  BACKLOG,
  DEFAULT_PATH,
  HANDSHAKE_TIMEOUT,
  type OhttpDialerOptions,
  type OhttpListenerOptions,
  type OtlsDialerOptions,
  parseOhttpDialerMetadata,
  parseOhttpListenerMetadata,
  parseOtlsDialerMetadata,
} from "./metadata.ts";
