/**
 * The pht/phts dialer against the listener: data both ways, half-close,
 * many sessions, a later hop, both server generations, custom paths,
 * timeouts, backpressure, and the client core over Deno's own fetch.
 */
import { assert, assertEquals, assertRejects } from "../../tests/assert.ts";
import { closeQuietly, writeAll } from "../_io/write_all.ts";
import { pipe } from "../_io/pipe.ts";
import { Metadata } from "../metadata.ts";
import { netDial } from "../tcp/mod.ts";
import type { Conn, RawDial } from "../types.ts";
import { Http1Lane } from "../_http1/client.ts";
import { Http1Server } from "../_http1/server.ts";
import {
  addrOf,
  dec,
  delay,
  echoRoundTrip,
  enc,
  listenerOptions,
  pattern,
  readAll,
  readExactly,
  serve,
  sha256,
} from "../ws/_testing.ts";
import {
  listenPht,
  listenPhts,
  parseDialerMetadata,
  parseListenerMetadata,
  PhtClient,
  type PhtClientConn,
  PhtDialer,
  type PhtListener,
  PhtServer,
} from "./mod.ts";

type Md = Record<string, unknown>;

interface Kind {
  name: string;
  listen(md?: Md): Promise<PhtListener>;
  dialer(md?: Md): PhtDialer;
}

const KINDS: Kind[] = [
  {
    name: "pht",
    listen: async (md = {}) => (await listenPht(listenerOptions(md))) as PhtListener,
    dialer: (md = {}) => new PhtDialer(parseDialerMetadata(new Metadata(md))),
  },
  {
    name: "phts",
    listen: async (md = {}) => (await listenPhts(listenerOptions(md))) as PhtListener,
    dialer: (md = {}) => new PhtDialer(parseDialerMetadata(new Metadata(md)), { secure: false }),
  },
];

/** Closes a client conn and waits until its close POST and pull are done. */
async function closeClient(c: Conn): Promise<void> {
  c.close();
  await (c as PhtClientConn).done;
}

for (const k of KINDS) {
  Deno.test(`${k.name}: hello/world, then the server's close is the client's EOF`, async () => {
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
      await closeClient(conn);
      d.close();
      await srv.stop();
    }
  });

  Deno.test(`${k.name}: 64 MiB both ways through an echo, with half-close`, async () => {
    const ln = await k.listen();
    const srv = serve(ln);
    const d = k.dialer();
    const conn = await d.dial(addrOf(ln), netDial);
    try {
      const data = pattern(64 << 20, 7);
      assertEquals(await echoRoundTrip(conn, data, true), await sha256(data));
    } finally {
      await closeClient(conn);
      d.close();
      await srv.stop();
    }
  });

  Deno.test(`${k.name}: half-close both ways`, async () => {
    const ln = await k.listen();
    const srv = serve(ln, async (c) => {
      // read to EOF (the client's closeWrite), then answer, then half-close
      const got = await readAll(c);
      await writeAll(c, enc.encode(`got ${got.length}`));
      await c.closeWrite();
    });
    const d = k.dialer();
    const conn = await d.dial(addrOf(ln), netDial);
    try {
      await writeAll(conn, new Uint8Array(100_000));
      await conn.closeWrite();
      assertEquals(dec.decode(await readAll(conn)), "got 100000");
      await assertRejects(() => conn.write(enc.encode("x")));
    } finally {
      await closeClient(conn);
      d.close();
      await srv.stop();
    }
  });

  Deno.test(`${k.name}: 50 concurrent sessions`, async () => {
    const ln = await k.listen();
    const srv = serve(ln);
    const d = k.dialer();
    try {
      await Promise.all(Array.from({ length: 50 }, async (_, i) => {
        const c = await d.dial(addrOf(ln), netDial);
        try {
          const data = pattern(100_000 + i, i + 1);
          assertEquals(await echoRoundTrip(c, data, true), await sha256(data));
        } finally {
          await closeClient(c);
        }
      }));
      assertEquals(d.sessions, 0);
    } finally {
      d.close();
      await srv.stop();
    }
    assertEquals(ln.server.sessions, 0);
  });
}

/** A TCP relay standing in for the previous hops of a chain: every raw dial goes through it. */
function relay(target: string) {
  const ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const tasks = new Set<Promise<unknown>>();
  const loop = (async () => {
    for (;;) {
      let c: Conn;
      try {
        c = await ln.accept();
      } catch {
        return;
      }
      const t = netDial(target).then((t) => pipe(c, t), () => closeQuietly(c));
      tasks.add(t);
      t.finally(() => tasks.delete(t));
    }
  })();
  const port = (ln.addr as Deno.NetAddr).port;
  let calls = 0;
  const raw: RawDial = (_addr, opts) => {
    calls++;
    return netDial(`127.0.0.1:${port}`, opts);
  };
  return {
    raw,
    calls: () => calls,
    async close() {
      ln.close();
      await loop;
      await Promise.all([...tasks]);
    },
  };
}

Deno.test("pht: as a later hop, every HTTP conn comes from the raw dial (two per session)", async () => {
  const ln = (await listenPht(listenerOptions())) as PhtListener;
  const srv = serve(ln);
  const via = relay(addrOf(ln));
  const d = new PhtDialer(parseDialerMetadata(new Metadata({})));
  try {
    const conn = await d.dial("pht.example:443", via.raw);
    const data = pattern(1 << 20, 3);
    assertEquals(await echoRoundTrip(conn, data, true), await sha256(data));
    await closeClient(conn);
    assertEquals(via.calls(), 2, "one push lane, one pull lane");
  } finally {
    d.close();
    await srv.stop();
    await via.close();
  }
});

Deno.test("pht: a finished session leaves its keep-alive conns for the next one", async () => {
  const ln = (await listenPht(listenerOptions())) as PhtListener;
  const srv = serve(ln);
  const via = relay(addrOf(ln));
  const d = new PhtDialer(parseDialerMetadata(new Metadata({})));
  try {
    for (let i = 0; i < 3; i++) {
      const conn = await d.dial(addrOf(ln), via.raw);
      const data = pattern(10_000, i + 1);
      assertEquals(await echoRoundTrip(conn, data, true), await sha256(data));
      await closeClient(conn);
      assert(d.pooled >= 1, "the push conn went back to the pool");
    }
    assert(via.calls() <= 3, `3 sessions opened ${via.calls()} conns`);
  } finally {
    d.close();
    assertEquals(d.pooled, 0);
    await srv.stop();
    await via.close();
  }
});

/** A gost-3.2.6-like server (classic mode) on dost's HTTP/1.1 server. */
function classicServer(opts: { heartbeat?: number; authorizePath?: string } = {}) {
  const pht = new PhtServer({ classic: true, heartbeat: opts.heartbeat ?? 100, authorizePath: opts.authorizePath });
  const http = new Http1Server((req, info) => pht.handle(req, info));
  const tcp = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const tasks = new Set<Promise<void>>();
  const loop = (async () => {
    for (;;) {
      try {
        const t = http.serve(await tcp.accept());
        tasks.add(t);
        t.finally(() => tasks.delete(t));
      } catch {
        return;
      }
    }
  })();
  const handlers = new Set<Promise<void>>();
  const accepting = (async () => {
    for (;;) {
      let s;
      try {
        s = await pht.accept();
      } catch {
        return;
      }
      const h = (async () => {
        const buf = new Uint8Array(65536);
        try {
          for (;;) {
            const n = await s.read(buf);
            if (n === null) break;
            await writeAll(s, buf.subarray(0, n));
          }
          await s.closeWrite();
        } catch {
          // closed
        }
      })();
      handlers.add(h);
      h.finally(() => handlers.delete(h));
    }
  })();
  return {
    addr: `127.0.0.1:${(tcp.addr as Deno.NetAddr).port}`,
    pht,
    async close() {
      tcp.close();
      pht.close();
      pht.closeSessions();
      await Promise.all([...handlers]);
      http.close();
      await loop;
      await accepting;
      while (tasks.size) await Promise.all([...tasks]);
    },
  };
}

Deno.test("pht client vs a classic server: authorize, pulls that end after each heartbeat", async () => {
  const srv = classicServer({ heartbeat: 100 });
  const d = new PhtDialer(parseDialerMetadata(new Metadata({})));
  try {
    const conn = await d.dial(srv.addr, netDial);
    await writeAll(conn, enc.encode("ping"));
    assertEquals(dec.decode(await readExactly(conn, 4)), "ping");
    await delay(350); // several heartbeat-ended pulls go by
    await writeAll(conn, enc.encode("pong"));
    assertEquals(dec.decode(await readExactly(conn, 4)), "pong");
    await conn.closeWrite();
    assertEquals(await conn.read(new Uint8Array(4)), null);
    await closeClient(conn);
  } finally {
    d.close();
    await srv.close();
  }
});

Deno.test("pht client: no authorize endpoint (404) → self-made token, served lazily", async () => {
  const ln = (await listenPht(listenerOptions({ authorizePath: "/elsewhere" }))) as PhtListener;
  const srv = serve(ln);
  const d = new PhtDialer(parseDialerMetadata(new Metadata({})));
  try {
    const conn = await d.dial(addrOf(ln), netDial);
    assert(/^[0-9a-v]{20}$/.test((conn as PhtClientConn).token));
    await writeAll(conn, enc.encode("lazy"));
    assertEquals(dec.decode(await readExactly(conn, 4)), "lazy");
    await closeClient(conn);
  } finally {
    d.close();
    await srv.stop();
  }
});

Deno.test("pht client: a self-made token against a classic server fails (403) instead of hanging", async () => {
  const srv = classicServer();
  const client = new PhtClient((req) => lane(srv.addr, req), { url: `http://${srv.addr}`, mode: "lazy" });
  try {
    const conn = await client.connect();
    assertEquals(await conn.read(new Uint8Array(4)), null, "the refused pull is EOF");
    await conn.write(enc.encode("x")); // write-behind: the refusal shows on the next write
    await delay(50);
    await assertRejects(() => conn.write(enc.encode("y")), Deno.errors.BrokenPipe, "403");
    await closeClient(conn);
  } finally {
    closeLanes();
    await srv.close();
  }
});

// A shared lane set for PhtClient tests that bring their own fetcher.
const lanes = new Map<string, Http1Lane[]>();
function lane(addr: string, req: Request): Promise<Response> {
  let pair = lanes.get(addr);
  if (!pair) {
    pair = [0, 1].map(() => new Http1Lane((signal) => netDial(addr, { signal })));
    lanes.set(addr, pair);
  }
  const isPull = req.method === "GET" && new URL(req.url).pathname === "/pull";
  return pair[isPull ? 1 : 0].fetch(req);
}
function closeLanes(): void {
  for (const pair of lanes.values()) for (const l of pair) l.close();
  lanes.clear();
}

Deno.test("pht: custom paths must match on both sides", async () => {
  const paths = { authorizePath: "/a/auth", pushPath: "/a/up", pullPath: "/a/down" };
  const ln = (await listenPht(listenerOptions(paths))) as PhtListener;
  const srv = serve(ln);
  const good = new PhtDialer(parseDialerMetadata(new Metadata(paths)));
  const bad = new PhtDialer(parseDialerMetadata(new Metadata({ ...paths, pushPath: "/wrong" })));
  try {
    const c = await good.dial(addrOf(ln), netDial);
    await writeAll(c, enc.encode("ok"));
    assertEquals(dec.decode(await readExactly(c, 2)), "ok");
    await closeClient(c);
    const b = await bad.dial(addrOf(ln), netDial);
    await b.write(enc.encode("lost"));
    await delay(50);
    await assertRejects(() => b.write(enc.encode("x")), Deno.errors.BrokenPipe, "404");
    await closeClient(b);
  } finally {
    good.close();
    bad.close();
    await srv.stop();
  }
  assertEquals(
    parseListenerMetadata(new Metadata({ "pht.pushPath": "/p", pullPath: "nope" })).pullPath,
    "/pull",
    "a path without a leading slash falls back to the default",
  );
});

Deno.test("pht: a silent pull fails the client after readTimeout; a vanished client's session expires", async () => {
  const ln = (await listenPht(listenerOptions({ heartbeat: "2s", idleTimeout: "300ms" }))) as PhtListener;
  const ended = Promise.withResolvers<string>();
  const srv = serve(ln, async (c) => {
    try {
      await readAll(c);
      ended.resolve("eof");
    } catch (err) {
      ended.resolve((err as Error).name);
    }
  });
  const d = new PhtDialer(parseDialerMetadata(new Metadata({ readTimeout: "200ms" })));
  try {
    const conn = await d.dial(addrOf(ln), netDial);
    await assertRejects(() => conn.read(new Uint8Array(8)), Deno.errors.TimedOut);
    // the client stops pulling: the server closes the session once nothing is outstanding
    assertEquals(await ended.promise, "ClosedError");
    await closeClient(conn);
  } finally {
    d.close();
    await srv.stop();
  }
});

Deno.test("pht: backpressure — a handler that does not read holds the writer after a bounded amount", async () => {
  const ln = (await listenPht(listenerOptions())) as PhtListener;
  const release = Promise.withResolvers<void>();
  const srv = serve(ln, async (c) => {
    await release.promise;
    await readAll(c);
  });
  const d = new PhtDialer(parseDialerMetadata(new Metadata({ pipeline: 4 })));
  const conn = await d.dial(addrOf(ln), netDial);
  try {
    const chunk = new Uint8Array(256 * 1024);
    let written = 0;
    let blocked = false;
    while (!blocked && written < 64 << 20) {
      const r = await Promise.race([conn.write(chunk).then((n) => n), delay(300).then(() => -1)]);
      if (r < 0) blocked = true;
      else written += r;
    }
    assert(blocked, "writes stall");
    assert(written <= 6 * chunk.length, `at most a few POSTs in flight, wrote ${written}`);
    release.resolve();
  } finally {
    release.resolve();
    await closeClient(conn);
    d.close();
    await srv.stop();
  }
});

Deno.test("pht client core over Deno's fetch (a web-standard fetcher) against the listener", async () => {
  const ln = (await listenPht(listenerOptions())) as PhtListener;
  const srv = serve(ln);
  const http = Deno.createHttpClient({});
  const client = new PhtClient((req) => fetch(req, { client: http }), { url: `http://${addrOf(ln)}` });
  try {
    const conn = await client.connect();
    const data = pattern(3 << 20, 9);
    assertEquals(await echoRoundTrip(conn, data, true), await sha256(data));
    await closeClient(conn);
  } finally {
    await srv.stop();
    http.close();
  }
});

Deno.test("pht: closing the listener drains live sessions; dialer.close() ends its sessions", async () => {
  const ln = (await listenPht(listenerOptions())) as PhtListener;
  const srv = serve(ln);
  const d = new PhtDialer(parseDialerMetadata(new Metadata({})));
  const conn = await d.dial(addrOf(ln), netDial);
  try {
    await writeAll(conn, enc.encode("first"));
    assertEquals(dec.decode(await readExactly(conn, 5)), "first");
    ln.close();
    // the live session still works after the listener closed
    await writeAll(conn, enc.encode("still"));
    assertEquals(dec.decode(await readExactly(conn, 5)), "still");
    await assertRejects(() => d.dial(addrOf(ln), netDial));
    d.close();
    await (conn as PhtClientConn).done;
  } finally {
    await srv.stop();
  }
  assertEquals(ln.connections, 0);
});

Deno.test("pht client: writes made while a POST is out gather, in order, into the next POST", async () => {
  const bodies: string[] = [];
  let releaseFirst!: () => void;
  const firstHeld = new Promise<void>((r) => (releaseFirst = r));
  const pullAc = new AbortController();
  const fetcher = async (req: Request): Promise<Response> => {
    if (req.method === "GET") {
      // A pull that stays open and silent until the test ends it.
      const body = new ReadableStream<Uint8Array>({
        start(ctrl) {
          pullAc.signal.addEventListener("abort", () => ctrl.close(), { once: true });
        },
      });
      return new Response(body, { status: 200 });
    }
    const text = await req.text();
    if (text) bodies.push(new TextDecoder().decode(Uint8Array.from(atob(text.trim()), (c) => c.charCodeAt(0))));
    if (bodies.length === 1) await firstHeld;
    return new Response(null, { status: 200 });
  };
  const client = new PhtClient(fetcher, { url: "http://pht.test", mode: "lazy", maxPushPayload: 8 });
  const conn = await client.connect();
  assertEquals(await conn.write(enc.encode("one")), 3); // goes out at once, and is held
  const buf = enc.encode("two");
  assertEquals(await conn.write(buf), 3);
  buf.set(enc.encode("XXX")); // the caller reuses its buffer: the gathered copy must not change
  assertEquals(await conn.write(enc.encode("three")), 5);
  // 8 bytes gathered = maxPushPayload: the next write waits for the held POST.
  let fourthDone = false;
  const fourth = conn.write(enc.encode("four")).then((n) => (fourthDone = true, n));
  await delay(20);
  assert(!fourthDone, "a write beyond the gathered limit waits");
  releaseFirst();
  assertEquals(await fourth, 4);
  await conn.closeWrite();
  pullAc.abort();
  conn.close();
  assertEquals(bodies, ["one", "twothree", "four"]);
});
