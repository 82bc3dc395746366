/**
 * The server half every HTTP/2-based listener shares (h2, h2c, http2, grpc):
 * takes conns from an inner listener (TCP or TLS), tells HTTP/2 (the
 * connection preface) from HTTP/1.x by the first bytes, runs one server
 * {@linkcode H2Session} per HTTP/2 conn and hands each new stream to the
 * owner; HTTP/1.x conns go to `onHttp1` (or get a 400).
 *
 * @module
 */
import { BufferedConn } from "../_io/buffered_conn.ts";
import { acceptLoop } from "../_io/accept_loop.ts";
import { closeQuietly, writeAll } from "../_io/write_all.ts";
import { HttpParseError, readRequestHead, type RequestHead } from "../_http1/head.ts";
import { formatAddr, type Logger } from "../log.ts";
import type { Addr, Conn, Listener } from "../types.ts";
import { PREFACE, validSettings } from "./_frame.ts";
import { H2Session, type H2SessionOptions } from "./_session.ts";
import type { HeaderField } from "./_hpack.ts";
import type { H2Stream } from "./_stream.ts";

/** Time a client gets to send its first bytes (the preface or an HTTP/1 request). @default 10000 */
export const DEFAULT_PREFACE_TIMEOUT = 10_000;

export interface H2ServerOptions {
  /** A client opened a stream. The owner answers it and keeps or closes it. */
  onStream(stream: H2Stream, session: H2Session): void;
  /**
   * A conn that does not start with the HTTP/2 preface. The owner serves
   * and closes it; without this hook the client gets `400 Bad Request`.
   */
  onHttp1?(conn: BufferedConn): Promise<void>;
  /**
   * Cleartext only: accept HTTP/1.1 `Upgrade: h2c` requests (RFC 7540 §3.2);
   * the request becomes stream 1. Other HTTP/1 requests get `400`.
   */
  h2cUpgrade?: boolean;
  /** Session options (windows, keepalive, ping policy, idle time). */
  session?: Omit<H2SessionOptions, "client" | "onStream" | "log">;
  /** @default DEFAULT_PREFACE_TIMEOUT */
  prefaceTimeout?: number;
  log: Logger;
}

const SWITCHING = new TextEncoder().encode(
  "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n",
);
const BAD_REQUEST = new TextEncoder().encode(
  "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
);

/**
 * Accepts HTTP/2 connections from `inner`. `close()` stops accepting and
 * sends GOAWAY on every session; each closes once its streams are done.
 */
export class H2Server {
  readonly #inner: Listener;
  readonly #opts: H2ServerOptions;
  readonly #sessions = new Set<H2Session>();
  readonly #pending = new Set<Conn>();
  #closed = false;
  readonly #loop: Promise<void>;

  constructor(inner: Listener, opts: H2ServerOptions) {
    this.#inner = inner;
    this.#opts = opts;
    this.#loop = this.#acceptLoop();
  }

  get addr(): Addr {
    return this.#inner.addr;
  }

  /** Live sessions (tests, diagnostics). */
  get sessions(): number {
    return this.#sessions.size;
  }

  /** Resolves when the accept loop has stopped and every session is gone (after `close()`). */
  get done(): Promise<void> {
    return this.#loop.then(() => Promise.all([...this.#sessions].map((s) => s.done))).then(() => {});
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeQuietly(this.#inner);
    for (const c of this.#pending) closeQuietly(c);
    for (const s of this.#sessions) s.shutdown();
  }

  /** Closes every session at once (streams fail). */
  closeAll(): void {
    this.close();
    for (const s of this.#sessions) s.close();
  }

  async #acceptLoop(): Promise<void> {
    await acceptLoop(this.#inner, {
      closed: () => this.#closed,
      log: this.#opts.log,
      onConn: (conn) => {
        this.#serve(conn).catch((err) => {
          closeQuietly(conn);
          this.#opts.log.debug("HTTP/2 connection failed", { error: err instanceof Error ? err.message : String(err) });
        });
      },
    });
    this.close();
  }

  /**
   * Reads an HTTP/1.1 request; an `Upgrade: h2c` one without a body is
   * answered `101` and returned for the session, anything else gets `400`.
   */
  async #readUpgrade(conn: BufferedConn): Promise<H2SessionOptions["upgrade"] | undefined> {
    let head: RequestHead | null;
    const timer = setTimeout(() => closeQuietly(conn), this.#opts.prefaceTimeout ?? DEFAULT_PREFACE_TIMEOUT);
    try {
      head = await readRequestHead(conn);
    } catch (err) {
      if (err instanceof HttpParseError) await writeAll(conn, BAD_REQUEST).catch(() => {});
      return undefined;
    } finally {
      clearTimeout(timer);
    }
    if (!head) return undefined;
    const h = head.headers;
    const settings = base64url(h.get("HTTP2-Settings") ?? "");
    const bodyless = !h.has("Transfer-Encoding") && (h.get("Content-Length") ?? "0") === "0";
    if (
      head.version !== "HTTP/1.1" || !h.hasToken("Upgrade", "h2c") || !h.hasToken("Connection", "upgrade") ||
      settings === undefined || !validSettings(settings) || !bodyless
    ) {
      await writeAll(conn, BAD_REQUEST).catch(() => {});
      return undefined;
    }
    try {
      await writeAll(conn, SWITCHING);
    } catch {
      return undefined;
    }
    return { headers: upgradedHeaders(head), settings };
  }

  async #serve(raw: Conn): Promise<void> {
    const conn = new BufferedConn(raw, 16 * 1024);
    const remote = formatAddr(raw.remoteAddr);
    this.#pending.add(conn);
    let kind: "h2" | "http1" | "eof";
    const timer = setTimeout(() => closeQuietly(conn), this.#opts.prefaceTimeout ?? DEFAULT_PREFACE_TIMEOUT);
    try {
      kind = await detect(conn);
    } catch {
      kind = "eof";
    } finally {
      clearTimeout(timer);
      this.#pending.delete(conn);
    }
    if (kind === "eof" || this.#closed) {
      closeQuietly(conn);
      return;
    }
    let upgrade: H2SessionOptions["upgrade"];
    if (kind === "http1" && this.#opts.h2cUpgrade) {
      upgrade = await this.#readUpgrade(conn);
      if (!upgrade) {
        closeQuietly(conn);
        return;
      }
    } else if (kind === "http1") {
      if (this.#opts.onHttp1) {
        await this.#opts.onHttp1(conn).catch(() => {});
      } else {
        await writeAll(conn, BAD_REQUEST).catch(() => {});
      }
      closeQuietly(conn);
      return;
    }
    const session: H2Session = new H2Session(conn.unwrap(), {
      ...this.#opts.session,
      client: false,
      log: this.#opts.log,
      upgrade,
      onStream: (s) => this.#opts.onStream(s, session),
    });
    this.#sessions.add(session);
    this.#opts.log.debug("HTTP/2 session started", { remote });
    await session.done;
    this.#sessions.delete(session);
    this.#opts.log.debug("HTTP/2 session ended", { remote, error: session.error?.message });
  }
}

/** HTTP/1.1 headers that do not become HTTP/2 fields on an upgraded request. */
const CONNECTION_HEADERS = new Set([
  "connection",
  "upgrade",
  "http2-settings",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "host",
  "te",
]);

/** The HTTP/2 view of an upgraded HTTP/1.1 request. */
function upgradedHeaders(head: RequestHead): HeaderField[] {
  const h = head.headers;
  const out: HeaderField[] = [
    [":method", head.method],
    [":scheme", "http"],
    [":authority", h.get("Host") ?? ""],
    [":path", head.target],
  ];
  for (const [k, v] of h.entries) {
    const name = k.toLowerCase();
    if (!CONNECTION_HEADERS.has(name)) out.push([name, v]);
  }
  return out;
}

function base64url(s: string): Uint8Array | undefined {
  try {
    const b = atob(s.trim().replace(/-/g, "+").replace(/_/g, "/").replace(/=+$/, ""));
    return Uint8Array.from(b, (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

/** Reads just enough of the first bytes to tell the HTTP/2 preface from anything else. */
async function detect(conn: BufferedConn): Promise<"h2" | "http1" | "eof"> {
  let have = 0;
  for (;;) {
    const b = await conn.peek(Math.min(have + 1, PREFACE.length));
    if (b.length <= have) return have === 0 ? "eof" : "http1";
    const view = await conn.peek(Math.min(conn.buffered, PREFACE.length));
    for (let i = 0; i < view.length; i++) if (view[i] !== PREFACE[i]) return "http1";
    if (view.length >= PREFACE.length) return "h2";
    have = view.length;
  }
}
