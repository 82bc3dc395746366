import { assert, assertEquals, assertRejects, assertStringIncludes } from "../../tests/assert.ts";
import { StaticAuthenticator } from "../auth.ts";
import { BufferedConn } from "../../transports/_io/buffered_conn.ts";
import { closeQuietly, concat, writeAll } from "../../transports/_io/write_all.ts";
import { Metadata } from "../../transports/metadata.ts";
import { HandshakeError } from "../../transports/types.ts";
import { ProxyError } from "../types.ts";
import { readFull } from "../socks5/protocol.ts";
import {
  bytes,
  connectorOptions,
  curl,
  echoServer,
  freePort,
  handlerOptions,
  hasBinary,
  httpGet,
  httpServer,
  rawExchange,
  readAll,
  RecordingConn,
  RecordingRouter,
  serve,
  startPeer,
} from "../socks5/_testing.ts";
import { socks4Connector } from "./connector.ts";
import { socks4Handler } from "./handler.ts";
import { parseConnectorMetadata, parseHandlerMetadata } from "./metadata.ts";
import { encodeReply, encodeRequest, readReply, readRequest } from "./protocol.ts";

const HAVE_CURL = hasBinary("curl");
const HAVE_DANTE = hasBinary("danted");
const enc = (s: string) => new TextEncoder().encode(s);

/** A conn that replays `data` (for the request parser). */
function replay(data: Uint8Array): BufferedConn {
  let done = false;
  const addr = { transport: "tcp" as const, hostname: "127.0.0.1", port: 1 };
  return new BufferedConn({
    read(p) {
      if (done) return Promise.resolve(null);
      const n = Math.min(p.length, data.length);
      p.set(data.subarray(0, n));
      data = data.subarray(n);
      done = data.length === 0;
      return Promise.resolve(n);
    },
    write: (p) => Promise.resolve(p.length),
    closeWrite: () => Promise.resolve(),
    close() {},
    localAddr: addr,
    remoteAddr: addr,
  });
}

Deno.test("socks4 codec: requests and replies", async () => {
  assertEquals(encodeRequest(1, "10.0.0.1", 80), bytes(0x04, 0x01, 0x00, 0x50, 10, 0, 0, 1, 0x00));
  assertEquals(
    encodeRequest(1, "10.0.0.1", 80, "bob"),
    bytes(0x04, 0x01, 0x00, 0x50, 10, 0, 0, 1, 0x62, 0x6f, 0x62, 0),
  );
  assertEquals(
    encodeRequest(1, "a.io", 443, "u"),
    bytes(0x04, 0x01, 0x01, 0xbb, 0, 0, 0, 1, 0x75, 0, 0x61, 0x2e, 0x69, 0x6f, 0),
  );
  assertEquals(encodeReply(0x5a), bytes(0x00, 0x5a, 0, 0, 0, 0, 0, 0));
  assertEquals(await readRequest(replay(encodeRequest(1, "a.io", 443, "u"))), {
    cmd: 1,
    addr: "a.io:443",
    userid: "u",
    is4a: true,
  });
  const br = replay(concat(encodeRequest(2, "192.168.1.2", 21), enc("rest")));
  assertEquals(await readRequest(br), { cmd: 2, addr: "192.168.1.2:21", userid: "", is4a: false });
  assertEquals(new TextDecoder().decode(await br.readExact(4)), "rest");
  await assertRejects(() => readRequest(replay(bytes(0x05, 0x01, 0, 80, 1, 2, 3, 4, 0))), HandshakeError);
  await assertRejects(() => readRequest(replay(bytes(0x04, 0x01, 0, 80, 1, 2, 3))), Deno.errors.UnexpectedEof);
  await assertRejects(() => readRequest(replay(bytes(0x04, 0x01, 0, 80, 1, 2, 3, 4, 0x61))), Deno.errors.UnexpectedEof);
  await assertRejects(
    () => readRequest(replay(concat(bytes(0x04, 0x01, 0, 80, 1, 2, 3, 4), new Uint8Array(300).fill(0x61), bytes(0)))),
    HandshakeError,
    "longer than 255",
  );
  await assertRejects(() => readReply(replay(bytes(0x04, 0x5a, 0, 0, 0, 0, 0, 0))), HandshakeError);
  assertEquals(parseHandlerMetadata(new Metadata()).readTimeout, 15_000);
  assertEquals(parseConnectorMetadata(new Metadata({ timeout: "2s", disable4a: "true" })), {
    timeout: 2000,
    disable4a: true,
  });
});

Deno.test({
  name: "socks4 handler: curl --socks4 and --socks4a",
  ignore: !HAVE_CURL,
  async fn() {
    const web = httpServer();
    const router = new RecordingRouter();
    const srv = serve(socks4Handler(handlerOptions({ router })));
    try {
      const a = await curl(["--socks4", srv.addr, `http://127.0.0.1:${web.port}/v4`]);
      assertEquals([a.code, a.stdout], [0, "hello /v4"], a.stderr);
      const b = await curl(["--socks4a", srv.addr, `http://localhost:${web.port}/v4a`]);
      assertEquals([b.code, b.stdout], [0, "hello /v4a"], b.stderr);
      assertEquals(router.addrs, [`127.0.0.1:${web.port}`, `localhost:${web.port}`]);
      const results = await srv.handled(2);
      assert(results.every((r) => r.error === undefined && r.outBytes! > 0), Deno.inspect(results));
    } finally {
      await srv.close();
      await web.close();
    }
  },
});

Deno.test({
  name: "socks4 handler: the user id is checked against the authenticator (empty password)",
  ignore: !HAVE_CURL,
  async fn() {
    const web = httpServer();
    const auther = new StaticAuthenticator([{ username: "alice", password: "" }, { username: "bob", password: "pw" }]);
    const srv = serve(socks4Handler(handlerOptions({ auther })));
    const url = `http://localhost:${web.port}/id`;
    try {
      const ok = await curl(["--proxy", `socks4a://alice@${srv.addr}`, url]);
      assertEquals([ok.code, ok.stdout], [0, "hello /id"], ok.stderr);
      for (const user of ["mallory@", "bob@", ""]) {
        const bad = await curl(["--proxy", `socks4a://${user}${srv.addr}`, url]);
        assert(bad.code !== 0 && bad.stdout === "", `user "${user}" must be rejected: ${bad.stderr}`);
      }
      const results = await srv.handled(4);
      assertEquals(results[0].fields, { user: "alice" });
      assertEquals(results.filter((r) => r.error?.constructor.name === "AuthError").length, 3);
      const raw = await rawExchange(srv.port, encodeRequest(1, "127.0.0.1", web.port, "nobody"));
      assertEquals(Array.from(raw), [0x00, 0x5d, 0, 0, 0, 0, 0, 0]);
    } finally {
      await srv.close();
      await web.close();
    }
  },
});

Deno.test("socks4 handler: the grant is a write of its own; garbage is closed; the next client is served", async () => {
  const banner = echoServer("SSH-2.0-test\r\n");
  let rec: RecordingConn | undefined;
  const srv = serve(socks4Handler(handlerOptions({ md: { readTimeout: "2s" } })), (c) => (rec = new RecordingConn(c)));
  try {
    const c = await Deno.connect({ hostname: "127.0.0.1", port: srv.port });
    try {
      await writeAll(c, encodeRequest(1, "127.0.0.1", banner.port));
      assertEquals(Array.from(await readFull(c, 8)), [0x00, 0x5a, 0, 0, 0, 0, 0, 0]);
      assertEquals(new TextDecoder().decode(await readFull(c, 14)), "SSH-2.0-test\r\n");
      await c.closeWrite();
      await readAll(c);
    } finally {
      closeQuietly(c);
    }
    await srv.handled(1);
    assertEquals(rec!.writes[0], encodeReply(0x5a));
    assertEquals(new TextDecoder().decode(rec!.writes[1]), "SSH-2.0-test\r\n");

    const closedPort = freePort();
    const cases: [string, Uint8Array, number[]][] = [
      ["socks5 greeting", bytes(0x05, 0x01, 0x00, 0, 0, 0, 0, 0), []],
      ["BIND", encodeRequest(2, "127.0.0.1", 21), [0x00, 0x5b, 0, 0, 0, 0, 0, 0]],
      ["unknown command", encodeRequest(9, "127.0.0.1", 21), [0x00, 0x5b, 0, 0, 0, 0, 0, 0]],
      ["refused", encodeRequest(1, "127.0.0.1", closedPort), [0x00, 0x5b, 0, 0, 0, 0, 0, 0]],
      ["truncated header", bytes(0x04, 0x01, 0x00), []],
      ["unterminated user id", bytes(0x04, 0x01, 0x00, 0x50, 127, 0, 0, 1, 0x61, 0x62), []],
      ["unterminated 4a host", bytes(0x04, 0x01, 0x00, 0x50, 0, 0, 0, 1, 0x00, 0x61), []],
    ];
    for (const [name, input, want] of cases) {
      assertEquals(Array.from(await rawExchange(srv.port, input, true)), want, name);
    }
    const results = await srv.handled(1 + cases.length);
    assert(results.slice(1).every((r) => r.error !== undefined));
    const again = await rawExchange(srv.port, concat(encodeRequest(1, "localhost", banner.port, "x")), true);
    assertEquals(new TextDecoder().decode(again.subarray(8)), "SSH-2.0-test\r\n");
  } finally {
    await srv.close();
    await banner.close();
  }
});

Deno.test("socks4 handler: readTimeout closes a silent client", async () => {
  const srv = serve(socks4Handler(handlerOptions({ md: { readTimeout: "150ms" } })));
  const c = await Deno.connect({ hostname: "127.0.0.1", port: srv.port });
  try {
    await writeAll(c, bytes(0x04, 0x01, 0x00, 0x50, 127, 0, 0, 1, 0x61));
    assertEquals((await readAll(c)).length, 0);
    const [r] = await srv.handled(1);
    assert(r.error instanceof Deno.errors.TimedOut, `got ${r.error}`);
  } finally {
    closeQuietly(c);
    await srv.close();
  }
});

Deno.test("socks4 connector ↔ socks4 handler: 4a names, IPv4, user ids, refusals", async () => {
  const echo = echoServer();
  const auther = new StaticAuthenticator([{ username: "alice", password: "" }]);
  const router = new RecordingRouter();
  const srv = serve(socks4Handler(handlerOptions({ auther, router })));
  const dial = async (addr: string, md: Record<string, unknown> = {}, user = "alice") => {
    const raw = await Deno.connect({ hostname: "127.0.0.1", port: srv.port });
    try {
      const conn = await socks4Connector(connectorOptions(md, { username: user, password: "" })).connect(
        raw,
        "tcp",
        addr,
      );
      await writeAll(conn, enc("hey"));
      assertEquals(new TextDecoder().decode(await readFull(conn, 3)), "hey");
    } finally {
      closeQuietly(raw);
    }
  };
  try {
    await dial(`localhost:${echo.port}`);
    await dial(`127.0.0.1:${echo.port}`);
    await dial(`:${echo.port}`);
    await dial(`localhost:${echo.port}`, { disable4a: "true" });
    assertEquals(router.addrs, [
      `localhost:${echo.port}`,
      `127.0.0.1:${echo.port}`,
      `127.0.0.1:${echo.port}`,
      `127.0.0.1:${echo.port}`,
    ]);
    await assertRejects(() => dial(`localhost:${echo.port}`, {}, "eve"), ProxyError, "user id not accepted (0x5d)");
    await assertRejects(() => dial(`127.0.0.1:${freePort()}`), ProxyError, "rejected or failed (0x5b)");
    const raw = await Deno.connect({ hostname: "127.0.0.1", port: srv.port });
    await assertRejects(() => socks4Connector(connectorOptions()).connect(raw, "tcp", "[::1]:80"), ProxyError, "IPv6");
    await assertRejects(() => socks4Connector(connectorOptions()).connect(raw, "udp", "1.2.3.4:53"), TypeError);
    closeQuietly(raw);
  } finally {
    await srv.close();
    await echo.close();
  }
});

Deno.test({
  name: "socks4 connector ↔ dante-server (SOCKS4, no 4a): IP targets and names resolved locally",
  ignore: !HAVE_DANTE,
  async fn() {
    const web = httpServer();
    const port = freePort();
    const dir = await Deno.makeTempDir({ prefix: "dost-dante4-" });
    const conf = `${dir}/danted.conf`;
    await Deno.writeTextFile(
      conf,
      [
        `logoutput: ${dir}/danted.log`,
        `internal: 127.0.0.1 port = ${port}`,
        "external: 127.0.0.1",
        "clientmethod: none",
        "socksmethod: none",
        "user.privileged: root",
        "user.unprivileged: nobody",
        "client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }",
        "socks pass { from: 127.0.0.0/8 to: 0.0.0.0/0 command: connect }",
        "",
      ].join("\n"),
    );
    const dante = await startPeer("danted", ["-f", conf, "-N", "1"], port);
    const get = async (addr: string, md: Record<string, unknown>, path: string) => {
      const raw = await Deno.connect({ hostname: "127.0.0.1", port });
      try {
        const conn = await socks4Connector(connectorOptions(md)).connect(raw, "tcp", addr);
        return await httpGet(conn, path);
      } finally {
        closeQuietly(raw);
      }
    };
    try {
      assertStringIncludes(await get(`127.0.0.1:${web.port}`, {}, "/d4"), "hello /d4");
      assertStringIncludes(await get(`localhost:${web.port}`, { disable4a: true }, "/d4-name"), "hello /d4-name");
      await assertRejects(() => get(`127.0.0.1:${freePort()}`, {}, "/x"), ProxyError);
    } finally {
      await dante.stop();
      await web.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
