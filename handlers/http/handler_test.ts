import { assert, assertEquals, assertMatch } from "../../tests/assert.ts";
import { ChainRouter } from "../chain/chain.ts";
import { StaticAuthenticator } from "../auth.ts";
import { Logger } from "../../transports/log.ts";
import { Metadata } from "../../transports/metadata.ts";
import { TcpListener } from "../../transports/tcp/listener.ts";
import { Service } from "../service.ts";
import { httpHandler } from "./handler.ts";
import { HttpConnector } from "./connector.ts";
import { encodeGostTarget } from "./gost_target.ts";
import { hasCommand, run } from "../../tests/e2e/_dost.ts";
import { startEcho, startOrigin } from "../../tests/e2e/_servers.ts";
import { netDial } from "../../transports/tcp/dial.ts";
import { closeQuietly, writeAll } from "../../transports/_io/write_all.ts";
import type { ServerTLSConfig } from "../../transports/types.ts";

const quiet = new Logger({}, { level: "fatal", sink: () => {} });

function startProxy(md: Record<string, unknown> = {}, auth?: { username: string; password: string }) {
  const ln = TcpListener.listen("127.0.0.1:0");
  const h = httpHandler({
    metadata: new Metadata(md),
    auther: auth ? new StaticAuthenticator([auth]) : undefined,
    router: new ChainRouter(),
    tls: () => Promise.reject(new Error("no tls")) as Promise<ServerTLSConfig>,
    log: quiet,
  });
  const svc = new Service("test", ln, h, quiet);
  svc.serve();
  return { port: (ln.addr as Deno.NetAddr).port, close: () => svc.shutdown(0) };
}

async function exchange(port: number, request: string): Promise<string> {
  const c = await netDial(`127.0.0.1:${port}`);
  await writeAll(c, new TextEncoder().encode(request)).catch(() => {});
  await c.closeWrite().catch(() => {});
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(4096);
  for (;;) {
    const n = await c.read(buf).catch(() => null);
    if (n === null) break;
    chunks.push(buf.slice(0, n));
  }
  closeQuietly(c);
  return new TextDecoder().decode(new Uint8Array(chunks.flatMap((x) => [...x])));
}

Deno.test("http: CONNECT answers GOST's exact 200 and tunnels bytes", async () => {
  const echo = startEcho();
  const proxy = startProxy();
  try {
    const c = await netDial(`127.0.0.1:${proxy.port}`);
    // Optimistic data right behind the head must not be lost.
    await writeAll(c, new TextEncoder().encode(`CONNECT 127.0.0.1:${echo.port} HTTP/1.1\r\nHost: x\r\n\r\nhello`));
    const want = "HTTP/1.1 200 Connection established\r\nProxy-Agent: gost/3.0\r\n\r\nhello";
    let got = "";
    const buf = new Uint8Array(1024);
    while (got.length < want.length) {
      const n = await c.read(buf);
      if (n === null) break;
      got += new TextDecoder().decode(buf.subarray(0, n));
    }
    assertEquals(got, want);
    closeQuietly(c);
  } finally {
    await proxy.close();
    await echo.close();
  }
});

Deno.test("http: 407 bytes without and with Proxy-Connection keep-alive", async () => {
  const proxy = startProxy({}, { username: "user", password: "pass" });
  try {
    assertEquals(
      await exchange(proxy.port, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"),
      'HTTP/1.1 407 Proxy Authentication Required\r\nConnection: close\r\nProxy-Authenticate: Basic realm="gost"\r\n\r\n',
    );
    assertEquals(
      await exchange(
        proxy.port,
        "CONNECT example.com:443 HTTP/1.1\r\nProxy-Connection: Keep-Alive\r\nProxy-Authorization: Basic " +
          btoa("user:wrong") + "\r\n\r\n",
      ),
      "HTTP/1.1 407 Proxy Authentication Required\r\nConnection: close\r\nProxy-Connection: close\r\n" +
        'Proxy-Authenticate: Basic realm="gost"\r\n\r\n',
    );
  } finally {
    await proxy.close();
  }
});

Deno.test("http: 503 with GOST's bytes when the target is unreachable", async () => {
  const proxy = startProxy();
  const dead = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (dead.addr as Deno.NetAddr).port;
  dead.close();
  try {
    assertEquals(
      await exchange(proxy.port, `CONNECT 127.0.0.1:${port} HTTP/1.1\r\n\r\n`),
      "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nProxy-Agent: gost/3.0\r\n\r\n",
    );
  } finally {
    await proxy.close();
  }
});

Deno.test("http: garbage gets 400 and the proxy keeps serving", async () => {
  const echo = startEcho();
  const proxy = startProxy();
  try {
    assertMatch(await exchange(proxy.port, "\x00\x01garbage\r\n\r\n"), /^HTTP\/1\.1 400 Bad Request\r\n/);
    assertMatch(await exchange(proxy.port, "GET http://x/ HTTP/1.1\r\nBad Header\r\n\r\n"), /^HTTP\/1\.1 400 /);
    assertMatch(await exchange(proxy.port, "GET https://x/ HTTP/1.1\r\n\r\n"), /^HTTP\/1\.1 400 /);
    assertMatch(await exchange(proxy.port, "x".repeat(70_000) + "\r\n\r\n"), /^HTTP\/1\.1 400 /);
    // Still serving:
    const r = await exchange(proxy.port, `CONNECT 127.0.0.1:${echo.port} HTTP/1.1\r\n\r\n`);
    assertMatch(r, /^HTTP\/1\.1 200 Connection established/);
  } finally {
    await proxy.close();
    await echo.close();
  }
});

Deno.test("http: origin-form request gets 503 as in gost", async () => {
  const proxy = startProxy();
  try {
    assertEquals(
      await exchange(proxy.port, "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"),
      "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
    );
  } finally {
    await proxy.close();
  }
});

Deno.test("http: X-Gost-Target overrides the CONNECT host", async () => {
  const echo = startEcho();
  const proxy = startProxy();
  try {
    const r = await exchange(
      proxy.port,
      `CONNECT decoy.invalid:1 HTTP/1.1\r\nX-Gost-Target: ${encodeGostTarget(`127.0.0.1:${echo.port}`)}\r\n\r\n`,
    );
    assertMatch(r, /^HTTP\/1\.1 200 /);
  } finally {
    await proxy.close();
    await echo.close();
  }
});

Deno.test({
  name: "http: curl through the proxy (auth ok, 407 without, 407 wrong), CONNECT and absolute-URI",
  ignore: !hasCommand("curl"),
  async fn() {
    const origin = startOrigin();
    const proxy = startProxy({}, { username: "user", password: "pa:ss" });
    const url = `http://127.0.0.1:${origin.port}/hello`;
    try {
      const base = ["-s", "-o", "-", "-w", "\n%{http_code}", "--max-time", "10"];
      let r = await run("curl", [...base, "-x", `http://user:pa%3Ass@127.0.0.1:${proxy.port}`, url]);
      assertEquals(r.stdout, "origin:/hello\n200");
      r = await run("curl", [...base, "-p", "-x", `http://user:pa%3Ass@127.0.0.1:${proxy.port}`, url]);
      assertEquals(r.stdout, "origin:/hello\n200");
      r = await run("curl", [...base, "-x", `http://127.0.0.1:${proxy.port}`, url]);
      assertEquals(r.stdout.trim(), "407");
      r = await run("curl", [...base, "-x", `http://user:bad@127.0.0.1:${proxy.port}`, url]);
      assertEquals(r.stdout.trim(), "407");
      // POST body through absolute-URI forwarding.
      r = await run("curl", [
        ...base,
        "-x",
        `http://user:pa%3Ass@127.0.0.1:${proxy.port}`,
        "--data-binary",
        "abc",
        url,
      ]);
      assertEquals(r.stdout, "abc\n200");
    } finally {
      await proxy.close();
      await origin.close();
    }
  },
});

Deno.test("http connector: exact CONNECT bytes and keeps bytes after the 200", async () => {
  const c = new HttpConnector({
    metadata: new Metadata({}),
    auth: { username: "user", password: "pass" },
    tls: { secure: false },
    log: quiet,
  });
  assertEquals(
    new TextDecoder().decode(c.requestHead("example.com:443")),
    "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nUser-Agent: Go-http-client/1.1\r\n" +
      "Proxy-Authorization: Basic dXNlcjpwYXNz\r\nProxy-Connection: keep-alive\r\n\r\n",
  );
  const ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const server = (async () => {
    const s = await ln.accept();
    const buf = new Uint8Array(4096);
    await s.read(buf);
    await writeAll(s, new TextEncoder().encode("HTTP/1.1 200 Connection established\r\n\r\nearly"));
    s.close();
  })();
  const raw = await netDial(`127.0.0.1:${(ln.addr as Deno.NetAddr).port}`);
  const conn = await c.connect(raw, "tcp", "example.com:443");
  const buf = new Uint8Array(16);
  const n = await conn.read(buf);
  assertEquals(new TextDecoder().decode(buf.subarray(0, n!)), "early");
  conn.close();
  await server;
  ln.close();
  assert(true);
});
