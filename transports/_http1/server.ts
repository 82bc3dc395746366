/**
 * A small HTTP/1.1 server over any {@linkcode Conn}, handing web-standard
 * `Request`s to a handler `(req, info) => Response` like `Deno.serve` does,
 * but on conns dost owns (TCP with TCP_NODELAY, `node:tls` over a Conn,
 * streams of a tunnel). Keep-alive and pipelined requests, Content-Length
 * and chunked request bodies, and streaming responses: every chunk a
 * response body yields is written (chunked) to the socket at once, never
 * buffered, so long-poll and streaming responses flow.
 *
 * Bounded: request heads (64 KiB), chunk-size lines and trailers have size
 * limits; a new conn must send its first head within `headerTimeout`, an
 * idle keep-alive conn is closed after `idleTimeout`, every write of a
 * response must finish within `writeTimeout`, and an unread request body is
 * drained only up to `maxDrain` bytes (beyond that the conn is closed).
 * When the client closes its conn while a response is still being produced
 * the request's `signal` aborts.
 *
 * @module
 */
import { BufferedConn } from "../_io/buffered_conn.ts";
import { closeQuietly, writeAll } from "../_io/write_all.ts";
import { formatAddr, type Logger } from "../log.ts";
import type { Addr, Conn } from "../types.ts";
import { HttpParseError, MAX_HEAD_SIZE, readRequestHead, type RequestHead } from "./head.ts";
import { type BodyReader, bodyReader, bodyStream, encodeChunk, framingOf, LAST_CHUNK } from "./body.ts";
import { canonicalHeaderName } from "./names.ts";

/** Where a request came from (the shape of `Deno.ServeHandlerInfo`, plus the local address). */
export interface ServeInfo {
  remoteAddr: Addr;
  localAddr: Addr;
}

/** Answers one request. A rejection becomes a 500 (or a closed conn once the response has started). */
export type Http1Handler = (req: Request, info: ServeInfo) => Response | Promise<Response>;

/** Limits and timeouts of {@linkcode Http1Server}. */
export interface Http1ServerOptions {
  /** Milliseconds a new conn has to deliver its first request head. @default 30000 */
  headerTimeout?: number;
  /** Milliseconds a keep-alive conn may wait for its next request. @default 120000 */
  idleTimeout?: number;
  /** Milliseconds one socket write of a response may take before the conn is dropped. @default 60000 */
  writeTimeout?: number;
  /** Bytes of a request body the handler left unread that are drained to keep the conn. @default 65536 */
  maxDrain?: number;
  /** Longest request head. @default 65536 */
  maxHeadSize?: number;
  /** Request bodies with a Content-Length up to this size reach the handler as one chunk. @default 524288 */
  wholeBody?: number;
  /** Scheme of the request URLs handed to the handler. @default "http" */
  scheme?: "http" | "https";
  /** Debug lines about broken requests and conns. */
  log?: Logger;
}

export const DEFAULT_HEADER_TIMEOUT = 30_000;
export const DEFAULT_IDLE_TIMEOUT = 120_000;
export const DEFAULT_WRITE_TIMEOUT = 60_000;
export const DEFAULT_MAX_DRAIN = 64 * 1024;
export const DEFAULT_WHOLE_BODY = 512 * 1024;
/** Input discarded at most while closing a conn whose request body was not read. */
const LINGER_BYTES = 4 * 1024 * 1024;
/** Milliseconds spent at most on that. */
const LINGER_TIME = 2_000;

const STATUS_TEXT: Record<number, string> = {
  100: "Continue",
  200: "OK",
  201: "Created",
  204: "No Content",
  206: "Partial Content",
  301: "Moved Permanently",
  302: "Found",
  304: "Not Modified",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  410: "Gone",
  413: "Payload Too Large",
  417: "Expectation Failed",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};

const encoder = new TextEncoder();
const CONTINUE = encoder.encode("HTTP/1.1 100 Continue\r\n\r\n");

let dateSecond = -1;
let dateValue = "";
/** The `Date` header value, computed at most once a second. */
function httpDate(): string {
  const now = Date.now();
  const s = Math.floor(now / 1000);
  if (s !== dateSecond) {
    dateSecond = s;
    dateValue = new Date(now).toUTCString();
  }
  return dateValue;
}

/** Runs `p`; when it has not settled after `ms`, closes `conn` (which fails `p`). */
async function closeAfter<T>(p: Promise<T>, ms: number, conn: Conn): Promise<T> {
  const timer = setTimeout(() => closeQuietly(conn), ms);
  try {
    return await p;
  } finally {
    clearTimeout(timer);
  }
}

/** Serializes reads of a body so the handler's stream and the server's drain never overlap. */
class SerialBody implements BodyReader {
  readonly #inner: BodyReader;
  #last: Promise<unknown> = Promise.resolve();
  #detached = false;

  constructor(inner: BodyReader) {
    this.#inner = inner;
  }
  get complete(): boolean {
    return this.#inner.complete;
  }
  /** Reads for the handler; fails once the server has taken the body back. */
  read(): Promise<Uint8Array | null> {
    if (this.#detached) return Promise.reject(new TypeError("Request body is no longer readable"));
    return this.#serial();
  }
  #serial(): Promise<Uint8Array | null> {
    const p = this.#last.then(() => this.#inner.read());
    this.#last = p.catch(() => {});
    return p;
  }
  /** Takes the body back from the handler and discards up to `max` more bytes. */
  async drain(max: number): Promise<boolean> {
    this.#detached = true;
    const left = this.#inner.remaining;
    if (left !== undefined && left > max) return false;
    let seen = 0;
    try {
      for (;;) {
        const p = await this.#serial();
        if (p === null) return true;
        seen += p.length;
        if (seen > max) return false;
      }
    } catch {
      return false;
    }
  }
}

interface ConnState {
  conn: Conn;
  /** Waiting for the next request head (not inside an exchange). */
  idle: boolean;
}

/** What one exchange leaves for the next. */
interface Outcome {
  keepAlive: boolean;
  /** The client may still be sending a body: close gracefully (see `#linger`). */
  linger?: boolean;
  /** The next head, when it was read early (pipelining / disconnect detection). */
  next?: Promise<RequestHead | null>;
}

/**
 * Serves HTTP/1.1 on conns handed to {@linkcode serve}. `closeIdle()` lets
 * a listener drain: idle conns close at once and busy ones after their
 * current response; `close()` cuts everything.
 */
export class Http1Server {
  readonly #handler: Http1Handler;
  readonly #headerTimeout: number;
  readonly #idleTimeout: number;
  readonly #writeTimeout: number;
  readonly #maxDrain: number;
  readonly #maxHead: number;
  readonly #wholeBody: number;
  readonly #scheme: string;
  readonly #log: Logger | undefined;
  readonly #conns = new Set<ConnState>();
  #draining = false;

  constructor(handler: Http1Handler, opts: Http1ServerOptions = {}) {
    this.#handler = handler;
    this.#headerTimeout = opts.headerTimeout ?? DEFAULT_HEADER_TIMEOUT;
    this.#idleTimeout = opts.idleTimeout ?? DEFAULT_IDLE_TIMEOUT;
    this.#writeTimeout = opts.writeTimeout ?? DEFAULT_WRITE_TIMEOUT;
    this.#maxDrain = opts.maxDrain ?? DEFAULT_MAX_DRAIN;
    this.#maxHead = opts.maxHeadSize ?? MAX_HEAD_SIZE;
    this.#wholeBody = opts.wholeBody ?? DEFAULT_WHOLE_BODY;
    this.#scheme = opts.scheme ?? "http";
    this.#log = opts.log;
  }

  /** Conns being served. */
  get connections(): number {
    return this.#conns.size;
  }

  /** Closes idle conns now and busy ones after their current exchange; later conns are served one exchange. */
  closeIdle(): void {
    this.#draining = true;
    for (const s of this.#conns) if (s.idle) closeQuietly(s.conn);
  }

  /** Closes every conn at once. */
  close(): void {
    this.#draining = true;
    for (const s of this.#conns) closeQuietly(s.conn);
  }

  /** Serves `conn` until it closes; never rejects; closes `conn`. */
  async serve(conn: Conn): Promise<void> {
    const state: ConnState = { conn, idle: true };
    this.#conns.add(state);
    const bc = new BufferedConn(conn, 64 * 1024);
    const info: ServeInfo = { remoteAddr: conn.remoteAddr, localAddr: conn.localAddr };
    let first = true;
    let next: Promise<RequestHead | null> | undefined;
    try {
      for (;;) {
        state.idle = true;
        let head: RequestHead | null;
        try {
          head = await closeAfter(
            next ?? readRequestHead(bc, this.#maxHead),
            first ? this.#headerTimeout : this.#idleTimeout,
            conn,
          );
        } catch (err) {
          if (err instanceof HttpParseError) {
            const tooLong = /exceeds/.test(err.message);
            await this.#plain(conn, tooLong ? 431 : 400, err.message, "HTTP/1.1").catch(() => {});
          }
          this.#debug("request head failed", conn, err);
          break;
        }
        next = undefined;
        if (head === null) break;
        first = false;
        state.idle = false;
        const out = await this.#exchange(bc, conn, head, info);
        if (!out.keepAlive || this.#draining) {
          out.next?.catch(() => {});
          if (out.linger) await this.#linger(conn);
          break;
        }
        next = out.next;
      }
    } catch (err) {
      this.#debug("connection failed", conn, err);
    } finally {
      closeQuietly(conn);
      this.#conns.delete(state);
    }
  }

  /**
   * Closing a socket with unread input makes the kernel send a reset, which
   * can destroy the response the client has not read yet. So: end our side,
   * then read and drop what the client still sends (bounded), then close.
   */
  async #linger(conn: Conn): Promise<void> {
    try {
      await conn.closeWrite();
      const buf = new Uint8Array(64 * 1024);
      let seen = 0;
      await closeAfter(
        (async () => {
          while (seen < LINGER_BYTES) {
            const n = await conn.read(buf);
            if (n === null) return;
            seen += n;
          }
        })(),
        LINGER_TIME,
        conn,
      );
    } catch {
      // gone
    }
  }

  #debug(msg: string, conn: Conn, err: unknown): void {
    if (!this.#log?.enabled("debug")) return;
    let remote: string | undefined;
    try {
      remote = formatAddr(conn.remoteAddr);
    } catch {
      // gone
    }
    this.#log.debug(`http: ${msg}`, { remote, error: err instanceof Error ? err.message : String(err) });
  }

  /** Writes a short text response. */
  async #plain(conn: Conn, status: number, text: string, version: string, close = true): Promise<void> {
    const body = encoder.encode(text + "\n");
    const head = `${version === "HTTP/1.0" ? "HTTP/1.0" : "HTTP/1.1"} ${status} ${STATUS_TEXT[status] ?? ""}\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nDate: ${httpDate()}\r\n` +
      (close ? "Connection: close\r\n" : "") + "\r\n";
    const h = encoder.encode(head);
    const out = new Uint8Array(h.length + body.length);
    out.set(h);
    out.set(body, h.length);
    await closeAfter(writeAll(conn, out), this.#writeTimeout, conn);
  }

  async #exchange(bc: BufferedConn, conn: Conn, head: RequestHead, info: ServeInfo): Promise<Outcome> {
    const h = head.headers;
    const v11 = head.version === "HTTP/1.1";
    let keepAlive = v11 ? !h.hasToken("connection", "close") : h.hasToken("connection", "keep-alive");

    let framing;
    try {
      framing = framingOf(h, false);
    } catch (err) {
      const unsupported = /Unsupported Transfer-Encoding/.test((err as Error).message);
      await this.#plain(conn, unsupported ? 501 : 400, (err as Error).message, head.version).catch(() => {});
      return { keepAlive: false };
    }
    const reader = bodyReader(bc, framing, this.#wholeBody);
    const body = reader && new SerialBody(reader);

    // Bad requests get their status and a close (as Go's server does).
    const fail = async (status: number, msg: string): Promise<Outcome> => {
      await this.#plain(conn, status, msg, head.version).catch(() => {});
      return { keepAlive: false };
    };

    const url = this.#url(head, info);
    if (!url) return await fail(400, `Bad request target or Host header`);
    const expect = h.get("expect");
    if (expect !== undefined) {
      if (expect.toLowerCase() !== "100-continue") return await fail(417, `Unsupported Expect "${expect}"`);
      if (v11 && body) await closeAfter(writeAll(conn, CONTINUE), this.#writeTimeout, conn);
    }

    const headers = new Headers();
    const ac = new AbortController();
    const method = head.method.toUpperCase();
    const hasBody = body !== null && method !== "GET" && method !== "HEAD";
    let req: Request;
    try {
      for (const [k, val] of h.entries) headers.append(k, val);
      req = new Request(url, {
        method: head.method,
        headers,
        body: hasBody ? bodyStream(body!) : null,
        signal: ac.signal,
      });
    } catch (err) {
      const forbidden = /method/i.test((err as Error).message);
      return await fail(forbidden ? 405 : 400, (err as Error).message);
    }

    // Without a body to read, read the next head now: it finds pipelined requests and the client's EOF.
    let next: Promise<RequestHead | null> | undefined;
    if (!body) {
      next = readRequestHead(bc, this.#maxHead);
      next.then(
        (n) => n === null && ac.abort(new Deno.errors.ConnectionReset("Client closed the connection")),
        (err) => ac.abort(err),
      );
    }

    let res: Response;
    try {
      res = await this.#handler(req, info);
    } catch (err) {
      this.#debug("handler failed", conn, err);
      res = new Response("Internal Server Error\n", { status: 500 });
    }
    try {
      keepAlive = await this.#respond(conn, head, res, keepAlive, ac.signal);
    } catch (err) {
      ac.abort(err);
      this.#debug("writing the response failed", conn, err);
      return { keepAlive: false, next };
    }
    if (body && !(await body.drain(this.#maxDrain))) return { keepAlive: false, next, linger: true };
    return { keepAlive, next };
  }

  #url(head: RequestHead, info: ServeInfo): string | undefined {
    const t = head.target;
    if (/^https?:\/\//i.test(t)) return URL.canParse(t) ? t : undefined;
    if (!t.startsWith("/")) return undefined;
    let host = head.headers.get("host");
    if (host === undefined) {
      if (head.version === "HTTP/1.1") return undefined;
      host = formatAddr(info.localAddr);
    }
    const url = `${this.#scheme}://${host}${t}`;
    return URL.canParse(url) ? url : undefined;
  }

  /** Writes `res`; resolves to whether the conn stays open. */
  async #respond(
    conn: Conn,
    head: RequestHead,
    res: Response,
    keepAlive: boolean,
    signal: AbortSignal,
  ): Promise<boolean> {
    const status = res.status;
    const noBody = head.method.toUpperCase() === "HEAD" || status < 200 || status === 204 || status === 304;
    const lines = [`HTTP/1.1 ${status} ${res.statusText || STATUS_TEXT[status] || ""}`];
    let length: number | undefined;
    let hasDate = false;
    for (const [k, val] of res.headers) {
      if (k === "connection" || k === "transfer-encoding" || k === "keep-alive") continue;
      if (k === "content-length") {
        if (/^\d{1,15}$/.test(val)) length = Number(val);
        continue;
      }
      if (k === "date") hasDate = true;
      lines.push(`${canonicalHeaderName(k)}: ${val}`);
    }
    if (!hasDate) lines.push(`Date: ${httpDate()}`);
    const stream = noBody ? null : res.body;
    let chunked = false;
    if (noBody) {
      if (length !== undefined && status !== 204 && status !== 304) lines.push(`Content-Length: ${length}`);
      await res.body?.cancel().catch(() => {});
    } else if (stream === null) {
      lines.push("Content-Length: 0");
      length = 0;
    } else if (length !== undefined) {
      lines.push(`Content-Length: ${length}`);
    } else if (head.version === "HTTP/1.1") {
      lines.push("Transfer-Encoding: chunked");
      chunked = true;
    } else {
      keepAlive = false;
    }
    if (!keepAlive) lines.push("Connection: close");
    const headBytes = encoder.encode(lines.join("\r\n") + "\r\n\r\n");
    // Flushed at once: a long-poll client must see the status before any body byte exists.
    await closeAfter(writeAll(conn, headBytes), this.#writeTimeout, conn);
    if (!stream) return keepAlive;

    const reader = stream.getReader();
    // A client that went away ends the response even when the body never yields again.
    const onAbort = () => reader.cancel(signal.reason).catch(() => {});
    signal.addEventListener("abort", onAbort, { once: true });
    let sent = 0;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (signal.aborted) throw signal.reason;
        if (done) break;
        if (!value || value.length === 0) continue;
        sent += value.length;
        if (length !== undefined && sent > length) throw new RangeError(`Response body exceeds its Content-Length`);
        await closeAfter(writeAll(conn, chunked ? encodeChunk(value) : value), this.#writeTimeout, conn);
      }
      if (chunked) await closeAfter(writeAll(conn, LAST_CHUNK), this.#writeTimeout, conn);
      else if (length !== undefined && sent !== length) {
        throw new RangeError(`Response body is shorter than its Content-Length`);
      }
    } catch (err) {
      reader.cancel(err).catch(() => {});
      throw err;
    } finally {
      signal.removeEventListener("abort", onAbort);
      reader.releaseLock();
    }
    return keepAlive;
  }
}
