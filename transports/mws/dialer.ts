/**
 * The `mws` / `mwss` dialer: one WebSocket carrying one smux client session
 * per node address, one stream per dial.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import type { Dialer, DialerOptions } from "../types.ts";
import { SessionDialer } from "../_mux/session_dialer.ts";
import { WsDialer } from "../ws/mod.ts";
import { probeIdle, probeTimeout, WatchedConn } from "./_liveness.ts";
import { type MwsDialerOptions, parseDialerMetadata } from "./metadata.ts";

/**
 * The shared {@linkcode SessionDialer} over WebSockets (a dead session is
 * replaced within the same dial; concurrent dials share a session being
 * built). A session whose peer has been silent for longer than
 * 1.5 × `mux.keepaliveInterval` is probed with a WebSocket ping first (see
 * `_liveness.ts`), so a peer that vanished without a FIN is replaced at once
 * instead of failing the request.
 */
export class MwsDialer extends SessionDialer<WatchedConn> {
  /** `tls` set: `mwss`; unset: `mws`. */
  constructor(opts: MwsDialerOptions, tls?: DialerOptions["tls"], log?: Logger) {
    const ws = new WsDialer(opts, tls, log, true);
    const mux = opts.mux;
    super({
      name: "mws",
      mux,
      log,
      connect: async (addr, raw, signal) => new WatchedConn(await ws.upgrade(addr, raw, { signal })),
      alive: (conn) => conn.alive(probeIdle(mux), probeTimeout(mux)),
    });
  }
}

/** The `mws` dialer. */
export function mwsDialer(opts: DialerOptions): Dialer {
  return new MwsDialer(parseDialerMetadata(opts.metadata), undefined, opts.log);
}

/** The `mwss` dialer: TLS per the node's dialer TLS config (no verification unless `secure`). */
export function mwssDialer(opts: DialerOptions): Dialer {
  return new MwsDialer(parseDialerMetadata(opts.metadata), opts.tls, opts.log);
}
