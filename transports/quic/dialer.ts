/**
 * The `quic` dialer (GOST `dialer/quic`): one QUIC connection (session) per
 * node address, one bidirectional stream per dial.
 *
 * As in GOST, the session is kept for later dials (with keepalive on by
 * default it lives until the dialer closes or the peer goes away). dost
 * forgets a session the moment Deno reports it closed, and when opening a
 * stream on the cached session fails anyway, the same dial builds a new
 * session and opens the stream there (GOST fails that dial and rebuilds on
 * the next). Dials that arrive while a session is being built wait for it.
 *
 * Certificates (GOST: no verification unless `secure=true`), as the h3
 * dialer does them:
 * - `secure=true` or a `ca`: Deno verifies the chain (system roots plus the
 *   CA) and the name (`serverName`, default the node host).
 * - otherwise the certificate is learned with a QUIC handshake probe and
 *   pinned by its SHA-256 (`serverCertificateHashes`), so any certificate
 *   is accepted, as GOST does; the pin is cached per node and learned again
 *   once when the server's certificate changed.
 *
 * As a later hop of a chain, the QUIC packets go through the earlier hops'
 * UDP relaying (relay UDP, SOCKS5 UDP-TUN), as GOST sends them; see
 * `../h3/_bridge.ts`.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import {
  type ClientTLSConfig,
  ClosedError,
  type Conn,
  type Dialer,
  type DialerOptions,
  type DialOptions,
  type RawDial,
} from "../types.ts";
import { connectQuicNode } from "../h3/mod.ts";
import { ALPN, errText, udpAddr, untilAborted } from "./_endpoint.ts";
import { QuicStreamConn } from "./_stream.ts";
import { parseDialerMetadata, type QuicDialerOptions } from "./metadata.ts";

/**
 * How long a dial waits for the server to allow one more stream (it counts
 * `maxStreams` on its side), after which the dial fails. @default 10000
 */
export const OPEN_STREAM_TIMEOUT = 10_000;

/** One QUIC connection to a node. */
interface Session {
  quic: Deno.QuicConn;
  local: Deno.NetAddr;
  remote: Deno.NetAddr;
  dead: boolean;
}

/** Opens streams on one cached QUIC connection per node. */
export class QuicDialer implements Dialer {
  readonly multiplex = true;
  readonly #opts: QuicDialerOptions;
  readonly #tls: ClientTLSConfig;
  readonly #log: Logger | undefined;
  readonly #sessions = new Map<string, Session>();
  readonly #building = new Map<string, Promise<Session>>();
  readonly #pins = new Map<string, Uint8Array>();
  readonly #live = new Set<QuicStreamConn>();
  readonly #all = new Set<Session>();
  readonly #ending = new Set<Promise<void>>();
  #closed = false;

  constructor(opts: QuicDialerOptions, tls: ClientTLSConfig, log?: Logger) {
    this.#opts = opts;
    this.#tls = tls;
    this.#log = log;
  }

  /** The parsed options. */
  get options(): Readonly<QuicDialerOptions> {
    return this.#opts;
  }

  /** The live QUIC connection to `addr`, if any (tests, diagnostics). */
  session(addr: string): Deno.QuicConn | undefined {
    const s = this.#sessions.get(addr);
    return s && !s.dead ? s.quic : undefined;
  }

  /** Resolves once every session has closed (after close(): everything is released). */
  get done(): Promise<void> {
    return (async () => {
      while (this.#building.size > 0 || this.#ending.size > 0) {
        await Promise.allSettled([...this.#building.values(), ...this.#ending]);
      }
    })();
  }

  /** Certificate pins (SHA-256) learned per node with `secure=false` (tests, diagnostics). */
  get pins(): Map<string, Uint8Array> {
    return this.#pins;
  }

  async dial(addr: string, raw: RawDial, opts: DialOptions = {}): Promise<Conn> {
    if (this.#closed) throw new ClosedError("quic dialer closed");
    opts.signal?.throwIfAborted();
    const cached = this.#sessions.get(addr);
    if (cached && !cached.dead) {
      try {
        return await this.#open(cached, opts.signal);
      } catch (err) {
        if (opts.signal?.aborted || this.#closed) throw err;
        // The session died without telling us yet: a new one, in this same dial.
        this.#forget(addr, cached, errText(err));
      }
    }
    const session = await untilAborted(this.#build(addr, raw), opts.signal);
    return await this.#open(session, opts.signal);
  }

  /** Closes every stream and session, and aborts sessions being built. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const c of this.#live) c.close();
    for (const s of this.#all) kill(s);
    this.#sessions.clear();
  }

  async #open(s: Session, signal: AbortSignal | undefined): Promise<QuicStreamConn> {
    const timeout = AbortSignal.timeout(OPEN_STREAM_TIMEOUT);
    // Waits for stream credit when the server's limit is reached, as quic-go's OpenStreamSync does.
    const pending = s.quic.createBidirectionalStream({ waitUntilAvailable: true });
    let stream: Deno.QuicBidirectionalStream;
    try {
      stream = await untilAborted(pending, signal ? AbortSignal.any([signal, timeout]) : timeout);
    } catch (err) {
      pending.then(discard, () => {});
      if (timeout.aborted) {
        throw new Deno.errors.TimedOut(`quic: the server allowed no new stream within ${OPEN_STREAM_TIMEOUT} ms`);
      }
      throw err;
    }
    const conn: QuicStreamConn = new QuicStreamConn(stream, s.local, s.remote, () => this.#live.delete(conn));
    if (this.#closed) {
      conn.close();
      throw new ClosedError("quic dialer closed");
    }
    this.#live.add(conn);
    return conn;
  }

  #forget(addr: string, s: Session, why: string): void {
    if (this.#sessions.get(addr) === s) this.#sessions.delete(addr);
    if (s.dead) return;
    this.#log?.debug("quic: session dropped", { node: addr, reason: why });
    kill(s);
  }

  /** The session being built for `addr`, or a new build; concurrent dials share it. */
  #build(addr: string, raw: RawDial): Promise<Session> {
    const pending = this.#building.get(addr);
    if (pending) return pending;
    const p = this.#connect(addr, raw).then((quic) => {
      const s: Session = {
        quic,
        local: udpAddr(quic.endpoint.addr),
        remote: udpAddr(quic.remoteAddr),
        dead: false,
      };
      this.#all.add(s);
      const ended: Promise<void> = quic.closed.then(() => {}, () => {}).finally(() => {
        this.#all.delete(s);
        this.#ending.delete(ended);
        this.#forget(addr, s, "connection closed");
        // The endpoint (UDP socket) belongs to this connection alone.
        quic.endpoint.close();
      });
      this.#ending.add(ended);
      if (this.#closed) {
        kill(s);
      } else {
        this.#sessions.set(addr, s);
        this.#log?.debug("quic: session started", { node: addr });
      }
      return s;
    }).finally(() => {
      if (this.#building.get(addr) === p) this.#building.delete(addr);
    });
    this.#building.set(addr, p);
    p.catch(() => {});
    return p;
  }

  /** A QUIC connection to `addr`, verified or pinned as the TLS config says. */
  #connect(addr: string, raw: RawDial): Promise<Deno.QuicConn> {
    const o = this.#opts;
    return connectQuicNode(addr, {
      tls: this.#tls,
      pins: this.#pins,
      alpn: ALPN,
      handshakeTimeout: o.handshakeTimeout,
      keepAlivePeriod: o.keepAlivePeriod,
      maxIdleTimeout: o.maxIdleTimeout,
      maxUnidirectionalStreams: 0,
    }, raw.direct ? undefined : raw);
  }
}

/** Releases a stream nobody will use. */
function discard(s: Deno.QuicBidirectionalStream): void {
  s.writable.abort().catch(() => {});
  s.readable.cancel().catch(() => {});
}

function kill(s: Session): void {
  s.dead = true;
  try {
    s.quic.close({ closeCode: 0, reason: "closed" });
  } catch {
    // already closed
  }
}

/** The `quic` dialer factory. */
export function quicDialer(opts: DialerOptions): Dialer {
  return new QuicDialer(parseDialerMetadata(opts.metadata), opts.tls, opts.log);
}
