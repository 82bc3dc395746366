/**
 * The shell shared by the listeners built on {@linkcode H2Server} (`h2`/`h2c`,
 * `http2`, `grpc`): an HTTP/2 server over an inner listener, and the bounded
 * queue of conns its subclass makes from requests, which `accept()` drains.
 *
 * @module
 */
import type { Addr, Conn, Listener } from "../types.ts";
import { ConnQueue } from "../ws/mod.ts";
import { H2Server, type H2ServerOptions } from "./_server.ts";

/**
 * An {@linkcode H2Server} on `inner` whose subclass turns requests into conns
 * and {@linkcode enqueue}s them, up to `backlog` waiting. `close()` stops
 * accepting, sends GOAWAY and fails pending `accept()` calls; connections
 * close once their streams are done.
 */
export class H2QueueListener<C extends Conn> implements Listener {
  readonly #server: H2Server;
  readonly #queue: ConnQueue<C>;

  constructor(inner: Listener, backlog: number, server: H2ServerOptions) {
    this.#queue = new ConnQueue(backlog);
    this.#server = new H2Server(inner, server);
  }

  get addr(): Addr {
    return this.#server.addr;
  }

  /** Live HTTP/2 connections (tests, diagnostics). */
  get sessions(): number {
    return this.#server.sessions;
  }

  /** Resolves once the listener is closed and every connection is gone. */
  get done(): Promise<void> {
    return this.#server.done;
  }

  accept(): Promise<C> {
    return this.#queue.shift();
  }

  close(): void {
    this.#server.close();
    this.#queue.close();
  }

  /** Hands `conn` to `accept()`; false (conn untouched) when the queue is full or closed. */
  protected enqueue(conn: C): boolean {
    return this.#queue.push(conn);
  }
}
