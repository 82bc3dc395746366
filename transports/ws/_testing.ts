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
export { delay, pattern, readAll, readExactly, sha256, writeChunked } from "../_testing.ts";
import { readAll, readExactly, sha256, writeChunked } from "../_testing.ts";

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
