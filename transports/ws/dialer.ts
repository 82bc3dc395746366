/**
 * The `ws` / `wss` dialer: the raw stream (a TCP connect, or a stream
 * through the previous hops), TLS for `wss`, then the WebSocket upgrade.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import { TlsDialer } from "../tls/mod.ts";
import type { ClientTLSConfig, Conn, Dialer, DialerOptions, DialOptions, RawDial } from "../types.ts";
import { dialWebSocket, type WsConn } from "../_ws/mod.ts";
import { parseDialerMetadata, type WsDialerOptions } from "./metadata.ts";

/**
 * Opens WebSockets to nodes: `raw(addr)` → TLS (wss) → upgrade. Works over
 * any Conn, so a ws node can be a later hop of a chain.
 */
export class WsDialer implements Dialer {
  readonly #opts: WsDialerOptions;
  readonly #tls: TlsDialer | undefined;
  readonly #log: Logger | undefined;

  /**
   * `tls` set: `wss` (TLS under the WebSocket, GOST's TLS semantics); unset: `ws`.
   * `sessions`: each WebSocket carries a long-lived session (mws, mwss).
   */
  constructor(opts: WsDialerOptions, tls?: ClientTLSConfig, log?: Logger, sessions = false) {
    this.#opts = opts;
    this.#tls = tls ? new TlsDialer(tls, { handshakeTimeout: opts.handshakeTimeout, learnPin: sessions }) : undefined;
    this.#log = log;
  }

  /** The parsed options. */
  get options(): Readonly<WsDialerOptions> {
    return this.#opts;
  }

  dial(addr: string, raw: RawDial, opts: DialOptions = {}): Promise<WsConn> {
    return this.upgrade(addr, raw, opts);
  }

  /** The WebSocket to `addr` as a `WsConn` (mws runs its session over it). */
  async upgrade(addr: string, raw: RawDial, opts: DialOptions = {}): Promise<WsConn> {
    const conn: Conn = this.#tls ? await this.#tls.dial(addr, raw, opts) : await raw(addr, opts);
    const o = this.#opts;
    const ws = await dialWebSocket(conn, {
      // GOST: the `host` option, else the node address with its port.
      host: o.host ?? addr,
      path: o.path,
      header: o.header,
      timeout: o.handshakeTimeout,
      signal: opts.signal,
      keepalive: o.keepalive,
      ttl: o.ttl,
    });
    this.#log?.trace("websocket connected", { node: addr, path: o.path });
    return ws;
  }
}

/** The `ws` dialer. */
export function wsDialer(opts: DialerOptions): Dialer {
  return new WsDialer(parseDialerMetadata(opts.metadata), undefined, opts.log);
}

/** The `wss` dialer: TLS per the node's dialer TLS config (no verification unless `secure`). */
export function wssDialer(opts: DialerOptions): Dialer {
  return new WsDialer(parseDialerMetadata(opts.metadata), opts.tls, opts.log);
}
