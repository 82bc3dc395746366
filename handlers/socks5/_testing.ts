/**
 * Test helpers for the SOCKS handlers and connectors: a Service-less accept
 * loop, a local HTTP server, real peer processes and raw socket clients.
 *
 * @module
 */
import { ChainRouter } from "../chain/chain.ts";
import { Logger } from "../../transports/log.ts";
import { Metadata } from "../../transports/metadata.ts";
import { closeQuietly, writeAll } from "../../transports/_io/write_all.ts";
import type { Conn, DialOptions, ServerTLSConfig } from "../../transports/types.ts";
import type { Auth, ConnectorOptions, Handler, HandleResult, HandlerOptions, Router } from "../types.ts";

export const quietLog: Logger = new Logger({}, { level: "fatal", sink: () => {} });

/** Finds an executable on PATH; warns once when it is missing so ignored tests say why. */
export function hasBinary(name: string): boolean {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":").concat(["/usr/sbin", "/sbin"])) {
    try {
      if (Deno.statSync(`${dir}/${name}`).isFile) return true;
    } catch {
      // not here
    }
  }
  console.warn(`"${name}" not found: tests that need it are ignored`);
  return false;
}

/** A Router that dials directly and remembers what it was asked for. */
export class RecordingRouter implements Router {
  readonly addrs: string[] = [];
  readonly #inner = new ChainRouter();
  get hasChain(): boolean {
    return false;
  }
  dial(network: string, addr: string, opts?: DialOptions): Promise<Conn> {
    this.addrs.push(addr);
    return this.#inner.dial(network, addr, opts);
  }
}

export function handlerOptions(over: Partial<HandlerOptions> & { md?: Record<string, unknown> } = {}): HandlerOptions {
  const { md, ...rest } = over;
  return {
    metadata: new Metadata(md ?? {}),
    router: new RecordingRouter(),
    tls: () => Promise.reject(new Error("No TLS configured in this test")),
    log: quietLog,
    ...rest,
  };
}

export function connectorOptions(md: Record<string, unknown> = {}, auth?: Auth): ConnectorOptions {
  return { metadata: new Metadata(md), auth, tls: { secure: false }, log: quietLog };
}

/** A handler served on 127.0.0.1 by a plain accept loop. */
export interface Served {
  port: number;
  addr: string;
  results: HandleResult[];
  /** Resolves once `n` connections have been handled. */
  handled(n: number): Promise<HandleResult[]>;
  close(): Promise<void>;
}

export function serve(handler: Handler, wrap: (c: Deno.Conn) => Conn = (c) => c): Served {
  const ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const ac = new AbortController();
  const pending = new Set<Promise<void>>();
  const results: HandleResult[] = [];
  const waiters: (() => void)[] = [];
  const loop = (async () => {
    for (;;) {
      let c: Deno.Conn;
      try {
        c = await ln.accept();
      } catch {
        return;
      }
      const p = handler.handle(wrap(c), ac.signal).then((r) => {
        results.push(r);
        for (const w of waiters.splice(0)) w();
      });
      pending.add(p);
      p.finally(() => pending.delete(p));
    }
  })();
  return {
    port: ln.addr.port,
    addr: `127.0.0.1:${ln.addr.port}`,
    results,
    async handled(n) {
      while (results.length < n) await new Promise<void>((r) => waiters.push(r));
      return results;
    },
    async close() {
      ln.close();
      await loop;
      ac.abort();
      await Promise.all(pending);
    },
  };
}

/** A local HTTP server answering `hello <path>`. */
export function httpServer(): { port: number; close(): Promise<void> } {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => new Response(`hello ${new URL(req.url).pathname}`),
  );
  return { port: server.addr.port, close: () => server.shutdown() };
}

/** A TCP server that echoes, or first greets with `banner` (server-speaks-first). */
export function echoServer(banner?: string): { port: number; close(): Promise<void> } {
  const ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Promise<void>>();
  const loop = (async () => {
    for (;;) {
      let c: Deno.Conn;
      try {
        c = await ln.accept();
      } catch {
        return;
      }
      const p = (async () => {
        try {
          if (banner) await writeAll(c, new TextEncoder().encode(banner));
          const buf = new Uint8Array(16 * 1024);
          for (;;) {
            const n = await c.read(buf);
            if (n === null) break;
            await writeAll(c, buf.subarray(0, n));
          }
        } catch {
          // peer gone
        } finally {
          closeQuietly(c);
        }
      })();
      conns.add(p);
      p.finally(() => conns.delete(p));
    }
  })();
  return {
    port: ln.addr.port,
    async close() {
      ln.close();
      await loop;
      await Promise.all(conns);
    },
  };
}

export async function curl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command("curl", {
    args: ["-sS", "--max-time", "10", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

export { freePort } from "../../transports/_testing.ts";

export async function waitForPort(port: number, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** A peer process (microsocks, danted) listening on `port`; `stop()` ends it by its pid. */
export async function startPeer(
  cmd: string,
  args: string[],
  port: number,
): Promise<{ port: number; stop(): Promise<void> }> {
  const child = new Deno.Command(cmd, { args, stdin: "null", stdout: "null", stderr: "null" }).spawn();
  try {
    await waitForPort(port);
  } catch (err) {
    child.kill("SIGTERM");
    await child.status;
    throw err;
  }
  return {
    port,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
      await child.status;
    },
  };
}

/** Reads until end of stream (or `max` bytes). */
export async function readAll(c: Pick<Conn, "read">, max = 1 << 20): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const buf = new Uint8Array(16 * 1024);
  while (total < max) {
    let n: number | null;
    try {
      n = await c.read(buf);
    } catch {
      break;
    }
    if (n === null) break;
    chunks.push(buf.slice(0, n));
    total += n;
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const ch of chunks) {
    out.set(ch, off);
    off += ch.length;
  }
  return out;
}

/** Sends `bytes` to `addr`, half-closes when asked, and returns everything read until the server closes. */
export async function rawExchange(port: number, bytes: Uint8Array, halfClose = false): Promise<Uint8Array> {
  const c = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await writeAll(c, bytes);
    if (halfClose) await c.closeWrite();
    return await readAll(c);
  } finally {
    closeQuietly(c);
  }
}

/** A minimal HTTP/1.0 GET over an established tunnel; returns the body. */
export async function httpGet(c: Conn, path: string, host = "127.0.0.1"): Promise<string> {
  await writeAll(c, new TextEncoder().encode(`GET ${path} HTTP/1.0\r\nHost: ${host}\r\nConnection: close\r\n\r\n`));
  const text = new TextDecoder().decode(await readAll(c));
  return text.slice(text.indexOf("\r\n\r\n") + 4);
}

export const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);

/** Conn wrapper that records each write call separately (to see what was coalesced). */
export class RecordingConn implements Conn {
  readonly writes: Uint8Array[] = [];
  constructor(readonly inner: Conn) {}
  get localAddr(): Deno.Addr {
    return this.inner.localAddr;
  }
  get remoteAddr(): Deno.Addr {
    return this.inner.remoteAddr;
  }
  read(p: Uint8Array): Promise<number | null> {
    return this.inner.read(p);
  }
  write(p: Uint8Array): Promise<number> {
    this.writes.push(p.slice());
    return this.inner.write(p);
  }
  closeWrite(): Promise<void> {
    return this.inner.closeWrite();
  }
  close(): void {
    this.inner.close();
  }
}

let cert: Promise<ServerTLSConfig> | undefined;
/** One generated certificate per test run. */
export function testCert(): Promise<ServerTLSConfig> {
  cert ??= import("../../transports/tls/mod.ts").then((m) => m.generateCertificate());
  return cert;
}
