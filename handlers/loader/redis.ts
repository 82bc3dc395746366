/**
 * A minimal Redis client over RESP2: one TCP connection, one command at a
 * time, AUTH (password or ACL user) and SELECT at connect. Enough for the
 * loaders, which connect, query and close (as GOST's loaders do).
 *
 * @module
 */
import { closeQuietly, writeAll } from "../../transports/_io/write_all.ts";
import { dialHost, splitHostPort } from "../../transports/addr.ts";
import { encodeCommand, RedisErrorReply, RespReader, type RespReaderOptions } from "./resp.ts";
import type { RedisValue } from "./resp.ts";

/** Time allowed for connecting and for each command's reply. @default 10000 */
export const DEFAULT_REDIS_TIMEOUT = 10_000;

/** An error reply to a command, thrown by {@linkcode RedisClient.command}. */
export class RedisError extends Error {
  /** The reply's first word: `ERR`, `WRONGTYPE`, `NOAUTH`, `WRONGPASS`, ... */
  readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.name = "RedisError";
    this.code = code;
  }
}

export interface RedisConnectOptions extends RespReaderOptions {
  /** ACL user; sent as `AUTH username password`. */
  username?: string;
  /** Password; sent as `AUTH password` when there is no username. */
  password?: string;
  /** Database to `SELECT` when above 0. @default 0 */
  db?: number;
  /** Deadline in ms for connecting and for each reply; 0 = none. @default 10000 */
  timeout?: number;
  /** Aborting closes the connection and fails the command in flight. */
  signal?: AbortSignal;
}

/** One connection to a Redis server. */
export class RedisClient {
  readonly #conn: Deno.Conn;
  readonly #reader: RespReader;
  readonly #timeout: number;
  readonly #signal?: AbortSignal;
  #tail: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(conn: Deno.Conn, opts: RedisConnectOptions, timeout: number) {
    this.#conn = conn;
    this.#reader = new RespReader(conn, opts);
    this.#timeout = timeout;
    this.#signal = opts.signal;
  }

  /**
   * Connects to `addr` (`host:port`, `[v6]:port`), authenticates and selects
   * the database. Throws `TypeError` on a malformed address, `RedisError` when
   * AUTH or SELECT is refused, `Deno.errors.TimedOut` past the deadline.
   */
  static async connect(addr: string, opts: RedisConnectOptions = {}): Promise<RedisClient> {
    const { host, port } = splitHostPort(addr);
    const timeout = opts.timeout ?? DEFAULT_REDIS_TIMEOUT;
    const conn = await dial(dialHost(host), port, timeout, opts.signal);
    const client = new RedisClient(conn, opts, timeout);
    try {
      if (opts.username || opts.password) {
        const args = opts.username ? [opts.username, opts.password ?? ""] : [opts.password ?? ""];
        try {
          await client.command("AUTH", ...args);
        } catch (e) {
          if (e instanceof RedisError) throw new RedisError(`Authentication failed: ${e.message}`, e.code);
          throw e;
        }
      }
      if (opts.db && opts.db > 0) await client.command("SELECT", String(opts.db));
    } catch (e) {
      client.close();
      throw e;
    }
    return client;
  }

  /**
   * Sends one command and resolves with its reply; an error reply is thrown
   * as {@linkcode RedisError} (errors nested in arrays stay
   * {@linkcode RedisErrorReply} values). Any other failure (timeout, abort,
   * protocol error, lost connection) closes the client.
   */
  command(...args: string[]): Promise<RedisValue> {
    const run = this.#tail.then(() => this.#exec(args));
    this.#tail = run.catch(() => {});
    return run;
  }

  /** Closes the connection; idempotent. A command in flight fails. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeQuietly(this.#conn);
  }

  async #exec(args: string[]): Promise<RedisValue> {
    if (this.#closed) throw new Deno.errors.BadResource("Redis connection is closed");
    const signal = this.#signal;
    let timedOut = false;
    const timer = this.#timeout > 0
      ? setTimeout(() => {
        timedOut = true;
        this.close();
      }, this.#timeout)
      : undefined;
    const onAbort = () => this.close();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      signal?.throwIfAborted();
      await writeAll(this.#conn, encodeCommand(args));
      const reply = await this.#reader.read();
      if (reply instanceof RedisErrorReply) throw new RedisError(reply.message, reply.code);
      return reply;
    } catch (e) {
      if (e instanceof RedisError) throw e;
      const closedByUs = this.#closed;
      this.close(); // the stream is out of step now
      if (timedOut) throw new Deno.errors.TimedOut(`No reply to ${args[0]} within ${this.#timeout} ms`);
      if (signal?.aborted) throw signal.reason;
      if (closedByUs) throw new Deno.errors.BadResource("Redis connection is closed");
      throw e;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  }
}

/** `Deno.connect` with a deadline and an optional abort signal. */
async function dial(hostname: string, port: number, timeout: number, signal?: AbortSignal): Promise<Deno.Conn> {
  signal?.throwIfAborted();
  const ac = new AbortController();
  const timer = timeout > 0
    ? setTimeout(() => ac.abort(new Deno.errors.TimedOut(`Connect timed out after ${timeout} ms`)), timeout)
    : undefined;
  const onAbort = () => ac.abort(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    return await Deno.connect({ hostname, port, signal: ac.signal });
  } catch (e) {
    if (ac.signal.aborted) throw ac.signal.reason;
    throw e;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}
