import { listenHost, splitHostPort } from "../addr.ts";
import { closeQuietly } from "../_io/write_all.ts";
import { bindShared } from "./share.ts";
import { type Addr, ClosedError, type Conn, type Listener, type ListenerOptions } from "../types.ts";

/** A plain TCP listener; accepted conns are `Deno.TcpConn`s with TCP_NODELAY. */
export class TcpListener implements Listener {
  readonly #ln: Deno.TcpListener;
  #closed = false;

  constructor(ln: Deno.TcpListener) {
    this.#ln = ln;
  }

  static listen(addr: string): TcpListener {
    const { host, port } = splitHostPort(addr);
    const hostname = listenHost(host);
    return new TcpListener(bindShared(hostname, port, (o) => Deno.listen({ hostname, port, transport: "tcp", ...o })));
  }

  get addr(): Addr {
    return this.#ln.addr;
  }

  async accept(): Promise<Conn> {
    for (;;) {
      try {
        const conn = await this.#ln.accept();
        try {
          conn.setNoDelay(true);
        } catch {
          // the peer already left; accept() will hand it over and reads end at once
        }
        return conn;
      } catch (err) {
        if (this.#closed || err instanceof Deno.errors.BadResource) throw new ClosedError("Listener closed");
        // Transient accept errors (EMFILE, ECONNABORTED): back off briefly, keep serving.
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  close(): void {
    this.#closed = true;
    closeQuietly(this.#ln);
  }
}

export function listenTcp(opts: ListenerOptions): Promise<Listener> {
  return Promise.resolve(TcpListener.listen(opts.addr));
}
