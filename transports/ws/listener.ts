/**
 * The `ws` / `wss` listener: an HTTP/1.1 upgrade endpoint on TCP (or TLS)
 * whose every upgraded WebSocket is one accepted conn.
 *
 * @module
 */
import { acceptLoop } from "../_io/accept_loop.ts";
import { closeQuietly } from "../_io/write_all.ts";
import { formatAddr, type Logger } from "../log.ts";
import { TcpListener } from "../tcp/mod.ts";
import { listenTls } from "../tls/mod.ts";
import { type Addr, ClosedError, type Conn, type Listener, type ListenerOptions } from "../types.ts";
import { acceptWebSocket, type HttpRequestHead, type WsConn } from "../_ws/mod.ts";
import { parseListenerMetadata, type WsListenerOptions } from "./metadata.ts";

/**
 * Conns ready for `accept()`: a bounded queue plus the callers waiting on it.
 * A push into a full queue is refused, so the caller can close the conn (GOST
 * drops a conn it cannot queue rather than stalling the HTTP server).
 */
export class ConnQueue<C extends Conn = Conn> {
  readonly #limit: number;
  readonly #ready: C[] = [];
  readonly #waiters: { resolve(c: C): void; reject(e: unknown): void }[] = [];
  #closed = false;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Number of conns waiting to be accepted. */
  get length(): number {
    return this.#ready.length;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Hands `conn` to a waiting `shift()` or queues it; false (conn untouched) when closed or full. */
  push(conn: C): boolean {
    if (this.#closed) return false;
    const w = this.#waiters.shift();
    if (w) {
      w.resolve(conn);
      return true;
    }
    if (this.#ready.length >= this.#limit) return false;
    this.#ready.push(conn);
    return true;
  }

  /** The next conn; rejects with `ClosedError` once closed. */
  shift(): Promise<C> {
    const c = this.#ready.shift();
    if (c) return Promise.resolve(c);
    if (this.#closed) return Promise.reject(new ClosedError("Listener closed"));
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Closes queued conns and fails every waiter. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const c of this.#ready.splice(0)) closeQuietly(c);
    for (const w of this.#waiters.splice(0)) w.reject(new ClosedError("Listener closed"));
  }
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * WebSocket upgrades over the conns of another listener (TCP, or TLS for
 * `wss`). Every accepted raw conn gets its own handshake task with a
 * timeout, so a client that connects and says nothing never holds up the
 * others; requests that are not a valid upgrade get their HTTP error and a
 * close, and the listener keeps serving. Upgraded conns are delivered in the
 * order their handshakes completed.
 */
export class WsListener implements Listener {
  readonly #inner: Listener;
  readonly #opts: WsListenerOptions;
  readonly #log: Logger;
  readonly #queue: ConnQueue<WsConn>;
  readonly #pending = new Set<AbortController>();
  #closed = false;
  readonly #loop: Promise<void>;

  constructor(inner: Listener, opts: WsListenerOptions, log: Logger) {
    this.#inner = inner;
    this.#opts = opts;
    this.#log = log;
    this.#queue = new ConnQueue(opts.backlog);
    this.#loop = this.#acceptLoop();
  }

  get addr(): Addr {
    return this.#inner.addr;
  }

  /** Handshakes still running (tests, diagnostics). */
  get pendingHandshakes(): number {
    return this.#pending.size;
  }

  /** Resolves when the accept loop has stopped (after `close()`). */
  get done(): Promise<void> {
    return this.#loop;
  }

  accept(): Promise<WsConn> {
    return this.#queue.shift();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeQuietly(this.#inner);
    for (const ac of this.#pending) ac.abort(new ClosedError("Listener closed"));
    this.#queue.close();
  }

  async #acceptLoop(): Promise<void> {
    await acceptLoop(this.#inner, {
      closed: () => this.#closed,
      log: this.#log,
      onConn: (conn) => this.#upgrade(conn),
    });
    // The inner listener is gone: nobody will accept again.
    this.close();
  }

  async #upgrade(conn: Conn): Promise<void> {
    const ac = new AbortController();
    this.#pending.add(ac);
    const remote = formatAddr(conn.remoteAddr);
    let res: Awaited<ReturnType<typeof acceptWebSocket>>;
    try {
      res = await acceptWebSocket(conn, {
        path: this.#opts.path,
        header: this.#opts.header,
        timeout: this.#opts.handshakeTimeout,
        signal: ac.signal,
      });
    } catch (err) {
      // acceptWebSocket does not reject; this is a safety net so no conn leaks.
      closeQuietly(conn);
      this.#log.debug("websocket upgrade failed", { remote, error: errText(err) });
      return;
    } finally {
      this.#pending.delete(ac);
    }
    if (res.rejected) {
      if (!this.#closed) {
        // A wrong path (404) or a conn that sent nothing is scanner noise; a bad upgrade request is worth a warning.
        const level = res.status === 0 || res.status === 404 ? "debug" : "warn";
        this.#log.log(level, `websocket upgrade rejected: ${res.reason}`, {
          remote,
          status: res.status || undefined,
          path: res.request?.path,
        });
      }
      return;
    }
    const ws = res.conn;
    if (!this.#queue.push(ws)) {
      closeQuietly(ws);
      if (!this.#closed) this.#log.warn(`connection queue is full, client ${remote} discarded`, { remote });
      return;
    }
    if (this.#log.enabled("trace")) {
      this.#log.trace("websocket upgraded", { remote, request: describeRequest(res.request) });
    }
  }
}

/** Header names whose values are never logged. */
const SECRET_HEADER = /auth|cookie|token|secret|key/i;

/** The request head for a trace line (GOST dumps it at trace level), secrets redacted. */
export function describeRequest(req: HttpRequestHead): string {
  const lines = [`${req.method} ${req.target} ${req.proto}`];
  for (const [name, value] of req.headers.entries) {
    lines.push(`${name}: ${SECRET_HEADER.test(name) ? "[redacted]" : value}`);
  }
  return lines.join("\r\n");
}

/** The `ws` listener: WebSocket upgrades on plain TCP. */
export function listenWs(opts: ListenerOptions): Promise<Listener> {
  const md = parseListenerMetadata(opts.metadata);
  return Promise.resolve(new WsListener(TcpListener.listen(opts.addr), md, opts.log));
}

/**
 * The `wss` listener: WebSocket upgrades on TLS. TLS comes from the `tls`
 * listener (its per-conn handshakes with a timeout, `Deno.listenTls` fast
 * path, client certificates when the service TLS config has a CA).
 */
export async function listenWss(opts: ListenerOptions): Promise<Listener> {
  const md = parseListenerMetadata(opts.metadata);
  const inner = await listenTls(opts);
  return new WsListener(inner, md, opts.log);
}
