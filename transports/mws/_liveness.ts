/**
 * Liveness of a cached mws session before a dial reuses it.
 *
 * A peer that vanished without a FIN or RST (laptop resumed from sleep,
 * network changed, a middlebox dropped the flow silently) leaves a session
 * that looks open until the smux keepalive times out, up to twice
 * `mux.keepaliveTimeout` later; a request sent on it in the meantime would
 * hang and fail. A healthy peer sends a NOP every `mux.keepaliveInterval`, so
 * inbound silence for longer than that is suspicious: the dialer then sends a
 * WebSocket ping (gorilla, and so GOST, answer every ping) and reuses the
 * session only when the pong comes back in time.
 *
 * @module
 */
import type { Addr, Conn } from "../types.ts";
import type { MuxConfig } from "../_mux/mod.ts";
import type { WsConn } from "../_ws/mod.ts";

/** Longest wait for a probe's pong. @default 3000 */
export const PROBE_TIMEOUT = 3_000;
/** Silence after which a session is probed when our own keepalive is off. @default 15000 */
export const PROBE_IDLE_WITHOUT_KEEPALIVE = 15_000;
/** How often a probe checks for its pong. */
const PROBE_POLL = 5;

/** The WebSocket under a client session, noting when bytes last arrived. */
export class WatchedConn implements Conn {
  readonly ws: WsConn;
  /** `performance.now()` of the last read that returned bytes (or of creation). */
  lastRead = performance.now();
  /** A read is in flight: the session is listening (not paused on its full receive buffer). */
  #reading = false;
  #probe: Promise<boolean> | undefined;

  constructor(ws: WsConn) {
    this.ws = ws;
  }

  get localAddr(): Addr {
    return this.ws.localAddr;
  }
  get remoteAddr(): Addr {
    return this.ws.remoteAddr;
  }

  async read(p: Uint8Array): Promise<number | null> {
    this.#reading = true;
    try {
      const n = await this.ws.read(p);
      if (n) this.lastRead = performance.now();
      return n;
    } finally {
      this.#reading = false;
    }
  }
  write(p: Uint8Array): Promise<number> {
    return this.ws.write(p);
  }
  closeWrite(): Promise<void> {
    return this.ws.closeWrite();
  }
  close(): void {
    this.ws.close();
  }

  /**
   * True when the peer is known alive: bytes arrived within `idle` ms, or a
   * ping sent now is answered within `timeout` ms. A session that is not
   * reading (paused while its receive buffer is full, as smux does) is silent
   * by its own doing and counts as alive, as smux's keepalive counts it.
   * Concurrent callers share one probe.
   */
  alive(idle: number, timeout: number): Promise<boolean> {
    if (performance.now() - this.lastRead <= idle || !this.#reading) return Promise.resolve(true);
    this.#probe ??= this.#ping(timeout).finally(() => (this.#probe = undefined));
    return this.#probe;
  }

  async #ping(timeout: number): Promise<boolean> {
    const start = performance.now();
    const pongs = this.ws.pongsReceived;
    try {
      await this.ws.ping();
    } catch {
      return false;
    }
    while (performance.now() - start < timeout) {
      if (this.ws.pongsReceived > pongs || this.lastRead > start || !this.#reading) return true;
      await new Promise((r) => setTimeout(r, PROBE_POLL));
    }
    return false;
  }
}

/** Inbound silence (ms) after which a cached session is probed before reuse. */
export function probeIdle(mux: MuxConfig): number {
  return mux.keepaliveDisabled ? PROBE_IDLE_WITHOUT_KEEPALIVE : Math.round(mux.keepaliveInterval * 1.5);
}

/** How long a probe waits for its pong. */
export function probeTimeout(mux: MuxConfig): number {
  return mux.keepaliveDisabled ? PROBE_TIMEOUT : Math.min(PROBE_TIMEOUT, mux.keepaliveTimeout);
}
