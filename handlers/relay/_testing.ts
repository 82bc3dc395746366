/**
 * Test harness for the relay tests: a relay server on a free port (Deno.listen
 * loop → handler.handle with a direct ChainRouter), small target servers and
 * stream helpers. Every server tracks its connections so `close()` leaves
 * nothing pending for Deno's sanitizers.
 *
 * @module
 */
import nodeAssert from "node:assert/strict";
import { Logger } from "../../transports/log.ts";
import { Metadata } from "../../transports/metadata.ts";
import { closeQuietly, writeAll } from "../../transports/_io/write_all.ts";
import type { Conn } from "../../transports/types.ts";
import { StaticAuthenticator } from "../auth.ts";
import { ChainRouter } from "../chain/chain.ts";
import type { Auth, HandleResult, TargetSelector } from "../types.ts";
import { relayHandler } from "./handler.ts";
import { relayConnector } from "./connector.ts";

export const silentLog: Logger = new Logger({}, { level: "fatal", sink: () => {} });

/** A TCP server on 127.0.0.1 with a per-connection callback. */
export class TestServer {
  readonly #ln: Deno.TcpListener;
  readonly #pending = new Set<Promise<void>>();
  readonly #loop: Promise<void>;
  readonly #conns = new Set<Deno.Conn>();

  constructor(onConn: (conn: Deno.Conn) => Promise<void>) {
    const ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#ln = ln;
    this.#loop = (async () => {
      for (;;) {
        let c: Deno.Conn;
        try {
          c = await ln.accept();
        } catch {
          return;
        }
        this.#conns.add(c);
        const p = onConn(c).catch(() => {}).finally(() => {
          closeQuietly(c);
          this.#conns.delete(c);
          this.#pending.delete(p);
        });
        this.#pending.add(p);
      }
    })();
  }

  get port(): number {
    return this.#ln.addr.port;
  }
  get addr(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Stops accepting and waits for the open connections to finish (closing them after `grace` ms). */
  async close(grace = 2000): Promise<void> {
    closeQuietly(this.#ln);
    await this.#loop;
    const timer = setTimeout(() => this.#conns.forEach(closeQuietly), grace);
    await Promise.all([...this.#pending]);
    clearTimeout(timer);
  }
}

/** Echoes every byte back and half-closes after the client's EOF. */
export function echoServer(): TestServer {
  return new TestServer(async (c) => {
    const buf = new Uint8Array(64 * 1024);
    for (;;) {
      const n = await c.read(buf);
      if (n === null) break;
      await writeAll(c, buf.subarray(0, n));
    }
    await c.closeWrite().catch(() => {});
  });
}

export interface RelayServerInit {
  metadata?: Record<string, unknown>;
  users?: Auth[];
  forwarder?: TargetSelector;
}

/** A relay server: Deno.listen loop → `relayHandler().handle`. */
export class RelayServer {
  readonly results: HandleResult[] = [];
  readonly #server: TestServer;
  readonly #abort = new AbortController();
  #waiters: (() => void)[] = [];

  constructor(init: RelayServerInit = {}) {
    const handler = relayHandler({
      metadata: new Metadata(init.metadata ?? {}),
      auther: init.users ? new StaticAuthenticator(init.users) : undefined,
      forwarder: init.forwarder,
      router: new ChainRouter(),
      tls: () => Promise.reject(new Error("No TLS in tests")),
      log: silentLog,
    });
    this.#server = new TestServer(async (c) => {
      this.results.push(await handler.handle(c, this.#abort.signal));
      const w = this.#waiters;
      this.#waiters = [];
      w.forEach((f) => f());
    });
  }

  get addr(): string {
    return this.#server.addr;
  }
  get port(): number {
    return this.#server.port;
  }

  /** Resolves once `n` connections have been fully handled. */
  async handled(n: number): Promise<HandleResult[]> {
    while (this.results.length < n) await new Promise<void>((r) => this.#waiters.push(r));
    return this.results;
  }

  async close(): Promise<void> {
    const closing = this.#server.close();
    setTimeout(() => this.#abort.abort(), 0);
    await closing;
  }
}

/** Connects through the relay connector to `target`. */
export async function dialRelay(
  server: RelayServer,
  target: string,
  opts: { auth?: Auth; metadata?: Record<string, unknown>; network?: string } = {},
): Promise<Conn> {
  const connector = relayConnector({
    metadata: new Metadata(opts.metadata ?? {}),
    auth: opts.auth,
    tls: { secure: false },
    log: silentLog,
  });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    return await connector.connect(conn, opts.network ?? "tcp", target);
  } catch (err) {
    closeQuietly(conn);
    throw err;
  }
}

/** Reads until end of stream. */
export async function readAll(conn: Pick<Conn, "read">): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(64 * 1024);
  let total = 0;
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    chunks.push(buf.slice(0, n));
    total += n;
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** Reads exactly `n` bytes (throws on early end of stream). */
export async function readN(conn: Pick<Conn, "read">, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let off = 0;
  while (off < n) {
    const r = await conn.read(out.subarray(off));
    if (r === null) throw new Error(`EOF after ${off} of ${n} bytes`);
    off += r;
  }
  return out;
}

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

/** Parses `"01 02 0a"` into bytes. */
export function hex(s: string): Uint8Array {
  const parts = s.trim().split(/\s+/).filter(Boolean);
  return new Uint8Array(parts.map((h) => parseInt(h, 16)));
}

/** A port with nothing listening on it. */
export function deadPort(): number {
  const ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = ln.addr.port;
  ln.close();
  return port;
}

// Assertions on top of node:assert (jsr:@std/assert is not reachable from this machine).

export function assertEquals(actual: unknown, expected: unknown, msg?: string): void {
  nodeAssert.deepEqual(actual, expected, msg);
}

export function assert(cond: unknown, msg?: string): asserts cond {
  nodeAssert.ok(cond, msg);
}

// deno-lint-ignore no-explicit-any
export type ErrorClass = abstract new (...args: any[]) => Error;

function matches(err: unknown, cls: ErrorClass, includes?: string): boolean {
  if (!(err instanceof cls)) {
    throw new Error(`Expected ${cls.name}, got ${err instanceof Error ? err.name : err}: ${err}`);
  }
  if (includes !== undefined && !err.message.includes(includes)) {
    throw new Error(`Expected "${err.message}" to include "${includes}"`);
  }
  return true;
}

export function assertThrows(fn: () => unknown, cls: ErrorClass, includes?: string, msg?: string): void {
  nodeAssert.throws(fn, (e) => matches(e, cls, includes), msg);
}

export async function assertRejects(
  fn: () => Promise<unknown>,
  cls: ErrorClass,
  includes?: string,
  msg?: string,
): Promise<void> {
  await nodeAssert.rejects(fn, (e) => matches(e, cls, includes), msg);
}
