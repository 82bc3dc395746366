import { listenHost, splitHostPort } from "../addr.ts";
import { closeQuietly } from "../_io/write_all.ts";
import { formatAddr, type Logger } from "../log.ts";
import { type Addr, ClosedError, type Conn, type Listener, type ListenerOptions } from "../types.ts";
import { nativeServer, type TlsConn, type TlsHandshakeOptions, tlsServer } from "./conn.ts";
import { setListenerNoDelay } from "../tcp/sockopt.ts";
import { bindShared } from "../tcp/share.ts";
import { parseListenerMetadata, type TlsListenerOptions } from "./metadata.ts";

/** Turns one accepted raw conn into a TLS conn (closing it on failure). */
type Handshake = (conn: Conn, opts: TlsHandshakeOptions) => Promise<TlsConn>;

interface Waiter {
  resolve(conn: Conn): void;
  reject(err: unknown): void;
}

/**
 * A TLS listener. An accept loop takes raw conns and starts one handshake
 * per conn (with a timeout), so a client that connects and says nothing
 * never holds up the others; `accept()` returns handshaken conns in the
 * order they completed. Failed handshakes are logged at debug and dropped.
 */
export class TlsListener implements Listener {
  readonly #ln: Deno.Listener;
  readonly #handshake: Handshake;
  readonly #opts: TlsListenerOptions;
  readonly #log: Logger;
  readonly #ready: Conn[] = [];
  readonly #waiters: Waiter[] = [];
  readonly #pending = new Set<AbortController>();
  #room: (() => void) | undefined;
  #closed = false;

  constructor(ln: Deno.Listener, handshake: Handshake, opts: TlsListenerOptions, log: Logger) {
    this.#ln = ln;
    this.#handshake = handshake;
    this.#opts = opts;
    this.#log = log;
    this.#acceptLoop();
  }

  get addr(): Addr {
    return this.#ln.addr;
  }

  accept(): Promise<Conn> {
    const conn = this.#ready.shift();
    if (conn) {
      this.#room?.();
      return Promise.resolve(conn);
    }
    if (this.#closed) return Promise.reject(new ClosedError("Listener closed"));
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeQuietly(this.#ln);
    for (const ac of this.#pending) ac.abort(new ClosedError("Listener closed"));
    for (const conn of this.#ready.splice(0)) closeQuietly(conn);
    for (const w of this.#waiters.splice(0)) w.reject(new ClosedError("Listener closed"));
    this.#room?.();
  }

  async #acceptLoop(): Promise<void> {
    while (!this.#closed) {
      if (this.#ready.length >= this.#opts.backlog) {
        await new Promise<void>((r) => (this.#room = r));
        this.#room = undefined;
        continue;
      }
      let conn: Conn;
      try {
        conn = await this.#ln.accept();
      } catch (err) {
        if (this.#closed || err instanceof Deno.errors.BadResource) break;
        // Transient accept errors (EMFILE, ECONNABORTED): back off briefly, keep serving.
        this.#log.debug("accept failed", { error: err instanceof Error ? err.message : String(err) });
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      if (this.#closed) {
        closeQuietly(conn);
        break;
      }
      this.#start(conn);
    }
    // Listener gone: nobody will accept again.
    if (!this.#closed) this.close();
  }

  #start(conn: Conn): void {
    const ac = new AbortController();
    this.#pending.add(ac);
    const remote = formatAddr(conn.remoteAddr);
    this.#handshake(conn, { signal: ac.signal, timeout: this.#opts.handshakeTimeout }).then(
      (tc) => {
        this.#pending.delete(ac);
        if (this.#closed) closeQuietly(tc);
        else this.#deliver(tc);
      },
      (err) => {
        this.#pending.delete(ac);
        if (!this.#closed) {
          this.#log.debug("tls handshake failed", {
            remote,
            error: err instanceof Error ? err.message : String(err),
          });
        }
      },
    );
  }

  #deliver(conn: Conn): void {
    const w = this.#waiters.shift();
    if (w) w.resolve(conn);
    else this.#ready.push(conn);
  }
}

/**
 * The `tls` listener. Fast path: `Deno.listenTls` (rustls in Deno's core,
 * about twice the throughput of `node:tls`), with TCP_NODELAY set on the
 * listening socket so its conns inherit it (Deno's TLS conns cannot set it,
 * and Nagle's algorithm costs a proxy 40 ms per write-write-read exchange).
 * Otherwise — client certificates required (`ca`), or no FFI to set the
 * option — TCP with TCP_NODELAY and a `node:tls` server handshake per conn.
 */
export async function listenTls(opts: ListenerOptions): Promise<Listener> {
  const md = parseListenerMetadata(opts.metadata);
  const cfg = await opts.tls();
  const { host, port } = splitHostPort(opts.addr);
  const hostname = listenHost(host);
  if (!cfg.ca) {
    const ln = bindShared(hostname, port, (o) =>
      Deno.listenTls({
        hostname,
        port,
        transport: "tcp",
        cert: cfg.cert,
        key: cfg.key,
        alpnProtocols: cfg.alpn,
        ...o,
      }));
    if (setListenerNoDelay(ln)) {
      const handshake: Handshake = (conn, hsOpts) => nativeServer(conn as Deno.TlsConn, hsOpts);
      return new TlsListener(ln, handshake, md, opts.log);
    }
    ln.close();
    opts.log.debug(
      "tls: TCP_NODELAY cannot be set on a Deno.listenTls socket here (needs --allow-ffi); using node:tls",
    );
  }
  const ln = bindShared(hostname, port, (o) => Deno.listen({ hostname, port, transport: "tcp", ...o }));
  const handshake: Handshake = (conn, hsOpts) => {
    try {
      (conn as Deno.TcpConn).setNoDelay(true);
    } catch {
      // the peer already left; the handshake will fail
    }
    return tlsServer(conn, cfg, hsOpts);
  };
  return new TlsListener(ln, handshake, md, opts.log);
}
