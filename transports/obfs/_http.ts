/**
 * obfs-http as gost 3.2.6 speaks it (x v0.8.1 `listener/obfs/http`,
 * `dialer/obfs/http`): the client sends a WebSocket-looking `GET` upgrade
 * with its first write, the server answers `101 Switching Protocols`, and
 * then the raw stream follows, unframed.
 *
 * @module
 */
import { BufferedConn } from "../_io/buffered_conn.ts";
import { closeQuietly, writeAll } from "../_io/write_all.ts";
import { MAX_HEAD_SIZE, parseResponseHead, readRequestHead, type RequestHead } from "../_http1/head.ts";
import { canonicalHeaderKey, computeAcceptKey } from "../_ws/mod.ts";
import { type Conn, HandshakeError } from "../types.ts";
import { NoHandshakeError } from "./_errors.ts";
import { HeadConn } from "./_head_conn.ts";

const encoder = new TextEncoder();
const CRLFCRLF = new Uint8Array([13, 10, 13, 10]);
/** Go's `http.Request.Write` default. */
const GO_USER_AGENT = "Go-http-client/1.1";

/** Go's `time.RFC1123` of now in UTC (`Thu, 03 Dec 2026 14:23:48 UTC`), gost's `Date` header. */
export function httpDate(now = new Date()): string {
  return now.toUTCString().replace(/GMT$/, "UTC");
}

/** Header lines as Go writes a `http.Header`: canonical keys, sorted, newlines in values turned to spaces. */
function headerLines(h: Map<string, string>): string {
  return [...h.keys()].sort().map((k) => `${k}: ${h.get(k)!.replace(/[\r\n]+/g, " ")}\r\n`).join("");
}

function canonical(extra: Record<string, string> | undefined): Map<string, string> {
  const h = new Map<string, string>();
  for (const [k, v] of Object.entries(extra ?? {})) h.set(canonicalHeaderKey(k), v);
  return h;
}

/** A fresh `Sec-WebSocket-Key`: 16 random bytes, base64. */
function challengeKey(): string {
  return btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
}

/** The upgrade request gost's client writes (Go's `Request.Write` layout). */
export function buildRequest(host: string, path: string, header?: Record<string, string>): Uint8Array {
  const h = canonical(header);
  // Go's Request.Write takes Host from the URL and never from the header map; User-Agent may be overridden.
  h.delete("Host");
  const ua = h.get("User-Agent") ?? GO_USER_AGENT;
  h.delete("User-Agent");
  h.set("Connection", "Upgrade");
  h.set("Upgrade", "websocket");
  h.set("Sec-Websocket-Key", challengeKey());
  return encoder.encode(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: ${ua}\r\n${headerLines(h)}\r\n`);
}

/**
 * The client side: the request goes out with the first write (or on its own
 * when a read comes first, so a server-speaks-first protocol does not
 * deadlock as it does with gost's client); the first read consumes the
 * response head and requires a 101.
 */
export class OhttpClientConn extends HeadConn {
  #ready: Promise<void> | undefined;
  #done = false;
  /** The server ended the stream before any response byte. */
  #eof = false;

  constructor(inner: Conn, request: Uint8Array) {
    super(inner, request);
  }

  override async read(p: Uint8Array): Promise<number | null> {
    if (!this.#done) {
      await (this.#ready ??= this.#readResponse());
      if (this.#eof) return null;
    }
    return await super.read(p);
  }

  async #readResponse(): Promise<void> {
    await this.flush();
    const bc = new BufferedConn(this.inner, 4096);
    let raw: Uint8Array | null;
    try {
      raw = await bc.readUntil(CRLFCRLF, MAX_HEAD_SIZE);
    } catch (err) {
      if (err instanceof RangeError) throw new HandshakeError(`ohttp: response head exceeds ${MAX_HEAD_SIZE} bytes`);
      throw err;
    }
    if (raw === null) {
      this.#eof = true;
    } else {
      const head = parseResponseHead(raw);
      if (head.status !== 101) {
        throw new HandshakeError(`ohttp: server answered "${head.status} ${head.reason}" instead of 101`);
      }
      if (bc.buffered) this.unread(await bc.readExact(bc.buffered));
    }
    this.#done = true;
  }
}

/** Options of {@linkcode ohttpAccept}. */
export interface OhttpAcceptOptions {
  /** Extra response headers (the listener's `header` map). */
  header?: Record<string, string>;
}

/** What a server handshake read; `request` for the trace log. */
export interface OhttpAccepted {
  conn: Conn;
  request: RequestHead;
}

/**
 * The server side: reads the request head (bounded), answers 400 and fails
 * unless it is a `GET` with `Upgrade: websocket` (gost's exact check), else
 * answers 101 — at once when nothing followed the head, otherwise with the
 * first write, as gost does. Bytes after the head are the stream's first
 * bytes. Closes `conn` when it throws.
 */
export async function ohttpAccept(conn: Conn, opts: OhttpAcceptOptions = {}): Promise<OhttpAccepted> {
  try {
    const bc = new BufferedConn(conn, 4096);
    const req = await readRequestHead(bc, MAX_HEAD_SIZE);
    if (!req) throw new NoHandshakeError("ohttp: connection closed before the request");
    const h = canonical(opts.header);
    h.set("Date", httpDate());
    if (req.method !== "GET" || req.headers.get("Upgrade") !== "websocket") {
      // Go writes Content-Length after the header map for a bodiless non-1xx response.
      await writeAll(conn, encoder.encode(`HTTP/1.1 400 Bad Request\r\n${headerLines(h)}Content-Length: 0\r\n\r\n`));
      throw new HandshakeError(`ohttp: not an upgrade request: "${req.method} ${req.target.slice(0, 64)}"`);
    }
    h.set("Connection", "Upgrade");
    h.set("Upgrade", "websocket");
    h.set("Sec-Websocket-Accept", computeAcceptKey(req.headers.get("Sec-WebSocket-Key") ?? ""));
    const response = encoder.encode(`HTTP/1.1 101 Switching Protocols\r\n${headerLines(h)}\r\n`);
    const pre = bc.buffered ? await bc.readExact(bc.buffered) : undefined;
    if (!pre) await writeAll(conn, response);
    return { conn: new HeadConn(conn, pre && response, pre), request: req };
  } catch (err) {
    closeQuietly(conn);
    throw err;
  }
}
