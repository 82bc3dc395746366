/**
 * Test helpers shared by the ws and mws tests: listener options with a quiet
 * logger, a throw-away server certificate, an echo service and byte helpers.
 *
 * @module
 */
import { closeQuietly, writeAll } from "../_io/write_all.ts";
import { Logger } from "../log.ts";
import { Metadata } from "../metadata.ts";
import { generateCertificate } from "../tls/mod.ts";
import type { Conn, Listener, ListenerOptions, ServerTLSConfig } from "../types.ts";

/** A logger that drops everything, or collects lines into `lines`. */
export function quietLogger(lines?: string[]): Logger {
  return new Logger({}, { level: lines ? "debug" : "error", sink: (l) => lines?.push(l) });
}

let cert: Promise<ServerTLSConfig> | undefined;

/** One self-signed certificate for the whole test run. */
export function serverTLS(): Promise<ServerTLSConfig> {
  cert ??= generateCertificate({ dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] });
  return cert;
}

/** `ListenerOptions` on a free loopback port. */
export function listenerOptions(md: Record<string, unknown> = {}, log?: Logger, addr = "127.0.0.1:0"): ListenerOptions {
  return { addr, metadata: new Metadata(md), tls: serverTLS, log: log ?? quietLogger() };
}

/** `host:port` of a listener. */
export function addrOf(ln: Listener): string {
  const a = ln.addr as Deno.NetAddr;
  return `${a.hostname}:${a.port}`;
}

/**
 * Serves `ln` with `handle` per accepted conn (default: echo until EOF, then
 * half-close). `stop()` closes the listener and every conn, and waits.
 */
export function serve(
  ln: Listener & { done?: Promise<void> },
  handle: (c: Conn) => Promise<void> = echo,
): { conns: Set<Conn>; accepted: () => number; stop(): Promise<void> } {
  const conns = new Set<Conn>();
  const tasks = new Set<Promise<void>>();
  let count = 0;
  const loop = (async () => {
    for (;;) {
      let c: Conn;
      try {
        c = await ln.accept();
      } catch {
        return;
      }
      count++;
      conns.add(c);
      const t = handle(c).catch(() => {}).finally(() => {
        closeQuietly(c);
        conns.delete(c);
      });
      tasks.add(t);
      t.finally(() => tasks.delete(t));
    }
  })();
  return {
    conns,
    accepted: () => count,
    async stop() {
      ln.close();
      for (const c of conns) closeQuietly(c);
      await loop;
      await Promise.all(tasks);
      await ln.done;
    },
  };
}

/** Echoes every byte back; half-closes after EOF. */
export async function echo(c: Conn): Promise<void> {
  const buf = new Uint8Array(64 * 1024);
  for (;;) {
    const n = await c.read(buf);
    if (n === null) break;
    await writeAll(c, buf.subarray(0, n));
  }
  await c.closeWrite().catch(() => {});
}

/** Deterministic pseudo-random bytes (xorshift32). */
export function pattern(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  const words = new Uint32Array(out.buffer, 0, size >>> 2);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x;
  }
  for (let i = words.length * 4; i < size; i++) out[i] = i & 0xff;
  return out;
}

/** Hex SHA-256. */
export async function sha256(data: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Reads until EOF. */
export async function readAll(conn: Conn, hint = 1 << 16): Promise<Uint8Array> {
  let buf = new Uint8Array(hint);
  let n = 0;
  for (;;) {
    if (n === buf.length) {
      const nb = new Uint8Array(buf.length * 2);
      nb.set(buf);
      buf = nb;
    }
    const r = await conn.read(buf.subarray(n));
    if (r === null) return buf.subarray(0, n);
    n += r;
  }
}

/** Reads exactly `n` bytes or throws. */
export async function readExactly(conn: Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let off = 0;
  while (off < n) {
    const r = await conn.read(out.subarray(off));
    if (r === null) throw new Error(`EOF after ${off} of ${n} bytes`);
    off += r;
  }
  return out;
}

/** Writes `data` in `chunk`-sized writes. */
export async function writeChunked(conn: Conn, data: Uint8Array, chunk = 256 * 1024): Promise<void> {
  for (let off = 0; off < data.length; off += chunk) {
    await writeAll(conn, data.subarray(off, Math.min(off + chunk, data.length)));
  }
}

/**
 * Sends `data` and reads the echo concurrently; resolves to the SHA-256 of
 * what came back. With `halfClose` the sender half-closes after the data and
 * reads to EOF (ws); without, it reads exactly `data.length` bytes, since a
 * smux FIN ends the stream for both sides (mws).
 */
export async function echoRoundTrip(conn: Conn, data: Uint8Array, halfClose = true): Promise<string> {
  const [, back] = await Promise.all([
    writeChunked(conn, data).then(() => (halfClose ? conn.closeWrite() : undefined)),
    halfClose ? readAll(conn, 1 << 20) : readExactly(conn, data.length),
  ]);
  if (back.length !== data.length) throw new Error(`Echo returned ${back.length} of ${data.length} bytes`);
  return await sha256(back);
}

/** Sends raw bytes to `addr`, half-closes, and returns everything the server answered (until EOF). */
export async function rawExchange(addr: string, request: string | Uint8Array, halfClose = false): Promise<string> {
  const [hostname, port] = addr.split(":");
  const c = await Deno.connect({ hostname, port: Number(port) });
  try {
    await writeAll(c, typeof request === "string" ? new TextEncoder().encode(request) : request);
    if (halfClose) await c.closeWrite();
    const out = await readAll(c).catch(() => new Uint8Array(0));
    return new TextDecoder().decode(out);
  } finally {
    closeQuietly(c);
  }
}

export const enc = new TextEncoder();
export const dec = new TextDecoder();

/** Resolves after `ms`. */
export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
