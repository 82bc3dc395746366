/**
 * Helpers for the HTTP/1.1 tests: an {@linkcode Http1Server} on a loopback
 * port, a scripted raw TCP server, and raw exchanges.
 *
 * @module
 */
import { closeQuietly, writeAll } from "../_io/write_all.ts";
import type { Conn } from "../types.ts";
import { type Http1Handler, Http1Server, type Http1ServerOptions } from "./server.ts";

export const enc = new TextEncoder();
export const dec = new TextDecoder();

export interface TestServer {
  port: number;
  addr: string;
  server: Http1Server;
  /** TCP conns accepted so far. */
  accepted(): number;
  close(): Promise<void>;
}

/** Serves `handler` on a free loopback port. */
export function startServer(handler: Http1Handler, opts: Http1ServerOptions = {}): TestServer {
  const ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const server = new Http1Server(handler, opts);
  const tasks = new Set<Promise<void>>();
  let count = 0;
  const loop = (async () => {
    for (;;) {
      let c: Deno.Conn;
      try {
        c = await ln.accept();
      } catch {
        return;
      }
      count++;
      const t = server.serve(c);
      tasks.add(t);
      t.finally(() => tasks.delete(t));
    }
  })();
  const port = (ln.addr as Deno.NetAddr).port;
  return {
    port,
    addr: `127.0.0.1:${port}`,
    server,
    accepted: () => count,
    async close() {
      ln.close();
      server.close();
      await loop;
      while (tasks.size) await Promise.all([...tasks]);
    },
  };
}

/** A raw TCP server running `script` per accepted conn (closed afterwards). */
export function startRaw(script: (c: Conn, index: number) => Promise<void>) {
  const ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const tasks = new Set<Promise<void>>();
  const conns = new Set<Conn>();
  let count = 0;
  const loop = (async () => {
    for (;;) {
      let c: Deno.Conn;
      try {
        c = await ln.accept();
      } catch {
        return;
      }
      conns.add(c);
      const t = script(c, count++).catch(() => {}).finally(() => {
        closeQuietly(c);
        conns.delete(c);
      });
      tasks.add(t);
      t.finally(() => tasks.delete(t));
    }
  })();
  const port = (ln.addr as Deno.NetAddr).port;
  return {
    port,
    addr: `127.0.0.1:${port}`,
    accepted: () => count,
    async close() {
      ln.close();
      for (const c of conns) closeQuietly(c);
      await loop;
      await Promise.all([...tasks]);
    },
  };
}

/** Reads from `c` until `done(text)` holds or EOF; returns the text. */
export async function readUntil(c: Conn, done: (s: string) => boolean, ms = 5000): Promise<string> {
  let s = "";
  const buf = new Uint8Array(64 * 1024);
  const timer = setTimeout(() => closeQuietly(c), ms);
  try {
    while (!done(s)) {
      let n: number | null;
      try {
        n = await c.read(buf);
      } catch {
        break;
      }
      if (n === null) break;
      s += dec.decode(buf.subarray(0, n), { stream: true });
    }
  } finally {
    clearTimeout(timer);
  }
  return s;
}

/** Opens a conn, sends `request`, and reads until `done` or EOF. */
export async function exchange(
  port: number,
  request: string | Uint8Array,
  done: (s: string) => boolean = () => false,
): Promise<string> {
  const c = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await writeAll(c, typeof request === "string" ? enc.encode(request) : request);
    return await readUntil(c, done);
  } finally {
    closeQuietly(c);
  }
}

/** Number of complete HTTP responses (status lines) in `s`. */
export function countResponses(s: string): number {
  return s.match(/HTTP\/1\.[01] \d{3}/g)?.length ?? 0;
}

export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
