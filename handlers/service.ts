/**
 * A service: one listener feeding one handler, with per-connection logging
 * and graceful shutdown (stop accepting, drain, then cut what is left).
 *
 * @module
 */
import { formatAddr, type Logger } from "../transports/log.ts";
import { closeQuietly } from "../transports/_io/write_all.ts";
import { isBenignClose } from "../transports/_io/pipe.ts";
import { ClosedError, type Conn, type Listener } from "../transports/types.ts";
import type { ConnGate } from "./gate.ts";
import { ServiceStats } from "./stats.ts";
import type { Handler } from "./types.ts";

/** Default time open connections get to finish after a shutdown signal. */
export const DEFAULT_GRACE_PERIOD = 10_000;

/** What a reload may swap on a running service without touching its listener. */
export interface ServiceParts {
  handler: Handler;
  /** Admission, limits and metrics, run on each accepted conn before the handler. */
  gate?: ConnGate;
  log: Logger;
}

export class Service {
  readonly #conns = new Set<Conn>();
  readonly #abort = new AbortController();
  #serving?: Promise<void>;
  #idle?: () => void;
  #handler: Handler;
  #gate?: ConnGate;
  #log: Logger;
  #closed = false;
  /** Connections, errors and (with `countBytes`) live byte counts, for the API and the dashboard. */
  readonly stats: ServiceStats = new ServiceStats();
  readonly #countBytes: boolean;

  constructor(
    readonly name: string,
    readonly listener: Listener,
    handler: Handler,
    log: Logger,
    gate?: ConnGate,
    opts: { countBytes?: boolean } = {},
  ) {
    this.#handler = handler;
    this.#log = log;
    this.#gate = gate;
    this.#countBytes = opts.countBytes ?? false;
  }

  /** True once `shutdown()` has closed the listener. */
  get listenerClosed(): boolean {
    return this.#closed;
  }

  /** gost's service state: `ready` while accepting, `closed` after shutdown. */
  get state(): "ready" | "closed" {
    return this.#closed ? "closed" : "ready";
  }

  get handler(): Handler {
    return this.#handler;
  }
  get log(): Logger {
    return this.#log;
  }

  /**
   * Swaps the handler, gate and logger (a reload that kept this service's
   * listener): new connections get the new ones, open ones finish on theirs.
   */
  replace(parts: ServiceParts): void {
    this.#handler = parts.handler;
    this.#gate = parts.gate;
    this.#log = parts.log;
  }

  /** True once the accept loop has been started. */
  get started(): boolean {
    return this.#serving !== undefined;
  }

  /** Number of connections being served. */
  get active(): number {
    return this.#conns.size;
  }

  /** Starts the accept loop; resolves when the listener closes. */
  serve(): Promise<void> {
    this.#serving ??= this.#loop();
    return this.#serving;
  }

  async #loop(): Promise<void> {
    this.log.info(`listening on ${formatAddr(this.listener.addr)}`);
    for (;;) {
      let conn: Conn;
      try {
        conn = await this.listener.accept();
      } catch (err) {
        if (err instanceof ClosedError || this.#abort.signal.aborted) return;
        this.log.error("accept failed", { error: err });
        continue;
      }
      let gated: Conn | undefined = conn;
      try {
        if (this.#gate) gated = this.#gate(conn);
      } catch (err) {
        this.log.error("connection policy failed", { error: err });
        closeQuietly(conn);
        gated = undefined;
      }
      if (gated) this.#serveConn(this.#countBytes ? this.stats.count(gated) : gated);
    }
  }

  async #serveConn(conn: Conn): Promise<void> {
    this.#conns.add(conn);
    this.stats.totalConns++;
    this.stats.currentConns++;
    const start = performance.now();
    const local = formatAddr(conn.localAddr);
    const remote = formatAddr(conn.remoteAddr);
    const log = this.log.with({ local, remote });
    log.debug(`${remote} <> ${local}`);
    try {
      const r = await this.#handler.handle(conn, this.#abort.signal);
      const fields = {
        ...r.fields,
        dst: r.target,
        inputBytes: r.inBytes ?? 0,
        outputBytes: r.outBytes ?? 0,
        duration: `${((performance.now() - start) / 1000).toFixed(3)}s`,
      };
      if (r.error && !isBenignClose(r.error)) {
        log.warn(`${remote} >< ${local}: ${errText(r.error)}`, fields);
        this.stats.error(`${remote} >< ${local}: ${errText(r.error)}`);
      } else log.info(`${remote} >< ${local}`, fields);
      if (!this.#countBytes) {
        this.stats.inputBytes += r.inBytes ?? 0;
        this.stats.outputBytes += r.outBytes ?? 0;
      }
    } catch (err) {
      // Handlers must not reject; if one does, the connection still ends cleanly.
      log.error(`handler failed: ${errText(err)}`);
    } finally {
      closeQuietly(conn);
      this.#conns.delete(conn);
      this.stats.currentConns--;
      if (this.#conns.size === 0) this.#idle?.();
    }
  }

  /**
   * Stops accepting, waits up to `grace` ms for open connections to finish,
   * then closes the rest. Resolves when everything is released.
   */
  async shutdown(grace = DEFAULT_GRACE_PERIOD): Promise<void> {
    this.#closed = true;
    this.listener.close();
    await this.#serving;
    if (this.#conns.size > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        new Promise<void>((r) => (this.#idle = r)),
        new Promise<void>((r) => (timer = setTimeout(r, grace))),
      ]);
      clearTimeout(timer);
    }
    this.#abort.abort(new ClosedError("Service shutting down"));
    for (const c of this.#conns) closeQuietly(c);
    if (this.#conns.size > 0) await new Promise<void>((r) => (this.#idle = r));
  }
}

export function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
