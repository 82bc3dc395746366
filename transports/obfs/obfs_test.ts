import { assert, assertEquals, assertMatch, assertRejects, assertStringIncludes } from "../../tests/assert.ts";
import { closeQuietly, concat, writeAll } from "../_io/write_all.ts";
import { Logger } from "../log.ts";
import { Metadata } from "../metadata.ts";
import { netDial, TcpListener } from "../tcp/mod.ts";
import { generateCertificate } from "../tls/mod.ts";
import { type Conn, HandshakeError, type Listener, type ListenerOptions, type ServerTLSConfig } from "../types.ts";
import { delay, pattern, readAll, readExactly, sha256, tcpPair, writeChunked } from "../_testing.ts";
import { buildRequest, httpDate, ohttpAccept, OhttpClientConn } from "./_http.ts";
import { APP_DATA, clientHello, HANDSHAKE, parseClientHello, record, serverHello } from "./_hello.ts";
import { otlsAccept, OtlsClientConn, RecordReader } from "./_tls.ts";
import {
  listenOhttp,
  listenOtls,
  ObfsListener,
  ohttpDialer,
  ohttpsDialer,
  otlsDialer,
  parseOhttpDialerMetadata,
  parseOhttpListenerMetadata,
  parseOtlsDialerMetadata,
} from "./mod.ts";
import type { Dialer } from "../types.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function logger(lines?: string[]): Logger {
  return new Logger({}, { level: lines ? "debug" : "error", sink: (l) => lines?.push(l) });
}

let cert: Promise<ServerTLSConfig> | undefined;
function serverTLS(): Promise<ServerTLSConfig> {
  cert ??= generateCertificate({ dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] });
  return cert;
}

function listenerOptions(md: Record<string, unknown> = {}, lines?: string[]): ListenerOptions {
  return { addr: "127.0.0.1:0", metadata: new Metadata(md), tls: serverTLS, log: logger(lines) };
}

function addrOf(ln: Listener): string {
  const a = ln.addr as Deno.NetAddr;
  return `${a.hostname}:${a.port}`;
}

/** Echoes until EOF, then half-closes. */
async function echo(c: Conn): Promise<void> {
  const buf = new Uint8Array(64 * 1024);
  for (;;) {
    const n = await c.read(buf);
    if (n === null) break;
    await writeAll(c, buf.subarray(0, n));
  }
  await c.closeWrite();
}

/** Serves `ln` with `handle` per conn; `stop()` closes everything and waits. */
function serve(ln: Listener & { done?: Promise<void> }, handle: (c: Conn) => Promise<void> = echo) {
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

/** Connects raw TCP, sends `bytes`, half-closes and returns all the server sent until it closed. */
async function rawExchange(addr: string, bytes: Uint8Array): Promise<Uint8Array> {
  const [hostname, port] = addr.split(":");
  const c = await Deno.connect({ hostname, port: Number(port) });
  try {
    // The server may close (and reset) while a long garbage write is still going: that is the point.
    await writeAll(c, bytes).then(() => c.closeWrite()).catch(() => {});
    return await readAll(c).catch(() => new Uint8Array(0));
  } finally {
    closeQuietly(c);
  }
}

interface Kind {
  name: string;
  listen(lines?: string[]): Promise<Listener & { done?: Promise<void> }>;
  dialer(md?: Record<string, unknown>): Dialer;
}

const KINDS: Kind[] = [
  {
    name: "ohttp",
    listen: (lines) => listenOhttp(listenerOptions({}, lines)),
    dialer: (md = {}) => ohttpDialer({ metadata: new Metadata(md), tls: { secure: false }, log: logger() }),
  },
  {
    name: "otls",
    listen: (lines) => listenOtls(listenerOptions({}, lines)),
    dialer: (md = {}) => otlsDialer({ metadata: new Metadata(md), tls: { secure: false }, log: logger() }),
  },
  {
    name: "ohttps (plain ohttp, as gost)",
    listen: (lines) => listenOhttp(listenerOptions({}, lines)),
    dialer: (md = {}) => ohttpsDialer({ metadata: new Metadata(md), tls: { secure: false }, log: logger() }),
  },
];

for (const k of KINDS) {
  Deno.test(`${k.name}: hello/world, then EOF both ways`, async () => {
    const ln = await k.listen();
    const srv = serve(ln, async (c) => {
      assertEquals(dec.decode(await readExactly(c, 5)), "hello");
      await writeAll(c, enc.encode("world"));
      assertEquals(await c.read(new Uint8Array(8)), null);
      await c.closeWrite();
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

  Deno.test(`${k.name}: 32 MiB both ways at once through an echo, hashes match`, async () => {
    const ln = await k.listen();
    const srv = serve(ln);
    const data = pattern(32 << 20, 7);
    const conn = await k.dialer().dial(addrOf(ln), netDial);
    try {
      const [, back] = await Promise.all([
        writeChunked(conn, data).then(() => conn.closeWrite()),
        readAll(conn, 1 << 20),
      ]);
      assertEquals(back.length, data.length);
      assertEquals(await sha256(back), await sha256(data));
    } finally {
      conn.close();
      await srv.stop();
    }
  });

  Deno.test(`${k.name}: half-close with no data sent still ends the stream both ways`, async () => {
    const ln = await k.listen();
    let got: number | null = -1;
    const srv = serve(ln, async (c) => {
      got = await c.read(new Uint8Array(8));
      await c.closeWrite();
    });
    const conn = await k.dialer().dial(addrOf(ln), netDial);
    try {
      await conn.closeWrite();
      assertEquals(await conn.read(new Uint8Array(8)), null);
      assertEquals(got, null);
    } finally {
      conn.close();
      await srv.stop();
    }
  });

  Deno.test(`${k.name}: a server that speaks first works (the client's read sends the handshake)`, async () => {
    const ln = await k.listen();
    const srv = serve(ln, async (c) => {
      await writeAll(c, enc.encode("220 banner\r\n"));
      assertEquals(dec.decode(await readExactly(c, 4)), "QUIT");
      await c.closeWrite();
    });
    const conn = await k.dialer().dial(addrOf(ln), netDial);
    try {
      assertEquals(dec.decode(await readExactly(conn, 12)), "220 banner\r\n");
      await writeAll(conn, enc.encode("QUIT"));
      assertEquals(await conn.read(new Uint8Array(8)), null);
    } finally {
      conn.close();
      await srv.stop();
    }
  });

  Deno.test(`${k.name}: a first write of 100 KiB each way arrives whole`, async () => {
    const ln = await k.listen();
    const big = pattern(100 * 1024, 3);
    const srv = serve(ln, async (c) => {
      assertEquals(await sha256(await readExactly(c, big.length)), await sha256(big));
      // gost's otls server sends only the first 16 KiB record of its first write.
      await c.write(big);
      await c.closeWrite();
    });
    const conn = await k.dialer().dial(addrOf(ln), netDial);
    try {
      assertEquals(await conn.write(big), big.length);
      const back = await readAll(conn);
      assertEquals(await sha256(back), await sha256(big));
    } finally {
      conn.close();
      await srv.stop();
    }
  });

  Deno.test(`${k.name}: 20 concurrent conns`, async () => {
    const ln = await k.listen();
    const srv = serve(ln);
    try {
      await Promise.all(Array.from({ length: 20 }, async (_, i) => {
        const conn = await k.dialer().dial(addrOf(ln), netDial);
        try {
          const data = pattern(200_000 + i, i + 1);
          const [, back] = await Promise.all([
            writeChunked(conn, data, 7000).then(() => conn.closeWrite()),
            readAll(conn),
          ]);
          assertEquals(await sha256(back), await sha256(data));
        } finally {
          conn.close();
        }
      }));
      assertEquals(srv.accepted(), 20);
    } finally {
      await srv.stop();
    }
  });
}

/** One good client through `ln` after the bad input, proving the listener still serves. */
async function assertStillServes(k: Kind, ln: Listener): Promise<void> {
  const conn = await k.dialer().dial(addrOf(ln), netDial);
  try {
    await writeAll(conn, enc.encode("ping"));
    await conn.closeWrite();
    assertEquals(dec.decode(await readAll(conn)), "ping");
  } finally {
    conn.close();
  }
}

const OHTTP = KINDS[0];
const OTLS = KINDS[1];

Deno.test("ohttp listener: a non-upgrade request gets gost's 400 and a close; the listener keeps serving", async () => {
  const lines: string[] = [];
  const ln = await OHTTP.listen(lines);
  const srv = serve(ln);
  try {
    const res = dec.decode(await rawExchange(addrOf(ln), enc.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\nhello")));
    assertMatch(
      res,
      /^HTTP\/1\.1 400 Bad Request\r\nDate: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d UTC\r\nContent-Length: 0\r\n\r\n$/,
    );
    await assertStillServes(OHTTP, ln);
    assertEquals(srv.accepted(), 1);
    assert(
      lines.some((l) => l.includes("ohttp handshake failed") && l.includes("not an upgrade request")),
      lines.join("\n"),
    );
  } finally {
    await srv.stop();
  }
});

Deno.test("ohttp listener: garbage, an oversized head and a truncated head each close only their conn", async () => {
  const lines: string[] = [];
  const ln = await OHTTP.listen(lines);
  const srv = serve(ln);
  try {
    const huge = enc.encode(`GET / HTTP/1.1\r\nX-Big: ${"a".repeat(70 * 1024)}\r\n\r\n`);
    const outs = await Promise.all([
      rawExchange(addrOf(ln), crypto.getRandomValues(new Uint8Array(3000))),
      rawExchange(addrOf(ln), huge),
      rawExchange(addrOf(ln), enc.encode("GET / HTTP/1.1\r\nHost: x\r\n")),
      rawExchange(addrOf(ln), new Uint8Array(0)),
    ]);
    for (const o of outs) assertEquals(o.length, 0);
    await assertStillServes(OHTTP, ln);
    assertEquals(srv.accepted(), 1);
    assertStringIncludes(lines.join("\n"), "exceeds 65536 bytes");
    assert(lines.filter((l) => l.includes('"level":"warn"')).length >= 3, lines.join("\n"));
  } finally {
    await srv.stop();
  }
});

Deno.test("otls listener: garbage, HTTP, a truncated and a malformed ClientHello each close only their conn", async () => {
  const lines: string[] = [];
  const ln = await OTLS.listen(lines);
  const srv = serve(ln);
  try {
    const good = clientHello("example.com", enc.encode("x"));
    const badBody = good.slice();
    badBody[5] = 0x02; // handshake type server_hello
    const overrun = good.slice();
    overrun[8] = 0xff; // ClientHello length past the record
    const outs = await Promise.all([
      rawExchange(addrOf(ln), crypto.getRandomValues(new Uint8Array(3000)).map((b, i) => (i === 0 ? 0x42 : b))),
      rawExchange(addrOf(ln), enc.encode("GET / HTTP/1.1\r\n\r\n")),
      rawExchange(addrOf(ln), good.subarray(0, 40)),
      rawExchange(addrOf(ln), badBody),
      rawExchange(addrOf(ln), overrun),
      rawExchange(addrOf(ln), record(HANDSHAKE, 0x0200, new Uint8Array(10))),
    ]);
    for (const o of outs) assertEquals(o.length, 0);
    await assertStillServes(OTLS, ln);
    assertEquals(srv.accepted(), 1);
    const text = lines.join("\n");
    for (
      const want of ["not a TLS handshake", "closed inside the ClientHello", "not client_hello", "is not TLS (3.x)"]
    ) {
      assertStringIncludes(text, want);
    }
  } finally {
    await srv.stop();
  }
});

Deno.test("otls: bad records after the handshake fail that conn's reads, nothing else", async () => {
  const ln = await OTLS.listen();
  let err: unknown;
  const srv = serve(ln, async (c) => {
    try {
      await echo(c);
    } catch (e) {
      err = e;
    }
  });
  try {
    await rawExchange(addrOf(ln), concat(clientHello("x", enc.encode("hi")), record(0x18, 0x0303, new Uint8Array(3))));
    assert(err instanceof Deno.errors.InvalidData, String(err));
    assertStringIncludes(String(err), "unexpected record type 0x18");
    await assertStillServes(OTLS, ln);
  } finally {
    await srv.stop();
  }
});

Deno.test("obfs listeners: a silent client times out without holding up others; close releases pending handshakes", async () => {
  const lines: string[] = [];
  const ln = new ObfsListener(
    TcpListener.listen("127.0.0.1:0"),
    "otls",
    async (raw) => ({ conn: (await otlsAccept(raw)).conn }),
    logger(lines),
    300,
  );
  const srv = serve(ln);
  const [hostname, port] = addrOf(ln).split(":");
  const silent = await Deno.connect({ hostname, port: Number(port) });
  let late: Deno.Conn | undefined;
  try {
    await assertStillServes(OTLS, ln);
    assertEquals(await silent.read(new Uint8Array(1)), null);
    assertStringIncludes(lines.join("\n"), "otls handshake timed out after 300 ms");
    late = await Deno.connect({ hostname, port: Number(port) });
    while (ln.pendingHandshakes === 0) await delay(5);
  } finally {
    await srv.stop();
  }
  assertEquals(ln.pendingHandshakes, 0);
  assertEquals(await late.read(new Uint8Array(1)), null);
  closeQuietly(silent);
  closeQuietly(late);
});

Deno.test("ohttp client: the request has gost's layout (Go's Request.Write), path and header honoured", () => {
  const req = dec.decode(buildRequest("127.0.0.1:8443", "/", undefined));
  assertMatch(
    req,
    /^GET \/ HTTP\/1\.1\r\nHost: 127\.0\.0\.1:8443\r\nUser-Agent: Go-http-client\/1\.1\r\nConnection: Upgrade\r\nSec-Websocket-Key: [A-Za-z0-9+/]{22}==\r\nUpgrade: websocket\r\n\r\n$/,
  );
  const custom = dec.decode(
    buildRequest("cdn.example", "/x", { "user-agent": "curl/8", "x-a": "1\r\nInjected: yes", host: "ignored" }),
  );
  assertMatch(custom, /^GET \/x HTTP\/1\.1\r\nHost: cdn\.example\r\nUser-Agent: curl\/8\r\nConnection: Upgrade\r\n/);
  assertStringIncludes(custom, "X-A: 1 Injected: yes\r\n");
  assert(!custom.includes("ignored"));
});

Deno.test("ohttp server: 101 with gost's headers, sent with the first write when data followed the request", async () => {
  const [a, b] = await tcpPair();
  try {
    const key = "dGhlIHNhbXBsZSBub25jZQ==";
    await writeAll(
      a,
      enc.encode(`GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nSec-WebSocket-Key: ${key}\r\n\r\nearly`),
    );
    const { conn } = await ohttpAccept(b, { header: { "x-served-by": "dost" } });
    assertEquals(dec.decode(await readExactly(conn, 5)), "early");
    await writeAll(conn, enc.encode("late"));
    await conn.closeWrite();
    const res = dec.decode(await readAll(a));
    assertMatch(
      res,
      /^HTTP\/1\.1 101 Switching Protocols\r\nConnection: Upgrade\r\nDate: .+ UTC\r\nSec-Websocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\nUpgrade: websocket\r\nX-Served-By: dost\r\n\r\nlate$/,
    );
    conn.close();
  } finally {
    closeQuietly(a);
    closeQuietly(b);
  }
});

Deno.test("ohttp client: a non-101 answer fails the read; a close before any answer is EOF", async () => {
  for (
    const [answer, check] of [
      ["HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", "400 Bad Request"],
      ["", null],
    ] as const
  ) {
    const [a, b] = await tcpPair();
    const conn = new OhttpClientConn(a, buildRequest("h", "/"));
    try {
      const server = (async () => {
        await readAll({ read: (p: Uint8Array) => b.read(p) }).catch(() => {});
      })();
      await writeAll(conn, enc.encode("x"));
      await conn.closeWrite();
      await server;
      if (answer) await writeAll(b, enc.encode(answer));
      await b.closeWrite();
      if (check) {
        const err = await assertRejects(() => conn.read(new Uint8Array(8)), HandshakeError);
        assertStringIncludes(err.message, check);
      } else {
        assertEquals(await conn.read(new Uint8Array(8)), null);
      }
    } finally {
      conn.close();
      closeQuietly(b);
    }
  }
});

Deno.test("httpDate: Go's time.RFC1123 in UTC", () => {
  assertEquals(httpDate(new Date(Date.UTC(2026, 11, 3, 14, 23, 48))), "Thu, 03 Dec 2026 14:23:48 UTC");
});

/** A ClientHello gost 3.2.6's otls client sent (relay request + HTTP GET in its ticket), captured on loopback. */
const GOST_CLIENT_HELLO =
  "160301014c0100014803036b117b4ff7aaf460fb40c08e6720929ce9b0746b5ce7b0be14539f793bc211b720f660677d6e238a9aa46fa5" +
  "284f921b6af829e038e554e3e895ccd0c6c92a1ff50038c02cc030009fcca9cca8ccaac02bc02f009ec024c028006bc023c0270067c00a" +
  "c0140039c009c0130033009d009c003d003c0035002f00ff010000c70023006901010016020013030f6578616d706c652e696e76616c69" +
  "640050474554202f20485454502f312e310d0a486f73743a206578616d706c652e696e76616c69640d0a557365722d4167656e743a2063" +
  "75726c2f372e38382e310d0a4163636570743a202a2f2a0d0a0d0a00000014001200000f3132372e302e302e313a3139303031000b0004" +
  "03010002000a000a0008001d001700190018000d0020001e06010602060305010502050304010402040303010302030302010202020300" +
  "16000000170000";

function fromHex(h: string): Uint8Array {
  return new Uint8Array(h.match(/../g)!.map((x) => parseInt(x, 16)));
}

Deno.test("otls hello: gost's ClientHello parses; dost's has the same layout, only random bytes differ", () => {
  const gost = fromHex(GOST_CLIENT_HELLO);
  const parsed = parseClientHello(gost.subarray(5));
  assertEquals(parsed.sessionId.length, 32);
  assertEquals(parsed.serverName, "127.0.0.1:19001");
  assertStringIncludes(dec.decode(parsed.ticket), "GET / HTTP/1.1\r\nHost: example.invalid\r\n");
  assertEquals(parsed.ticket.subarray(0, 4), new Uint8Array([1, 1, 0, 0x16]));

  const ours = clientHello("127.0.0.1:19001", parsed.ticket);
  assertEquals(ours.length, gost.length);
  // Record header, handshake header and version; then after random (32) + session id (33): everything.
  assertEquals(ours.subarray(0, 11), gost.subarray(0, 11));
  assertEquals(ours.subarray(11 + 32 + 33), gost.subarray(11 + 32 + 33));
});

Deno.test("otls hello: the ServerHello is the 91 bytes gost's client skips, then ChangeCipherSpec", () => {
  const sid = crypto.getRandomValues(new Uint8Array(32));
  const out = serverHello(sid);
  assertEquals(out.subarray(0, 5), new Uint8Array([0x16, 0x03, 0x01, 0x00, 91]));
  assertEquals(out.length, 5 + 91 + 6);
  assertEquals(out.subarray(5 + 39, 5 + 39 + 32), sid);
  // cipher, compression, extensions: renegotiation_info, extended_master_secret, ec_point_formats.
  assertEquals(
    out.subarray(5 + 71, 5 + 91),
    fromHex("cca800000fff0100010000170000000b00020100"),
  );
  assertEquals(out.subarray(96), fromHex("140303000101"));
});

Deno.test("otls server: ticket first, then records read ahead with the hello; first reply record is typed handshake", async () => {
  const [a, b] = await tcpPair();
  try {
    await writeAll(a, concat(clientHello("x", enc.encode("one")), record(APP_DATA, 0x0303, enc.encode("two"))));
    const { conn } = await otlsAccept(b);
    assertEquals(dec.decode(await readExactly(conn, 6)), "onetwo");
    await writeAll(conn, enc.encode("r1"));
    await writeAll(conn, enc.encode("r2"));
    await conn.closeWrite();
    const got = await readAll(a);
    assertEquals(got.length, 102 + 7 + 7);
    assertEquals(
      got.subarray(102),
      concat(record(HANDSHAKE, 0x0303, enc.encode("r1")), record(APP_DATA, 0x0303, enc.encode("r2"))),
    );
    conn.close();
  } finally {
    closeQuietly(a);
    closeQuietly(b);
  }
});

Deno.test("otls reader: every split of a record stream, even inside a header, yields the payload exactly", () => {
  const payloads = [pattern(300, 1), new Uint8Array(0), pattern(16384, 2), pattern(7, 3)];
  const stream = concat(
    serverHello(new Uint8Array(32)),
    record(HANDSHAKE, 0x0303, payloads[0]),
    ...payloads.slice(1).map((p) => record(APP_DATA, 0x0303, p)),
  );
  const want = concat(...payloads);
  for (const sizes of [[1], [2], [3], [4], [5], [6], [4096], [16389], [101, 5, 3, 7]]) {
    const r = new RecordReader("client");
    const out: Uint8Array[] = [];
    let off = 0;
    for (let i = 0; off < stream.length; i++) {
      const n = Math.min(sizes[i % sizes.length], stream.length - off);
      const buf = stream.slice(off, off + n);
      off += n;
      out.push(buf.slice(0, r.parse(buf, n)));
    }
    assert(!r.inRecord);
    assertEquals(concat(...out), want, `split ${sizes}`);
  }
});

Deno.test("otls client: a stream that ends inside a record is an error, not a silent EOF", async () => {
  const [a, b] = await tcpPair();
  const conn = new OtlsClientConn(a, "x");
  try {
    await writeAll(conn, enc.encode("hi"));
    await writeAll(
      b,
      concat(serverHello(new Uint8Array(32)), record(HANDSHAKE, 0x0303, enc.encode("abc")).subarray(0, 6)),
    );
    await b.closeWrite();
    await assertRejects(() => readAll(conn), Deno.errors.UnexpectedEof);
  } finally {
    conn.close();
    closeQuietly(b);
  }
});

Deno.test("otls client: a first write larger than one record continues in data records", async () => {
  const [a, b] = await tcpPair();
  const conn = new OtlsClientConn(a, "example.com");
  try {
    const big = pattern(40_000, 9);
    await writeAll(conn, big);
    await conn.closeWrite();
    const { conn: srv, hello } = await otlsAccept(b);
    assert(hello.ticket.length > 16000 && hello.ticket.length < 16384);
    assertEquals(hello.serverName, "example.com");
    assertEquals(await sha256(await readAll(srv)), await sha256(big));
    srv.close();
  } finally {
    conn.close();
    closeQuietly(b);
  }
});

Deno.test("obfs metadata: gost's keys and aliases", () => {
  assertEquals(parseOhttpDialerMetadata(new Metadata({})), { host: undefined, path: "/", header: undefined });
  assertEquals(
    parseOhttpDialerMetadata(new Metadata({ "obfs.host": "a.example", host: "b", path: "x", header: { A: "1" } })),
    { host: "a.example", path: "/x", header: { A: "1" } },
  );
  assertEquals(parseOhttpDialerMetadata(new Metadata({ "obfs.path": "/p", "obfs.header": { B: "2" } })).path, "/p");
  assertEquals(parseOhttpDialerMetadata(new Metadata({ host: "" })).host, undefined);
  assertEquals(parseOhttpListenerMetadata(new Metadata({ header: { Server: "nginx" } })), {
    header: { Server: "nginx" },
  });
  assertEquals(parseOtlsDialerMetadata(new Metadata({ host: "bing.com" })), { host: "bing.com" });
  for (const bad of [{ host: "a b" }, { path: "/x\r\nEvil: 1" }]) {
    let threw = false;
    try {
      parseOhttpDialerMetadata(new Metadata(bad));
    } catch (e) {
      threw = e instanceof TypeError;
    }
    assert(threw, JSON.stringify(bad));
  }
  const md = new Metadata({ mptcp: true, host: "h" });
  parseOhttpListenerMetadata(md);
  parseOtlsDialerMetadata(md);
  assertEquals(md.unasked(), ["mptcp"]); // refused by the config builder: dost cannot do MPTCP
});
