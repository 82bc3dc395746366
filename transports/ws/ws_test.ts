import { assert, assertEquals, assertMatch, assertRejects, assertStringIncludes } from "../../tests/assert.ts";
import { closeQuietly, writeAll } from "../_io/write_all.ts";
import { pipe } from "../_io/pipe.ts";
import { Metadata } from "../metadata.ts";
import { netDial } from "../tcp/mod.ts";
import { type Conn, HandshakeError, type RawDial } from "../types.ts";
import { wsServerHandshake } from "../_ws/mod.ts";
import {
  addrOf,
  dec,
  delay,
  echoRoundTrip,
  enc,
  listenerOptions,
  pattern,
  quietLogger,
  rawExchange,
  readAll,
  readExactly,
  serve,
  sha256,
} from "./_testing.ts";
import { describeRequest } from "./listener.ts";
import { HeaderList } from "../_ws/mod.ts";
import {
  DEFAULT_BACKLOG,
  listenWs,
  listenWss,
  parseDialerMetadata,
  parseListenerMetadata,
  WsDialer,
  type WsListener,
} from "./mod.ts";

type Md = Record<string, unknown>;

interface Kind {
  name: string;
  listen(md?: Md): Promise<WsListener>;
  dialer(md?: Md): WsDialer;
}

const KINDS: Kind[] = [
  {
    name: "ws",
    listen: async (md = {}) => (await listenWs(listenerOptions(md))) as WsListener,
    dialer: (md = {}) => new WsDialer(parseDialerMetadata(new Metadata(md))),
  },
  {
    name: "wss",
    listen: async (md = {}) => (await listenWss(listenerOptions(md))) as WsListener,
    dialer: (md = {}) => new WsDialer(parseDialerMetadata(new Metadata(md)), { secure: false }),
  },
];

const UPGRADE = (path = "/ws", extra = "") =>
  `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
  `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${extra}\r\n`;

for (const k of KINDS) {
  Deno.test(`${k.name}: hello/world, then EOF both ways`, async () => {
    const ln = await k.listen();
    const srv = serve(ln, async (c) => {
      assertEquals(dec.decode(await readExactly(c, 5)), "hello");
      await writeAll(c, enc.encode("world"));
      assertEquals(await c.read(new Uint8Array(8)), null);
    });
    const conn = await k.dialer().dial(addrOf(ln), netDial);
    try {
      await writeAll(conn, enc.encode("hello"));
      assertEquals(dec.decode(await readExactly(conn, 5)), "world");
      await conn.closeWrite();
      assertEquals(await conn.read(new Uint8Array(8)), null);
    } finally {
      conn.close();
      await srv.stop();
    }
  });

  Deno.test(`${k.name}: 32 MiB both ways at once, hashes match`, async () => {
    const ln = await k.listen();
    const srv = serve(ln);
    const conn = await k.dialer().dial(addrOf(ln), netDial);
    try {
      const data = pattern(32 << 20, 7);
      assertEquals(await echoRoundTrip(conn, data), await sha256(data));
    } finally {
      conn.close();
      await srv.stop();
    }
  });

  Deno.test(`${k.name}: half-close: the server reads to EOF, then still answers`, async () => {
    const ln = await k.listen();
    const srv = serve(ln, async (c) => {
      const got = await readAll(c);
      await writeAll(c, enc.encode(`got ${got.length} bytes`));
      await c.closeWrite();
    });
    const conn = await k.dialer().dial(addrOf(ln), netDial);
    try {
      await writeAll(conn, pattern(100_000));
      await conn.closeWrite();
      await assertRejects(() => conn.write(enc.encode("late")));
      assertEquals(dec.decode(await readAll(conn)), "got 100000 bytes");
    } finally {
      conn.close();
      await srv.stop();
    }
  });

  Deno.test(`${k.name}: a wrong path fails the dial with the 404, and the listener keeps serving`, async () => {
    const ln = await k.listen({ path: "/tunnel" });
    const srv = serve(ln);
    try {
      const err = await assertRejects(() => k.dialer().dial(addrOf(ln), netDial), HandshakeError);
      assertStringIncludes(err.message, "404");
      const conn = await k.dialer({ path: "/tunnel" }).dial(addrOf(ln), netDial);
      assertEquals(await echoRoundTrip(conn, enc.encode("ok")), await sha256(enc.encode("ok")));
      conn.close();
      assertEquals(srv.accepted(), 1);
    } finally {
      await srv.stop();
    }
  });
}

Deno.test("ws listener: bad requests get their HTTP error, never a crash; good ones still work", async () => {
  const lines: string[] = [];
  const ln = (await listenWs(listenerOptions({ handshakeTimeout: "300ms" }, quietLogger(lines)))) as WsListener;
  const srv = serve(ln);
  const addr = addrOf(ln);
  try {
    const cases: [string, string | Uint8Array, RegExp][] = [
      ["wrong path", UPGRADE("/nope"), /^HTTP\/1\.1 404 Not Found\r\n[\s\S]*404 page not found/],
      [
        "no Upgrade header",
        "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        /^HTTP\/1\.1 400 Bad Request\r\n/,
      ],
      ["no Connection header", "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n", /^HTTP\/1\.1 400 /],
      ["POST", UPGRADE().replace("GET", "POST"), /^HTTP\/1\.1 405 Method Not Allowed\r\n/],
      [
        "bad version",
        UPGRADE().replace("Version: 13", "Version: 8"),
        /^HTTP\/1\.1 400 [\s\S]*Sec-Websocket-Version: 13/,
      ],
      ["bad key", UPGRADE().replace("dGhlIHNhbXBsZSBub25jZQ==", "short"), /^HTTP\/1\.1 400 /],
      ["garbage", "\x16\x03\x01\x00\xffnot http at all\r\n\r\n", /^HTTP\/1\.1 400 Bad Request/],
      ["binary garbage", pattern(16384, 3), /^HTTP\/1\.1 4\d\d /],
      ["unfinished head", "GET /ws HTTP/1.1\r\nHost: x\r\n", /^$/],
      ["early data", UPGRADE() + "\x82\x05hello", /^$/],
      ["plain HTTP GET /", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", /^HTTP\/1\.1 404 /],
    ];
    for (const [name, req, want] of cases) {
      assertMatch(await rawExchange(addr, req), want, name);
    }
    // A bare TCP connect that closes at once.
    (await Deno.connect({ hostname: "127.0.0.1", port: (ln.addr as Deno.NetAddr).port })).close();
    const conn = await new WsDialer(parseDialerMetadata(new Metadata({}))).dial(addr, netDial);
    assertEquals(await echoRoundTrip(conn, enc.encode("still")), await sha256(enc.encode("still")));
    conn.close();
    assertEquals(srv.accepted(), 1, "only the real upgrade became a conn");
    assert(lines.some((l) => l.includes("websocket upgrade rejected") && l.includes('"status":405')));
  } finally {
    await srv.stop();
  }
});

Deno.test("wss listener: a plain-text client and a bad TLS hello are dropped; the listener keeps serving", async () => {
  const ln = (await listenWss(listenerOptions({}))) as WsListener;
  const srv = serve(ln);
  const addr = addrOf(ln);
  try {
    // Dropped with at most one TLS alert record (7 bytes), never an HTTP answer.
    for (const hello of [UPGRADE(), new Uint8Array([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5])]) {
      const answer = await rawExchange(addr, hello, true);
      assert(answer.length <= 7 && !answer.includes("HTTP"), `answer ${JSON.stringify(answer)}`);
    }
    await assertRejects(() => new WsDialer(parseDialerMetadata(new Metadata({}))).dial(addr, netDial), HandshakeError);
    const conn = await new WsDialer(parseDialerMetadata(new Metadata({})), { secure: false }).dial(addr, netDial);
    assertEquals(await echoRoundTrip(conn, enc.encode("tls")), await sha256(enc.encode("tls")));
    conn.close();
  } finally {
    await srv.stop();
  }
});

for (const k of KINDS) {
  Deno.test(`${k.name} listener: silent clients do not stall others and are cut at the handshake timeout`, async () => {
    const ln = await k.listen({ handshakeTimeout: "400ms" });
    const srv = serve(ln);
    const port = (ln.addr as Deno.NetAddr).port;
    const silent = await Promise.all(Array.from({ length: 5 }, () => Deno.connect({ hostname: "127.0.0.1", port })));
    try {
      const t0 = performance.now();
      const conn = await k.dialer().dial(addrOf(ln), netDial);
      const took = performance.now() - t0;
      assertEquals(await echoRoundTrip(conn, enc.encode("x")), await sha256(enc.encode("x")));
      conn.close();
      assert(took < 350, `dial took ${took.toFixed(0)} ms behind silent clients`);
      // Each silent conn is closed by the server once its handshake timeout passes.
      const ended = await Promise.all(silent.map(async (c) => {
        const t = performance.now();
        const n = await c.read(new Uint8Array(16)).catch(() => null);
        return { n, ms: performance.now() - t };
      }));
      for (const e of ended) {
        assertEquals(e.n, null);
        assert(e.ms < 2000, `silent conn closed after ${e.ms.toFixed(0)} ms`);
      }
      assertEquals(ln.pendingHandshakes, 0);
    } finally {
      for (const c of silent) closeQuietly(c);
      await srv.stop();
    }
  });
}

Deno.test("ws listener: a full accept queue closes the newest conn (backlog)", async () => {
  const ln = (await listenWs(listenerOptions({ backlog: 1 }))) as WsListener;
  const d = new WsDialer(parseDialerMetadata(new Metadata({})));
  const a = await d.dial(addrOf(ln), netDial);
  await delay(50);
  const b = await d.dial(addrOf(ln), netDial);
  try {
    // b was upgraded while the queue held a: the listener closed it.
    assertEquals(await b.read(new Uint8Array(4)).catch(() => null), null);
    const first = await ln.accept();
    await writeAll(first, enc.encode("one"));
    assertEquals(dec.decode(await readExactly(a, 3)), "one");
    first.close();
  } finally {
    a.close();
    b.close();
    ln.close();
    await ln.done;
  }
});

Deno.test("ws listener: close() fails pending accepts and pending handshakes, frees the port", async () => {
  const ln = (await listenWs(listenerOptions({}))) as WsListener;
  const port = (ln.addr as Deno.NetAddr).port;
  const silent = await Deno.connect({ hostname: "127.0.0.1", port });
  const pending = ln.accept();
  await delay(30);
  assertEquals(ln.pendingHandshakes, 1);
  ln.close();
  await assertRejects(() => pending, Error, "closed");
  await ln.done;
  assertEquals(await silent.read(new Uint8Array(4)).catch(() => null), null);
  silent.close();
  assertEquals(ln.pendingHandshakes, 0);
  const again = Deno.listen({ hostname: "127.0.0.1", port });
  again.close();
});

Deno.test("ws listener: custom 101 headers from the header map", async () => {
  const ln = (await listenWs(listenerOptions({ header: { "x-served-by": "dost", Foo: "bar" } }))) as WsListener;
  const srv = serve(ln);
  try {
    const buf = await rawHead(addrOf(ln));
    assertMatch(buf, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
    assertStringIncludes(buf, "Foo: bar\r\n");
    assertStringIncludes(buf, "X-Served-By: dost\r\n");
  } finally {
    await srv.stop();
  }
});

async function rawHead(addr: string): Promise<string> {
  const [hostname, port] = addr.split(":");
  const c = await Deno.connect({ hostname, port: Number(port) });
  try {
    await writeAll(c, enc.encode(UPGRADE()));
    let s = "";
    const buf = new Uint8Array(1024);
    while (!s.includes("\r\n\r\n")) {
      const n = await c.read(buf);
      if (n === null) break;
      s += dec.decode(buf.subarray(0, n));
    }
    return s;
  } finally {
    c.close();
  }
}

/** A bare handshake server that records each upgrade request; answers with an echo. */
function recordingServer(): { addr: string; requests: Map<string, string>[]; stop(): Promise<void> } {
  const ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const requests: Map<string, string>[] = [];
  const conns = new Set<Conn>();
  const tasks: Promise<void>[] = [];
  const loop = (async () => {
    for await (const c of ln) {
      conns.add(c);
      tasks.push((async () => {
        const res = await wsServerHandshake(c, { path: "/" });
        if (res.rejected) return;
        const h = new Map<string, string>();
        h.set(":path", res.request.path);
        for (const [name, v] of res.request.headers.entries) h.set(name.toLowerCase(), v);
        requests.push(h);
        conns.add(res.conn);
      })());
    }
  })();
  return {
    addr: `127.0.0.1:${(ln.addr as Deno.NetAddr).port}`,
    requests,
    async stop() {
      ln.close();
      await loop.catch(() => {});
      await Promise.all(tasks);
      for (const c of conns) closeQuietly(c);
    },
  };
}

Deno.test("ws dialer: Host is the node address with its port, or `host`; path and header as given", async () => {
  const srv = recordingServer();
  try {
    const d1 = new WsDialer(parseDialerMetadata(new Metadata({ path: "/" })));
    (await d1.dial(srv.addr, netDial)).close();
    const d2 = new WsDialer(
      parseDialerMetadata(
        new Metadata({ "ws.path": "/", host: "example.com", header: { "User-Agent": "gost/3.0", foo: "bar" } }),
      ),
    );
    (await d2.dial(srv.addr, netDial)).close();
    const d3 = new WsDialer(parseDialerMetadata(new Metadata({ path: "/", header: { Host: "override:1" } })));
    (await d3.dial(srv.addr, netDial)).close();
    await delay(20);
    const [r1, r2, r3] = srv.requests;
    assertEquals(r1.get("host"), srv.addr);
    assertEquals(r1.get("user-agent"), "Go-http-client/1.1");
    assertEquals(r1.get(":path"), "/");
    assertEquals(r2.get("host"), "example.com");
    assertEquals(r2.get("user-agent"), "gost/3.0");
    assertEquals(r2.get("foo"), "bar");
    assertEquals(r3.get("host"), "override:1");
  } finally {
    await srv.stop();
  }
});

Deno.test("ws dialer: keepalive=true sends pings every ttl and sees the pongs", async () => {
  const ln = (await listenWs(listenerOptions({}))) as WsListener;
  const srv = serve(ln);
  const conn = await new WsDialer(parseDialerMetadata(new Metadata({ keepalive: "true", ttl: "50ms" }))).dial(
    addrOf(ln),
    netDial,
  );
  try {
    const reading = conn.read(new Uint8Array(16));
    await delay(300);
    assert(conn.pongsReceived >= 3, `pongs: ${conn.pongsReceived}`);
    await conn.closeWrite();
    assertEquals(await reading, null);
  } finally {
    conn.close();
    await srv.stop();
  }
});

Deno.test("wss dialer as a second hop: TLS and WebSocket over a ws conn (not a socket)", async () => {
  // Hop 2: a wss echo service. Hop 1: a ws service that forwards each conn to hop 2 over TCP.
  const inner = (await listenWss(listenerOptions({ path: "/inner" }))) as WsListener;
  const innerSrv = serve(inner);
  const outer = (await listenWs(listenerOptions({}))) as WsListener;
  const outerSrv = serve(outer, async (c) => {
    await pipe(c, await netDial(addrOf(inner)));
  });
  const hop1 = new WsDialer(parseDialerMetadata(new Metadata({})));
  let rawConn: Conn | undefined;
  const raw: RawDial = async (addr, opts) => {
    assertEquals(addr, addrOf(inner));
    rawConn = await hop1.dial(addrOf(outer), netDial, opts);
    return rawConn;
  };
  const hop2 = new WsDialer(parseDialerMetadata(new Metadata({ path: "/inner" })), { secure: false });
  const conn = await hop2.dial(addrOf(inner), raw);
  try {
    assert(rawConn && !("setNoDelay" in rawConn), "hop 2 ran over a WsConn");
    const data = pattern(4 << 20, 11);
    assertEquals(await echoRoundTrip(conn, data), await sha256(data));
  } finally {
    conn.close();
    await outerSrv.stop();
    await innerSrv.stop();
  }
});

Deno.test("ws dialer: a server that is not WebSocket fails the dial with a HandshakeError", async () => {
  const ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serveOnce = (async () => {
    const c = await ln.accept();
    await readExactly(c, 10).catch(() => {});
    await writeAll(c, enc.encode("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
    c.close();
  })();
  try {
    const d = new WsDialer(parseDialerMetadata(new Metadata({})));
    const err = await assertRejects(
      () => d.dial(`127.0.0.1:${(ln.addr as Deno.NetAddr).port}`, netDial),
      HandshakeError,
    );
    assertStringIncludes(err.message, '"HTTP/1.1 200 OK"');
  } finally {
    await serveOnce;
    ln.close();
  }
});

Deno.test("ws metadata: GOST keys, ws. aliases, defaults", () => {
  assertEquals(parseListenerMetadata(new Metadata({})), {
    path: "/ws",
    backlog: DEFAULT_BACKLOG,
    header: undefined,
    handshakeTimeout: 10_000,
  });
  assertEquals(
    parseListenerMetadata(
      new Metadata({ "ws.path": "/a", path: "/b", backlog: "5", handshakeTimeout: "3s", header: { A: 1 } }),
    ),
    { path: "/a", backlog: 5, header: { A: "1" }, handshakeTimeout: 3000 },
  );
  assertEquals(parseListenerMetadata(new Metadata({ readHeaderTimeout: "2" })).handshakeTimeout, 2000);
  assertEquals(parseListenerMetadata(new Metadata({ backlog: 0 })).backlog, DEFAULT_BACKLOG);
  assertEquals(parseDialerMetadata(new Metadata({})), {
    host: undefined,
    path: "/ws",
    header: undefined,
    handshakeTimeout: 10_000,
    keepalive: false,
    ttl: 15_000,
  });
  const d = parseDialerMetadata(new Metadata({ "ws.host": "h:1", keepalive: "true", ttl: "15s" }));
  assertEquals([d.host, d.keepalive, d.ttl], ["h:1", true, 15_000]);
  assertEquals(parseDialerMetadata(new Metadata({ "ws.keepalive": true, "keepalive.interval": "2s" })).ttl, 2000);
  assertEquals(parseDialerMetadata(new Metadata({ keepalive: true })).ttl, 15_000);
  // ttl without keepalive does nothing, as in GOST.
  assertEquals(parseDialerMetadata(new Metadata({ ttl: "1s" })).keepalive, false);
});

Deno.test("ws listener: the trace dump of an upgrade request redacts credentials", () => {
  const text = describeRequest({
    method: "GET",
    target: "/ws?x=1",
    path: "/ws",
    query: "x=1",
    proto: "HTTP/1.1",
    headers: new HeaderList([
      ["Host", "example.com:443"],
      ["Authorization", "Basic dXNlcjpzM2NyZXQ="],
      ["Cookie", "session=abc"],
      ["Foo", "bar"],
    ]),
  });
  assertEquals(
    text,
    "GET /ws?x=1 HTTP/1.1\r\nHost: example.com:443\r\nAuthorization: [redacted]\r\nCookie: [redacted]\r\nFoo: bar",
  );
});
