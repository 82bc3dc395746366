/**
 * The `mws` / `mwss` listener: every upgraded WebSocket carries one smux
 * server session, and every stream the client opens is one accepted conn.
 *
 * @module
 */
import { acceptLoop } from "../_io/accept_loop.ts";
import { closeQuietly } from "../_io/write_all.ts";
import { formatAddr, type Logger } from "../log.ts";
import type { Addr, Conn, Listener, ListenerOptions } from "../types.ts";
import { type MuxConfig, Session, type Stream } from "../_mux/mod.ts";
import { ConnQueue, listenWs, listenWss } from "../ws/mod.ts";
import { closeWhenIdle } from "./_idle.ts";
import { parseListenerMetadata } from "./metadata.ts";

/**
 * Streams of all sessions, from a listener of WebSocket conns. Streams are
 * queued up to `backlog`; one arriving at a full queue is closed (GOST does
 * the same). `close()` stops accepting; sessions without streams close at
 * once, the others once their last stream ends, so a graceful shutdown can
 * drain them and clients notice the end and dial a fresh session.
 */
export class MwsListener implements Listener {
  readonly #ws: Listener & { readonly done?: Promise<void> };
  readonly #mux: MuxConfig;
  readonly #log: Logger;
  readonly #queue: ConnQueue<Stream>;
  readonly #sessions = new Set<Session>();
  #closed = false;
  readonly #loop: Promise<void>;

  constructor(ws: Listener & { readonly done?: Promise<void> }, mux: MuxConfig, backlog: number, log: Logger) {
    this.#ws = ws;
    this.#mux = mux;
    this.#log = log;
    this.#queue = new ConnQueue(backlog);
    this.#loop = this.#acceptLoop();
  }

  get addr(): Addr {
    return this.#ws.addr;
  }

  /** Live sessions (tests, diagnostics). */
  get sessions(): number {
    return this.#sessions.size;
  }

  /** Resolves when the accept loops (this one and the WebSocket listener's) have stopped, after `close()`. */
  get done(): Promise<void> {
    return Promise.all([this.#loop, this.#ws.done]).then(() => {});
  }

  accept(): Promise<Stream> {
    return this.#queue.shift();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeQuietly(this.#ws);
    this.#queue.close();
    for (const s of this.#sessions) closeWhenIdle(s);
  }

  async #acceptLoop(): Promise<void> {
    await acceptLoop(this.#ws, { closed: () => this.#closed, log: this.#log, onConn: (conn) => this.#serve(conn) });
    this.close();
  }

  async #serve(conn: Conn): Promise<void> {
    const remote = formatAddr(conn.remoteAddr);
    const session = new Session(conn, { ...this.#mux, client: false });
    this.#sessions.add(session);
    this.#log.debug("mux session started", { remote });
    for (;;) {
      let stream: Stream;
      try {
        stream = await session.accept();
      } catch {
        break; // the session died
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
    this.#log.debug("mux session ended", { remote });
  }
}

/** The `mws` listener: smux over WebSocket over TCP. */
export async function listenMws(opts: ListenerOptions): Promise<Listener> {
  const md = parseListenerMetadata(opts.metadata);
  // The WebSocket layer queues upgraded conns only until the loop above takes them; `backlog` applies to streams.
  return new MwsListener(await listenWs(opts), md.mux, md.backlog, opts.log);
}

/** The `mwss` listener: smux over WebSocket over TLS. */
export async function listenMwss(opts: ListenerOptions): Promise<Listener> {
  const md = parseListenerMetadata(opts.metadata);
  return new MwsListener(await listenWss(opts), md.mux, md.backlog, opts.log);
}
