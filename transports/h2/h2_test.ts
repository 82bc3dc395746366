import { assertEquals, assertRejects, assertStringIncludes } from "../../tests/assert.ts";
import { closeQuietly, writeAll } from "../_io/write_all.ts";
import { pipe } from "../_io/pipe.ts";
import { BufferedConn } from "../_io/buffered_conn.ts";
import { Metadata } from "../metadata.ts";
import { netDial } from "../tcp/mod.ts";
import type { Conn, DialOptions, RawDial } from "../types.ts";
import {
  addrOf,
  dec,
  delay,
  echoRoundTrip,
  enc,
  listenerOptions,
  pattern,
  rawExchange,
  readExactly,
  serve,
  sha256,
} from "../ws/_testing.ts";
import { DATA, HEADERS } from "./_frame.ts";
import { HpackDecoder } from "./_hpack.ts";
import { RawPeer } from "./_testing.ts";
import {
  H2Dialer,
  type H2Listener,
  type H2Stream,
  listenH2,
  listenH2c,
  parseDialerMetadata,
  parseListenerMetadata,
  USER_AGENT,
} from "./mod.ts";

type Md = Record<string, unknown>;

interface Kind {
  name: string;
  tls: boolean;
  listen(md?: Md, addr?: string): Promise<H2Listener>;
  dialer(md?: Md): H2Dialer;
}

const KINDS: Kind[] = [
  {
    name: "h2c",
    tls: false,
    listen: async (md = {}, addr) => (await listenH2c(listenerOptions(md, undefined, addr))) as H2Listener,
    dialer: (md = {}) => new H2Dialer(parseDialerMetadata(new Metadata(md))),
  },
  {
    name: "h2",
    tls: true,
    listen: async (md = {}, addr) => (await listenH2(listenerOptions(md, undefined, addr))) as H2Listener,
    dialer: (md = {}) => new H2Dialer(parseDialerMetadata(new Metadata(md)), { secure: false }),
  },
];

/** A raw dial that counts how often it was called (= HTTP/2 connections opened). */
function countingRaw(inner: RawDial = netDial): RawDial & { calls: number } {
  const f = ((addr: string, opts?: DialOptions) => {
    f.calls++;
    return inner(addr, opts);
  }) as RawDial & { calls: number };
  f.calls = 0;
  return f;
}

/** Listens again on a port just closed. */
async function listenAgain<T>(listen: () => Promise<T>): Promise<T> {
  for (let i = 0;; i++) {
    try {
      return await listen();
    } catch (err) {
      if (!(err instanceof Deno.errors.AddrInUse) || i >= 50) throw err;
      await delay(20);
    }
  }
}

for (const k of KINDS) {
  Deno.test(`${k.name}: hello/world on a tunnel, then EOF when the server closes`, async () => {
    const ln = await k.listen();
    const srv = serve(ln, async (c) => {
      assertEquals(dec.decode(await readExactly(c, 5)), "hello");
      await writeAll(c, enc.encode("world"));
    });
    const d = k.dialer();
    const conn = await d.dial(addrOf(ln), netDial);
    try {
      await writeAll(conn, enc.encode("hello"));
      assertEquals(dec.decode(await readExactly(conn, 5)), "world");
      assertEquals(await conn.read(new Uint8Array(8)), null);
    } finally {
      conn.close();
      d.close();
      await srv.stop();
    }
  });

  Deno.test(`${k.name}: 32 MiB both ways with half-close while a second tunnel moves 8 MiB`, async () => {
    const ln = await k.listen();
    const srv = serve(ln);
    const d = k.dialer();
    const [a, b] = await Promise.all([d.dial(addrOf(ln), netDial), d.dial(addrOf(ln), netDial)]);
    try {
      const big = pattern(32 << 20, 5);
      const small = pattern(8 << 20, 6);
      const [ha, hb] = await Promise.all([echoRoundTrip(a, big), echoRoundTrip(b, small)]);
      assertEquals(ha, await sha256(big));
      assertEquals(hb, await sha256(small));
      assertEquals(ln.sessions, 1);
    } finally {
      a.close();
      b.close();
      d.close();
      await srv.stop();
    }
  });

  Deno.test(`${k.name}: 100 sequential and 50 concurrent tunnels over one connection`, async () => {
    const ln = await k.listen();
    const srv = serve(ln);
    const d = k.dialer();
    const raw = countingRaw();
    try {
      for (let i = 0; i < 100; i++) {
        const c = await d.dial(addrOf(ln), raw);
        const msg = enc.encode(`seq ${i}`);
        assertEquals(await echoRoundTrip(c, msg), await sha256(msg));
        c.close();
      }
      await Promise.all(Array.from({ length: 50 }, async (_, i) => {
        const c = await d.dial(addrOf(ln), raw);
        const data = pattern(64 * 1024 + i, i + 1);
        assertEquals(await echoRoundTrip(c, data), await sha256(data));
        c.close();
      }));
      assertEquals(raw.calls, 1, "one HTTP/2 connection for all 150 tunnels");
      assertEquals(ln.sessions, 1);
      assertEquals(srv.accepted(), 150);
    } finally {
      d.close();
      await srv.stop();
    }
  });

  Deno.test(`${k.name}: the tunnel request looks like GOST's (CONNECT, or GET <path> with options)`, async () => {
    for (
      const md of [{}, { path: "/tun", host: "cdn.example.com", header: { "X-Custom": "1", "User-Agent": "ua/1" } }]
    ) {
      const ln = await k.listen({ path: (md as Md).path ?? "" });
      const seen: H2Stream[] = [];
      const srv = serve(ln, (c) => {
        seen.push(c as H2Stream);
        return Promise.resolve();
      });
      const d = k.dialer(md);
      try {
        const c = await d.dial(addrOf(ln), netDial);
        assertEquals(await c.read(new Uint8Array(1)), null);
        c.close();
        const h = Object.fromEntries(seen[0].requestHeaders);
        if ("path" in md) {
          assertEquals(h[":method"], "GET");
          assertEquals(h[":path"], "/tun");
          assertEquals(h[":scheme"], k.tls ? "https" : "http");
          assertEquals(h[":authority"], "cdn.example.com");
          assertEquals(h["x-custom"], "1");
          assertEquals(h["user-agent"], "ua/1");
        } else {
          assertEquals(h[":method"], "CONNECT");
          assertEquals(h[":authority"], addrOf(ln));
          assertEquals(h[":path"], undefined);
          assertEquals(h["user-agent"], USER_AGENT);
        }
      } finally {
        d.close();
        await srv.stop();
      }
    }
  });

  Deno.test(`${k.name}: wrong method (405) or path (400) fails the dial; the connection keeps serving`, async () => {
    const plain = await k.listen();
    const withPath = await k.listen({ path: "/a" });
    const s1 = serve(plain);
    const s2 = serve(withPath);
    const get = k.dialer({ path: "/a" });
    const other = k.dialer({ path: "/b" });
    const connect = k.dialer();
    try {
      const e1 = await assertRejects(() => get.dial(addrOf(plain), netDial));
      assertStringIncludes((e1 as Error).message, "405 Method Not Allowed");
      const e2 = await assertRejects(() => other.dial(addrOf(withPath), netDial));
      assertStringIncludes((e2 as Error).message, "400 Bad Request");
      const e3 = await assertRejects(() => connect.dial(addrOf(withPath), netDial));
      assertStringIncludes((e3 as Error).message, "400 Bad Request");
      const ok = await get.dial(addrOf(withPath), netDial);
      assertEquals(await echoRoundTrip(ok, enc.encode("fine")), await sha256(enc.encode("fine")));
      ok.close();
      assertEquals(get.sessions(addrOf(plain)).length, 1, "a refused request leaves the connection up");
    } finally {
      for (const d of [get, other, connect]) d.close();
      await s1.stop();
      await s2.stop();
    }
  });

  Deno.test(`${k.name}: client address from X-Forwarded-For / CF-Connecting-IP`, async () => {
    const ln = await k.listen();
    const remotes: string[] = [];
    const srv = serve(ln, (c) => {
      remotes.push((c.remoteAddr as Deno.NetAddr).hostname);
      return Promise.resolve();
    });
    const d1 = k.dialer({ header: { "X-Forwarded-For": "203.0.113.7, 10.0.0.1" } });
    const d2 = k.dialer({ header: { "CF-Connecting-IP": "2001:db8::1" } });
    const d3 = k.dialer();
    try {
      for (const d of [d1, d2, d3]) {
        const c = await d.dial(addrOf(ln), netDial);
        await c.read(new Uint8Array(1));
        c.close();
      }
      assertEquals(remotes, ["203.0.113.7", "2001:db8::1", "127.0.0.1"]);
    } finally {
      for (const d of [d1, d2, d3]) d.close();
      await srv.stop();
    }
  });

  Deno.test(`${k.name}: a tunnel beyond the backlog gets 200 and an immediate end`, async () => {
    const ln = await k.listen({ backlog: 1 });
    const d = k.dialer();
    try {
      const first = await d.dial(addrOf(ln), netDial);
      const second = await d.dial(addrOf(ln), netDial);
      assertEquals(await second.read(new Uint8Array(1)), null);
      second.close();
      const accepted = await ln.accept();
      await writeAll(accepted, enc.encode("x"));
      assertEquals(dec.decode(await readExactly(first, 1)), "x");
      accepted.close();
      first.close();
    } finally {
      d.close();
      ln.close();
      await ln.done;
    }
  });

  Deno.test(`${k.name}: after a server restart the next dial succeeds on a fresh connection`, async () => {
    let ln = await k.listen();
    const addr = addrOf(ln);
    let srv = serve(ln);
    const d = k.dialer();
    const raw = countingRaw();
    try {
      const c1 = await d.dial(addr, raw);
      assertEquals(await echoRoundTrip(c1, enc.encode("one")), await sha256(enc.encode("one")));
      c1.close();
      await srv.stop();
      ln = await listenAgain(() => k.listen({}, addr));
      srv = serve(ln);
      const c2 = await d.dial(addr, raw);
      assertEquals(await echoRoundTrip(c2, enc.encode("two")), await sha256(enc.encode("two")));
      c2.close();
      assertEquals(raw.calls, 2);
      assertEquals(d.sessions(addr).length, 1);
    } finally {
      d.close();
      await srv.stop();
    }
  });

  Deno.test(`${k.name}: a dead cached connection is replaced within the same dial`, async () => {
    const ln = await k.listen();
    const srv = serve(ln);
    const d = k.dialer();
    // The first connection goes through a conn we can cut without the session seeing it at once.
    let cut: (() => void) | undefined;
    const raw = countingRaw(async (addr, opts) => {
      const inner = await netDial(addr, opts);
      if (cut) return inner;
      const wrapped = new SilentlyCut(inner);
      cut = () => wrapped.cut();
      return wrapped;
    });
    try {
      const c1 = await d.dial(addrOf(ln), raw);
      c1.close();
      cut!();
      const c2 = await d.dial(addrOf(ln), raw);
      assertEquals(await echoRoundTrip(c2, enc.encode("again")), await sha256(enc.encode("again")));
      c2.close();
      assertEquals(raw.calls, 2, "one more connection, in the same dial");
    } finally {
      d.close();
      await srv.stop();
    }
  });

  Deno.test(`${k.name}: works as a later hop, over a tunnel that is not a socket`, async () => {
    // An h2c front whose tunnels are piped to this listener: the dialer's raw conn is an h2c stream.
    const ln = await k.listen();
    const srv = serve(ln);
    const front = await listenH2c(listenerOptions());
    const fsrv = serve(front, async (c) => {
      const up = await netDial(addrOf(ln));
      await pipe(c, up);
    });
    const outer = new H2Dialer(parseDialerMetadata(new Metadata({})));
    const d = k.dialer();
    const raw = (_addr: string, opts?: DialOptions) => outer.dial(addrOf(front), netDial, opts);
    try {
      const conns = await Promise.all([0, 1].map(() => d.dial(addrOf(ln), raw)));
      const data = pattern(4 << 20, 9);
      for (const h of await Promise.all(conns.map((c) => echoRoundTrip(c, data)))) assertEquals(h, await sha256(data));
      for (const c of conns) c.close();
      assertEquals(ln.sessions, 1);
    } finally {
      d.close();
      outer.close();
      await fsrv.stop();
      await srv.stop();
    }
  });

  Deno.test(`${k.name}: close() drains: open tunnels finish, then the connection ends`, async () => {
    const ln = await k.listen();
    const accepted: Conn[] = [];
    const d = k.dialer();
    try {
      const c = await d.dial(addrOf(ln), netDial);
      accepted.push(await ln.accept());
      ln.close();
      await writeAll(c, enc.encode("late"));
      assertEquals(dec.decode(await readExactly(accepted[0], 4)), "late");
      await writeAll(accepted[0], enc.encode("back"));
      assertEquals(dec.decode(await readExactly(c, 4)), "back");
      await assertRejects(() => d.dial(addrOf(ln), netDial));
      accepted[0].close();
      c.close();
      await ln.done;
    } finally {
      for (const a of accepted) closeQuietly(a);
      d.close();
    }
  });
}

Deno.test("h2c: an HTTP/1.1 request gets 400; the listener keeps serving", async () => {
  const ln = (await listenH2c(listenerOptions())) as H2Listener;
  const srv = serve(ln);
  const d = new H2Dialer(parseDialerMetadata(new Metadata({})));
  try {
    const res = await rawExchange(addrOf(ln), "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assertStringIncludes(res, "HTTP/1.1 400 Bad Request");
    const c = await d.dial(addrOf(ln), netDial);
    assertEquals(await echoRoundTrip(c, enc.encode("ok")), await sha256(enc.encode("ok")));
    c.close();
  } finally {
    d.close();
    await srv.stop();
  }
});

Deno.test("h2c: the HTTP/1.1 Upgrade: h2c handshake makes the request stream 1 of a session", async () => {
  const ln = (await listenH2c(listenerOptions({ path: "/up" }))) as H2Listener;
  const seen: H2Stream[] = [];
  const srv = serve(ln, async (c) => {
    seen.push(c as H2Stream);
    await writeAll(c, enc.encode("upgraded"));
  });
  const c = await netDial(addrOf(ln));
  const peer = new RawPeer(c);
  try {
    const settings = btoa(String.fromCharCode(0, 4, 0, 1, 0, 0)).replace(/=+$/, ""); // INITIAL_WINDOW_SIZE 65536
    await writeAll(
      c,
      enc.encode(
        `GET /up HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n` +
          `HTTP2-Settings: ${settings}\r\nX-Extra: 1\r\n\r\n`,
      ),
    );
    const head = dec.decode(await readExactly(c, 71));
    assertEquals(head, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n");
    await peer.clientPreface();
    const h = await peer.until(HEADERS);
    assertEquals(h?.id, 1);
    assertEquals(new HpackDecoder().decode(h!.payload).headers[0], [":status", "200"]);
    const d = await peer.until(DATA);
    assertEquals(dec.decode(d!.payload), "upgraded");
    assertEquals(Object.fromEntries(seen[0].requestHeaders), {
      ":method": "GET",
      ":scheme": "http",
      ":authority": "example.com",
      ":path": "/up",
      "x-extra": "1",
    });
    // Without the upgrade headers an HTTP/1.1 request is still refused.
    assertStringIncludes(await rawExchange(addrOf(ln), "GET /up HTTP/1.1\r\nHost: x\r\n\r\n"), "400 Bad Request");
  } finally {
    peer.close();
    await srv.stop();
  }
});

Deno.test("h2: the dialer refuses a server that picks HTTP/1.1 over ALPN", async () => {
  // A TLS server (the ws listener's TLS) that only speaks http/1.1.
  const { listenTls } = await import("../tls/mod.ts");
  const opts = listenerOptions();
  const ln = await listenTls({ ...opts, tls: async () => ({ ...(await opts.tls()), alpn: ["http/1.1"] }) });
  const accepted: Conn[] = [];
  const loop = (async () => {
    for (;;) {
      try {
        accepted.push(await ln.accept());
      } catch {
        return;
      }
    }
  })();
  const d = new H2Dialer(parseDialerMetadata(new Metadata({})), { secure: false });
  try {
    const err = await assertRejects(() => d.dial(addrOf(ln), netDial));
    assertStringIncludes((err as Error).message, "http/1.1");
  } finally {
    d.close();
    ln.close();
    for (const c of accepted) closeQuietly(c);
    await loop;
  }
});

Deno.test("h2: metadata keys and defaults", () => {
  assertEquals(parseListenerMetadata(new Metadata({})), { path: "", backlog: 128, prefaceTimeout: 10_000 });
  assertEquals(parseListenerMetadata(new Metadata({ "h2.path": "/x", backlog: "5" })).path, "/x");
  assertEquals(parseListenerMetadata(new Metadata({ backlog: "5" })).backlog, 5);
  const d = parseDialerMetadata(new Metadata({ host: "a.example", path: "/p", header: { "X-A": "b" }, timeout: "5s" }));
  assertEquals(d, { host: "a.example", path: "/p", header: { "X-A": "b" }, responseTimeout: 5000 });
  assertEquals(parseDialerMetadata(new Metadata({})).host, undefined);
});

/**
 * A conn that can be made to lose its peer silently: after `cut()` writes
 * still succeed but nothing arrives any more, and the next read ends the
 * stream, as when a server restarted and its FIN arrives late.
 */
class SilentlyCut extends BufferedConn {
  #cut = false;
  readonly #base: Conn;
  constructor(inner: Conn) {
    super(inner);
    this.#base = inner;
  }
  cut(): void {
    this.#cut = true;
    closeQuietly(this.#base);
  }
  override write(p: Uint8Array): Promise<number> {
    return this.#cut ? Promise.resolve(p.length) : super.write(p);
  }
  override read(p: Uint8Array): Promise<number | null> {
    return this.#cut ? Promise.resolve(null) : super.read(p).catch(() => null);
  }
}
