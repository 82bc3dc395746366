/**
 * The `pht` / `phts` listener: dost's HTTP/1.1 server on TCP (or TLS for
 * `phts`) driving a {@linkcode PhtServer}; every PHT session is one
 * accepted conn.
 *
 * @module
 */
import { acceptLoop } from "../_io/accept_loop.ts";
import { closeQuietly } from "../_io/write_all.ts";
import type { Logger } from "../log.ts";
import { TcpListener } from "../tcp/mod.ts";
import { listenTls } from "../tls/mod.ts";
import type { Addr, Listener, ListenerOptions } from "../types.ts";
import { Http1Server } from "../_http1/server.ts";
import { parseListenerMetadata, type PhtListenerOptions } from "./metadata.ts";
import { PhtServer } from "./server.ts";
import type { PhtSession } from "./session.ts";

/**
 * PHT over the conns of another listener. `close()` stops accepting conns
 * and sessions; sessions already accepted keep being served (push and pull
 * go on) until they end, so a service can drain them; then the HTTP conns
 * close too.
 */
export class PhtListener implements Listener {
  readonly #inner: Listener;
  readonly #http: Http1Server;
  readonly #pht: PhtServer;
  readonly #log: Logger;
  readonly #serving = new Set<Promise<void>>();
  readonly #loop: Promise<void>;
  #closed = false;

  constructor(inner: Listener, opts: PhtListenerOptions, log: Logger, scheme: "http" | "https") {
    this.#inner = inner;
    this.#log = log;
    this.#pht = new PhtServer({ ...opts, log });
    this.#http = new Http1Server((req, info) => this.#pht.handle(req, info), { scheme, log });
    this.#loop = this.#acceptLoop();
  }

  get addr(): Addr {
    return this.#inner.addr;
  }

  /** The PHT core (tests, diagnostics). */
  get server(): PhtServer {
    return this.#pht;
  }

  /** HTTP conns being served (tests, diagnostics). */
  get connections(): number {
    return this.#http.connections;
  }

  /** Resolves once closed and every session and HTTP conn is gone. */
  get done(): Promise<void> {
    return this.#loop.then(() => this.#pht.drained).then(async () => {
      while (this.#serving.size > 0) await Promise.all([...this.#serving]);
    });
  }

  accept(): Promise<PhtSession> {
    return this.#pht.accept();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeQuietly(this.#inner);
    this.#pht.close();
    this.#pht.drained.then(() => this.#http.closeIdle());
  }

  async #acceptLoop(): Promise<void> {
    await acceptLoop(this.#inner, {
      closed: () => this.#closed,
      log: this.#log,
      onConn: (conn) => {
        const p = this.#http.serve(conn);
        this.#serving.add(p);
        p.finally(() => this.#serving.delete(p));
      },
    });
    this.close();
  }
}

/** The `pht` listener: PHT on plain TCP. */
export function listenPht(opts: ListenerOptions): Promise<Listener> {
  const md = parseListenerMetadata(opts.metadata);
  return Promise.resolve(new PhtListener(TcpListener.listen(opts.addr), md, opts.log, "http"));
}

/** The `phts` listener: PHT on TLS (the service certificate; HTTP/1.1, no ALPN, as GOST). */
export async function listenPhts(opts: ListenerOptions): Promise<Listener> {
  const md = parseListenerMetadata(opts.metadata);
  return new PhtListener(await listenTls(opts), md, opts.log, "https");
}
