/**
 * The `h2` and `h2c` tunnel transports (shared/spec/h2-and-grpc.md §1), and
 * dost's HTTP/2 implementation they, `http2` and `grpc` are built on.
 *
 * ## Why an HTTP/2 of our own, measured (Deno 2.9.6, loopback, 2 cores)
 *
 * 512 MiB through one CONNECT stream, client and server session in one
 * process, 256 KiB writes:
 *
 * | implementation                                  | up Gbit/s | down Gbit/s |
 * | ----------------------------------------------- | --------- | ----------- |
 * | `node:http2` on `node:net` sockets              | 2.3       | 1.8         |
 * | `node:http2` on a Duplex over Deno TCP conns    | 3.3–3.8   | 3.0–4.0     |
 * | this module (`H2Session`), 1 MiB stream window  | 28–34     | 24–28       |
 * | this module, peer limited to 16 KiB frames      | 25.7      | 24.5        |
 *
 * `node:http2` costs about ten times more CPU per byte, cannot be given a
 * `Conn` that is not a socket without a second Duplex adapter, and leaves
 * its sessions and sockets to Deno's test sanitizers. This module runs on
 * any `Conn` (so h2 works as a later hop), gives `Conn` streams, and is
 * checked against nghttp2 (curl, nghttp), python-h2, grpcio, nginx and
 * `node:http2` in tests/interop/h2 and tests/interop/grpc.
 *
 * @module
 */
export { H2_ALPN, H2Listener, listenH2, listenH2c } from "./listener.ts";
export { clientSessionFactory, h2cDialer, H2Dialer, h2Dialer, statusLine } from "./dialer.ts";
export {
  DEFAULT_BACKLOG,
  DEFAULT_RESPONSE_TIMEOUT,
  type H2DialerOptions,
  type H2ListenerOptions,
  parseDialerMetadata,
  parseListenerMetadata,
  USER_AGENT,
} from "./metadata.ts";
export {
  DEFAULT_CONN_WINDOW,
  DEFAULT_MAX_FRAME_SIZE,
  DEFAULT_STREAM_WINDOW,
  H2ProtocolError,
  H2RetryableError,
  H2Session,
  type H2SessionOptions,
  type KeepaliveOptions,
  type PingPolicy,
} from "./_session.ts";
export { H2Stream, StreamResetError } from "./_stream.ts";
export { DEFAULT_PREFACE_TIMEOUT, H2Server, type H2ServerOptions } from "./_server.ts";
export { H2QueueListener } from "./_queue_listener.ts";
export { SESSION_TIMEOUT, type SessionFactory, SessionPool, untilAborted } from "./_pool.ts";
export { type HeaderField, HpackDecoder, HpackEncoder } from "./_hpack.ts";
export { ErrorCode, errorName } from "./_frame.ts";
export {
  awaitResponse,
  clientAddrFromHeaders,
  ClientTLSByHost,
  headerValue,
  hostOf,
  httpDate,
  serverTLSWithAlpn,
} from "./_util.ts";
