/**
 * The `ohttp` and `otls` listeners: TCP, then the fake handshake per
 * accepted conn, before the conn is handed to the handler.
 *
 * @module
 */
import { acceptLoop } from "../_io/accept_loop.ts";
import { closeQuietly } from "../_io/write_all.ts";
import { formatAddr, type Logger } from "../log.ts";
import { TcpListener } from "../tcp/mod.ts";
import { ConnQueue } from "../ws/mod.ts";
import type { Addr, Conn, Listener, ListenerOptions } from "../types.ts";
import { NoHandshakeError } from "./_errors.ts";
import { ohttpAccept } from "./_http.ts";
import { otlsAccept } from "./_tls.ts";
import { BACKLOG, HANDSHAKE_TIMEOUT, parseOhttpListenerMetadata } from "./metadata.ts";

/** A server handshake over one raw conn; closes the conn when it rejects. */
export type ObfsHandshake = (conn: Conn) => Promise<{ conn: Conn; detail?: Record<string, unknown> }>;

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Runs `handshake` on every conn `inner` accepts, each with its own
 * timeout, so a client that connects and stays silent holds up no one.
 * A conn whose bytes are not the expected handshake is closed with one log
 * line and the listener keeps serving; conns are delivered in the order
 * their handshakes completed, at most {@linkcode BACKLOG} waiting.
 */
export class ObfsListener implements Listener {
  readonly #inner: Listener;
  readonly #name: string;
  readonly #handshake: ObfsHandshake;
  readonly #log: Logger;
  readonly #timeout: number;
  readonly #queue = new ConnQueue(BACKLOG);
  /** Raw conns whose handshake is running. */
  readonly #pending = new Set<Conn>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #loop: Promise<void>;
  #closed = false;

  constructor(inner: Listener, name: string, handshake: ObfsHandshake, log: Logger, timeout = HANDSHAKE_TIMEOUT) {
    this.#inner = inner;
    this.#name = name;
    this.#handshake = handshake;
    this.#log = log;
    this.#timeout = timeout;
    this.#loop = this.#acceptLoop();
  }

  get addr(): Addr {
    return this.#inner.addr;
  }

  /** Handshakes still running (tests, diagnostics). */
  get pendingHandshakes(): number {
    return this.#pending.size;
  }

  /** Resolves when the accept loop and every handshake have stopped (after `close()`). */
  get done(): Promise<void> {
    return this.#loop.then(async () => {
      while (this.#tasks.size) await Promise.all([...this.#tasks]);
    });
  }

  accept(): Promise<Conn> {
    return this.#queue.shift();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeQuietly(this.#inner);
    for (const c of this.#pending) closeQuietly(c);
    this.#queue.close();
  }

  async #acceptLoop(): Promise<void> {
    await acceptLoop(this.#inner, {
      closed: () => this.#closed,
      log: this.#log,
      onConn: (conn) => {
        const t = this.#start(conn);
        this.#tasks.add(t);
        t.finally(() => this.#tasks.delete(t));
      },
    });
    this.close();
  }

  async #start(raw: Conn): Promise<void> {
    this.#pending.add(raw);
    const remote = formatAddr(raw.remoteAddr);
    let timedOut = false;
    // Closing the raw conn fails the handshake's pending read.
    const timer = setTimeout(() => {
      timedOut = true;
      closeQuietly(raw);
    }, this.#timeout);
    let res: Awaited<ReturnType<ObfsHandshake>>;
    try {
      res = await this.#handshake(raw);
    } catch (err) {
      closeQuietly(raw);
      if (this.#closed) return;
      if (timedOut) {
        this.#log.debug(`${this.#name} handshake timed out after ${this.#timeout} ms`, { remote });
      } else if (err instanceof NoHandshakeError) {
        this.#log.debug(`${this.#name} handshake failed: ${err.message}`, { remote });
      } else {
        // Bytes that are not the fake handshake: worth a line, the listener goes on.
        this.#log.warn(`${this.#name} handshake failed, connection closed: ${errText(err)}`, { remote });
      }
      return;
    } finally {
      clearTimeout(timer);
      this.#pending.delete(raw);
    }
    if (this.#closed || timedOut) {
      closeQuietly(res.conn);
      return;
    }
    if (!this.#queue.push(res.conn)) {
      closeQuietly(res.conn);
      this.#log.warn(`connection queue is full, client ${remote} discarded`, { remote });
      return;
    }
    if (res.detail && this.#log.enabled("trace")) {
      this.#log.trace(`${this.#name} handshake done`, { remote, ...res.detail });
    }
  }
}

/** Header names whose values are never logged. */
const SECRET_HEADER = /auth|cookie|token|secret|key/i;

/** The `ohttp` listener: obfs-http upgrades on TCP. */
export function listenOhttp(opts: ListenerOptions): Promise<Listener> {
  const md = parseOhttpListenerMetadata(opts.metadata);
  const handshake: ObfsHandshake = async (raw) => {
    const { conn, request } = await ohttpAccept(raw, { header: md.header });
    const headers = request.headers.entries.map(([k, v]) => `${k}: ${SECRET_HEADER.test(k) ? "[redacted]" : v}`);
    return { conn, detail: { request: `${request.method} ${request.target} ${request.version}`, headers } };
  };
  return Promise.resolve(new ObfsListener(TcpListener.listen(opts.addr), "ohttp", handshake, opts.log));
}

/** The `otls` listener: obfs-tls handshakes on TCP. */
export function listenOtls(opts: ListenerOptions): Promise<Listener> {
  const handshake: ObfsHandshake = async (raw) => {
    const { conn, hello } = await otlsAccept(raw);
    return { conn, detail: { sni: hello.serverName, ticket: hello.ticket.length } };
  };
  return Promise.resolve(new ObfsListener(TcpListener.listen(opts.addr), "otls", handshake, opts.log));
}
