/**
 * The `udp` listener (GOST `listener/udp`): one pseudo-connection per peer
 * address over an unconnected datagram socket. Each read returns one
 * datagram from that peer, each write sends one datagram back to it; a
 * pseudo-connection that sees no traffic for `ttl` ends (reads return null),
 * and without `keepalive` it ends after its first answer.
 *
 * @module
 */
import { listenHost, splitHostPort } from "../addr.ts";
import { Queue } from "../_mux/queue.ts";
import { type Addr, ClosedError, type Conn, type Listener, type ListenerOptions } from "../types.ts";
import {
  DEFAULT_PACKET_LISTENER_OPTIONS,
  type PacketListenerOptions,
  parsePacketListenerMetadata,
} from "./metadata.ts";
import { type PacketConn, peerKey, SocketPacketConn } from "./packet.ts";

/** Accepts one pseudo-connection per datagram peer of a `PacketConn`. */
export class PacketListener implements Listener {
  readonly #pc: PacketConn;
  readonly #opts: PacketListenerOptions;
  readonly #conns = new Map<string, PeerConn>();
  readonly #backlog = new Queue<PeerConn>();
  #waiters: { resolve: (c: Conn) => void; reject: (e: unknown) => void }[] = [];
  readonly #sweeper: ReturnType<typeof setInterval>;
  #closed = false;
  #error: unknown;
  readonly #loop: Promise<void>;
  readonly #addr: Addr;

  /** @param addr reported as the listener's address (the remote bound address for a tunnel) */
  constructor(pc: PacketConn, opts: Partial<PacketListenerOptions> = {}, addr?: Addr) {
    this.#pc = pc;
    this.#opts = { ...DEFAULT_PACKET_LISTENER_OPTIONS, ...opts };
    this.#addr = addr ?? pc.localAddr;
    // Idle peers are swept a few times per ttl, so one timer serves every peer.
    const every = Math.max(20, Math.min(1000, Math.floor(this.#opts.ttl / 4)));
    this.#sweeper = setInterval(() => this.#sweep(), every);
    this.#loop = this.#recv();
  }

  get addr(): Addr {
    return this.#addr;
  }

  /** Number of live pseudo-connections. */
  get size(): number {
    return this.#conns.size;
  }

  /** Resolves when the socket is closed and its read loop has finished. */
  get done(): Promise<void> {
    return this.#loop;
  }

  accept(): Promise<Conn> {
    const c = this.#backlog.shift();
    if (c) return Promise.resolve(c);
    if (this.#closed) return Promise.reject(this.#closedError());
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  close(): void {
    this.#die();
  }

  #closedError(): ClosedError {
    const e = new ClosedError("Listener closed");
    if (this.#error !== undefined) e.cause = this.#error;
    return e;
  }

  async #recv(): Promise<void> {
    const buf = new Uint8Array(this.#opts.readBufferSize);
    try {
      for (;;) {
        const d = await this.#pc.readFrom(buf);
        if (d === null || this.#closed) break;
        const key = peerKey(d.addr);
        let c = this.#conns.get(key);
        if (!c) {
          // A full backlog drops new peers, as GOST does.
          if (this.#backlog.length >= this.#opts.backlog) continue;
          c = new PeerConn(this, this.#pc, d.addr, this.#opts.readQueueSize, this.#opts.keepalive);
          this.#conns.set(key, c);
          const w = this.#waiters.shift();
          if (w) w.resolve(c);
          else this.#backlog.push(c);
        }
        c._push(buf.slice(0, d.n));
      }
    } catch (err) {
      this.#error = err;
    } finally {
      this.#die();
    }
  }

  #sweep(): void {
    const now = performance.now();
    for (const c of this.#conns.values()) if (now - c._lastActive >= this.#opts.ttl) c.close();
  }

  /** @internal */
  _forget(c: PeerConn): void {
    const key = peerKey(c.remoteAddr);
    if (this.#conns.get(key) === c) this.#conns.delete(key);
  }

  #die(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweeper);
    this.#pc.close();
    for (const c of [...this.#conns.values()]) c.close();
    for (const c of this.#backlog) c.close();
    this.#backlog.clear();
    const err = this.#closedError();
    for (const w of this.#waiters.splice(0)) w.reject(err);
  }
}

/**
 * One datagram peer of a `PacketListener`, as a Conn: each read returns one
 * datagram (truncated to the buffer), each write sends one.
 */
class PeerConn implements Conn {
  readonly #ln: PacketListener;
  readonly #pc: PacketConn;
  readonly #remote: Deno.NetAddr;
  readonly #queue = new Queue<Uint8Array>();
  readonly #max: number;
  readonly #keepalive: boolean;
  #reader: ((d: Uint8Array | null) => void) | null = null;
  #closed = false;
  /** @internal performance.now() of the last datagram either way. */
  _lastActive = performance.now();

  constructor(ln: PacketListener, pc: PacketConn, remote: Deno.NetAddr, max: number, keepalive: boolean) {
    this.#ln = ln;
    this.#pc = pc;
    this.#remote = remote;
    this.#max = max;
    this.#keepalive = keepalive;
  }

  get localAddr(): Addr {
    return this.#ln.addr;
  }
  get remoteAddr(): Deno.NetAddr {
    return this.#remote;
  }

  /** @internal Queues a received datagram; drops it when the queue is full. */
  _push(d: Uint8Array): void {
    if (this.#closed) return;
    this._lastActive = performance.now();
    const r = this.#reader;
    if (r) {
      this.#reader = null;
      r(d);
    } else if (this.#queue.length < this.#max) {
      this.#queue.push(d);
    }
  }

  async read(p: Uint8Array): Promise<number | null> {
    let d = this.#queue.shift() ?? null;
    if (d === null) {
      if (this.#closed) return null;
      if (this.#reader) throw new Error("Concurrent read on a UDP pseudo-connection");
      d = await new Promise<Uint8Array | null>((r) => (this.#reader = r));
      if (d === null) return null;
    }
    const n = Math.min(d.length, p.length);
    p.set(n === d.length ? d : d.subarray(0, n));
    return n;
  }

  async write(p: Uint8Array): Promise<number> {
    if (this.#closed) throw new ClosedError("UDP pseudo-connection closed");
    this._lastActive = performance.now();
    try {
      await this.#pc.writeTo(p, this.#remote);
    } finally {
      // Without keepalive the first answer ends the pseudo-connection (GOST's `udp` default).
      if (!this.#keepalive) this.close();
    }
    return p.length;
  }

  /** Datagrams have no half-close: this ends the pseudo-connection. */
  closeWrite(): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.clear();
    this.#ln._forget(this);
    const r = this.#reader;
    this.#reader = null;
    r?.(null);
  }
}

/** The `udp` listener factory: binds `opts.addr` (empty host = all interfaces). */
export function listenUdp(opts: ListenerOptions): Promise<Listener> {
  const { host, port } = splitHostPort(opts.addr);
  const md = parsePacketListenerMetadata(opts.metadata);
  return Promise.resolve(new PacketListener(SocketPacketConn.listen(listenHost(host), port), md));
}
