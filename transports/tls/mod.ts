/**
 * The `tls` transport and the TLS utilities other transports build on.
 *
 * ## Which TLS engine, measured (Deno 2.9.6, loopback, 2 cores)
 *
 * 1 GiB one way, 256 KiB buffers reused, read/write loops; server and client
 * in separate processes; the receiver times it. Gbit/s, best of 3 on a quiet
 * machine (second column: median of 3 later, with other benchmarks running).
 *
 * | server                         | client                          | c→s        | s→c        |
 * | ------------------------------ | ------------------------------- | ---------- | ---------- |
 * | (a) Deno.listenTls             | (a) Deno.connectTls             | 25.5 / 11.6 | 22.7 / 8.3 |
 * | (a) Deno.listenTls             | (a) Deno.startTls on a TcpConn  | 20.9 / 12.3 | 26.6 / 11.5 |
 * | (b) node:tls over Duplex(Conn) | (a) Deno.connectTls             | 11.5 / 8.5 | 10.6 / 6.2 |
 * | (a) Deno.listenTls             | (b) node:tls over Duplex(Conn)  | 7.2 / 7.4  | 11.8 / 8.2 |
 * | (b) node:tls over Duplex(Conn) | (b) node:tls over Duplex(Conn)  | 10.2 / 4.6 | 10.6 / 4.6 |
 * | (c) node:tls on node:net       | (a) Deno.connectTls             | 11.8 ¹     | 8.5        |
 * | (a) Deno.listenTls             | (c) node:tls on node:net        | 14.0       | fails ²    |
 * | (c) node:tls on node:net       | (c) node:tls on node:net        | hangs ¹    | 10.2       |
 *
 * ¹ (c) as a server often never sees the end of stream after the client's
 *   close_notify + FIN with `allowHalfOpen`; ² (c) as a client ends without
 *   close_notify. Half-close is broken there, so (c) is out.
 *
 * Latency, write-write-read ping-pong of 1-byte messages: 44 ms per exchange
 * with a `Deno.listenTls` server (its conns have no `setNoDelay`, so Nagle's
 * algorithm meets the peer's delayed ACK), 0.1 ms with (b) over a TcpConn
 * with TCP_NODELAY, and 0.1 ms for a `Deno.startTls` client (the option set
 * on the TcpConn survives the upgrade).
 *
 * Decision (revised 2026-11-22, see docs/benchmarks.md):
 * - Listener: (a) `Deno.listenTls`, with TCP_NODELAY set on the listening
 *   socket through libc so accepted conns inherit it (`tcp/sockopt.ts`), and
 *   `shutdown(2)` to end handshakes that time out. (b) over `Deno.listen` +
 *   TCP_NODELAY when client certificates are required or FFI is not allowed.
 * - Dialer (`dialTls`): over a first-hop TCP conn, (a) `Deno.startTls` —
 *   verified with the system roots when `secure` is set, otherwise pinned to
 *   the chain an earlier (b) handshake with the same node saw (its only
 *   trust anchors, host name unchecked: the same acceptance as GOST's
 *   `secure=false`). (b) for the first dial to a node, with a private CA or
 *   a client certificate, and over any other Conn (tunnels, TLS in TLS).
 *   (c) is still out: in Deno 2.9.6 its `pause()`/`resume()` loses the end
 *   of stream, so it cannot apply backpressure.
 *
 * @module
 */
export { listenTls, TlsListener } from "./listener.ts";
export { TlsDialer, tlsDialer } from "./dialer.ts";
export {
  DEFAULT_HANDSHAKE_TIMEOUT,
  dialTls,
  type DialTlsOptions,
  isDenoTcpConn,
  tlsClient,
  type TlsConn,
  type TlsHandshakeOptions,
  tlsServer,
} from "./conn.ts";
export { type CertificateKeyPair, type CertificateOptions, generateCertificate } from "./cert.ts";
export {
  defaultServerTLS,
  type DefaultTLSOptions,
  type GlobalTLSConfig,
  loadClientTLS,
  loadServerTLS,
  type TLSFileConfig,
} from "./load.ts";
