/**
 * Test servers for the resolver tests (not used by dost itself): a real
 * dnsmasq on a loopback port, and in-process UDP, DoT and DoH servers that
 * count and record the queries they get and answer through a callback
 * (usually by asking dnsmasq over TCP).
 *
 * @module
 */
import { freePort } from "../../transports/_testing.ts";
import { generateCertificate } from "../../transports/tls/cert.ts";
import { Logger } from "../../transports/log.ts";
import { parseIPv6 } from "../../transports/addr.ts";
import { readName, TYPE_AAAA } from "./message.ts";

/** The dnsmasq binary, or `undefined` when it is not installed (its tests are then ignored). */
export const DNSMASQ: string | undefined = ["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq"].find((p) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
});

/** A running test server. */
export interface TestServer {
  port: number;
  /** Every query received, in order. */
  queries: Uint8Array[];
  close(): Promise<void>;
}

/** What a test server sends back for one query: one reply, several datagrams, or nothing. */
export type Respond = (query: Uint8Array) => Promise<Uint8Array | Uint8Array[] | null>;

/**
 * Starts dnsmasq on 127.0.0.1 (UDP and TCP) with local data only:
 * `v4.test` A 127.0.0.7; `both.test` A 127.0.0.8 and AAAA ::8; `v6.test`
 * AAAA ::9; `alias.test` CNAME both.test; anything else under `.test` is
 * NXDOMAIN, anything outside it REFUSED. Answers carry TTL 300.
 */
export async function startDnsmasq(): Promise<{ port: number; close(): Promise<void> }> {
  const port = freePort();
  const child = new Deno.Command(DNSMASQ!, {
    args: [
      "--keep-in-foreground",
      "--no-daemon",
      "--conf-file=/dev/null",
      "--no-resolv",
      "--no-hosts",
      "--bind-interfaces",
      "--listen-address=127.0.0.1",
      `--port=${port}`,
      "--pid-file=",
      ...(Deno.uid() === 0 ? ["--user=root"] : []),
      "--address=/v4.test/127.0.0.7",
      "--host-record=both.test,127.0.0.8,::8",
      "--host-record=v6.test,::9",
      "--cname=alias.test,both.test",
      "--local=/test/",
      "--local-ttl=300",
      "--log-facility=-",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = child.output();
  let exited = false;
  output.finally(() => exited = true);
  const close = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
    await output;
  };
  // Ready once it accepts TCP (it binds UDP first).
  for (let i = 0; i < 250 && !exited; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return { port, close };
    } catch {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  await close();
  const err = new TextDecoder().decode((await output).stderr);
  throw new Error(`dnsmasq did not start on port ${port}: ${err}`);
}

/** Asks the server on `port` over TCP (length-prefixed) and returns its reply. */
export async function askTcp(port: number, query: Uint8Array): Promise<Uint8Array> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await writeFrame(conn, query);
    const reply = await readFrame(conn);
    if (!reply) throw new Error("upstream closed without a reply");
    return reply;
  } finally {
    conn.close();
  }
}

/** A `Respond` that forwards every query to dnsmasq on `port`. */
export function forwardTo(port: number): Respond {
  return (q) => askTcp(port, q);
}

/** Writes one length-prefixed message. */
export async function writeFrame(conn: Deno.Conn, msg: Uint8Array): Promise<void> {
  const frame = new Uint8Array(2 + msg.length);
  new DataView(frame.buffer).setUint16(0, msg.length);
  frame.set(msg, 2);
  let off = 0;
  while (off < frame.length) off += await conn.write(frame.subarray(off));
}

/** Reads one length-prefixed message, or `null` at a clean end of stream. */
export async function readFrame(conn: Deno.Conn): Promise<Uint8Array | null> {
  const head = await readExact(conn, 2);
  if (!head) return null;
  const body = await readExact(conn, (head[0] << 8) | head[1]);
  if (!body) throw new Error("end of stream mid-frame");
  return body;
}

async function readExact(conn: Deno.Conn, n: number): Promise<Uint8Array | null> {
  const out = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const r = await conn.read(out.subarray(got));
    if (r === null) {
      if (got === 0) return null;
      throw new Error("end of stream mid-frame");
    }
    got += r;
  }
  return out;
}

/** A UDP server on 127.0.0.1 that answers each datagram through `respond` (`null`: stays silent). */
export function udpServer(respond: Respond): TestServer {
  const sock = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  const queries: Uint8Array[] = [];
  const pending = new Set<Promise<void>>();
  const loop = (async () => {
    for (;;) {
      let got: [Uint8Array, Deno.Addr];
      try {
        got = await sock.receive();
      } catch {
        return; // closed
      }
      const [data, from] = got;
      queries.push(data.slice());
      const p = (async () => {
        const out = await respond(data.slice());
        for (const d of out === null ? [] : Array.isArray(out) ? out : [out]) await sock.send(d, from);
      })().catch(() => {}).finally(() => pending.delete(p));
      pending.add(p);
    }
  })();
  return {
    port: (sock.addr as Deno.NetAddr).port,
    queries,
    async close() {
      await Promise.allSettled([...pending]);
      sock.close();
      await loop;
    },
  };
}

/**
 * A TCP (or, with `tls`, TLS) server speaking length-prefixed DNS; `null`
 * from `respond` closes the conn. With `raw`, replies are written as they
 * are, without a length prefix (for broken framing), and the conn is closed.
 */
export function streamServer(
  respond: Respond,
  tls?: { cert: string; key: string },
  opts: { raw?: boolean } = {},
): TestServer {
  const ln = tls
    ? Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert: tls.cert, key: tls.key })
    : Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const queries: Uint8Array[] = [];
  const conns = new Set<Deno.Conn>();
  const handlers = new Set<Promise<void>>();
  const serve = async (conn: Deno.Conn) => {
    try {
      for (;;) {
        const q = await readFrame(conn);
        if (!q) return;
        queries.push(q);
        const out = await respond(q);
        if (out === null) return;
        for (const d of Array.isArray(out) ? out : [out]) {
          if (!opts.raw) {
            await writeFrame(conn, d);
            continue;
          }
          let off = 0;
          while (off < d.length) off += await conn.write(d.subarray(off));
        }
        if (opts.raw) return;
      }
    } catch {
      // the client went away, or we are closing
    } finally {
      conns.delete(conn);
      try {
        conn.close();
      } catch {
        // closed by close()
      }
    }
  };
  const loop = (async () => {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await ln.accept();
      } catch {
        return;
      }
      conns.add(conn);
      const h = serve(conn).finally(() => handlers.delete(h));
      handlers.add(h);
    }
  })();
  return {
    port: (ln.addr as Deno.NetAddr).port,
    queries,
    async close() {
      ln.close();
      await loop;
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // already closed
        }
      }
      await Promise.allSettled([...handlers]);
    },
  };
}

/** A DoH server (HTTPS, self-signed) that answers POSTed `application/dns-message` bodies through `respond`. */
export function dohServer(
  respond: Respond,
  tls: { cert: string; key: string },
  opts: { status?: number } = {},
): TestServer & { contentTypes: string[] } {
  const queries: Uint8Array[] = [];
  const contentTypes: string[] = [];
  let port = 0;
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: tls.cert,
    key: tls.key,
    onListen: (a) => port = a.port,
  }, async (req) => {
    const body = new Uint8Array(await req.arrayBuffer());
    queries.push(body);
    contentTypes.push(req.headers.get("content-type") ?? "");
    if (opts.status && opts.status !== 200) return new Response("no", { status: opts.status });
    const out = await respond(body);
    if (out === null || Array.isArray(out)) return new Response("no", { status: 500 });
    return new Response(out as Uint8Array<ArrayBuffer>, { headers: { "content-type": "application/dns-message" } });
  });
  port = server.addr.port;
  return { port, queries, contentTypes, close: () => server.shutdown() };
}

/** A self-signed certificate, as GOST makes by default (CN gost.run): no client here would trust it. */
export const selfSigned: { cert: string; key: string } = await generateCertificate();

/** A logger that records lines into `lines`. */
export function recordingLogger(lines: string[] = []): Logger {
  return new Logger({}, { level: "debug", sink: (l) => lines.push(l) });
}

/** Waits until `cond()` holds, polling every 10 ms, up to `ms`. */
export async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * A reply to `query` built by hand: its id and question, the given rcode,
 * and one A (or AAAA, by the question's type) record per address, named by
 * a pointer to the question.
 */
export function replyTo(query: Uint8Array, opts: { rcode?: number; ips?: string[]; ttl?: number } = {}): Uint8Array {
  const { next } = readName(query, 12);
  const question = query.subarray(12, next + 4);
  const type = (query[next] << 8) | query[next + 1];
  const ips = opts.ips ?? [];
  const rdata = ips.map((ip) => type === TYPE_AAAA ? parseIPv6(ip)! : new Uint8Array(ip.split(".").map(Number)));
  const size = 12 + question.length + rdata.reduce((n, d) => n + 12 + d.length, 0);
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  out.set(query.subarray(0, 2));
  v.setUint16(2, 0x8180 | (opts.rcode ?? 0));
  v.setUint16(4, 1);
  v.setUint16(6, ips.length);
  out.set(question, 12);
  let off = 12 + question.length;
  for (const d of rdata) {
    v.setUint16(off, 0xc00c);
    v.setUint16(off + 2, type);
    v.setUint16(off + 4, 1);
    v.setUint32(off + 6, opts.ttl ?? 300);
    v.setUint16(off + 10, d.length);
    out.set(d, off + 12);
    off += 12 + d.length;
  }
  return out;
}
