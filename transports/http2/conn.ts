/**
 * The per-request conns of the `http2` listener (shared/spec/http-proxy.md
 * §3.1): one per HTTP request, carrying the request line and headers and a
 * way to answer. The `http2` handler is the only one that can use them.
 *
 * After `respond()`, `read()` / `write()` carry the bodies: the request and
 * response DATA of the HTTP/2 stream, or for an HTTP/1.1 client the raw
 * connection (GOST hijacks it after answering CONNECT).
 *
 * @module
 */
import { BufferedConn } from "../_io/buffered_conn.ts";
import { closeQuietly, writeAll } from "../_io/write_all.ts";
import type { RequestHead } from "../_http1/head.ts";
import { type H2Stream, type HeaderField, httpDate } from "../h2/mod.ts";
import type { Addr, Conn } from "../types.ts";
import { hasHttp2RequestBrand, HTTP2_REQUEST_BRAND } from "./brand.ts";

/** What a client asked for. Header names are lower case; pseudo-headers are not in `headers`. */
export interface ProxyRequest {
  /** `HTTP/2` or the HTTP/1 version (`HTTP/1.1`). */
  readonly protocol: string;
  readonly method: string;
  /** `:authority` (HTTP/2), or the CONNECT target / URI host / `Host` (HTTP/1). */
  readonly authority: string;
  /** `:path` (HTTP/2) or the request target (HTTP/1). */
  readonly path: string;
  /** `:scheme`, or the absolute URI's scheme; `https` when neither says (the listener is TLS). */
  readonly scheme: string;
  readonly headers: HeaderField[];
  /** The request has no body (HTTP/2 END_STREAM with the headers). */
  readonly bodyless: boolean;
}

/** A request of the `http2` listener, answered by the handler. */
export interface Http2RequestConn extends Conn {
  readonly request: ProxyRequest;
  /** True for HTTP/1.x clients (raw connection after the answer). */
  readonly http1: boolean;
  /** Sends the status and headers; `end` also ends the response (no body). Once only. */
  respond(status: number, headers?: HeaderField[], end?: boolean): Promise<void>;
}

const BRAND = HTTP2_REQUEST_BRAND;

/** True for conns handed out by the `http2` listener. */
export function isHttp2RequestConn(c: Conn): c is Http2RequestConn {
  return hasHttp2RequestBrand(c);
}

const STATUS_TEXT: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  407: "Proxy Authentication Required",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
};

/** Go's status text, or `Status`. */
export function statusText(code: number): string {
  return STATUS_TEXT[code] ?? "Status";
}

/** A request on an HTTP/2 stream. */
export class StreamRequestConn implements Http2RequestConn {
  readonly [BRAND] = true;
  readonly http1 = false;
  readonly request: ProxyRequest;
  readonly stream: H2Stream;
  #responded = false;

  constructor(stream: H2Stream) {
    this.stream = stream;
    const all = stream.requestHeaders;
    const get = (n: string) => all.find(([k]) => k === n)?.[1];
    this.request = {
      protocol: "HTTP/2",
      method: get(":method") ?? "",
      authority: get(":authority") ?? get("host") ?? "",
      path: get(":path") ?? "",
      scheme: get(":scheme") ?? "https",
      headers: all.filter(([k]) => !k.startsWith(":")),
      bodyless: stream.remoteEnded,
    };
  }

  get localAddr(): Addr {
    return this.stream.localAddr;
  }
  get remoteAddr(): Addr {
    return this.stream.remoteAddr;
  }

  respond(status: number, headers: HeaderField[] = [], end = false): Promise<void> {
    if (this.#responded) return Promise.reject(new Error("Response already sent"));
    this.#responded = true;
    try {
      // Go's server adds `date` to every response.
      this.stream.respond([[":status", String(status)], ...headers, ["date", httpDate()]], end);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  read(p: Uint8Array): Promise<number | null> {
    return this.stream.read(p);
  }
  write(p: Uint8Array): Promise<number> {
    return this.stream.write(p);
  }
  closeWrite(): Promise<void> {
    return this.stream.closeWrite();
  }
  close(): void {
    if (!this.#responded) {
      // Never answered (e.g. dropped): refuse the stream rather than leave it hanging.
      this.#responded = true;
      this.stream.reset(0x7);
      return;
    }
    this.stream.close();
  }
}

const encoder = new TextEncoder();

/** A request of an HTTP/1.x client; the answer is written on the raw connection. */
export class Http1RequestConn implements Http2RequestConn {
  readonly [BRAND] = true;
  readonly http1 = true;
  readonly request: ProxyRequest;
  readonly head: RequestHead;
  readonly #conn: BufferedConn;
  #responded = false;
  #closed = false;
  readonly #done: Promise<void>;
  #resolveDone!: () => void;

  constructor(conn: BufferedConn, head: RequestHead) {
    this.#conn = conn;
    this.head = head;
    this.#done = new Promise((r) => (this.#resolveDone = r));
    const h = head.headers;
    let authority = h.get("Host") ?? "";
    let scheme = "https";
    if (head.method === "CONNECT") {
      authority = head.target;
    } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(head.target)) {
      try {
        const u = new URL(head.target);
        authority = u.host;
        scheme = u.protocol.slice(0, -1);
      } catch {
        // keep Host
      }
    }
    this.request = {
      protocol: head.version,
      method: head.method,
      authority,
      path: head.target,
      scheme,
      headers: h.entries.map(([k, v]) => [k.toLowerCase(), v]),
      bodyless: false,
    };
  }

  /** Resolves when the handler closed the conn. */
  get done(): Promise<void> {
    return this.#done;
  }

  get localAddr(): Addr {
    return this.#conn.localAddr;
  }
  get remoteAddr(): Addr {
    return this.#conn.remoteAddr;
  }
  /** The raw connection, with any bytes read ahead. */
  get conn(): BufferedConn {
    return this.#conn;
  }

  async respond(status: number, headers: HeaderField[] = [], end = false): Promise<void> {
    if (this.#responded) throw new Error("Response already sent");
    this.#responded = true;
    let head = `HTTP/1.1 ${status} ${statusText(status)}\r\n`;
    for (const [k, v] of headers) head += `${canonical(k)}: ${v}\r\n`;
    if (end) head += "Connection: close\r\nContent-Length: 0\r\n";
    head += `Date: ${httpDate()}\r\n\r\n`;
    await writeAll(this.#conn, encoder.encode(head));
  }

  read(p: Uint8Array): Promise<number | null> {
    return this.#conn.read(p);
  }
  write(p: Uint8Array): Promise<number> {
    return this.#conn.write(p);
  }
  closeWrite(): Promise<void> {
    return this.#conn.closeWrite();
  }
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeQuietly(this.#conn);
    this.#resolveDone();
  }
}

/** Go's canonical header spelling: `x-foo-bar` → `X-Foo-Bar`. */
export function canonical(k: string): string {
  return k.toLowerCase().replace(/(^|-)([a-z])/g, (_, d, c) => d + c.toUpperCase());
}
