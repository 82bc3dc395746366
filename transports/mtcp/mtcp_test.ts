import { assert, assertEquals, assertRejects, assertThrows } from "../../tests/assert.ts";
import { closeQuietly, writeAll } from "../_io/write_all.ts";
import { Metadata } from "../metadata.ts";
import { dialerRegistry, listenerRegistry } from "../registry.ts";
import { registerBuiltins } from "../../config/builtins.ts";
import { netDial } from "../tcp/mod.ts";
import { tlsClient } from "../tls/mod.ts";
import { ClosedError, type Conn, type RawDial } from "../types.ts";
import { Session } from "../_mux/mod.ts";
import {
  addrOf,
  dec,
  delay,
  echoRoundTrip,
  enc,
  listenerOptions,
  pattern,
  quietLogger,
  readExactly,
  serve,
  sha256,
} from "../ws/_testing.ts";
import {
  DEFAULT_BACKLOG,
  listenMtcp,
  listenMtls,
  MtcpDialer,
  type MtcpListener,
  parseDialerMetadata,
  parseListenerMetadata,
} from "./mod.ts";

type Md = Record<string, unknown>;

interface Kind {
  name: string;
  tls: boolean;
  /** gost's default smux version of the scheme. */
  version: number;
  listen(md?: Md, addr?: string): Promise<MtcpListener>;
  dialer(md?: Md): MtcpDialer;
}

const KINDS: Kind[] = [
  {
    name: "mtcp",
    tls: false,
    version: 2,
    listen: async (md = {}, addr) => (await listenMtcp(listenerOptions(md, undefined, addr))) as MtcpListener,
    dialer: (md = {}) => new MtcpDialer(parseDialerMetadata(new Metadata(md), false)),
  },
  {
    name: "mtls",
    tls: true,
    version: 1,
    listen: async (md = {}, addr) => (await listenMtls(listenerOptions(md, undefined, addr))) as MtcpListener,
    dialer: (md = {}) => new MtcpDialer(parseDialerMetadata(new Metadata(md), true), { secure: false }),
  },
];

/** A raw dial that counts how often it was called (= TCP connections opened). */
function countingRaw(): RawDial & { calls: number } {
  const f = ((addr: string, opts?: { signal?: AbortSignal }) => {
    f.calls++;
    return netDial(addr, opts);
  }) as RawDial & { calls: number };
  f.calls = 0;
  return f;
}

/** Listens again on a port just closed (the old socket may need an event-loop turn to go). */
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

/** A raw conn to `addr`, with TLS (verifying nothing) when `tls`. */
async function rawConn(addr: string, tls: boolean): Promise<Conn> {
  const c = await netDial(addr);
  return tls ? await tlsClient(c, { secure: false, serverName: "localhost" }) : c;
}

/** Resolves true once the peer ends `c` (EOF or error), false when it is still open after `ms`. */
async function endsWithin(c: Conn, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const ended = (async () => {
    const buf = new Uint8Array(4096);
    try {
      while ((await c.read(buf)) !== null) { /* drain */ }
    } catch {
      // reset
    }
    return true;
  })();
  const r = await Promise.race([ended, new Promise<false>((res) => (timer = setTimeout(() => res(false), ms)))]);
  clearTimeout(timer);
  closeQuietly(c);
  await ended;
  return r;
}

/** Polls until `cond()` or `ms` pass. */
async function until(cond: () => boolean, ms = 3000): Promise<boolean> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > ms) return false;
    await delay(10);
  }
  return true;
}

for (const k of KINDS) {
  Deno.test(`${k.name}: hello/world on a stream, then EOF; gost's default smux version`, async () => {
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
      assertEquals(await conn.read(new Uint8Array(8)), null, "the server's close is a FIN");
      assertEquals(d.session(addrOf(ln))!.config.version, k.version);
    } finally {
      conn.close();
      d.close();
      await srv.stop();
    }
  });

  Deno.test(`${k.name}: 32 MiB both ways on one stream while a second stream moves 8 MiB, one session`, async () => {
    const ln = await k.listen();
    const srv = serve(ln);
    const d = k.dialer();
    const raw = countingRaw();
    const [a, b] = await Promise.all([d.dial(addrOf(ln), raw), d.dial(addrOf(ln), raw)]);
    try {
      const big = pattern(32 << 20, 5);
      const small = pattern(8 << 20, 6);
      const [ha, hb] = await Promise.all([echoRoundTrip(a, big, false), echoRoundTrip(b, small, false)]);
      assertEquals(ha, await sha256(big));
      assertEquals(hb, await sha256(small));
      assertEquals(raw.calls, 1);
      assertEquals(ln.sessions, 1);
    } finally {
      a.close();
      b.close();
      d.close();
      await srv.stop();
    }
  });

  Deno.test(`${k.name}: 50 sequential and 50 concurrent streams over one session; concurrent first dials share it`, async () => {
    const ln = await k.listen();
    const srv = serve(ln);
    const d = k.dialer();
    const raw = countingRaw();
    try {
      await Promise.all(Array.from({ length: 50 }, async (_, i) => {
        const c = await d.dial(addrOf(ln), raw);
        const data = pattern(64 * 1024 + i, i + 1);
        assertEquals(await echoRoundTrip(c, data, false), await sha256(data));
        c.close();
      }));
      for (let i = 0; i < 50; i++) {
        const c = await d.dial(addrOf(ln), raw);
        const msg = enc.encode(`seq ${i}`);
        assertEquals(await echoRoundTrip(c, msg, false), await sha256(msg));
        c.close();
      }
      assertEquals(raw.calls, 1, "one TCP connection for all 100 streams");
      assertEquals(ln.sessions, 1);
      assertEquals(srv.accepted(), 100);
    } finally {
      d.close();
      await srv.stop();
    }
  });

  Deno.test(`${k.name} dialer: the first dial after a server restart succeeds (fresh session, same call)`, async () => {
    let ln = await k.listen();
    const addr = addrOf(ln);
    let srv = serve(ln);
    const d = k.dialer();
    const raw = countingRaw();
    try {
      const c1 = await d.dial(addr, raw);
      assertEquals(await echoRoundTrip(c1, enc.encode("one"), false), await sha256(enc.encode("one")));
      c1.close();
      const old = d.session(addr)!;
      await srv.stop();
      ln = await listenAgain(() => k.listen({}, addr));
      srv = serve(ln);
      await old.done;
      const c2 = await d.dial(addr, raw);
      assertEquals(await echoRoundTrip(c2, enc.encode("two"), false), await sha256(enc.encode("two")));
      c2.close();
      assertEquals(raw.calls, 2);
      assert(d.session(addr) !== old);
    } finally {
      d.close();
      await srv.stop();
    }
  });

  Deno.test(`${k.name} listener: garbage, an unknown command and a frame cut short end only their own session`, async () => {
    const ln = await k.listen();
    const srv = serve(ln);
    const addr = addrOf(ln);
    const d = k.dialer();
    const v = k.version;
    try {
      // A healthy session with a stream open throughout.
      const kept = await d.dial(addr, netDial);
      assertEquals(await echoRoundTrip(kept, enc.encode("before"), false), await sha256(enc.encode("before")));
      const cut = new Uint8Array(16 + 1000);
      // SYN for stream 3, then a PSH announcing 65535 bytes of which 1000 arrive before the end.
      cut.set([v, 0, 0, 0, 3, 0, 0, 0, v, 2, 0xff, 0xff, 3, 0, 0, 0]);
      const cases: [string, Uint8Array][] = [
        ["an HTTP request", enc.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n")],
        ["the other smux version", new Uint8Array([3 - v, 0, 0, 0, 3, 0, 0, 0])],
        ["an unknown command", new Uint8Array([v, 9, 0, 0, 3, 0, 0, 0])],
        ["a frame cut short", cut],
      ];
      for (const [what, bytes] of cases) {
        const c = await rawConn(addr, k.tls);
        await writeAll(c, bytes);
        await c.closeWrite();
        assert(await endsWithin(c, 3000), `${what}: the server ended the conn`);
      }
      if (k.tls) {
        const c = await netDial(addr);
        await writeAll(c, enc.encode("not TLS at all\r\n\r\n"));
        assert(await endsWithin(c, 3000), "plain bytes on the TLS port: the server ended the conn");
      }
      // Every bad session released; the kept one still works, and a new session works.
      assert(await until(() => ln.sessions === 1), `sessions left: ${ln.sessions}`);
      assertEquals(await echoRoundTrip(kept, enc.encode("after"), false), await sha256(enc.encode("after")));
      kept.close();
      const d2 = k.dialer();
      const c = await d2.dial(addr, netDial);
      assertEquals(await echoRoundTrip(c, enc.encode("fresh"), false), await sha256(enc.encode("fresh")));
      c.close();
      d2.close();
    } finally {
      d.close();
      await srv.stop();
    }
  });

  Deno.test(`${k.name} listener: a full stream queue closes the extra streams; close() drains, then ends sessions`, async () => {
    const ln = await k.listen({ backlog: 2 });
    const d = k.dialer();
    try {
      const conns = await Promise.all(Array.from({ length: 4 }, () => d.dial(addrOf(ln), netDial)));
      for (const c of conns) await writeAll(c, enc.encode("x"));
      // Nobody accepts: two streams wait in the queue, the others are refused with a FIN.
      const ended = await Promise.all(conns.slice(2).map((c) => c.read(new Uint8Array(1))));
      assertEquals(ended, [null, null]);
      const first = await ln.accept();
      assertEquals(dec.decode(await readExactly(first, 1)), "x");
      const session = d.session(addrOf(ln))!;
      ln.close();
      await assertRejects(() => ln.accept(), ClosedError);
      // The accepted stream still works while the session drains.
      await writeAll(first, enc.encode("y"));
      assertEquals(dec.decode(await readExactly(conns[0], 1)), "y");
      first.close();
      for (const c of conns) c.close();
      await session.done; // the drained session was closed by the server
      await ln.done;
    } finally {
      d.close();
    }
  });

  Deno.test(`${k.name} dialer: an aborted dial does not abort the shared build; close() releases everything`, async () => {
    const ln = await k.listen();
    const srv = serve(ln);
    const d = k.dialer();
    try {
      const ac = new AbortController();
      const first = d.dial(addrOf(ln), netDial, { signal: ac.signal });
      const second = d.dial(addrOf(ln), netDial);
      ac.abort(new Error("client went away"));
      await assertRejects(() => first, Error, "client went away");
      const c = await second;
      assertEquals(await echoRoundTrip(c, enc.encode("s"), false), await sha256(enc.encode("s")));
      c.close();
      const session = d.session(addrOf(ln))!;
      d.close();
      assert(session.closed);
      await assertRejects(() => d.dial(addrOf(ln), netDial), ClosedError, `${k.name} dialer closed`);
      await session.done;
    } finally {
      d.close();
      await srv.stop();
    }
  });
}

Deno.test("mtcp dialer: a cached session that is not yet known dead (open fails) is replaced in the same dial", async () => {
  const ln = await KINDS[0].listen();
  const srv = serve(ln);
  const d = KINDS[0].dialer();
  const raw = countingRaw();
  try {
    (await d.dial(addrOf(ln), raw)).close();
    const stale = d.session(addrOf(ln))! as Session & { open: Session["open"] };
    stale.open = () => Promise.reject(new ClosedError("broken pipe"));
    const c = await d.dial(addrOf(ln), raw);
    assertEquals(await echoRoundTrip(c, enc.encode("ok"), false), await sha256(enc.encode("ok")));
    c.close();
    assertEquals(raw.calls, 2);
    assert(d.session(addrOf(ln)) !== stale);
    await stale.done;
  } finally {
    d.close();
    await srv.stop();
  }
});

Deno.test("mtcp: a peer that stops answering is dropped by the smux keepalive; the next dial opens a new session", async () => {
  // A server that accepts TCP and never speaks smux (no NOPs): the client's keepalive must notice.
  const tcp = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const loop = (async () => {
    for await (const c of tcp) held.push(c);
  })();
  const addr = `127.0.0.1:${tcp.addr.port}`;
  const d = KINDS[0].dialer({ "mux.keepaliveInterval": "100ms", "mux.keepaliveTimeout": "300ms" });
  const raw = countingRaw();
  try {
    const c = await d.dial(addr, raw);
    const session = d.session(addr)!;
    const t0 = performance.now();
    await assertRejects(() => c.read(new Uint8Array(1)), ClosedError, "keepalive");
    assert(performance.now() - t0 < 1500);
    assert(session.closed);
    c.close();
    (await d.dial(addr, raw)).close();
    assertEquals(raw.calls, 2);
  } finally {
    d.close();
    tcp.close();
    await loop.catch(() => {});
    for (const c of held) closeQuietly(c);
  }
});

Deno.test("mtcp: a v1 client meets the default v2 listener: the session dies (both ends must agree)", async () => {
  const ln = await KINDS[0].listen(); // mtcp: v2
  const srv = serve(ln);
  const d = KINDS[0].dialer({ "mux.version": "1" });
  try {
    const c = await d.dial(addrOf(ln), netDial);
    await writeAll(c, enc.encode("hi"));
    await assertRejects(() => c.read(new Uint8Array(2)), ClosedError);
    c.close();
    assert(await until(() => ln.sessions === 0));
  } finally {
    d.close();
    await srv.stop();
  }
});

Deno.test("mtcp/mtls metadata: gost's defaults (mtcp v2, mtls v1, backlog 128) and keys", () => {
  const l = parseListenerMetadata(new Metadata({}), false);
  assertEquals([l.mux.version, l.backlog], [2, DEFAULT_BACKLOG]);
  assertEquals(parseListenerMetadata(new Metadata({}), true).mux.version, 1);
  assertEquals(parseListenerMetadata(new Metadata({ "mux.version": 0 }), false).mux.version, 2);
  // internal/util/mux: a negative version falls back to smux's default, 1.
  assertEquals(parseListenerMetadata(new Metadata({ "mux.version": -1 }), false).mux.version, 1);
  assertEquals(parseDialerMetadata(new Metadata({ "mux.version": "1" }), false).mux.version, 1);
  assertEquals(parseDialerMetadata(new Metadata({ "mux.version": "2" }), true).mux.version, 2);
  const lm = parseListenerMetadata(new Metadata({ backlog: "7", "mux.keepaliveInterval": "2s" }), true);
  assertEquals([lm.backlog, lm.mux.keepaliveInterval, lm.mux.keepaliveTimeout], [7, 2000, 30_000]);
  assertEquals(parseListenerMetadata(new Metadata({ backlog: "0" }), false).backlog, DEFAULT_BACKLOG);
  const dm = parseDialerMetadata(new Metadata({ handshakeTimeout: "3s", "mux.maxFrameSize": "1024" }), true);
  assertEquals([dm.handshakeTimeout, dm.mux.maxFrameSize], [3000, 1024]);
  assertEquals(parseDialerMetadata(new Metadata({}), true).handshakeTimeout, 10_000);
  assertThrows(() => parseDialerMetadata(new Metadata({ "mux.version": "3" }), false), RangeError);
  assertThrows(
    () => parseListenerMetadata(new Metadata({ "mux.keepaliveInterval": "10s", "mux.keepaliveTimeout": "5s" }), true),
    RangeError,
  );
  // Every key gost's mtcp/mtls components read is asked for (so none is refused at start).
  const md = new Metadata({
    backlog: 1,
    mptcp: true,
    handshakeTimeout: "1s",
    "mux.version": 2,
    "mux.keepaliveDisabled": true,
    "mux.keepaliveInterval": "5s",
    "mux.keepaliveTimeout": "20s",
    "mux.maxFrameSize": 4096,
    "mux.maxReceiveBuffer": 1 << 20,
    "mux.maxStreamBuffer": 1 << 16,
  });
  parseListenerMetadata(md, false);
  parseDialerMetadata(md, false);
  assertEquals(md.unasked(), []);
});

Deno.test("mtcp/mtls: registered under gost's names; the dialers multiplex", async () => {
  registerBuiltins();
  for (const name of ["mtcp", "mtls"]) {
    assert(await listenerRegistry.load(name), `${name} listener`);
    assert(await dialerRegistry.load(name), `${name} dialer`);
    const d = dialerRegistry.get(name)!({ metadata: new Metadata(), tls: { secure: false }, log: quietLogger() });
    assertEquals(d.multiplex, true);
    d.close?.();
  }
});
