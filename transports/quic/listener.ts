/**
 * The `quic` listener (GOST `listener/quic`): a QUIC endpoint (ALPN `h3`,
 * `quic/v1`; the service certificate) whose every bidirectional stream,
 * from any connection, is one accepted conn.
 *
 * As in GOST, accepted streams wait in a queue of `backlog` entries; a
 * stream arriving when it is full is closed at once and logged, and the
 * connection goes on. Datagrams that are not QUIC, failed handshakes and a
 * connection that ends badly affect only themselves. close() ends every
 * connection at once (as GOST's does), so that the UDP port can be bound
 * again soon.
 *
 * @module
 */
import { listenHost, splitHostPort } from "../addr.ts";
import { formatAddr, type Logger } from "../log.ts";
import { ClosedError, type Listener, type ListenerOptions } from "../types.ts";
import { ALPN, bindEndpoint, errText, udpAddr } from "./_endpoint.ts";
import { QuicStreamConn } from "./_stream.ts";
import { parseListenerMetadata, type QuicListenerOptions } from "./metadata.ts";
import { acceptQuic } from "../h3/mod.ts";

/** Time allowed for CONNECTION_CLOSE packets to go out after close(). @default 50 */
export const CLOSE_FLUSH = 50;
/** The application close GOST sends when a session ends. */
const CLOSE_INFO: Deno.QuicCloseInfo = { closeCode: 0, reason: "closed" };

/** Streams of QUIC connections on one endpoint, as conns. */
export class QuicListener implements Listener {
  readonly addr: Deno.NetAddr;
  // Dropped on close: Deno frees the UDP port only when these objects are garbage-collected.
  #endpoint: Deno.QuicEndpoint | undefined;
  #quic: Deno.QuicListener | undefined;
  readonly #opts: QuicListenerOptions;
  readonly #log: Logger;
  readonly #queue: QuicStreamConn[] = [];
  readonly #waiters: { resolve: (c: QuicStreamConn) => void; reject: (e: unknown) => void }[] = [];
  readonly #conns = new Set<Deno.QuicConn>();
  readonly #serving = new Set<Promise<void>>();
  readonly #loop: Promise<void>;
  #closed = false;

  constructor(endpoint: Deno.QuicEndpoint, quic: Deno.QuicListener, opts: QuicListenerOptions, log: Logger) {
    this.#endpoint = endpoint;
    this.#quic = quic;
    this.#opts = opts;
    this.#log = log;
    this.addr = udpAddr(endpoint.addr);
    this.#loop = this.#acceptLoop();
  }

  /** The parsed options. */
  get options(): Readonly<QuicListenerOptions> {
    return this.#opts;
  }

  /** QUIC connections being served (tests, diagnostics). */
  get connections(): number {
    return this.#conns.size;
  }

  /** Streams waiting for accept() (tests, diagnostics). */
  get queued(): number {
    return this.#queue.length;
  }

  /** Resolves once closed and every connection is gone. */
  get done(): Promise<void> {
    return this.#loop.then(async () => {
      while (this.#serving.size > 0) await Promise.all([...this.#serving]);
    });
  }

  accept(): Promise<QuicStreamConn> {
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.#closed) {
      // Give the connection closes a moment to leave before the service (maybe the process) ends.
      return new Promise((_, reject) => setTimeout(() => reject(new ClosedError("quic listener closed")), CLOSE_FLUSH));
    }
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#quic?.stop();
    } catch {
      // already stopped
    }
    for (const c of this.#conns) closeConn(c);
    this.#endpoint?.close(CLOSE_INFO);
    this.#endpoint = undefined;
    this.#quic = undefined;
    for (const c of this.#queue.splice(0)) c.close();
    const err = new ClosedError("quic listener closed");
    for (const w of this.#waiters.splice(0)) setTimeout(() => w.reject(err), CLOSE_FLUSH);
  }

  async #acceptLoop(): Promise<void> {
    while (!this.#closed && this.#quic) {
      let incoming: Deno.QuicIncoming;
      try {
        incoming = await this.#quic.incoming();
      } catch (err) {
        if (!this.#closed) this.#log.error(`quic: accept failed: ${errText(err)}`);
        break;
      }
      const p = this.#serve(incoming).catch((err) => this.#log.debug(`quic: connection ended: ${errText(err)}`));
      this.#serving.add(p);
      p.finally(() => this.#serving.delete(p));
    }
  }

  async #serve(incoming: Deno.QuicIncoming): Promise<void> {
    const conn = await acceptQuic(incoming, {
      timeout: this.#opts.handshakeTimeout,
      log: this.#log,
      tag: "quic",
      close: closeConn,
    });
    if (!conn) return;
    if (this.#closed) {
      closeConn(conn);
      return;
    }
    this.#conns.add(conn);
    const local = this.addr;
    const remote = udpAddr(conn.remoteAddr);
    this.#log.trace("quic: connection", { remote: formatAddr(remote) });
    const streams = conn.incomingBidirectionalStreams.getReader();
    try {
      for (;;) {
        const { value, done } = await streams.read();
        if (done) break;
        this.#offer(new QuicStreamConn(value, local, remote), remote);
      }
    } catch (err) {
      if (!this.#closed) this.#log.debug(`quic: accept stream: ${errText(err)}`, { remote: formatAddr(remote) });
    } finally {
      this.#conns.delete(conn);
      closeConn(conn);
    }
  }

  #offer(c: QuicStreamConn, remote: Deno.NetAddr): void {
    const w = this.#waiters.shift();
    if (w) return w.resolve(c);
    if (this.#closed || this.#queue.length >= this.#opts.backlog) {
      c.close();
      if (!this.#closed) this.#log.warn(`connection queue is full, client ${formatAddr(remote)} discarded`);
      return;
    }
    this.#queue.push(c);
  }
}

function closeConn(c: Deno.QuicConn): void {
  try {
    c.close(CLOSE_INFO);
  } catch {
    // already closed
  }
}

/** The `quic` listener factory. */
export async function listenQuic(opts: ListenerOptions): Promise<Listener> {
  const o = parseListenerMetadata(opts.metadata);
  const tls = await opts.tls();
  if (tls.ca) {
    throw new TypeError(
      "quic listener cannot require client certificates: Deno's QUIC has no client authentication (remove the CA)",
    );
  }
  const { host, port } = splitHostPort(opts.addr);
  const endpoint = await bindEndpoint(listenHost(host), port);
  try {
    const quic = endpoint.listen({
      cert: tls.cert,
      key: tls.key,
      alpnProtocols: ALPN,
      keepAliveInterval: o.keepAlivePeriod > 0 ? o.keepAlivePeriod : undefined,
      maxIdleTimeout: o.maxIdleTimeout,
      maxConcurrentBidirectionalStreams: o.maxStreams,
      // GOST's quic transport uses bidirectional streams only; unread unidirectional ones would only hold memory.
      maxConcurrentUnidirectionalStreams: 0,
    });
    return new QuicListener(endpoint, quic, o, opts.log);
  } catch (err) {
    endpoint.close();
    throw err;
  }
}
