import { assert, assertEquals, assertRejects, assertStringIncludes } from "../../tests/assert.ts";
import { StaticAuthenticator } from "../auth.ts";
import { Chain, ChainRouter } from "../chain/chain.ts";
import { Hop } from "../chain/hop.ts";
import { tcpDialer } from "../../transports/tcp/mod.ts";
import { closeQuietly, writeAll } from "../../transports/_io/write_all.ts";
import { type Conn, HandshakeError } from "../../transports/types.ts";
import { AuthError, ProxyError } from "../types.ts";
import { socks5Connector } from "./connector.ts";
import { socks5Handler } from "./handler.ts";
import { readFull } from "./protocol.ts";
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
  readAll,
  serve,
  startPeer,
  testCert,
} from "./_testing.ts";

const HAVE_MICROSOCKS = hasBinary("microsocks");
const HAVE_DANTE = hasBinary("danted");
const HAVE_CURL = hasBinary("curl");
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** Accepts one conn and runs `script` on it, recording what the client sent. */
function scripted(script: (c: Deno.Conn) => Promise<void>) {
  const ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const done = (async () => {
    const c = await ln.accept();
    try {
      await script(c);
    } finally {
      closeQuietly(c);
      ln.close();
    }
  })();
  return { port: ln.addr.port, done };
}

/** Dials the proxy, runs handshake + connect; closes the raw conn when either fails. */
async function viaConnector(
  proxyPort: number,
  target: string,
  md: Record<string, unknown> = {},
  auth?: { username: string; password: string },
): Promise<{ raw: Deno.Conn; hs: Conn; tunnel: Conn }> {
  const c = socks5Connector(connectorOptions(md, auth));
  const raw = await Deno.connect({ hostname: "127.0.0.1", port: proxyPort });
  try {
    const hs = await c.handshake!(raw);
    return { raw, hs, tunnel: await c.connect(hs, "tcp", target) };
  } catch (err) {
    closeQuietly(raw);
    throw err;
  }
}

Deno.test("socks5 connector: greeting, request and the reply are byte-exact; data glued to the reply is kept", async () => {
  const cases: [Record<string, unknown>, boolean, number[]][] = [
    [{}, false, [0x05, 0x02, 0x00, 0x80]],
    [{}, true, [0x05, 0x04, 0x00, 0x02, 0x80, 0x82]],
    [{ notls: "true" }, false, [0x05, 0x01, 0x00]],
    [{ notls: "true" }, true, [0x05, 0x02, 0x00, 0x02]],
  ];
  for (const [md, withAuth, greeting] of cases) {
    let got: Uint8Array[] = [];
    const srv = scripted(async (c) => {
      got = [await readFull(c, greeting.length)];
      await writeAll(c, bytes(0x05, withAuth ? 0x02 : 0x00));
      if (withAuth) {
        got.push(await readFull(c, 1 + 1 + 1 + 1 + 2));
        await writeAll(c, bytes(0x01, 0x00));
      }
      got.push(await readFull(c, 18));
      // A reply with a domain address and tunnel bytes in the same write.
      await writeAll(c, bytes(0x05, 0x00, 0x00, 0x03, 0x01, 0x78, 0x12, 0x34, 0x68, 0x69));
      await readAll(c);
    });
    const { raw, tunnel } = await viaConnector(
      srv.port,
      "example.com:443",
      md,
      withAuth ? { username: "u", password: "pw" } : undefined,
    );
    assertEquals(dec(await readFull(tunnel, 2)), "hi");
    raw.close();
    await srv.done;
    assertEquals(Array.from(got[0]), greeting, JSON.stringify(md));
    if (withAuth) assertEquals(Array.from(got[1]), [0x01, 0x01, 0x75, 0x02, 0x70, 0x77]);
    assertEquals(
      Array.from(got[got.length - 1]),
      [0x05, 0x01, 0x00, 0x03, 0x0b, ...new TextEncoder().encode("example.com"), 0x01, 0xbb],
    );
  }
});

Deno.test("socks5 connector: host-less :port is sent as 127.0.0.1, IPv6 as type 4", async () => {
  for (
    const [addr, want] of [[":8080", [0x01, 127, 0, 0, 1, 0x1f, 0x90]], ["[::1]:80", [
      0x04,
      ...new Array(15).fill(0),
      1,
      0,
      80,
    ]]] as const
  ) {
    let req: Uint8Array | undefined;
    const srv = scripted(async (c) => {
      await readFull(c, 4);
      await writeAll(c, bytes(0x05, 0x00));
      req = await readFull(c, 3 + want.length);
      await writeAll(c, bytes(0x05, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0));
    });
    const { raw } = await viaConnector(srv.port, addr);
    raw.close();
    await srv.done;
    assertEquals(Array.from(req!), [0x05, 0x01, 0x00, ...want]);
  }
});

Deno.test("socks5 connector: server refusals become the right errors", async () => {
  const cases: [number[], number[] | null, new (...a: never[]) => Error, string][] = [
    [[0x05, 0xff], null, AuthError, "none of the offered methods"],
    [[0x05, 0x03], null, HandshakeError, "unknown method 0x03"],
    [[0x04, 0x00], null, HandshakeError, "Bad SOCKS version"],
    [[0x05, 0x02], null, AuthError, "requires a user name"], // v3.2.6 server forcing 0x02 on a client without creds
    [[0x05, 0x00], [0x05, 0x05, 0x00, 0x01, 0, 0, 0, 0, 0, 0], ProxyError, "connection refused (0x05)"],
    [[0x05, 0x00], [0x05, 0x03, 0x00, 0x01, 0, 0, 0, 0, 0, 0], ProxyError, "network unreachable"],
    [[0x05, 0x00], [0x05, 0x00, 0x00, 0x07], HandshakeError, "address type"],
  ];
  for (const [method, reply, cls, text] of cases) {
    const srv = scripted(async (c) => {
      await readFull(c, 4);
      await writeAll(c, bytes(...method));
      if (reply) {
        await readFull(c, 10);
        await writeAll(c, bytes(...reply));
      }
      await readAll(c);
    });
    await assertRejects(() => viaConnector(srv.port, "10.0.0.1:80"), cls, text);
    await srv.done;
  }
  // Wrong password: 01 01.
  const srv = scripted(async (c) => {
    await readFull(c, 6);
    await writeAll(c, bytes(0x05, 0x02));
    await readFull(c, 6);
    await writeAll(c, bytes(0x01, 0x01));
    await readAll(c);
  });
  await assertRejects(() => viaConnector(srv.port, "10.0.0.1:80", {}, { username: "u", password: "pw" }), AuthError);
  await srv.done;
});

Deno.test("socks5 connector: the timeout option bounds a silent server; the signal aborts", async () => {
  const srv = scripted((c) => readAll(c).then(() => {}));
  const t0 = performance.now();
  const err = await assertRejects(() => viaConnector(srv.port, "10.0.0.1:80", { timeout: "200ms" }));
  assert(err instanceof Deno.errors.TimedOut, `got ${err}`);
  assert(performance.now() - t0 < 3000);
  await srv.done;

  const srv2 = scripted((c) => readAll(c).then(() => {}));
  const raw = await Deno.connect({ hostname: "127.0.0.1", port: srv2.port });
  const ac = new AbortController();
  setTimeout(() => ac.abort(new Error("gave up")), 100);
  await assertRejects(
    () => socks5Connector(connectorOptions()).handshake!(raw, { signal: ac.signal }),
    Error,
    "gave up",
  );
  closeQuietly(raw);
  await srv2.done;
});

Deno.test({
  name: "socks5 connector ↔ microsocks (plain RFC server): CONNECT without and with auth",
  ignore: !HAVE_MICROSOCKS,
  async fn() {
    const web = httpServer();
    const port = freePort();
    const authPort = freePort();
    const plain = await startPeer("microsocks", ["-i", "127.0.0.1", "-p", String(port)], port);
    const authed = await startPeer("microsocks", [
      "-i",
      "127.0.0.1",
      "-p",
      String(authPort),
      "-u",
      "user",
      "-P",
      "secret",
    ], authPort);
    try {
      // Default connector offers 00 80; microsocks picks 00, no TLS.
      const a = await viaConnector(port, `127.0.0.1:${web.port}`);
      assert(a.hs === a.raw, "no TLS with a plain RFC server");
      assertStringIncludes(await httpGet(a.tunnel, "/micro"), "hello /micro");
      a.raw.close();
      const b = await viaConnector(port, `localhost:${web.port}`, { notls: true });
      assertStringIncludes(await httpGet(b.tunnel, "/name"), "hello /name");
      b.raw.close();
      // Credentials: 00 02 80 82 offered, microsocks picks 02.
      const c = await viaConnector(authPort, `127.0.0.1:${web.port}`, {}, { username: "user", password: "secret" });
      assertStringIncludes(await httpGet(c.tunnel, "/auth"), "hello /auth");
      c.raw.close();
      await assertRejects(
        () => viaConnector(authPort, `127.0.0.1:${web.port}`, {}, { username: "user", password: "bad" }),
        AuthError,
      );
      await assertRejects(() => viaConnector(authPort, `127.0.0.1:${web.port}`), AuthError);
      const ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const closed = ln.addr.port;
      ln.close();
      await assertRejects(() => viaConnector(port, `127.0.0.1:${closed}`), ProxyError, "SOCKS5 CONNECT");
    } finally {
      await plain.stop();
      await authed.stop();
      await web.close();
    }
  },
});

Deno.test({
  name: "socks5 connector ↔ dante-server: CONNECT to an IP and to a name",
  ignore: !HAVE_DANTE,
  async fn() {
    const web = httpServer();
    const port = freePort();
    const dir = await Deno.makeTempDir({ prefix: "dost-dante-" });
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
    try {
      const a = await viaConnector(port, `127.0.0.1:${web.port}`);
      assert(a.hs === a.raw, "dante never picks 0x80");
      assertStringIncludes(await httpGet(a.tunnel, "/dante"), "hello /dante");
      a.raw.close();
      const b = await viaConnector(port, `localhost:${web.port}`);
      assertStringIncludes(await httpGet(b.tunnel, "/dante-name"), "hello /dante-name");
      b.raw.close();
    } finally {
      await dante.stop();
      await web.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("socks5 connector ↔ handler: TLS methods 0x80/0x82 by default, plain with notls", async () => {
  const tls = testCert;
  const echo = echoServer();
  const auther = new StaticAuthenticator([{ username: "u", password: "pw" }]);
  const open = serve(socks5Handler(handlerOptions({ tls })));
  const authed = serve(socks5Handler(handlerOptions({ tls, auther })));
  const noTLSServer = serve(socks5Handler(handlerOptions({ tls, md: { notls: "true" } })));
  const creds = { username: "u", password: "pw" };
  const roundTrip = async (port: number, md: Record<string, unknown>, auth?: typeof creds, wantTLS = true) => {
    const { raw, hs, tunnel } = await viaConnector(port, `127.0.0.1:${echo.port}`, md, auth);
    try {
      assertEquals(hs !== raw, wantTLS, `TLS expected: ${wantTLS} (${JSON.stringify(md)})`);
      await writeAll(tunnel, new TextEncoder().encode("through"));
      assertEquals(dec(await readFull(tunnel, 7)), "through");
    } finally {
      closeQuietly(tunnel);
      closeQuietly(raw);
    }
  };
  try {
    await roundTrip(open.port, {}); // 0x80
    await roundTrip(authed.port, {}, creds); // 0x82
    await roundTrip(open.port, { notls: "true" }, undefined, false); // 0x00
    await roundTrip(authed.port, { notls: "true" }, creds, false); // 0x02
    await roundTrip(noTLSServer.port, {}, undefined, false); // server notls: 0x00
    await assertRejects(
      () => viaConnector(authed.port, `127.0.0.1:${echo.port}`, {}, { username: "u", password: "x" }),
      AuthError,
    );
    await assertRejects(() => viaConnector(authed.port, `127.0.0.1:${echo.port}`), AuthError);
  } finally {
    await open.close();
    await authed.close();
    await noTLSServer.close();
    await echo.close();
  }
});

Deno.test({
  name: "socks5 chain: curl → dost socks5 → (TLS+auth) dost socks5 → HTTP server",
  ignore: !HAVE_CURL,
  async fn() {
    const web = httpServer();
    const exit = serve(
      socks5Handler(
        handlerOptions({ tls: testCert, auther: new StaticAuthenticator([{ username: "u", password: "pw" }]) }),
      ),
    );
    const node = {
      name: "node-0",
      addr: exit.addr,
      connector: socks5Connector(connectorOptions({}, { username: "u", password: "pw" })),
      dialer: tcpDialer(),
    };
    const router = new ChainRouter(new Chain("chain-0", [new Hop("hop-0", [node])]));
    const entry = serve(socks5Handler(handlerOptions({ router })));
    try {
      const r = await curl(["--socks5-hostname", entry.addr, `http://localhost:${web.port}/chained`]);
      assertEquals([r.code, r.stdout], [0, "hello /chained"], r.stderr);
      const [e] = await entry.handled(1);
      const [x] = await exit.handled(1);
      assertEquals([e.target, x.target, x.fields?.user], [`localhost:${web.port}`, `localhost:${web.port}`, "u"]);
    } finally {
      await entry.close();
      await exit.close();
      await web.close();
    }
  },
});
