import { assert, assertEquals, assertStringIncludes } from "../../tests/assert.ts";
import { StaticAuthenticator } from "../auth.ts";
import { BufferedConn } from "../../transports/_io/buffered_conn.ts";
import { closeQuietly, concat, writeAll } from "../../transports/_io/write_all.ts";
import type { Handler } from "../types.ts";
import { socks5Handler } from "./handler.ts";
import { encodeRequest, encodeUserPass, readFull } from "./protocol.ts";
import {
  bytes,
  curl,
  echoServer,
  handlerOptions,
  hasBinary,
  httpServer,
  rawExchange,
  readAll,
  RecordingConn,
  RecordingRouter,
  serve,
} from "./_testing.ts";

const HAVE_CURL = hasBinary("curl");
const auther = new StaticAuthenticator([{ username: "user", password: "p@ss word" }]);
const enc = (s: string) => new TextEncoder().encode(s);
const ZERO = [0x01, 0, 0, 0, 0, 0, 0];

Deno.test({
  name: "socks5 handler: curl --socks5 and --socks5-hostname reach a local HTTP server",
  ignore: !HAVE_CURL,
  async fn() {
    const web = httpServer();
    const router = new RecordingRouter();
    const srv = serve(socks5Handler(handlerOptions({ router })));
    try {
      const a = await curl(["--socks5", srv.addr, `http://127.0.0.1:${web.port}/ip`]);
      assertEquals([a.code, a.stdout], [0, "hello /ip"], a.stderr);
      const b = await curl(["--socks5-hostname", srv.addr, `http://localhost:${web.port}/name`]);
      assertEquals([b.code, b.stdout], [0, "hello /name"], b.stderr);
      assertEquals(router.addrs, [`127.0.0.1:${web.port}`, `localhost:${web.port}`]);
      const results = await srv.handled(2);
      assertEquals(results.map((r) => r.target).sort(), [`127.0.0.1:${web.port}`, `localhost:${web.port}`]);
      assert(results.every((r) => r.error === undefined && r.inBytes! > 0 && r.outBytes! > 0), Deno.inspect(results));
    } finally {
      await srv.close();
      await web.close();
    }
  },
});

Deno.test({
  name: "socks5 handler: RFC 1929 auth with curl (right, wrong and missing password)",
  ignore: !HAVE_CURL,
  async fn() {
    const web = httpServer();
    const srv = serve(socks5Handler(handlerOptions({ auther })));
    const url = `http://localhost:${web.port}/auth`;
    try {
      const ok = await curl(["--proxy", `socks5h://user:p%40ss%20word@${srv.addr}`, url]);
      assertEquals([ok.code, ok.stdout], [0, "hello /auth"], ok.stderr);
      const bad = await curl(["--proxy", `socks5h://user:nope@${srv.addr}`, url]);
      assert(bad.code !== 0 && bad.stdout === "", `wrong password must fail: ${bad.code} ${bad.stderr}`);
      const none = await curl(["--proxy", `socks5h://${srv.addr}`, url]);
      assert(none.code !== 0 && none.stdout === "", `no credentials must fail: ${none.code} ${none.stderr}`);
      const results = await srv.handled(3);
      assertEquals(results[0].fields, { user: "user" });
      assertEquals(results.filter((r) => r.error?.constructor.name === "AuthError").length, 2);
    } finally {
      await srv.close();
      await web.close();
    }
  },
});

Deno.test({
  name: "socks5 handler: reads through a BufferedConn whose first byte was peeked (auto handler)",
  ignore: !HAVE_CURL,
  async fn() {
    const web = httpServer();
    const inner = socks5Handler(handlerOptions());
    const peeking: Handler = {
      async handle(conn, signal) {
        const b = new BufferedConn(conn);
        await b.peek(1);
        return inner.handle(b, signal);
      },
    };
    const srv = serve(peeking);
    try {
      const r = await curl(["--socks5-hostname", srv.addr, `http://localhost:${web.port}/peeked`]);
      assertEquals([r.code, r.stdout], [0, "hello /peeked"], r.stderr);
    } finally {
      await srv.close();
      await web.close();
    }
  },
});

Deno.test("socks5 handler: byte-exact replies, the success reply is a write of its own", async () => {
  const banner = echoServer("220 banner\r\n");
  let rec: RecordingConn | undefined;
  const srv = serve(socks5Handler(handlerOptions()), (c) => (rec = new RecordingConn(c)));
  const c = await Deno.connect({ hostname: "127.0.0.1", port: srv.port });
  try {
    await writeAll(c, bytes(0x05, 0x01, 0x00));
    assertEquals(await readFull(c, 2), bytes(0x05, 0x00));
    await writeAll(c, encodeRequest(0x01, `127.0.0.1:${banner.port}`));
    const reply = await readFull(c, 10);
    assertEquals(Array.from(reply.subarray(0, 8)), [0x05, 0x00, 0x00, 0x01, 127, 0, 0, 1]);
    const bndPort = (reply[8] << 8) | reply[9];
    assert(bndPort > 0);
    assertEquals(new TextDecoder().decode(await readFull(c, 12)), "220 banner\r\n");
    c.closeWrite();
    assertEquals((await readAll(c)).length, 0);
    await srv.handled(1);
    const w = rec!.writes;
    assertEquals(w[0], bytes(0x05, 0x00));
    assertEquals(w[1], reply, "the reply is written alone");
    assertEquals(new TextDecoder().decode(w[2]), "220 banner\r\n");
    assertEquals(srv.results[0].outBytes, 12);
  } finally {
    closeQuietly(c);
    await srv.close();
    await banner.close();
  }
});

Deno.test("socks5 handler: payload glued behind the request is not lost", async () => {
  const echo = echoServer();
  const srv = serve(socks5Handler(handlerOptions()));
  try {
    const out = await rawExchange(
      srv.port,
      concat(bytes(0x05, 0x01, 0x00), encodeRequest(0x01, `127.0.0.1:${echo.port}`), enc("ping")),
      true,
    );
    assertEquals(Array.from(out.subarray(0, 5)), [0x05, 0x00, 0x05, 0x00, 0x00]);
    assertEquals(new TextDecoder().decode(out.subarray(12)), "ping");
  } finally {
    await srv.close();
    await echo.close();
  }
});

Deno.test("socks5 handler: garbage gets the protocol's error reply and a close; the next client is served", async () => {
  const echo = echoServer();
  const srv = serve(socks5Handler(handlerOptions({ md: { readTimeout: "2s" } })));
  const greet = bytes(0x05, 0x01, 0x00);
  const cases: [string, Uint8Array, number[]][] = [
    ["bad version", bytes(0x04, 0x01, 0x00, 0x50, 127, 0, 0, 1, 0), []],
    ["NMETHODS = 0", bytes(0x05, 0x00), []],
    ["HTTP instead of SOCKS", enc("GET / HTTP/1.1\r\n\r\n"), []],
    ["only 0x02 offered to a server without auth", bytes(0x05, 0x01, 0x02), [0x05, 0xff]],
    ["bad ATYP", concat(greet, bytes(0x05, 0x01, 0x00, 0x09, 1, 2, 3, 4, 0, 80)), [
      0x05,
      0x00,
      0x05,
      0x08,
      0x00,
      ...ZERO,
    ]],
    ["unknown command", concat(greet, bytes(0x05, 0x09, 0x00, 0x01, 127, 0, 0, 1, 0, 80)), [
      0x05,
      0x00,
      0x05,
      0x07,
      0x00,
      ...ZERO,
    ]],
    ["bad request version", concat(greet, bytes(0x04, 0x01, 0x00, 0x01, 127, 0, 0, 1, 0, 80)), [0x05, 0x00]],
    ["truncated greeting", bytes(0x05, 0x03, 0x00), []],
    ["truncated request", concat(greet, bytes(0x05, 0x01, 0x00, 0x01, 127, 0)), [0x05, 0x00]],
    ["truncated domain", concat(greet, bytes(0x05, 0x01, 0x00, 0x03, 0x20, 0x61)), [0x05, 0x00]],
  ];
  try {
    for (const [name, input, want] of cases) {
      const out = await rawExchange(srv.port, input, true);
      assertEquals(Array.from(out), want, name);
    }
    const results = await srv.handled(cases.length);
    assert(results.every((r) => r.error !== undefined), "every garbage case reports an error");
    // Still serving.
    const ok = await rawExchange(
      srv.port,
      concat(greet, encodeRequest(0x01, `127.0.0.1:${echo.port}`), enc("still here")),
      true,
    );
    assertEquals(new TextDecoder().decode(ok.subarray(12)), "still here");
  } finally {
    await srv.close();
    await echo.close();
  }
});

Deno.test("socks5 handler: failed dials answer 05 (refused) and 04 (unknown host), then close", async () => {
  const ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closedPort = ln.addr.port;
  ln.close();
  const srv = serve(socks5Handler(handlerOptions()));
  const greet = bytes(0x05, 0x01, 0x00);
  try {
    const refused = await rawExchange(srv.port, concat(greet, encodeRequest(0x01, `127.0.0.1:${closedPort}`)));
    assertEquals(Array.from(refused), [0x05, 0x00, 0x05, 0x05, 0x00, ...ZERO]);
    const unknown = await rawExchange(srv.port, concat(greet, encodeRequest(0x01, "no-such-host.invalid:80")));
    assertEquals(Array.from(unknown.subarray(0, 4)), [0x05, 0x00, 0x05, 0x04]);
    const results = await srv.handled(2);
    assertEquals(results.map((r) => r.target), [`127.0.0.1:${closedPort}`, "no-such-host.invalid:80"]);
  } finally {
    await srv.close();
  }
});

Deno.test("socks5 handler: BIND, MBIND, UDP and UDP-TUN answer 02 when disabled", async () => {
  const off = serve(socks5Handler(handlerOptions()));
  const on = serve(socks5Handler(handlerOptions({ md: { bind: "true", udp: "true" } })));
  const greet = bytes(0x05, 0x01, 0x00);
  const cmds: [number, string][] = [[0x02, "0.0.0.0:0"], [0xf2, "0.0.0.0:2222"], [0x03, "0.0.0.0:0"], [
    0xf3,
    "0.0.0.0:0",
  ], [0xf3, "0.0.0.0:53"]];
  try {
    for (const [cmd, addr] of cmds) {
      const out = await rawExchange(off.port, concat(greet, encodeRequest(cmd, addr)));
      assertEquals(Array.from(out), [0x05, 0x00, 0x05, 0x02, 0x00, ...ZERO], `cmd 0x${cmd.toString(16)} ${addr}`);
    }
    // UDP-TUN with a port needs `bind`, without one `udp` (the enabled commands are tested in bind_test.ts).
    const udpOnly = serve(socks5Handler(handlerOptions({ md: { udp: "true" } })));
    try {
      const a = await rawExchange(udpOnly.port, concat(greet, encodeRequest(0xf3, "0.0.0.0:0")), true);
      const b = await rawExchange(udpOnly.port, concat(greet, encodeRequest(0xf3, "0.0.0.0:53")));
      assertEquals([a[3], b[3]], [0x00, 0x02]);
    } finally {
      await udpOnly.close();
    }
  } finally {
    await off.close();
    await on.close();
  }
});

Deno.test("socks5 handler: RFC 1929 bytes: 01 00 on success, 01 01 and a close on failure", async () => {
  const echo = echoServer();
  const srv = serve(socks5Handler(handlerOptions({ auther })));
  try {
    const bad = await rawExchange(srv.port, concat(bytes(0x05, 0x02, 0x00, 0x02), encodeUserPass("user", "x")));
    assertEquals(Array.from(bad), [0x05, 0x02, 0x01, 0x01]);
    const badVer = await rawExchange(srv.port, bytes(0x05, 0x01, 0x02, 0x05, 0x01, 0x61, 0x01, 0x62));
    assertEquals(Array.from(badVer), [0x05, 0x02]);
    const good = await rawExchange(
      srv.port,
      concat(
        bytes(0x05, 0x01, 0x02),
        encodeUserPass("user", "p@ss word"),
        encodeRequest(0x01, `127.0.0.1:${echo.port}`),
        enc("x"),
      ),
      true,
    );
    assertEquals(Array.from(good.subarray(0, 7)), [0x05, 0x02, 0x01, 0x00, 0x05, 0x00, 0x00]);
    assertEquals(new TextDecoder().decode(good.subarray(14)), "x");
    const results = await srv.handled(3);
    assertEquals(results.map((r) => r.fields?.user), ["user", undefined, "user"]);
  } finally {
    await srv.close();
    await echo.close();
  }
});

Deno.test("socks5 handler: readTimeout closes a silent client", async () => {
  const srv = serve(socks5Handler(handlerOptions({ md: { readTimeout: "200ms" } })));
  const c = await Deno.connect({ hostname: "127.0.0.1", port: srv.port });
  try {
    const t0 = performance.now();
    await writeAll(c, bytes(0x05, 0x01)); // greeting cut short, then silence
    assertEquals((await readAll(c)).length, 0);
    const took = performance.now() - t0;
    assert(took >= 150 && took < 3000, `closed after ${took} ms`);
    const [r] = await srv.handled(1);
    assert(r.error instanceof Deno.errors.TimedOut, `got ${r.error}`);
    assertStringIncludes((r.error as Error).message, "timed out");
  } finally {
    closeQuietly(c);
    await srv.close();
  }
});

Deno.test("socks5 handler: shutdown signal ends a live relay", async () => {
  const echo = echoServer();
  const srv = serve(socks5Handler(handlerOptions()));
  const c = await Deno.connect({ hostname: "127.0.0.1", port: srv.port });
  try {
    await writeAll(c, concat(bytes(0x05, 0x01, 0x00), encodeRequest(0x01, `127.0.0.1:${echo.port}`)));
    await readFull(c, 12);
    await srv.close(); // aborts the signal; handle() must resolve
    assertEquals((await readAll(c)).length, 0);
    assertEquals(srv.results.length, 1);
  } finally {
    closeQuietly(c);
    await echo.close();
  }
});
