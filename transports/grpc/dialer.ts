/**
 * The `grpc` dialer (shared/spec/h2-and-grpc.md §2.5): one HTTP/2
 * connection per node, one `Tunnel` call per dial, with grpc-go's request
 * headers.
 *
 * @module
 */
import { splitHostPort } from "../addr.ts";
import type { Logger } from "../log.ts";
import { dialTls } from "../tls/mod.ts";
import {
  type ClientTLSConfig,
  type Conn,
  type Dialer,
  type DialerOptions,
  type DialOptions,
  HandshakeError,
  type RawDial,
} from "../types.ts";
import { ClientTLSByHost, H2Session, type HeaderField, hostOf, SessionPool } from "../h2/mod.ts";
import { GrpcConn } from "./conn.ts";
import { GRPC_ALPN } from "./listener.ts";
import { type GrpcDialerOptions, parseDialerMetadata } from "./metadata.ts";

/** `user-agent` of calls: GOST's client is grpc-go. */
export const GRPC_USER_AGENT = "grpc-go/1.71.0";

/** The host part of an authority option (`host`, `host:port`, `[v6]:port`), without the port. */
export function stripPort(authority: string): string {
  try {
    return splitHostPort(authority).host;
  } catch {
    return authority.replace(/^\[(.*)\]$/, "$1");
  }
}

/** One HTTP/2 connection per node; each dial is one `Tunnel` call on it. */
export class GrpcDialer implements Dialer {
  readonly multiplex = true;
  readonly #opts: GrpcDialerOptions;
  readonly #pool: SessionPool;

  constructor(opts: GrpcDialerOptions, tls: ClientTLSConfig, log?: Logger) {
    this.#opts = opts;
    const byHost = opts.insecure ? undefined : new ClientTLSByHost(tls, GRPC_ALPN);
    const keepalive = opts.keepalive
      ? { interval: opts.keepaliveTime, timeout: opts.keepaliveTimeout, permitWithoutStream: opts.permitWithoutStream }
      : undefined;
    this.#pool = new SessionPool(
      "grpc",
      async (addr, raw, signal) => {
        let conn: Conn;
        if (byHost) {
          const tc = await dialTls(addr, raw, byHost.forAddr(addr), { signal, learnPin: true });
          if (tc.alpnProtocol && tc.alpnProtocol !== "h2") {
            tc.close();
            throw new HandshakeError(`grpc server at ${addr} chose ALPN "${tc.alpnProtocol}", not h2`);
          }
          conn = tc;
        } else {
          conn = await raw(addr, { signal });
        }
        signal.throwIfAborted();
        return new H2Session(conn, { client: true, keepalive, log });
      },
      log,
      opts.minConnectTimeout,
    );
  }

  /** Live sessions to `addr` (tests, diagnostics). */
  sessions(addr: string): H2Session[] {
    return this.#pool.sessions(addr);
  }

  dial(addr: string, raw: RawDial, opts: DialOptions = {}): Promise<Conn> {
    const headers = this.requestHeaders(addr);
    return this.#pool.open(
      addr,
      raw,
      opts,
      (session) => Promise.resolve(new GrpcConn(session.request(headers), false)),
    );
  }

  /** grpc-go's request headers, in its order. */
  requestHeaders(addr: string): HeaderField[] {
    const host = stripPort(this.#opts.authority ?? hostOf(addr) ?? "");
    return [
      [":method", "POST"],
      [":scheme", this.#opts.insecure ? "http" : "https"],
      [":path", this.#opts.methodPath],
      [":authority", host.includes(":") ? `[${host}]` : host],
      ["content-type", "application/grpc"],
      ["user-agent", GRPC_USER_AGENT],
      ["te", "trailers"],
    ];
  }

  close(): void {
    this.#pool.close();
  }
}

/** The `grpc` dialer: TLS per the node's dialer TLS config (no verification unless `secure`), or plaintext. */
export function grpcDialer(opts: DialerOptions): Dialer {
  return new GrpcDialer(parseDialerMetadata(opts.metadata), opts.tls, opts.log);
}
