/**
 * The `h2` (TLS) and `h2c` (cleartext) tunnel listeners
 * (shared/spec/h2-and-grpc.md §1.1): an HTTP/2 server whose every accepted
 * request stream is one conn. Without `path` the request must be CONNECT
 * (else 405); with `path` the `:path` must equal it (else 400). An accepted
 * request gets `200` at once; then the request body is the client→server
 * byte stream and the response body the server→client one.
 *
 * @module
 */
import { formatAddr, type Logger } from "../log.ts";
import { TcpListener } from "../tcp/mod.ts";
import { listenTls } from "../tls/mod.ts";
import type { Listener, ListenerOptions } from "../types.ts";
import { H2QueueListener } from "./_queue_listener.ts";
import type { H2Stream } from "./_stream.ts";
import { clientAddrFromHeaders, httpDate, serverTLSWithAlpn } from "./_util.ts";
import { type H2ListenerOptions, parseListenerMetadata } from "./metadata.ts";

/** ALPN offered by the h2 listener (Go's HTTP/2 server adds both). */
export const H2_ALPN = ["h2", "http/1.1"];

/**
 * Tunnel streams from every HTTP/2 connection of an inner listener. Streams
 * are queued up to `backlog`; one arriving at a full queue gets its 200 and
 * is ended at once (GOST does the same). `close()` stops accepting and
 * sends GOAWAY; connections close once their streams are done.
 */
export class H2Listener extends H2QueueListener<H2Stream> {
  readonly #opts: H2ListenerOptions;
  readonly #log: Logger;

  /** `cleartext`: h2c, which also accepts the HTTP/1.1 `Upgrade: h2c` handshake. */
  constructor(inner: Listener, opts: H2ListenerOptions, log: Logger, cleartext = false) {
    super(inner, opts.backlog, {
      log,
      prefaceTimeout: opts.prefaceTimeout,
      h2cUpgrade: cleartext,
      onStream: (s) => this.#route(s),
    });
    this.#opts = opts;
    this.#log = log;
  }

  #route(s: H2Stream): void {
    const method = s.header(":method");
    const path = s.header(":path");
    const remote = formatAddr(s.remoteAddr);
    if (this.#opts.path === "" ? method !== "CONNECT" : path !== this.#opts.path) {
      const status = this.#opts.path === "" ? "405" : "400";
      this.#log.debug(`h2 tunnel request refused: ${method} ${path ?? ""}`, { remote, status });
      s.respond([[":status", status], ["content-length", "0"], ["date", httpDate()]], true);
      s.close();
      return;
    }
    s.remoteAddrOverride = clientAddrFromHeaders(s.requestHeaders);
    s.respond([[":status", "200"], ["date", httpDate()]]);
    if (!this.enqueue(s)) {
      s.close();
      this.#log.warn(`connection queue is full, client ${remote} discarded`, { remote });
    }
  }
}

/** The `h2c` listener: HTTP/2 on plain TCP, with prior knowledge or the HTTP/1.1 `Upgrade: h2c` handshake. */
export function listenH2c(opts: ListenerOptions): Promise<Listener> {
  const md = parseListenerMetadata(opts.metadata);
  return Promise.resolve(new H2Listener(TcpListener.listen(opts.addr), md, opts.log, true));
}

/** The `h2` listener: HTTP/2 over TLS (service certificate, ALPN `h2`, `http/1.1`). */
export async function listenH2(opts: ListenerOptions): Promise<Listener> {
  const md = parseListenerMetadata(opts.metadata);
  const inner = await listenTls({ ...opts, tls: serverTLSWithAlpn(opts.tls, H2_ALPN) });
  return new H2Listener(inner, md, opts.log);
}
