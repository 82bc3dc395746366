/**
 * Remote port forwarding over smux, both ends (`forward.md` §3, relay BIND,
 * SOCKS5 MBIND). The proxy server is the smux *client*: for every inbound
 * connection on the bound port it opens a stream, writes a per-stream header
 * naming the peer as a frame of its own, then relays. The proxy client is
 * the smux *server*: it accepts streams, strips the header and hands each
 * stream on as a connection from that peer.
 *
 * @module
 */
import { pipe } from "../_io/pipe.ts";
import { closeQuietly, writeAll } from "../_io/write_all.ts";
import { type MuxConfig, Session } from "../_mux/mod.ts";
import type { Stream } from "../_mux/stream.ts";
import { type Addr, ClosedError, type Conn, type Listener } from "../types.ts";
import { Queue } from "../_mux/queue.ts";

/** Time a stream's header may take to arrive. */
export const HEADER_TIMEOUT = 15_000;

/** Reads and strips a stream's header; resolves to the peer address it names. */
export type ReadStreamHeader = (stream: Conn) => Promise<Addr>;

/**
 * The proxy client's end: an smux server session over the bind connection
 * whose accepted streams, header stripped, are the accepted conns. Closing it
 * closes the session; a dead session makes `accept` reject with ClosedError.
 */
export class MuxBindListener implements Listener {
  readonly #session: Session;
  readonly #readHeader: ReadStreamHeader;
  readonly #addr: Addr;
  readonly #ready = new Queue<Conn>();
  #waiters: { resolve: (c: Conn) => void; reject: (e: unknown) => void }[] = [];
  readonly #loop: Promise<void>;
  readonly #headerTimeout: number;
  /** Why the session ended, once it has. */
  #error: unknown;

  /** @param addr the bound address the server reported */
  constructor(
    conn: Conn,
    mux: Partial<MuxConfig>,
    readHeader: ReadStreamHeader,
    addr: Addr,
    headerTimeout = HEADER_TIMEOUT,
  ) {
    this.#session = new Session(conn, { ...mux, client: false });
    this.#readHeader = readHeader;
    this.#addr = addr;
    this.#headerTimeout = headerTimeout;
    this.#loop = this.#acceptLoop();
  }

  get addr(): Addr {
    return this.#addr;
  }

  /** The smux session (for tests and stats). */
  get session(): Session {
    return this.#session;
  }

  /** Resolves once the session is dead and its I/O finished. */
  get done(): Promise<void> {
    return this.#loop.then(() => this.#session.done);
  }

  accept(): Promise<Conn> {
    const c = this.#ready.shift();
    if (c) return Promise.resolve(c);
    if (this.#session.closed) return Promise.reject(this.#closedError());
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  close(): void {
    this.#session.close();
  }

  #closedError(): ClosedError {
    const e = new ClosedError("Reverse tunnel closed");
    e.cause = this.#error ?? new ClosedError("smux session closed");
    return e;
  }

  async #acceptLoop(): Promise<void> {
    try {
      for (;;) {
        const s = await this.#session.accept();
        this.#strip(s);
      }
    } catch (err) {
      this.#error = err;
    }
    for (const c of this.#ready) closeQuietly(c);
    this.#ready.clear();
    const e = this.#closedError();
    for (const w of this.#waiters.splice(0)) w.reject(e);
  }

  /** Reads one stream's header without holding up the others. */
  async #strip(s: Stream): Promise<void> {
    const timer = setTimeout(() => closeQuietly(s), this.#headerTimeout);
    try {
      const peer = await this.#readHeader(s);
      const c = new PeerStream(s, peer);
      const w = this.#waiters.shift();
      if (w) w.resolve(c);
      else this.#ready.push(c);
    } catch {
      // A stream with a bad or missing header is dropped; the others go on.
      closeQuietly(s);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** A stream whose remote address is the peer named in its header. */
class PeerStream implements Conn {
  readonly read: (p: Uint8Array) => Promise<number | null>;
  readonly write: (p: Uint8Array) => Promise<number>;
  readonly closeWrite: () => Promise<void>;
  readonly close: () => void;
  readonly #inner: Conn;
  readonly #peer: Addr;

  constructor(inner: Conn, peer: Addr) {
    this.#inner = inner;
    this.#peer = peer;
    this.read = inner.read.bind(inner);
    this.write = inner.write.bind(inner);
    this.closeWrite = inner.closeWrite.bind(inner);
    this.close = inner.close.bind(inner);
  }

  get localAddr(): Addr {
    return this.#inner.localAddr;
  }
  get remoteAddr(): Addr {
    return this.#peer;
  }
}

/** What the server end of a mux bind moved. */
export interface MuxBindStats {
  /** Inbound connections carried. */
  conns: number;
  /** Bytes from the tunnel (the proxy client) to inbound peers. */
  inBytes: number;
  /** Bytes from inbound peers to the tunnel. */
  outBytes: number;
  /** Why the session ended, when it was not a plain close. */
  error?: unknown;
}

export interface ServeMuxBindOptions {
  mux: Partial<MuxConfig>;
  /** The per-stream header naming an inbound peer (relay response or SOCKS5 reply); null for none. */
  header: (peer: Addr) => Uint8Array | null;
  signal?: AbortSignal;
  /** Called for each inbound connection and its end (for logs). */
  onConn?: (peer: Addr, stats: { inBytes: number; outBytes: number; error?: unknown }) => void;
}

/**
 * The proxy server's end: runs an smux client session over `conn` and
 * carries every connection `listener` accepts as one stream, the header as
 * its own frame first. Streams the client opens are closed at once. When the
 * session dies (keepalive timeout, transport closed, `signal`), the listener
 * and every carried connection are closed. Resolves then; never rejects.
 */
export async function serveMuxBind(conn: Conn, listener: Listener, opts: ServeMuxBindOptions): Promise<MuxBindStats> {
  const stats: MuxBindStats = { conns: 0, inBytes: 0, outBytes: 0 };
  const session = new Session(conn, { ...opts.mux, client: true });
  const inbound = new Set<Conn>();
  const relays = new Set<Promise<void>>();
  const onAbort = () => session.close();
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  if (opts.signal?.aborted) onAbort();
  // The listener lives exactly as long as the session.
  session.done.then(() => {
    listener.close();
    for (const c of inbound) closeQuietly(c);
  });

  const carry = async (c: Conn) => {
    inbound.add(c);
    let s: Stream | undefined;
    const r: { inBytes: number; outBytes: number; error?: unknown } = { inBytes: 0, outBytes: 0 };
    try {
      s = await session.open();
      const head = opts.header(c.remoteAddr);
      if (head) await writeAll(s, head);
      const p = await pipe(s, c);
      r.inBytes = p.aToB;
      r.outBytes = p.bToA;
      r.error = p.error;
    } catch (err) {
      r.error = err;
    } finally {
      closeQuietly(s);
      closeQuietly(c);
      inbound.delete(c);
      stats.inBytes += r.inBytes;
      stats.outBytes += r.outBytes;
      opts.onConn?.(c.remoteAddr, r);
    }
  };

  const acceptLoop = (async () => {
    for (;;) {
      let c: Conn;
      try {
        c = await listener.accept();
      } catch {
        return;
      }
      if (session.closed) {
        closeQuietly(c);
        return;
      }
      stats.conns++;
      const p = carry(c);
      relays.add(p);
      p.finally(() => relays.delete(p));
    }
  })();

  const rejectLoop = (async () => {
    for (;;) {
      let s: Stream;
      try {
        s = await session.accept();
      } catch {
        return;
      }
      // The client must not open streams on a bind session (GOST closes them too).
      s.close();
    }
  })();

  await session.done;
  opts.signal?.removeEventListener("abort", onAbort);
  listener.close();
  await acceptLoop;
  await rejectLoop;
  while (relays.size) await Promise.all([...relays]);
  return stats;
}
