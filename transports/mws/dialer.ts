/**
 * The `mws` / `mwss` dialer: one WebSocket carrying one smux client session
 * per node address, one stream per dial.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import { ClosedError, type Conn, type Dialer, type DialerOptions, type DialOptions, type RawDial } from "../types.ts";
import { type MuxConfig, Session } from "../_mux/mod.ts";
import { WsDialer } from "../ws/mod.ts";
import { closeWhenIdle } from "./_idle.ts";
import { probeIdle, probeTimeout, WatchedConn } from "./_liveness.ts";
import { type MwsDialerOptions, parseDialerMetadata } from "./metadata.ts";

/**
 * Upper bound on building one session (connect through the chain, TLS,
 * upgrade), whoever is waiting for it; each step has its own shorter timeout too.
 * @default 30000
 */
export const SESSION_TIMEOUT = 30_000;

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

/**
 * Keeps one smux session per node address and opens a stream on it per dial.
 *
 * A dial never hands out a stream of a session it knows is dead: a session
 * that has closed (transport EOF, keepalive timeout, protocol error) is
 * forgotten the moment it dies, and when opening a stream on the cached
 * session fails, the same dial builds a fresh session and opens the stream
 * there. So the first request after the server restarted succeeds (GOST v2's
 * "mws needs two requests after a blip" cannot happen). A session whose peer
 * has been silent for longer than 1.5 × `mux.keepaliveInterval` is probed
 * with a WebSocket ping first (see `_liveness.ts`), so a peer that vanished
 * without a FIN is replaced at once too, instead of failing the request.
 * Dials that arrive while a session is being built wait for that one session.
 */
export class MwsDialer implements Dialer {
  readonly multiplex = true;
  readonly #ws: WsDialer;
  readonly #mux: MuxConfig;
  readonly #log: Logger | undefined;
  readonly #sessions = new Map<string, Session>();
  readonly #building = new Map<string, Promise<Session>>();
  readonly #watched = new WeakMap<Session, WatchedConn>();
  readonly #ac = new AbortController();
  #closed = false;

  /** `tls` set: `mwss`; unset: `mws`. */
  constructor(opts: MwsDialerOptions, tls?: DialerOptions["tls"], log?: Logger) {
    this.#ws = new WsDialer(opts, tls, log, true);
    this.#mux = opts.mux;
    this.#log = log;
  }

  /** The live session to `addr`, if any (tests, diagnostics). */
  session(addr: string): Session | undefined {
    const s = this.#sessions.get(addr);
    return s && !s.closed ? s : undefined;
  }

  async dial(addr: string, raw: RawDial, opts: DialOptions = {}): Promise<Conn> {
    if (this.#closed) throw new ClosedError("mws dialer closed");
    opts.signal?.throwIfAborted();
    const cached = this.session(addr);
    if (cached) {
      if (await untilAborted(this.#alive(cached), opts.signal)) {
        try {
          return await cached.open();
        } catch (err) {
          this.#forget(addr, cached, err);
        }
      } else {
        this.#log?.debug("mux session silent and unanswered ping: replacing it", { node: addr });
        this.#forget(addr, cached, "no answer to a ping");
        cached.close(); // its streams are as dead as it is
      }
    }
    const session = await untilAborted(this.#build(addr, raw), opts.signal);
    return await session.open();
  }

  /** Closes every session and aborts sessions being built. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ac.abort(new ClosedError("mws dialer closed"));
    for (const s of this.#sessions.values()) s.close();
    this.#sessions.clear();
  }

  #alive(session: Session): Promise<boolean> {
    const watched = this.#watched.get(session);
    if (!watched) return Promise.resolve(true);
    return watched.alive(probeIdle(this.#mux), probeTimeout(this.#mux));
  }

  #forget(addr: string, session: Session, reason?: unknown): void {
    if (this.#sessions.get(addr) === session) {
      this.#sessions.delete(addr);
      this.#log?.debug("mux session dropped", {
        node: addr,
        error: reason === undefined ? undefined : errText(reason),
      });
    }
    // Dead already, or out of stream ids: let its remaining streams finish, then release it.
    closeWhenIdle(session);
  }

  /** The session being built for `addr`, or a new build; concurrent dials share it. */
  #build(addr: string, raw: RawDial): Promise<Session> {
    const pending = this.#building.get(addr);
    if (pending) return pending;
    const p = this.#connect(addr, raw);
    this.#building.set(addr, p);
    // Registered before any caller's await: callers find the session cached when they resume.
    p.then(
      (session) => {
        if (this.#building.get(addr) === p) this.#building.delete(addr);
        if (this.#closed) {
          session.close();
          return;
        }
        const old = this.#sessions.get(addr);
        if (old && old !== session) closeWhenIdle(old);
        this.#sessions.set(addr, session);
        session.done.then(() => this.#forget(addr, session, "session closed"));
      },
      () => {
        if (this.#building.get(addr) === p) this.#building.delete(addr);
      },
    );
    return p;
  }

  async #connect(addr: string, raw: RawDial): Promise<Session> {
    const ac = new AbortController();
    const timer = setTimeout(
      () => ac.abort(new Deno.errors.TimedOut(`mux session to ${addr}: not ready after ${SESSION_TIMEOUT} ms`)),
      SESSION_TIMEOUT,
    );
    const onClose = () => ac.abort(this.#ac.signal.reason);
    this.#ac.signal.addEventListener("abort", onClose, { once: true });
    try {
      const ws = new WatchedConn(await this.#ws.upgrade(addr, raw, { signal: ac.signal }));
      const session = new Session(ws, { ...this.#mux, client: true });
      this.#watched.set(session, ws);
      this.#log?.debug("mux session started", { node: addr });
      return session;
    } finally {
      clearTimeout(timer);
      this.#ac.signal.removeEventListener("abort", onClose);
    }
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
