/**
 * One listener over several: a tunnel service accepts from its own listener
 * and from its entrypoints, so the service's admission, limits, metrics,
 * logging, drain and reload cover entrypoint connections too.
 *
 * @module
 */
import { Queue } from "../../transports/_mux/queue.ts";
import { closeQuietly } from "../../transports/_io/write_all.ts";
import { type Addr, ClosedError, type Conn, type Listener } from "../../transports/types.ts";

export class MergedListener implements Listener {
  readonly #all: Listener[];
  /** Accepted conns, and accept errors other than a close (the service logs them and goes on). */
  readonly #ready = new Queue<{ conn?: Conn; error?: unknown }>();
  #waiters: { resolve: (c: Conn) => void; reject: (e: unknown) => void }[] = [];
  #closed = false;

  /** `main` gives the address; when it closes, the others close too. */
  constructor(readonly main: Listener, readonly extra: Listener[]) {
    this.#all = [main, ...extra];
    for (const l of this.#all) this.#loop(l);
  }

  get addr(): Addr {
    return this.main.addr;
  }

  async #loop(l: Listener): Promise<void> {
    for (;;) {
      let c: Conn;
      try {
        c = await l.accept();
      } catch (err) {
        if (err instanceof ClosedError || this.#closed) {
          if (l === this.main) this.close();
          return;
        }
        const w = this.#waiters.shift();
        if (w) w.reject(err);
        else this.#ready.push({ error: err });
        continue;
      }
      if (this.#closed) {
        closeQuietly(c);
        return;
      }
      const w = this.#waiters.shift();
      if (w) w.resolve(c);
      else this.#ready.push({ conn: c });
    }
  }

  accept(): Promise<Conn> {
    const item = this.#ready.shift();
    if (item) return item.conn ? Promise.resolve(item.conn) : Promise.reject(item.error);
    if (this.#closed) return Promise.reject(new ClosedError("Listener closed"));
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const l of this.#all) l.close();
    for (let item = this.#ready.shift(); item; item = this.#ready.shift()) closeQuietly(item.conn);
    const e = new ClosedError("Listener closed");
    for (const w of this.#waiters.splice(0)) w.reject(e);
  }
}
