/**
 * The server side shared by the smux transports (mws/mwss, mtcp/mtls): every
 * conn an inner listener accepts carries one smux server session, and every
 * stream a client opens is one accepted conn.
 *
 * @module
 */
import { acceptLoop } from "../_io/accept_loop.ts";
import { closeQuietly } from "../_io/write_all.ts";
import { formatAddr, type Logger } from "../log.ts";
import type { Addr, Conn, Listener } from "../types.ts";
import { AcceptQueue } from "./accept_queue.ts";
import type { MuxConfig } from "./config.ts";
import { closeWhenIdle } from "./idle.ts";
import { Session } from "./session.ts";
import type { Stream } from "./stream.ts";

/** A listener whose accept loop may outlive `close()` for a moment. */
export type InnerListener = Listener & { readonly done?: Promise<void> };

/**
 * Streams of all sessions, from a listener of transport conns. Streams are
 * queued up to `backlog`; one arriving at a full queue is closed (GOST does
 * the same). A session that breaks the protocol (garbage, a bad frame) or
 * whose transport fails dies alone; the others and the listener go on.
 * `close()` stops accepting; sessions without streams close at once, the
 * others once their last stream ends, so a graceful shutdown can drain them
 * and clients notice the end and dial a fresh session.
 */
export class SessionListener implements Listener {
  readonly #inner: InnerListener;
  readonly #mux: MuxConfig;
  readonly #log: Logger;
  readonly #queue: AcceptQueue<Stream>;
  readonly #sessions = new Set<Session>();
  #closed = false;
  readonly #loop: Promise<void>;

  constructor(inner: InnerListener, mux: MuxConfig, backlog: number, log: Logger) {
    this.#inner = inner;
    this.#mux = mux;
    this.#log = log;
    this.#queue = new AcceptQueue(backlog);
    this.#loop = this.#acceptLoop();
  }

  get addr(): Addr {
    return this.#inner.addr;
  }

  /** Live sessions (tests, diagnostics). */
  get sessions(): number {
    return this.#sessions.size;
  }

  /** Resolves when the accept loops (this one and the inner listener's) have stopped, after `close()`. */
  get done(): Promise<void> {
    return Promise.all([this.#loop, this.#inner.done]).then(() => {});
  }

  accept(): Promise<Stream> {
    return this.#queue.shift();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeQuietly(this.#inner);
    this.#queue.close();
    for (const s of this.#sessions) closeWhenIdle(s);
  }

  async #acceptLoop(): Promise<void> {
    await acceptLoop(this.#inner, { closed: () => this.#closed, log: this.#log, onConn: (conn) => this.#serve(conn) });
    this.close();
  }

  async #serve(conn: Conn): Promise<void> {
    const remote = formatAddr(conn.remoteAddr);
    const session = new Session(conn, { ...this.#mux, client: false });
    this.#sessions.add(session);
    this.#log.debug("mux session started", { remote });
    let reason: unknown;
    for (;;) {
      let stream: Stream;
      try {
        stream = await session.accept();
      } catch (err) {
        reason = err; // the session died
        break;
      }
      if (this.#closed) {
        // Draining: no new streams; the client sees the FIN and its next dial opens a fresh session.
        stream.close();
        closeWhenIdle(session);
        continue;
      }
      if (!this.#queue.push(stream)) {
        stream.close();
        this.#log.warn(`connection queue is full, client ${remote} discarded`, { remote, stream: stream.id });
      }
    }
    await session.done;
    this.#sessions.delete(session);
    // Why: EOF, keepalive timeout, or the peer's protocol error (garbage, a bad frame).
    this.#log.debug("mux session ended", { remote, error: reason instanceof Error ? reason.message : undefined });
  }
}
