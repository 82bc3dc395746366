/**
 * The `wt` dialer (GOST `dialer/http3/wt`): one QUIC connection carrying one
 * WebTransport session per node address, one stream per dial.
 *
 * A dial never hands out a stream of a session it knows is dead: a session
 * that ended (CLOSE capsule, FIN, connection closed or idle-timed-out) is
 * forgotten the moment it ends, and when opening a stream on the cached
 * session fails, the same dial builds a fresh session and opens the stream
 * there. Dials that arrive while a session is being built wait for it.
 *
 * Certificates (GOST: no verification unless `secure=true`): with `secure`
 * or a `ca` Deno verifies chain and name; otherwise the certificate is
 * learned with a handshake probe and pinned by its SHA-256, exactly as the
 * h3 dialer does (see `../h3/_probe.ts`).
 *
 * As a later hop of a chain, the QUIC packets go through the earlier hops'
 * UDP relaying (see `../h3/_bridge.ts`).
 *
 * @module
 */
import { dialHost, splitHostPort } from "../addr.ts";
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
import { ALPN_H3 } from "../_h3/mod.ts";
import { connectQuicNode } from "../h3/mod.ts";
import { connectWt } from "./_client.ts";
import type { WtSession } from "./_session.ts";
import { parseDialerMetadata, type WtDialerOptions } from "./metadata.ts";

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Resolves like `p`, or rejects when `signal` aborts first (`p` goes on for others). */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** Opens WebTransport streams to nodes, one session per node. */
export class WtDialer implements Dialer {
  readonly multiplex = true;
  readonly #opts: WtDialerOptions;
  readonly #tls: ClientTLSConfig;
  readonly #log: Logger | undefined;
  readonly #sessions = new Map<string, WtSession>();
  readonly #building = new Map<string, Promise<WtSession>>();
  readonly #pins = new Map<string, Uint8Array>();
  readonly #ac = new AbortController();
  #closed = false;

  constructor(opts: WtDialerOptions, tls: ClientTLSConfig, log?: Logger) {
    this.#opts = opts;
    this.#tls = tls;
    this.#log = log;
  }

  /** The parsed options. */
  get options(): Readonly<WtDialerOptions> {
    return this.#opts;
  }

  /** The live session to `addr`, if any (tests, diagnostics). */
  session(addr: string): WtSession | undefined {
    const s = this.#sessions.get(addr);
    return s && !s.closed ? s : undefined;
  }

  async dial(addr: string, raw: RawDial, opts: DialOptions = {}): Promise<Conn> {
    if (this.#closed) throw new ClosedError("wt dialer closed");
    opts.signal?.throwIfAborted();
    const cached = this.session(addr);
    if (cached) {
      try {
        return await untilAborted(cached.open(), opts.signal);
      } catch (err) {
        if (opts.signal?.aborted) throw err;
        this.#forget(addr, cached, err);
      }
    }
    const session = await untilAborted(this.#build(addr, raw), opts.signal);
    return await untilAborted(session.open(), opts.signal);
  }

  /** Closes every session and its connection, and aborts sessions being built. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ac.abort(new ClosedError("wt dialer closed"));
    for (const s of this.#sessions.values()) this.#shut(s);
    this.#sessions.clear();
  }

  /** Ends a session and its QUIC connection (each session has its own). */
  #shut(s: WtSession): void {
    s.close();
    // The CLOSE capsule goes out first; the connection close follows on the next turn.
    setTimeout(() => s.h3.close(), 0);
  }

  #forget(addr: string, session: WtSession, reason?: unknown): void {
    if (this.#sessions.get(addr) === session) {
      this.#sessions.delete(addr);
      this.#log?.debug("wt session dropped", {
        node: addr,
        error: reason === undefined ? undefined : errText(reason),
      });
    }
    this.#shut(session);
  }

  /** The session being built for `addr`, or a new build; concurrent dials share it. */
  #build(addr: string, raw: RawDial): Promise<WtSession> {
    const pending = this.#building.get(addr);
    if (pending) return pending;
    const p = this.#connect(addr, raw);
    this.#building.set(addr, p);
    // Registered before any caller's await: callers find the session cached when they resume.
    p.then(
      (session) => {
        if (this.#building.get(addr) === p) this.#building.delete(addr);
        if (this.#closed) {
          this.#shut(session);
          return;
        }
        const old = this.#sessions.get(addr);
        if (old && old !== session) this.#shut(old);
        this.#sessions.set(addr, session);
        session.done.then((end) => this.#forget(addr, session, end.error ?? end.remote?.message ?? "session closed"));
      },
      () => {
        if (this.#building.get(addr) === p) this.#building.delete(addr);
      },
    );
    return p;
  }

  async #connect(addr: string, raw: RawDial): Promise<WtSession> {
    const quic = await this.#quic(addr, raw);
    // The endpoint (UDP socket) belongs to this connection alone.
    quic.closed.catch(() => {}).finally(() => quic.endpoint.close());
    const { host } = splitHostPort(addr);
    const o = this.#opts;
    const session = await connectWt(quic, {
      authority: o.host ?? hostOnly(dialHost(host)),
      path: o.path,
      header: o.header,
      timeout: o.handshakeTimeout,
      signal: this.#ac.signal,
      onError: (err) => this.#log?.debug(`wt: ${errText(err)}`, { node: addr }),
    });
    this.#log?.debug("wt session started", { node: addr });
    // Nothing else lives on this connection: when the session ends, so does it.
    session.done.then(() => setTimeout(() => session.h3.close(), 0));
    return session;
  }

  /** A QUIC connection to `addr`, verified or pinned as the TLS config says. */
  #quic(addr: string, raw: RawDial): Promise<Deno.QuicConn> {
    const o = this.#opts;
    return connectQuicNode(addr, {
      tls: this.#tls,
      pins: this.#pins,
      alpn: [ALPN_H3],
      handshakeTimeout: o.handshakeTimeout,
      keepAlivePeriod: o.keepAlivePeriod,
      maxIdleTimeout: o.maxIdleTimeout,
      maxUnidirectionalStreams: 16,
    }, raw.direct ? undefined : raw);
  }
}

/** The host of a node address as GOST puts it in the CONNECT URL (IPv6 in brackets). */
function hostOnly(host: string): string {
  const h = host.replace(/^\[|\]$/g, "");
  return h.includes(":") ? `[${h}]` : h;
}

/** The `wt` dialer factory. */
export function wtDialer(opts: DialerOptions): Dialer {
  return new WtDialer(parseDialerMetadata(opts.metadata), opts.tls, opts.log);
}
