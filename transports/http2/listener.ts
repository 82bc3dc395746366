/**
 * The `http2` listener (shared/spec/http-proxy.md §3.1): TLS always, ALPN
 * `h2` and `http/1.1`; every request of either protocol becomes one
 * {@linkcode Http2RequestConn} for the `http2` handler.
 *
 * @module
 */
import type { BufferedConn } from "../_io/buffered_conn.ts";
import { HttpParseError, readRequestHead, type RequestHead } from "../_http1/head.ts";
import { writeAll } from "../_io/write_all.ts";
import { formatAddr, type Logger } from "../log.ts";
import { listenTls } from "../tls/mod.ts";
import type { Listener, ListenerOptions } from "../types.ts";
import { ErrorCode, H2_ALPN, H2QueueListener, type H2Stream, serverTLSWithAlpn } from "../h2/mod.ts";
import { Http1RequestConn, type Http2RequestConn, StreamRequestConn } from "./conn.ts";
import { type Http2ListenerOptions, parseListenerMetadata } from "./metadata.ts";

const BAD_REQUEST = new TextEncoder().encode(
  "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
);

/** Requests from the HTTP/2 and HTTP/1.1 connections of a TLS listener. */
export class Http2Listener extends H2QueueListener<Http2RequestConn> {
  readonly #opts: Http2ListenerOptions;
  readonly #log: Logger;

  constructor(inner: Listener, opts: Http2ListenerOptions, log: Logger) {
    super(inner, opts.backlog, {
      log,
      prefaceTimeout: opts.readHeaderTimeout,
      onStream: (s) => this.#onStream(s),
      onHttp1: (c) => this.#onHttp1(c),
    });
    this.#opts = opts;
    this.#log = log;
  }

  #onStream(s: H2Stream): void {
    if (!this.enqueue(new StreamRequestConn(s))) {
      s.reset(ErrorCode.REFUSED_STREAM);
      this.#log.warn(`connection queue is full, client ${formatAddr(s.remoteAddr)} discarded`);
    }
  }

  /** One request per HTTP/1.x connection (answered with `Connection: close` semantics). */
  async #onHttp1(conn: BufferedConn): Promise<void> {
    let head: RequestHead | null;
    const timer = setTimeout(() => conn.close(), this.#opts.readHeaderTimeout);
    try {
      head = await readRequestHead(conn);
    } catch (err) {
      if (err instanceof HttpParseError) await writeAll(conn, BAD_REQUEST).catch(() => {});
      return;
    } finally {
      clearTimeout(timer);
    }
    if (!head) return;
    const rc = new Http1RequestConn(conn, head);
    if (!this.enqueue(rc)) {
      this.#log.warn(`connection queue is full, client ${formatAddr(conn.remoteAddr)} discarded`);
      return;
    }
    await rc.done;
  }
}

/** The `http2` listener: TLS with the service certificate, HTTP/2 and HTTP/1.1. */
export async function listenHttp2(opts: ListenerOptions): Promise<Listener> {
  const md = parseListenerMetadata(opts.metadata);
  const inner = await listenTls({ ...opts, tls: serverTLSWithAlpn(opts.tls, H2_ALPN) });
  return new Http2Listener(inner, md, opts.log);
}
