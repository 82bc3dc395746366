/**
 * The `h3` / `http3` dialer: PHT over HTTP/3 (GOST `dialer/http3`). QUIC
 * connections to a node are pooled and shared by PHT sessions (each
 * session is a pull request outstanding plus one push at a time); a
 * connection carries at most {@linkcode SESSIONS_PER_CONNECTION} sessions so
 * that a server allowing 100 concurrent streams (quic-go's default) never
 * runs out, and more connections are opened as needed.
 *
 * Certificates (GOST: no verification unless `secure=true`):
 * - `secure=true` or a `ca`: Deno verifies the chain (system roots plus
 *   the CA) and the name (`serverName`, default the node host).
 * - otherwise the certificate is learned with a QUIC handshake probe
 *   (`_probe.ts`) and pinned by its SHA-256 (Deno's `serverCertificateHashes`),
 *   so any certificate is accepted, as GOST does. The pin is cached per node
 *   and re-probed once when the server's certificate changed.
 *
 * As a later hop of a chain, the QUIC packets go through the earlier hops'
 * UDP relaying (see `./_bridge.ts`).
 *
 * @module
 */
import { dialHost, joinHostPort, splitHostPort } from "../addr.ts";
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
import { ALPN_H3, type H3Fetcher, h3Fetcher } from "../_h3/mod.ts";
import { PhtClient, type PhtClientConn } from "../pht/mod.ts";
import { connectQuicNode } from "./_connect.ts";
import { type H3DialerOptions, parseDialerMetadata } from "./metadata.ts";

/** PHT sessions sharing one QUIC connection at most. @default 25 */

/**
 * Largest payload of one PHT POST over HTTP/3: its base64 line (1,037,654
 * bytes) stays under the 1 MiB line a dost server takes (GOST's takes any).
 * Each POST costs a round trip, so bigger ones carry more: 760 KiB moved
 * about 20% more than 512 KiB (docs/benchmarks.md).
 */
export const H3_MAX_PUSH_PAYLOAD = 760 * 1024;
export const SESSIONS_PER_CONNECTION = 25;
/**
 * How long the first request of a session may take on a connection that is
 * already open before the connection is presumed dead and a new one is
 * tried. @default 3000
 */
export const REUSED_TIMEOUT = 3000;

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** GOST's Host: the `host` option (or node host) with the node port, unless the option has a port. */
function hostPort(name: string, port: number): string {
  try {
    splitHostPort(name);
    return name;
  } catch {
    return joinHostPort(name.replace(/^\[|\]$/g, ""), port);
  }
}

/** One pooled QUIC connection. */
interface Lane {
  ready: Promise<H3Fetcher>;
  fetch?: H3Fetcher;
  quic?: Deno.QuicConn;
  sessions: number;
  dead: boolean;
}

/** Opens PHT-over-HTTP/3 sessions to nodes. */
export class H3Dialer implements Dialer {
  readonly multiplex = true;
  readonly #opts: H3DialerOptions;
  readonly #tls: ClientTLSConfig;
  readonly #log: Logger | undefined;
  readonly #lanes = new Map<string, Lane[]>();
  readonly #pins = new Map<string, Uint8Array>();
  readonly #live = new Set<PhtClientConn>();
  #closed = false;

  constructor(opts: H3DialerOptions, tls: ClientTLSConfig, log?: Logger) {
    this.#opts = opts;
    this.#tls = tls;
    this.#log = log;
  }

  /** The parsed options. */
  get options(): Readonly<H3DialerOptions> {
    return this.#opts;
  }

  /** Certificate pins (SHA-256) learned per node with `secure=false` (tests, diagnostics). */
  get pins(): Map<string, Uint8Array> {
    return this.#pins;
  }

  /** Open QUIC connections to `addr` (tests, diagnostics). */
  connections(addr: string): number {
    return (this.#lanes.get(addr) ?? []).filter((l) => !l.dead).length;
  }

  async dial(addr: string, raw: RawDial, opts: DialOptions = {}): Promise<Conn> {
    if (this.#closed) throw new ClosedError("h3 dialer closed");
    opts.signal?.throwIfAborted();
    for (let attempt = 0;; attempt++) {
      const lane = this.#acquire(addr, raw);
      const reused = lane.fetch !== undefined;
      try {
        return await this.#open(addr, lane, reused, opts.signal);
      } catch (err) {
        // Whatever failed, this connection is suspect: new sessions go elsewhere. One that let a
        // request time out is presumed dead and closed, so the sessions still on it end now
        // rather than at the idle timeout.
        const dead = reused && /timed out/i.test(errText(err));
        this.#drop(addr, lane, errText(err), dead || lane.sessions === 0);
        // A server that restarted cannot tell our old connection so (its new keys make no valid
        // stateless reset): a reused connection that does not answer in time is retried once fresh.
        if (!reused || attempt > 0 || opts.signal?.aborted || this.#closed) throw err;
        this.#log?.debug("h3: reused connection did not answer, trying a new one", { node: addr });
      }
    }
  }

  /** One PHT session on `lane` (counted in it already); releases the count on failure. */
  async #open(addr: string, lane: Lane, reused: boolean, signal: AbortSignal | undefined): Promise<Conn> {
    let fetch: H3Fetcher;
    try {
      fetch = await untilAborted(lane.ready, signal);
    } catch (err) {
      this.#release(addr, lane);
      throw err;
    }
    const o = this.#opts.pht;
    const { host, port } = splitHostPort(addr);
    const authority = hostPort(o.host ?? dialHost(host), port);
    let conn: PhtClientConn | undefined;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      if (conn) this.#live.delete(conn);
      this.#release(addr, lane);
    };
    const quic = lane.quic!;
    const addrs = {
      localAddr: udpAddr(quic.endpoint.addr),
      remoteAddr: udpAddr(quic.remoteAddr),
    };
    const client = new PhtClient(fetch, {
      url: `https://${authority}`,
      authorizePath: o.authorizePath,
      pushPath: o.pushPath,
      pullPath: o.pullPath,
      header: o.header,
      // One push at a time: concurrent request streams may reach the server's handler out of order.
      pushWindow: 1,
      // Each POST costs a round trip: larger ones (writes gather while one is out) carry more per trip.
      maxPushPayload: H3_MAX_PUSH_PAYLOAD,
      readTimeout: o.readTimeout,
      timeout: reused ? Math.min(o.handshakeTimeout, REUSED_TIMEOUT) : o.handshakeTimeout,
      addrs: () => addrs,
      onClose: release,
      log: this.#log,
    });
    try {
      conn = await client.connect(signal);
    } catch (err) {
      release();
      throw err;
    }
    this.#live.add(conn);
    return conn;
  }

  /** Closes every session and connection. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const c of this.#live) c.close();
    for (const lanes of this.#lanes.values()) {
      for (const l of lanes) this.#kill(l);
    }
    this.#lanes.clear();
  }

  /** A lane with room for one more session (counted), building one when needed. */
  #acquire(addr: string, raw: RawDial): Lane {
    const lanes = this.#lanes.get(addr) ?? [];
    this.#lanes.set(addr, lanes);
    for (const l of lanes) {
      if (!l.dead && l.sessions < SESSIONS_PER_CONNECTION && (!l.fetch || l.fetch.usable())) {
        l.sessions++;
        return l;
      }
    }
    const lane: Lane = { ready: Promise.resolve() as unknown as Promise<H3Fetcher>, sessions: 1, dead: false };
    lane.ready = this.#connect(addr, raw).then(
      ({ quic, fetch }) => {
        lane.quic = quic;
        lane.fetch = fetch;
        fetch.closed.then(() => this.#drop(addr, lane, "connection closed"));
        if (this.#closed) this.#kill(lane);
        return fetch;
      },
      (err) => {
        this.#drop(addr, lane, errText(err));
        throw err;
      },
    );
    lane.ready.catch(() => {});
    lanes.push(lane);
    return lane;
  }

  #release(addr: string, lane: Lane): void {
    lane.sessions--;
    if (lane.sessions > 0 || lane.dead) return;
    // Keep one idle connection per node; close the others.
    const lanes = this.#lanes.get(addr) ?? [];
    if (lanes.some((l) => l !== lane && !l.dead)) this.#drop(addr, lane, "idle", true);
  }

  #drop(addr: string, lane: Lane, why: string, close = false): void {
    if (lane.dead) return;
    lane.dead = true;
    const lanes = this.#lanes.get(addr);
    if (lanes) {
      const i = lanes.indexOf(lane);
      if (i >= 0) lanes.splice(i, 1);
      if (lanes.length === 0) this.#lanes.delete(addr);
    }
    this.#log?.debug("h3: connection dropped", { node: addr, reason: why });
    if (close) this.#kill(lane);
  }

  #kill(lane: Lane): void {
    lane.dead = true;
    lane.fetch?.close();
    lane.ready.then((f) => f.close(), () => {});
  }

  async #connect(addr: string, raw: RawDial): Promise<{ quic: Deno.QuicConn; fetch: H3Fetcher }> {
    const quic = await this.#quic(addr, raw);
    const fetch = h3Fetcher(quic, { onError: (err) => this.#log?.debug(`h3: ${errText(err)}`, { node: addr }) });
    // The endpoint (UDP socket) belongs to this connection alone.
    fetch.closed.then(() => quic.endpoint.close());
    return { quic, fetch };
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

function udpAddr(a: { hostname: string; port: number }): Deno.NetAddr {
  return { transport: "udp", hostname: a.hostname, port: a.port };
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

/** The `h3` and `http3` dialer factory. */
export function h3Dialer(opts: DialerOptions): Dialer {
  return new H3Dialer(parseDialerMetadata(opts.metadata), opts.tls, opts.log);
}
