/**
 * The client side shared by the smux transports (mws/mwss, mtcp/mtls): one
 * session per node address, one stream per dial.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import { ClosedError, type Conn, type Dialer, type DialOptions, type RawDial } from "../types.ts";
import type { MuxConfig } from "./config.ts";
import { closeWhenIdle } from "./idle.ts";
import { Session } from "./session.ts";

/**
 * Upper bound on building one session (connect through the chain, TLS,
 * upgrade), whoever is waiting for it; each step has its own shorter timeout too.
 * @default 30000
 */
export const SESSION_TIMEOUT = 30_000;

/** What a {@linkcode SessionDialer} needs from its transport. */
export interface SessionDialerOptions<C extends Conn> {
  /** The scheme, for errors (`mws dialer closed`). */
  name: string;
  /** smux options of every session (the role is added). */
  mux: MuxConfig;
  log?: Logger;
  /** Opens the conn a new session runs over: the raw stream plus the transport's handshake (TLS, upgrade). */
  connect(addr: string, raw: RawDial, signal: AbortSignal): Promise<C>;
  /**
   * Optional probe of a cached session's conn before a dial reuses it (mws:
   * a WebSocket ping after inbound silence). False: the session is closed and
   * replaced in the same dial. Without it, smux's own keepalive is the only
   * check (mtcp/mtls: smux has no ping that a peer answers).
   */
  alive?(conn: C): Promise<boolean>;
}

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
 * there. So the first request after the server restarted succeeds (GOST's
 * dialers return the error of that request and build anew only on the next).
 * With an `alive` probe, a session that fails it is replaced at once too,
 * instead of failing the request. Dials that arrive while a session is being
 * built wait for that one session.
 */
export class SessionDialer<C extends Conn = Conn> implements Dialer {
  readonly multiplex = true;
  readonly #o: SessionDialerOptions<C>;
  readonly #sessions = new Map<string, Session>();
  readonly #building = new Map<string, Promise<Session>>();
  readonly #conns = new WeakMap<Session, C>();
  readonly #ac = new AbortController();
  #closed = false;

  constructor(opts: SessionDialerOptions<C>) {
    this.#o = opts;
  }

  /** The live session to `addr`, if any (tests, diagnostics). */
  session(addr: string): Session | undefined {
    const s = this.#sessions.get(addr);
    return s && !s.closed ? s : undefined;
  }

  async dial(addr: string, raw: RawDial, opts: DialOptions = {}): Promise<Conn> {
    if (this.#closed) throw new ClosedError(`${this.#o.name} dialer closed`);
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
        this.#o.log?.debug("mux session silent and unanswered ping: replacing it", { node: addr });
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
    this.#ac.abort(new ClosedError(`${this.#o.name} dialer closed`));
    for (const s of this.#sessions.values()) s.close();
    this.#sessions.clear();
  }

  #alive(session: Session): Promise<boolean> {
    const conn = this.#conns.get(session);
    if (!conn || !this.#o.alive) return Promise.resolve(true);
    return this.#o.alive(conn);
  }

  #forget(addr: string, session: Session, reason?: unknown): void {
    if (this.#sessions.get(addr) === session) {
      this.#sessions.delete(addr);
      this.#o.log?.debug("mux session dropped", {
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
      const conn = await this.#o.connect(addr, raw, ac.signal);
      const session = new Session(conn, { ...this.#o.mux, client: true });
      this.#conns.set(session, conn);
      this.#o.log?.debug("mux session started", { node: addr });
      return session;
    } finally {
      clearTimeout(timer);
      this.#ac.signal.removeEventListener("abort", onClose);
    }
  }
}
