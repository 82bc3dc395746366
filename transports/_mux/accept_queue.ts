/**
 * The bounded queue of streams a session listener hands to `accept()`.
 *
 * The same contract as ws's `ConnQueue` (which mws used): kept here so that
 * mtcp, which needs no WebSocket or TLS code, does not load them (importing
 * ws costs about 100 ms at start-up).
 *
 * @module
 */
import { closeQuietly } from "../_io/write_all.ts";
import { ClosedError, type Conn } from "../types.ts";
import { Queue } from "./queue.ts";

/**
 * Conns ready for `accept()` plus the callers waiting on them. A push into a
 * full queue is refused, so the caller can close the conn (GOST drops a stream
 * it cannot queue rather than stalling the session).
 */
export class AcceptQueue<C extends Conn = Conn> {
  readonly #limit: number;
  readonly #ready = new Queue<C>();
  readonly #waiters = new Queue<{ resolve(c: C): void; reject(e: unknown): void }>();
  #closed = false;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Conns waiting to be accepted. */
  get length(): number {
    return this.#ready.length;
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
    for (let c = this.#ready.shift(); c; c = this.#ready.shift()) closeQuietly(c);
    for (let w = this.#waiters.shift(); w; w = this.#waiters.shift()) w.reject(new ClosedError("Listener closed"));
  }
}
