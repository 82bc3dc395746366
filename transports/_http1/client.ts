/**
 * An HTTP/1.1 client over any {@linkcode Conn}: a *lane* is an ordered
 * queue of requests sent over one keep-alive connection at a time, with
 * pipelining (requests are written without waiting for earlier responses,
 * responses are matched in order), so a caller that needs its requests
 * processed in order (PHT pushes) gets that and still overlaps round trips.
 *
 * The lane opens a connection with the `open` function it is given (a TCP
 * connect, a TLS handshake over a tunnel, …) and opens a fresh one when the
 * server closes the current one. Requests the server provably never
 * processed are resent, in order, on the new connection: those after a
 * response carrying `Connection: close` (RFC 9112 §9.6), and those written
 * to a reused connection that the server closed before sending any byte
 * (it had closed the idle connection as the requests went out).
 *
 * Responses are web-standard `Response`s whose bodies stream as they arrive
 * (Content-Length, chunked, or until close). A lane reads the next response
 * only after the previous body was read to its end (bodies with a
 * Content-Length up to 64 KiB are read ahead, so those never block), so
 * read streamed bodies in request order; cancelling a body closes the
 * connection (later requests on it are resent when allowed).
 *
 * @module
 */
import { BufferedConn } from "../_io/buffered_conn.ts";
import { closeQuietly, writeAll } from "../_io/write_all.ts";
import { type Addr, ClosedError, type Conn } from "../types.ts";
import { HttpParseError, MAX_HEAD_SIZE, readResponseHead } from "./head.ts";
import { type BodyReader, bodyReader, bodyStream, framingOf } from "./body.ts";
import { canonicalHeaderName } from "./names.ts";

/** Opens the connection a lane sends its requests over. */
export type OpenConn = (signal?: AbortSignal) => Promise<Conn>;

/** Options of an {@linkcode Http1Lane}. */
export interface Http1LaneOptions {
  /** Where idle connections come from and go back to (`release()`), under `key`. */
  pool?: Http1Pool;
  /** The pool key: one origin (scheme, host and port). @default "" */
  key?: string;
  /** How often a request the server provably never processed is resent. @default 2 */
  retries?: number;
  /** Milliseconds to wait for a response head once a request is out. @default 60000 */
  responseTimeout?: number;
  /** Longest response head. @default 65536 */
  maxHeadSize?: number;
}

export const DEFAULT_RESPONSE_TIMEOUT = 60_000;

/** Raised for a request the server did not answer and that cannot be resent. */
export class NoResponseError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "NoResponseError";
  }
}

const encoder = new TextEncoder();
/** Response bodies with a Content-Length up to this size are read before the response is handed out. */
const READ_AHEAD_LIMIT = 64 * 1024;
/** Bodies up to this size are written together with the head (one write); larger ones in a second write. */
const COALESCE_LIMIT = 64 * 1024;

/** One request on its way. */
interface Entry {
  method: string;
  head?: Uint8Array;
  body?: Uint8Array | null;
  /** Resolves once `head`/`body` are set (the body is read from the Request). */
  ready: Promise<void>;
  signal?: AbortSignal;
  retries: number;
  resolve(res: Response): void;
  reject(err: unknown): void;
  settled: boolean;
  /** Removes the abort listener once the response head is in. */
  cleanup?: () => void;
}

const SKIP = new Set(["host", "content-length", "transfer-encoding", "connection"]);

/** A request body in one array; a single-chunk stream hands its chunk over without a copy. */
async function readBody(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const p of stream) {
    parts.push(p);
    size += p.length;
  }
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(size);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Serializes `req` into `e` (head bytes and body). */
async function prepare(req: Request, e: Entry): Promise<void> {
  const url = new URL(req.url);
  const body = req.body === null ? null : await readBody(req.body);
  let head = `${req.method} ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${req.headers.get("host") ?? url.host}\r\n`;
  for (const [k, v] of req.headers) if (!SKIP.has(k)) head += `${canonicalHeaderName(k)}: ${v}\r\n`;
  if (body !== null || req.method === "POST" || req.method === "PUT" || req.method === "PATCH") {
    head += `Content-Length: ${body?.length ?? 0}\r\n`;
  }
  e.head = encoder.encode(head + "\r\n");
  e.body = body;
}

/**
 * An ordered request queue over one keep-alive connection at a time. The
 * caller decides how many requests it has in flight; the lane pipelines
 * whatever it is given, in call order.
 */
export class Http1Lane {
  readonly #open: OpenConn;
  readonly #retries: number;
  readonly #responseTimeout: number;
  readonly #maxHead: number;
  readonly #pool: Http1Pool | undefined;
  readonly #key: string;
  readonly #queue: Entry[] = [];
  readonly #ac = new AbortController();
  #conn: ClientConn | undefined;
  #pumping = false;
  #closed = false;
  #addrs: { localAddr: Addr; remoteAddr: Addr } | undefined;

  constructor(open: OpenConn, opts: Http1LaneOptions = {}) {
    this.#open = open;
    this.#retries = opts.retries ?? 2;
    this.#responseTimeout = opts.responseTimeout ?? DEFAULT_RESPONSE_TIMEOUT;
    this.#maxHead = opts.maxHeadSize ?? MAX_HEAD_SIZE;
    this.#pool = opts.pool;
    this.#key = opts.key ?? "";
  }

  /** Addresses of the last connection opened, if any. */
  get addrs(): { localAddr: Addr; remoteAddr: Addr } | undefined {
    return this.#addrs;
  }

  /** True once `close()` ran. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Sends `req` after every request this lane was given before; resolves when the response head arrives. */
  fetch(req: Request): Promise<Response> {
    if (this.#closed) return Promise.reject(new ClosedError("HTTP lane closed"));
    const { promise, resolve, reject } = Promise.withResolvers<Response>();
    const e: Entry = {
      method: req.method,
      ready: Promise.resolve(),
      signal: req.signal,
      retries: this.#retries,
      resolve: (r) => {
        e.settled = true;
        e.cleanup?.();
        resolve(r);
      },
      reject: (err) => {
        e.settled = true;
        e.cleanup?.();
        reject(err);
      },
      settled: false,
    };
    e.ready = prepare(req, e);
    e.ready.catch(() => {});
    this.#queue.push(e);
    this.#pump();
    return promise;
  }

  /**
   * Ends the lane like `close()`, but hands its connection to the pool when
   * it is idle and reusable (nothing in flight or queued).
   */
  release(): void {
    if (this.#closed) return;
    const c = this.#conn;
    if (c && this.#pool && this.#queue.length === 0 && c.idle && c.usable) {
      this.#conn = undefined;
      this.#pool.put(this.#key, c);
    }
    this.close();
  }

  /** Closes the connection and fails every request not yet answered. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ac.abort(new ClosedError("HTTP lane closed"));
    this.#conn?.close(new ClosedError("HTTP lane closed"));
    for (const e of this.#queue.splice(0)) e.reject(new ClosedError("HTTP lane closed"));
  }

  /** Puts requests the server never processed back at the head of the queue, in order. */
  requeue(entries: Entry[], cause: unknown): void {
    const again: Entry[] = [];
    for (const e of entries) {
      if (this.#closed) e.reject(new ClosedError("HTTP lane closed"));
      else if (e.retries > 0 && !e.signal?.aborted) {
        e.retries--;
        again.push(e);
      } else {
        e.reject(new NoResponseError("The server closed the connection without answering", { cause }));
      }
    }
    this.#queue.unshift(...again);
    this.#pump();
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#queue.length > 0 && !this.#closed) {
        const e = this.#queue[0];
        try {
          await e.ready;
        } catch (err) {
          this.#queue.shift();
          e.reject(err);
          continue;
        }
        if (e.signal?.aborted) {
          this.#queue.shift();
          e.reject(e.signal.reason);
          continue;
        }
        let conn = this.#conn;
        if (!conn?.usable) {
          try {
            conn = await this.#connect();
          } catch (err) {
            // Nothing can be sent: fail what is queued now (later requests try again).
            for (const q of this.#queue.splice(0)) q.reject(err);
            break;
          }
          if (this.#closed) {
            conn.close(new ClosedError("HTTP lane closed"));
            break;
          }
        }
        if (this.#queue[0] !== e) continue; // requeued entries went first
        this.#queue.shift();
        conn.send(e);
      }
    } finally {
      this.#pumping = false;
    }
    if (this.#queue.length > 0 && !this.#closed) this.#pump();
  }

  async #connect(): Promise<ClientConn> {
    const pooled = this.#pool?.take(this.#key);
    if (pooled) {
      pooled.adopt(this);
      this.#addrs = pooled.addrs;
      this.#conn = pooled;
      return pooled;
    }
    const raw = await this.#open(this.#ac.signal);
    if (this.#closed) {
      closeQuietly(raw);
      throw new ClosedError("HTTP lane closed");
    }
    this.#addrs = { localAddr: raw.localAddr, remoteAddr: raw.remoteAddr };
    const c = new ClientConn(raw, this, this.#responseTimeout, this.#maxHead);
    this.#conn = c;
    return c;
  }
}

/**
 * Idle keep-alive connections kept for later lanes to the same origin, so a
 * new lane (a new PHT session) skips the TCP connect and TLS handshake. At
 * most `maxIdle` per key; each is closed after `idleTimeout` unused, and a
 * connection the server closes meanwhile is dropped when next looked at.
 */
export class Http1Pool {
  readonly #maxIdle: number;
  readonly #idleTimeout: number;
  readonly #idle = new Map<string, { conn: ClientConn; timer: ReturnType<typeof setTimeout> }[]>();
  #closed = false;

  constructor(opts: { maxIdle?: number; idleTimeout?: number } = {}) {
    this.#maxIdle = opts.maxIdle ?? 4;
    this.#idleTimeout = opts.idleTimeout ?? 30_000;
  }

  /** Idle connections held. */
  get size(): number {
    let n = 0;
    for (const list of this.#idle.values()) n += list.length;
    return n;
  }

  /** An idle, still usable connection for `key` (most recently used first). */
  take(key: string): ClientConn | undefined {
    const list = this.#idle.get(key);
    let found: ClientConn | undefined;
    while (list?.length && !found) {
      const x = list.pop()!;
      clearTimeout(x.timer);
      if (x.conn.usable && x.conn.idle) found = x.conn;
      else x.conn.close();
    }
    if (list?.length === 0) this.#idle.delete(key);
    return found;
  }

  /** Keeps `conn` for later (or closes it when the pool is full, closed, or the conn is busy or broken). */
  put(key: string, conn: ClientConn): void {
    if (this.#closed || !conn.usable || !conn.idle) {
      conn.close();
      return;
    }
    let list = this.#idle.get(key);
    if (!list) this.#idle.set(key, list = []);
    if (list.length >= this.#maxIdle) {
      const old = list.shift()!;
      clearTimeout(old.timer);
      old.conn.close();
    }
    const entry = {
      conn,
      timer: setTimeout(() => {
        const l = this.#idle.get(key);
        const i = l?.indexOf(entry) ?? -1;
        if (i >= 0) l!.splice(i, 1);
        if (l?.length === 0) this.#idle.delete(key);
        conn.close();
      }, this.#idleTimeout),
    };
    Deno.unrefTimer(entry.timer);
    list.push(entry);
  }

  /** Closes every idle connection; later `put`s close theirs at once. */
  close(): void {
    this.#closed = true;
    for (const list of this.#idle.values()) {
      for (const x of list) {
        clearTimeout(x.timer);
        x.conn.close();
      }
    }
    this.#idle.clear();
  }
}

/** One connection of a lane: writes requests in order, reads responses in order. */
class ClientConn {
  readonly #conn: Conn;
  readonly #bc: BufferedConn;
  #lane: Http1Lane;
  readonly #responseTimeout: number;
  readonly #maxHead: number;
  readonly #inflight: Entry[] = [];
  #writing: Promise<void> = Promise.resolve();
  #usable = true;
  #closed = false;
  /** Exchanges completed on this connection. */
  #exchanges = 0;
  /** This busy period started on a connection that had been used before. */
  #reusedBusy = false;
  /** Some response byte arrived in this busy period. */
  #answered = false;
  /** A response body is being read by the caller (no response timeout then). */
  #inBody = false;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(conn: Conn, lane: Http1Lane, responseTimeout: number, maxHead: number) {
    this.#conn = conn;
    this.#bc = new BufferedConn(conn, 64 * 1024);
    this.#lane = lane;
    this.#responseTimeout = responseTimeout;
    this.#maxHead = maxHead;
    this.#readLoop();
  }

  get usable(): boolean {
    return this.#usable && !this.#closed;
  }

  /** Nothing in flight and no response body being read. */
  get idle(): boolean {
    return this.#inflight.length === 0 && !this.#inBody;
  }

  get addrs(): { localAddr: Addr; remoteAddr: Addr } {
    return { localAddr: this.#conn.localAddr, remoteAddr: this.#conn.remoteAddr };
  }

  /** Moves this (idle) connection to another lane (from a pool). */
  adopt(lane: Http1Lane): void {
    this.#lane = lane;
  }

  send(e: Entry): void {
    if (this.#inflight.length === 0) {
      this.#reusedBusy = this.#exchanges > 0;
      this.#answered = false;
    }
    this.#inflight.push(e);
    this.#arm();
    const head = e.head!;
    const body = e.body;
    const one = body && body.length <= COALESCE_LIMIT ? concat(head, body) : head;
    this.#writing = this.#writing.then(async () => {
      if (this.#closed) return;
      await writeAll(this.#conn, one);
      if (body && one === head && body.length > 0) await writeAll(this.#conn, body);
    }).catch((err) => this.#fail(err, true));
    const signal = e.signal;
    if (signal) {
      const onAbort = () => {
        if (!e.settled) this.close(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      e.cleanup = () => signal.removeEventListener("abort", onAbort);
    }
  }

  close(reason: unknown = new ClosedError("HTTP connection closed")): void {
    this.#fail(reason, false);
  }

  /** (Re)starts the response timer while requests wait for their heads. */
  #arm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#closed || this.#inBody || this.#inflight.length === 0) return;
    this.#timer = setTimeout(
      () => this.#fail(new Deno.errors.TimedOut(`No HTTP response after ${this.#responseTimeout} ms`), false),
      this.#responseTimeout,
    );
  }

  /** Closes the connection; unanswered requests are resent when `retry` allows and they provably were not processed. */
  #fail(err: unknown, retry: boolean): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#usable = false;
    clearTimeout(this.#timer);
    closeQuietly(this.#conn);
    const left = this.#inflight.splice(0).filter((e) => !e.settled);
    if (left.length === 0) return;
    if (retry && this.#reusedBusy && !this.#answered) this.#lane.requeue(left, err);
    else for (const e of left) e.reject(err);
  }

  async #readLoop(): Promise<void> {
    try {
      for (;;) {
        const got = await this.#bc.peek(1);
        if (got.length === 0) {
          // The server closed the connection: idle (fine) or under requests it never answered.
          this.#fail(new Deno.errors.UnexpectedEof("The server closed the connection"), true);
          return;
        }
        const e = this.#inflight[0];
        if (!e) throw new HttpParseError("Unsolicited bytes from the server");
        const head = await readResponseHead(this.#bc, this.#maxHead);
        this.#answered = true;
        if (head.status < 200) {
          if (head.status === 101) throw new HttpParseError("Unexpected protocol switch");
          this.#arm();
          continue; // 100 Continue and other interim responses
        }
        const h = head.headers;
        let keepAlive = head.version === "HTTP/1.1" ? !h.hasToken("connection", "close") : h.hasToken(
          "connection",
          "keep-alive",
        );
        const noBody = e.method === "HEAD" || head.status === 204 || head.status === 304;
        const framing = noBody ? { kind: "none" as const } : framingOf(h, true);
        if (framing.kind === "close") keepAlive = false;
        if (!keepAlive) this.#usable = false;
        const reader = bodyReader(this.#bc, framing);
        const headers = new Headers();
        for (const [k, v] of h.entries) headers.append(k, v);
        let done: Promise<void> | undefined;
        let res: Response;
        if (framing.kind === "length" && framing.length <= READ_AHEAD_LIMIT) {
          // Small bodies are read at once, so callers may await several pipelined heads before any body.
          const bytes = await this.#bc.readExact(framing.length);
          res = new Response(bytes as Uint8Array<ArrayBuffer>, {
            status: head.status,
            statusText: head.reason,
            headers,
          });
        } else if (reader) {
          const tracked = Promise.withResolvers<void>();
          done = tracked.promise;
          const body: BodyReader = {
            get complete() {
              return reader.complete;
            },
            read: async () => {
              try {
                const p = await reader.read();
                if (p === null) tracked.resolve();
                return p;
              } catch (err) {
                tracked.reject(err);
                throw err;
              }
            },
          };
          res = new Response(bodyStream(body, () => tracked.reject(new ClosedError("Response body cancelled"))), {
            status: head.status,
            statusText: head.reason,
            headers,
          });
        } else {
          res = new Response(null, { status: head.status, statusText: head.reason, headers });
        }
        this.#exchanges++;
        this.#inflight.shift();
        if (done) {
          this.#inBody = true;
          this.#arm();
        } else this.#arm();
        e.resolve(res);
        if (done) {
          // The request's signal still governs a streaming body: aborting it closes the connection.
          const sig = e.signal;
          const onAbort = () => this.close(sig!.reason);
          if (sig?.aborted) onAbort();
          else sig?.addEventListener("abort", onAbort, { once: true });
          await done.finally(() => sig?.removeEventListener("abort", onAbort));
          this.#inBody = false;
          this.#arm();
        }
        if (!keepAlive) {
          // RFC 9112 §9.6: requests after a "close" response were not processed; resend them elsewhere.
          const left = this.#inflight.splice(0).filter((x) => !x.settled);
          this.#closed = true;
          clearTimeout(this.#timer);
          closeQuietly(this.#conn);
          if (left.length) this.#lane.requeue(left, new Error("Connection: close"));
          return;
        }
      }
    } catch (err) {
      this.#fail(err, false);
    }
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
