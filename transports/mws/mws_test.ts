import { assert, assertEquals, assertRejects, assertStringIncludes, assertThrows } from "../../tests/assert.ts";
import { closeQuietly, writeAll } from "../_io/write_all.ts";
import { pipe } from "../_io/pipe.ts";
import { Metadata } from "../metadata.ts";
import { netDial } from "../tcp/mod.ts";
import { ClosedError, type Conn, type RawDial } from "../types.ts";
import { dialWebSocket } from "../_ws/mod.ts";
import type { Session } from "../_mux/mod.ts";
import { WsDialer, type WsListener } from "../ws/mod.ts";
import { listenWs, parseDialerMetadata as parseWsDialer } from "../ws/mod.ts";
import {
  addrOf,
  dec,
  delay,
  echoRoundTrip,
  enc,
  listenerOptions,
  pattern,
  rawExchange,
  readAll,
  readExactly,
  serve,
  sha256,
} from "../ws/_testing.ts";
import {
  listenMws,
  listenMwss,
  MwsDialer,
  type MwsListener,
  parseDialerMetadata,
  parseListenerMetadata,
} from "./mod.ts";

type Md = Record<string, unknown>;

interface Kind {
  name: string;
  listen(md?: Md, addr?: string): Promise<MwsListener>;
  dialer(md?: Md): MwsDialer;
}

const KINDS: Kind[] = [
  {
    name: "mws",
    listen: async (md = {}, addr) => (await listenMws(listenerOptions(md, undefined, addr))) as MwsListener,
    dialer: (md = {}) => new MwsDialer(parseDialerMetadata(new Metadata(md))),
  },
  {
    name: "mwss",
    listen: async (md = {}, addr) => (await listenMwss(listenerOptions(md, undefined, addr))) as MwsListener,
    dialer: (md = {}) => new MwsDialer(parseDialerMetadata(new Metadata(md)), { secure: false }),
  },
];

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

/** A raw dial that counts how often it was called (= WebSockets opened). */
function countingRaw(): RawDial & { calls: number } {
  const f = ((addr: string, opts?: { signal?: AbortSignal }) => {
    f.calls++;
    return netDial(addr, opts);
  }) as RawDial & { calls: number };
  f.calls = 0;
  return f;
}

for (const k of KINDS) {
  Deno.test(`${k.name}: hello/world on a stream, then EOF`, async () => {
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
    } finally {
      conn.close();
      d.close();
      await srv.stop();
    }
  });

  Deno.test(`${k.name}: 32 MiB both ways on one stream while a second stream moves 8 MiB`, async () => {
    const ln = await k.listen();
    const srv = serve(ln);
    const d = k.dialer();
    const [a, b] = await Promise.all([d.dial(addrOf(ln), netDial), d.dial(addrOf(ln), netDial)]);
    try {
      const big = pattern(32 << 20, 5);
      const small = pattern(8 << 20, 6);
      const [ha, hb] = await Promise.all([echoRoundTrip(a, big, false), echoRoundTrip(b, small, false)]);
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

  Deno.test(`${k.name}: 100 sequential and 50 concurrent streams over one session`, async () => {
    const ln = await k.listen();
    const srv = serve(ln);
    const d = k.dialer();
    const raw = countingRaw();
    try {
      for (let i = 0; i < 100; i++) {
        const c = await d.dial(addrOf(ln), raw);
        const msg = enc.encode(`seq ${i}`);
        assertEquals(await echoRoundTrip(c, msg, false), await sha256(msg));
        c.close();
      }
      const session = d.session(addrOf(ln));
      await Promise.all(Array.from({ length: 50 }, async (_, i) => {
        const c = await d.dial(addrOf(ln), raw);
        const data = pattern(64 * 1024 + i, i + 1);
        assertEquals(await echoRoundTrip(c, data, false), await sha256(data));
        c.close();
      }));
      assertEquals(raw.calls, 1, "one WebSocket for all 150 streams");
      assertEquals(d.session(addrOf(ln)), session);
      assertEquals(ln.sessions, 1);
      assertEquals(srv.accepted(), 150);
    } finally {
      d.close();
      await srv.stop();
    }
  });
}

Deno.test("mws: half-close is a FIN: the peer reads EOF and the stream is over for it", async () => {
  const ln = await KINDS[0].listen();
  let serverSide!: { read: number | null; writeFailed: boolean };
  const srv = serve(ln, async (c) => {
    const got = await readAll(c);
    let writeFailed = false;
    await c.write(enc.encode("late")).catch(() => (writeFailed = true));
    serverSide = { read: got.length, writeFailed };
  });
  const d = KINDS[0].dialer();
  const conn = await d.dial(addrOf(ln), netDial);
  try {
    await writeAll(conn, pattern(200_000));
    await conn.closeWrite();
    assertEquals(await conn.read(new Uint8Array(16)), null);
    assertEquals(serverSide, { read: 200_000, writeFailed: true });
  } finally {
    conn.close();
    d.close();
    await srv.stop();
  }
});

Deno.test("mws dialer: concurrent dials while the session is being built share it", async () => {
  const ln = await KINDS[0].listen();
  const srv = serve(ln);
  const d = KINDS[0].dialer();
  const raw = countingRaw();
  try {
    const conns = await Promise.all(Array.from({ length: 20 }, () => d.dial(addrOf(ln), raw)));
    assertEquals(raw.calls, 1);
    assertEquals(ln.sessions, 1);
    for (const c of conns) c.close();
  } finally {
    d.close();
    await srv.stop();
  }
});

for (const k of KINDS) {
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
      // The server goes away (its idle session is closed) and comes back on the same port.
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
}

Deno.test("mws dialer: a cached session that is not yet known dead (open fails) is replaced in the same dial", async () => {
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
    await stale.done; // the stale session had no streams left: released
  } finally {
    d.close();
    await srv.stop();
  }
});

Deno.test("mws dialer: a session closed locally is dropped; the next dial opens a new one", async () => {
  const ln = await KINDS[0].listen();
  const srv = serve(ln);
  const d = KINDS[0].dialer();
  const raw = countingRaw();
  try {
    (await d.dial(addrOf(ln), raw)).close();
    d.session(addrOf(ln))!.close();
    (await d.dial(addrOf(ln), raw)).close();
    assertEquals(raw.calls, 2);
  } finally {
    d.close();
    await srv.stop();
  }
});

/**
 * A TCP forwarder whose connections can be frozen: bytes stop moving but no
 * socket is closed (a silent network). Connections made after `freeze()` work.
 */
function freezableProxy(target: string) {
  const ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Conn>();
  let accepted = 0;
  let frozenBelow = 0;
  let release = () => {};
  const thaw = new Promise<void>((r) => (release = r));
  const pump = async (src: Conn, dst: Conn, id: number) => {
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await src.read(buf);
        if (n === null) break;
        if (id < frozenBelow) {
          await thaw; // until close(): then dropped
          break;
        }
        await writeAll(dst, buf.subarray(0, n));
      }
    } catch {
      // closed
    }
    closeQuietly(dst);
    closeQuietly(src);
  };
  const tasks: Promise<void>[] = [];
  const loop = (async () => {
    for await (const c of ln) {
      const id = accepted++;
      const up = await netDial(target);
      conns.add(c).add(up);
      tasks.push(pump(c, up, id), pump(up, c, id));
    }
  })();
  return {
    addr: `127.0.0.1:${(ln.addr as Deno.NetAddr).port}`,
    /** Freezes every connection made so far. */
    freeze() {
      frozenBelow = accepted;
    },
    async close() {
      release();
      ln.close();
      await loop.catch(() => {});
      for (const c of conns) closeQuietly(c);
      await Promise.all(tasks);
    },
  };
}

Deno.test("mws: a silent network kills the session within the mux keepalive timeout; the next dial recovers", async () => {
  const mux = { "mux.keepaliveInterval": "100ms", "mux.keepaliveTimeout": "300ms" };
  const ln = await KINDS[0].listen(mux);
  const srv = serve(ln);
  const proxy = freezableProxy(addrOf(ln));
  const d = KINDS[0].dialer(mux);
  try {
    const c = await d.dial(proxy.addr, netDial);
    await writeAll(c, enc.encode("ping"));
    assertEquals(dec.decode(await readExactly(c, 4)), "ping");
    const session = d.session(proxy.addr)!;
    proxy.freeze();
    const t0 = performance.now();
    await assertRejects(() => readAll(c), ClosedError, "keepalive");
    const took = performance.now() - t0;
    assert(took < 1000, `stream failed after ${took.toFixed(0)} ms`);
    assert(session.closed);
    c.close();
    // Through the proxy again: a new connection, which is not frozen.
    const c2 = await d.dial(proxy.addr, netDial);
    assertEquals(await echoRoundTrip(c2, enc.encode("back"), false), await sha256(enc.encode("back")));
    c2.close();
  } finally {
    d.close();
    await proxy.close();
    await srv.stop();
  }
});

Deno.test("mws: killing the server's side mid-transfer ends every client stream at once", async () => {
  const ln = await KINDS[0].listen();
  const srv = serve(ln);
  const d = KINDS[0].dialer();
  try {
    const conns = await Promise.all(Array.from({ length: 5 }, () => d.dial(addrOf(ln), netDial)));
    for (const c of conns) await writeAll(c, pattern(1 << 20));
    const reads = conns.map((c) => readAll(c).then(() => "eof", (e) => (e as Error).name));
    await delay(20);
    const t0 = performance.now();
    for (const c of srv.conns) c.close(); // handlers end...
    ln.close(); // ...and the listener stops: its sessions close once idle
    const outcomes = await Promise.all(reads);
    assert(performance.now() - t0 < 1000);
    assertEquals(outcomes.length, 5);
    await d.session(addrOf(ln))?.done;
    assertEquals(d.session(addrOf(ln)), undefined);
    for (const c of conns) c.close();
  } finally {
    d.close();
    await srv.stop();
  }
});

Deno.test("mws listener: close() lets open streams finish, refuses new ones, then closes the session", async () => {
  const ln = await KINDS[0].listen();
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const srv = serve(ln, async (c) => {
    await gate;
    await writeAll(c, enc.encode("done"));
  });
  const d = KINDS[0].dialer();
  try {
    const c = await d.dial(addrOf(ln), netDial);
    await writeAll(c, enc.encode("x"));
    await delay(30);
    const session = d.session(addrOf(ln))!;
    ln.close();
    // A stream opened now on the draining session is refused with a FIN.
    const late = await session.open();
    await writeAll(late, enc.encode("late"));
    assertEquals(await late.read(new Uint8Array(4)), null);
    late.close();
    release();
    assertEquals(dec.decode(await readExactly(c, 4)), "done");
    assertEquals(await c.read(new Uint8Array(4)), null);
    c.close();
    await session.done; // the server closed the drained session
  } finally {
    d.close();
    await srv.stop();
  }
});

Deno.test("mws listener: HTTP garbage and bad smux frames end only their own conn", async () => {
  const ln = await KINDS[0].listen();
  const srv = serve(ln);
  const addr = addrOf(ln);
  try {
    assertStringIncludes(await rawExchange(addr, "GET /ws HTTP/1.1\r\nHost: x\r\n\r\n"), "400 Bad Request");
    assertStringIncludes(await rawExchange(addr, "\x00\x01\x02\r\n\r\n"), "400 Bad Request");
    // A real WebSocket that then speaks nonsense smux (version 9, unknown command).
    const ws = await dialWebSocket(await netDial(addr), { host: addr });
    await writeAll(ws, new Uint8Array([9, 9, 0, 0, 3, 0, 0, 0]));
    assertEquals(await ws.read(new Uint8Array(16)).catch(() => null), null, "the server dropped the session");
    ws.close();
    const d = KINDS[0].dialer();
    const c = await d.dial(addr, netDial);
    assertEquals(await echoRoundTrip(c, enc.encode("fine"), false), await sha256(enc.encode("fine")));
    c.close();
    d.close();
    assertEquals(srv.accepted(), 1);
  } finally {
    await srv.stop();
  }
});

Deno.test("mwss dialer as a later hop: the session runs over a ws conn (not a socket)", async () => {
  const inner = await KINDS[1].listen();
  const innerSrv = serve(inner);
  const outer = (await listenWs(listenerOptions({}))) as WsListener;
  const outerSrv = serve(outer, async (c) => {
    await pipe(c, await netDial(addrOf(inner)));
  });
  const hop1 = new WsDialer(parseWsDialer(new Metadata({})));
  let calls = 0;
  const raw: RawDial = (_addr, opts) => {
    calls++;
    return hop1.dial(addrOf(outer), netDial, opts);
  };
  const d = KINDS[1].dialer();
  try {
    for (let i = 0; i < 3; i++) {
      const c = await d.dial(addrOf(inner), raw);
      const data = pattern(1 << 20, i + 1);
      assertEquals(await echoRoundTrip(c, data, false), await sha256(data));
      c.close();
    }
    assertEquals(calls, 1);
  } finally {
    d.close();
    await outerSrv.stop();
    await innerSrv.stop();
  }
});

Deno.test("mws dialer: an aborted dial does not abort the shared build; close() releases everything", async () => {
  const ln = await KINDS[0].listen();
  const srv = serve(ln);
  const d = KINDS[0].dialer();
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
    await assertRejects(() => d.dial(addrOf(ln), netDial), ClosedError);
    await session.done;
  } finally {
    d.close();
    await srv.stop();
  }
});

Deno.test("mws dialer: a refused connect fails the dial and leaves nothing cached", async () => {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const addr = `127.0.0.1:${(probe.addr as Deno.NetAddr).port}`;
  probe.close();
  const d = KINDS[0].dialer();
  await assertRejects(() => d.dial(addr, netDial));
  assertEquals(d.session(addr), undefined);
  d.close();
});

Deno.test("mws metadata: ws keys plus mux.*; bad mux configs are rejected", () => {
  const l = parseListenerMetadata(new Metadata({ path: "/m", "mux.version": "2", "mux.keepaliveInterval": "1s" }));
  assertEquals([l.path, l.mux.version, l.mux.keepaliveInterval, l.mux.keepaliveTimeout], ["/m", 2, 1000, 30_000]);
  const dm = parseDialerMetadata(new Metadata({ keepalive: "true", ttl: "5s", "mux.maxFrameSize": "1024" }));
  assertEquals([dm.keepalive, dm.ttl, dm.mux.maxFrameSize, dm.mux.version], [true, 5000, 1024, 1]);
  assertThrows(() => parseDialerMetadata(new Metadata({ "mux.version": "3" })), RangeError);
  assertThrows(
    () => parseListenerMetadata(new Metadata({ "mux.keepaliveInterval": "10s", "mux.keepaliveTimeout": "5s" })),
    RangeError,
  );
});

Deno.test("mws dialer: a silent cached session is probed with a ping; no pong means a fresh session in the same dial", async () => {
  // Our NOPs every 200 ms; a smux timeout far away, so only the probe can notice in time.
  const mux = { "mux.keepaliveInterval": "200ms", "mux.keepaliveTimeout": "10s" };
  const ln = await KINDS[0].listen(mux);
  const srv = serve(ln);
  const proxy = freezableProxy(addrOf(ln));
  const d = KINDS[0].dialer(mux);
  const raw = countingRaw();
  try {
    const c1 = await d.dial(proxy.addr, raw);
    assertEquals(await echoRoundTrip(c1, enc.encode("a"), false), await sha256(enc.encode("a")));
    const stale = d.session(proxy.addr)!;
    proxy.freeze();
    await delay(400); // > 1.5 x 200 ms of silence
    assert(!stale.closed, "smux itself has not noticed yet");
    const t0 = performance.now();
    const c2 = await d.dial(proxy.addr, raw);
    const took = performance.now() - t0;
    assertEquals(await echoRoundTrip(c2, enc.encode("b"), false), await sha256(enc.encode("b")));
    assert(took < 3500, `dial took ${took.toFixed(0)} ms`);
    assertEquals(raw.calls, 2);
    assert(stale.closed, "the silent session was closed");
    await assertRejects(() => c1.read(new Uint8Array(4)));
    c1.close();
    c2.close();
  } finally {
    d.close();
    await proxy.close();
    await srv.stop();
  }
});

Deno.test("mws dialer: a quiet but healthy session answers the probe and is reused", async () => {
  // The server sends NOPs only every 5 s; the client probes after 300 ms of silence.
  const ln = await KINDS[0].listen({ "mux.keepaliveInterval": "5s" });
  const srv = serve(ln);
  const d = KINDS[0].dialer({ "mux.keepaliveInterval": "200ms", "mux.keepaliveTimeout": "60s" });
  const raw = countingRaw();
  try {
    (await d.dial(addrOf(ln), raw)).close();
    await delay(400);
    const t0 = performance.now();
    const c = await d.dial(addrOf(ln), raw);
    assert(performance.now() - t0 < 500);
    assertEquals(await echoRoundTrip(c, enc.encode("q"), false), await sha256(enc.encode("q")));
    c.close();
    assertEquals(raw.calls, 1);
    assertEquals(ln.sessions, 1);
  } finally {
    d.close();
    await srv.stop();
  }
});

Deno.test("mws dialer: a session paused on its full receive buffer is not mistaken for a dead one", async () => {
  const mux = { "mux.keepaliveInterval": "100ms", "mux.keepaliveTimeout": "60s", "mux.maxReceiveBuffer": "65536" };
  const ln = await KINDS[0].listen(mux);
  const big = pattern(1 << 20, 9);
  const srv = serve(ln, async (c) => {
    const first = await readExactly(c, 1);
    if (first[0] === 1) await writeAll(c, big); // the client does not read it for a while
    else await writeAll(c, enc.encode("pong"));
  });
  const d = KINDS[0].dialer(mux);
  const raw = countingRaw();
  try {
    const slow = await d.dial(addrOf(ln), raw);
    await writeAll(slow, new Uint8Array([1]));
    await delay(400); // the session stopped reading the transport: silence of its own doing
    const other = await d.dial(addrOf(ln), raw);
    assertEquals(raw.calls, 1, "the paused session was reused");
    await writeAll(other, new Uint8Array([2]));
    const [got, pong] = await Promise.all([readExactly(slow, big.length), readExactly(other, 4)]);
    assertEquals(await sha256(got), await sha256(big));
    assertEquals(dec.decode(pong), "pong");
    slow.close();
    other.close();
  } finally {
    d.close();
    await srv.stop();
  }
});
