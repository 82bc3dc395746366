/**
 * Client HTTP/2 sessions per node address, shared by the h2, h2c, http2 and
 * grpc dialers (GOST keeps one HTTP/2 client per node; all tunnels share it).
 *
 * @module
 */
import type { Logger } from "../log.ts";
import { ClosedError, type DialOptions, type RawDial } from "../types.ts";
import { ErrorCode } from "./_frame.ts";
import { H2RetryableError, type H2Session } from "./_session.ts";
import { StreamResetError } from "./_stream.ts";

/**
 * Upper bound on building one session (connect through the chain, TLS,
 * HTTP/2 preface), whoever waits for it. @default 30000
 */
export const SESSION_TIMEOUT = 30_000;

/** Builds a client session to `addr` over a conn from `raw`; must honour `signal`. */
export type SessionFactory = (addr: string, raw: RawDial, signal: AbortSignal) => Promise<H2Session>;

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Resolves like `p`, or rejects when `signal` aborts first (`p` goes on for others). */
export function untilAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/**
 * Sessions by node address. A dial takes the first live session with room
 * for another stream, else builds one (dials that arrive meanwhile share
 * the build). When the stream cannot be opened because the session turned
 * out dead (transport gone, GOAWAY, REFUSED_STREAM), the same dial builds a
 * fresh session and tries once more, so the first request after a server
 * restart succeeds.
 */
export class SessionPool {
  readonly #name: string;
  readonly #factory: SessionFactory;
  readonly #log: Logger | undefined;
  readonly #sessions = new Map<string, H2Session[]>();
  readonly #building = new Map<string, Promise<H2Session>>();
  readonly #ac = new AbortController();
  readonly #timeout: number;
  #closed = false;

  /** `timeout`: the limit on building one session. @default SESSION_TIMEOUT */
  constructor(name: string, factory: SessionFactory, log?: Logger, timeout = SESSION_TIMEOUT) {
    this.#name = name;
    this.#factory = factory;
    this.#log = log;
    this.#timeout = timeout;
  }

  /** Live sessions to `addr` (tests, diagnostics). */
  sessions(addr: string): H2Session[] {
    return (this.#sessions.get(addr) ?? []).filter((s) => !s.closed);
  }

  /**
   * Runs `start` (which opens a stream) on a session to `addr`. `start`
   * should reject with an {@linkcode H2RetryableError}, a REFUSED_STREAM
   * reset or the session's own error when the session failed under it.
   */
  async open<T>(addr: string, raw: RawDial, opts: DialOptions, start: (s: H2Session) => Promise<T>): Promise<T> {
    for (let attempt = 0;; attempt++) {
      if (this.#closed) throw new ClosedError(`${this.#name} dialer closed`);
      opts.signal?.throwIfAborted();
      const session = this.#pick(addr) ?? await untilAborted(this.#build(addr, raw), opts.signal);
      try {
        return await start(session);
      } catch (err) {
        const retry = session.closed || session.goawayReceived || err instanceof H2RetryableError ||
          (err instanceof StreamResetError && err.code === ErrorCode.REFUSED_STREAM);
        if (!retry || attempt >= 1) throw err;
        if (session.closed || session.goawayReceived) this.#forget(addr, session, err);
      }
    }
  }

  /** Closes every session and aborts sessions being built. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ac.abort(new ClosedError(`${this.#name} dialer closed`));
    for (const list of this.#sessions.values()) for (const s of list) s.close();
    this.#sessions.clear();
  }

  #pick(addr: string): H2Session | undefined {
    return this.#sessions.get(addr)?.find((s) => s.canOpen);
  }

  #forget(addr: string, session: H2Session, reason?: unknown): void {
    const list = this.#sessions.get(addr);
    const i = list?.indexOf(session) ?? -1;
    if (i >= 0) {
      list!.splice(i, 1);
      if (list!.length === 0) this.#sessions.delete(addr);
      this.#log?.debug(`${this.#name} session dropped`, {
        node: addr,
        error: reason === undefined ? undefined : errText(reason),
      });
    }
    // A session that is merely going away keeps serving its open streams.
    if (session.numStreams === 0) session.close();
    else session.shutdown();
  }

  #build(addr: string, raw: RawDial): Promise<H2Session> {
    const pending = this.#building.get(addr);
    if (pending) return pending;
    const p = this.#connect(addr, raw);
    this.#building.set(addr, p);
    p.then(
      (session) => {
        if (this.#building.get(addr) === p) this.#building.delete(addr);
        if (this.#closed) {
          session.close();
          return;
        }
        const list = this.#sessions.get(addr) ?? [];
        list.push(session);
        this.#sessions.set(addr, list);
        session.done.then(() => this.#forget(addr, session, session.error ?? "session closed"));
      },
      () => {
        if (this.#building.get(addr) === p) this.#building.delete(addr);
      },
    );
    return p;
  }

  async #connect(addr: string, raw: RawDial): Promise<H2Session> {
    const signal = AbortSignal.any([
      this.#ac.signal,
      AbortSignal.timeout(this.#timeout),
    ]);
    try {
      const session = await this.#factory(addr, raw, signal);
      this.#log?.debug(`${this.#name} session started`, { node: addr });
      return session;
    } catch (err) {
      if (err instanceof DOMException && err.name === "TimeoutError") {
        throw new Deno.errors.TimedOut(`${this.#name} session to ${addr}: not ready after ${this.#timeout} ms`);
      }
      throw err;
    }
  }
}
