import { assert, assertEquals, assertRejects, assertStringIncludes } from "../../tests/assert.ts";
import { startEcho, startOrigin } from "../../tests/e2e/_servers.ts";
import { freePort } from "../../tests/e2e/_dost.ts";
import { closeQuietly, writeAll } from "../../transports/_io/write_all.ts";
import { Logger } from "../../transports/log.ts";
import { Metadata } from "../../transports/metadata.ts";
import { netDial } from "../../transports/tcp/mod.ts";
import { tlsClient } from "../../transports/tls/mod.ts";
import type { Conn, Listener, ServerTLSConfig } from "../../transports/types.ts";
import { H2Session, type HeaderField, headerValue } from "../../transports/h2/mod.ts";
import { Http2Dialer, type Http2Listener, listenHttp2 } from "../../transports/http2/mod.ts";
import { listenH2c, parseDialerMetadata as parseH2Dialer } from "../../transports/h2/mod.ts";
import { H2Dialer } from "../../transports/h2/mod.ts";
import { dec, enc, listenerOptions, readAll, readExactly } from "../../transports/ws/_testing.ts";
import { StaticAuthenticator } from "../auth.ts";
import { ChainRouter } from "../chain/chain.ts";
import { Service } from "../service.ts";
import { AuthError, ProxyError } from "../types.ts";
import { encodeGostTarget } from "../http/gost_target.ts";
import { Http2Connector, http2Handler, USER_AGENT } from "./mod.ts";

const quiet = new Logger({}, { level: "fatal", sink: () => {} });
const AUTH = { username: "user", password: "pass" };

async function startProxy(md: Record<string, unknown> = {}, auth = true, addr = "127.0.0.1:0") {
  const ln = (await listenHttp2(listenerOptions({}, quiet, addr))) as Http2Listener;
  const h = http2Handler({
    metadata: new Metadata(md),
    auther: auth ? new StaticAuthenticator([AUTH]) : undefined,
    router: new ChainRouter(),
    tls: () => Promise.reject(new Error("no tls")) as Promise<ServerTLSConfig>,
    log: quiet,
  });
  const svc = new Service("test", ln, h, quiet);
  svc.serve();
  const a = ln.addr as Deno.NetAddr;
  return { ln, addr: `${a.hostname}:${a.port}`, close: () => svc.shutdown(0) };
}

/** An HTTP/2 client session to the proxy over TLS with ALPN h2. */
async function h2Client(addr: string): Promise<H2Session> {
  const tls = await tlsClient(await netDial(addr), { secure: false, alpn: ["h2"] });
  assertEquals(tls.alpnProtocol, "h2");
  return new H2Session(tls, { client: true });
}

const basic = "Basic " + btoa("user:pass");

Deno.test("http2 handler: CONNECT with Basic auth tunnels both ways; 200 carries the custom headers", async () => {
  const echo = startEcho();
  const proxy = await startProxy({ header: { "X-Proxy": "dost" } });
  const c = await h2Client(proxy.addr);
  try {
    const s = c.request([[":method", "CONNECT"], [":authority", `127.0.0.1:${echo.port}`], [
      "proxy-authorization",
      basic,
    ]]);
    const res = await s.response;
    assertEquals(headerValue(res, ":status"), "200");
    assertEquals(headerValue(res, "x-proxy"), "dost");
    await writeAll(s, enc.encode("ping"));
    assertEquals(dec.decode(await readExactly(s, 4)), "ping");
    await s.closeWrite();
    assertEquals(await s.read(new Uint8Array(1)), null, "the target's half-close ends the response");
    s.close();
  } finally {
    c.close();
    await c.done;
    await proxy.close();
    await echo.close();
  }
});

Deno.test("http2 handler: 407 with Proxy-Authenticate without or with wrong credentials; probeResist code", async () => {
  const proxy = await startProxy();
  const probe = await startProxy({ probeResist: "code:404" });
  const c = await h2Client(proxy.addr);
  const p = await h2Client(probe.addr);
  try {
    for (const extra of [[], [["proxy-authorization", "Basic " + btoa("user:nope")]]] as HeaderField[][]) {
      const s = c.request([[":method", "CONNECT"], [":authority", "127.0.0.1:9"], ...extra], false);
      const res = await s.response;
      assertEquals(headerValue(res, ":status"), "407");
      assertEquals(headerValue(res, "proxy-authenticate"), 'Basic realm="gost"');
      assertEquals(await s.read(new Uint8Array(1)), null, "no body");
      s.close();
    }
    const s = p.request([[":method", "CONNECT"], [":authority", "127.0.0.1:9"]]);
    assertEquals(headerValue(await s.response, ":status"), "404");
    s.close();
  } finally {
    for (const x of [c, p]) {
      x.close();
      await x.done;
    }
    await proxy.close();
    await probe.close();
  }
});

Deno.test("http2 handler: the target is dialled before answering; failure is 503", async () => {
  const proxy = await startProxy({}, false);
  const c = await h2Client(proxy.addr);
  try {
    const s = c.request([[":method", "CONNECT"], [":authority", `127.0.0.1:${freePort()}`]]);
    assertEquals(headerValue(await s.response, ":status"), "503");
    s.close();
  } finally {
    c.close();
    await c.done;
    await proxy.close();
  }
});

Deno.test("http2 handler: GET/POST/HEAD are re-sent as HTTP/1.1; proxy headers never reach the target", async () => {
  const seen: Headers[] = [];
  const ac = new AbortController();
  const origin = Deno.serve({ hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen() {} }, async (req) => {
    seen.push(req.headers);
    const url = new URL(req.url);
    if (req.method === "POST") return new Response(await req.arrayBuffer(), { headers: { "x-len": "yes" } });
    if (url.pathname === "/chunked") {
      const body = new ReadableStream({
        start(ctl) {
          for (let i = 0; i < 5; i++) ctl.enqueue(enc.encode(`part${i};`));
          ctl.close();
        },
      });
      return new Response(body);
    }
    return new Response(`origin:${url.pathname}${url.search}`, { headers: { "x-origin": "1" } });
  });
  const proxy = await startProxy({}, true);
  const c = await h2Client(proxy.addr);
  const authority = `127.0.0.1:${origin.addr.port}`;
  const req = (method: string, path: string, end = true, extra: HeaderField[] = []) =>
    c.request([
      [":method", method],
      [":scheme", "http"],
      [":authority", authority],
      [":path", path],
      ["proxy-authorization", basic],
      ["proxy-connection", "keep-alive"],
      ...extra,
    ], end);
  try {
    const g = req("GET", "/a?b=1");
    const gr = await g.response;
    assertEquals(headerValue(gr, ":status"), "200");
    assertEquals(headerValue(gr, "x-origin"), "1");
    assertEquals(headerValue(gr, "connection"), undefined);
    assertEquals(dec.decode(await readAll(g)), "origin:/a?b=1");
    g.close();

    const ch = req("GET", "/chunked");
    await ch.response;
    assertEquals(dec.decode(await readAll(ch)), "part0;part1;part2;part3;part4;", "chunked bodies are decoded");
    ch.close();

    const p = req("POST", "/echo", false, [["x-custom", "v"]]);
    const body = new Uint8Array(200_000).fill(0x61);
    await writeAll(p, body);
    await p.closeWrite();
    const pr = await p.response;
    assertEquals(headerValue(pr, "x-len"), "yes");
    assertEquals((await readAll(p)).length, body.length, "a streamed request body goes up chunked");
    p.close();

    const h = req("HEAD", "/h");
    assertEquals(headerValue(await h.response, ":status"), "200");
    assertEquals((await readAll(h)).length, 0);
    h.close();

    for (const hs of seen) {
      assertEquals(hs.get("proxy-authorization"), null);
      assertEquals(hs.get("proxy-connection"), null);
      assertEquals(hs.get("host"), authority);
    }
    assertEquals(seen[2].get("x-custom"), "v");
  } finally {
    c.close();
    await c.done;
    await proxy.close();
    ac.abort();
    await origin.finished;
  }
});

Deno.test("http2 handler: Gost-Target names the target instead of :authority", async () => {
  const echo = startEcho();
  const proxy = await startProxy({}, false);
  const c = await h2Client(proxy.addr);
  try {
    const s = c.request([
      [":method", "CONNECT"],
      [":authority", "ignored.invalid:1"],
      ["gost-target", encodeGostTarget(`127.0.0.1:${echo.port}`)],
    ]);
    assertEquals(headerValue(await s.response, ":status"), "200");
    await writeAll(s, enc.encode("gt"));
    assertEquals(dec.decode(await readExactly(s, 2)), "gt");
    s.close();
  } finally {
    c.close();
    await c.done;
    await proxy.close();
    await echo.close();
  }
});

Deno.test("http2 listener: HTTP/1.1 clients over TLS get CONNECT (hijacked) and plain forwarding", async () => {
  const echo = startEcho();
  const origin = startOrigin();
  const proxy = await startProxy({}, true);
  const open = async () => await tlsClient(await netDial(proxy.addr), { secure: false, alpn: ["http/1.1"] });
  try {
    const t = await open();
    assertEquals(t.alpnProtocol, "http/1.1");
    await writeAll(t, enc.encode(`CONNECT 127.0.0.1:${echo.port} HTTP/1.1\r\nProxy-Authorization: ${basic}\r\n\r\n`));
    let head = "";
    const buf = new Uint8Array(4096);
    while (!head.includes("\r\n\r\n")) head += dec.decode(buf.subarray(0, (await t.read(buf))!));
    assert(head.startsWith("HTTP/1.1 200 OK\r\n"), head);
    await writeAll(t, enc.encode("raw bytes"));
    assertEquals(dec.decode(await readExactly(t, 9)), "raw bytes");
    t.close();

    const g = await open();
    await writeAll(
      g,
      enc.encode(`GET http://127.0.0.1:${origin.port}/x HTTP/1.1\r\nHost: h\r\nProxy-Authorization: ${basic}\r\n\r\n`),
    );
    const res = dec.decode(await readAll(g));
    assert(res.startsWith("HTTP/1.1 200 OK"), res);
    assert(res.endsWith("origin:/x"), res);
    g.close();

    const n = await open();
    await writeAll(n, enc.encode(`CONNECT 127.0.0.1:${echo.port} HTTP/1.1\r\n\r\n`));
    const denied = dec.decode(await readAll(n));
    assertStringIncludes(denied, "HTTP/1.1 407 Proxy Authentication Required");
    assertStringIncludes(denied, 'Proxy-Authenticate: Basic realm="gost"');
    n.close();
  } finally {
    await proxy.close();
    await echo.close();
    await origin.close();
  }
});

Deno.test("http2 connector + dialer: CONNECT streams share one connection; the request is Go's", async () => {
  const echo = startEcho();
  const ln = (await listenHttp2(listenerOptions({}, quiet))) as Http2Listener;
  const a = ln.addr as Deno.NetAddr;
  const addr = `${a.hostname}:${a.port}`;
  const requests: HeaderField[][] = [];
  const loop = (async () => {
    for (;;) {
      let rc;
      try {
        rc = await ln.accept();
      } catch {
        return;
      }
      requests.push(rc.request.headers);
      (async () => {
        const up = await netDial(rc.request.authority);
        await rc.respond(200);
        const { pipe } = await import("../../transports/_io/pipe.ts");
        await pipe(rc, up);
      })().catch(() => closeQuietly(rc));
    }
  })();
  const dialer = new Http2Dialer({ secure: false });
  const connector = new Http2Connector({
    metadata: new Metadata({ header: { "X-Hop": "1" } }),
    auth: AUTH,
    tls: { secure: false },
    log: quiet,
  });
  let calls = 0;
  const raw = (x: string) => {
    calls++;
    return netDial(x);
  };
  try {
    const conns: Conn[] = [];
    for (let i = 0; i < 3; i++) {
      const h = await dialer.dial(addr, raw);
      conns.push(await connector.connect(h, "tcp", `127.0.0.1:${echo.port}`));
    }
    for (const [i, c] of conns.entries()) {
      await writeAll(c, enc.encode(`m${i}`));
      assertEquals(dec.decode(await readExactly(c, 2)), `m${i}`);
      c.close();
    }
    assertEquals(calls, 1, "one HTTP/2 connection for every CONNECT");
    const h = Object.fromEntries(requests[0]);
    assertEquals(h["proxy-authorization"], basic);
    assertEquals(h["user-agent"], USER_AGENT);
    assertEquals(h["x-hop"], "1");
  } finally {
    dialer.close();
    ln.close();
    await loop;
    await ln.done;
    await echo.close();
  }
});

Deno.test("http2 connector: 407 is an AuthError, other statuses a ProxyError; other dialers are refused", async () => {
  const proxy = await startProxy({}, true);
  const dialer = new Http2Dialer({ secure: false });
  const noAuth = new Http2Connector({ metadata: new Metadata({}), tls: { secure: false }, log: quiet });
  const withAuth = new Http2Connector({ metadata: new Metadata({}), auth: AUTH, tls: { secure: false }, log: quiet });
  try {
    const h = await dialer.dial(proxy.addr, netDial);
    await assertRejects(() => noAuth.connect(h, "tcp", "127.0.0.1:9"), AuthError);
    const e = await assertRejects(() => withAuth.connect(h, "tcp", `127.0.0.1:${freePort()}`), ProxyError);
    assertStringIncludes((e as Error).message, "503");
    const tcp = await netDial(proxy.addr);
    await assertRejects(() => withAuth.connect(tcp, "tcp", "127.0.0.1:9"), ProxyError, "http2 dialer");
    tcp.close();
  } finally {
    dialer.close();
    await proxy.close();
  }
});

Deno.test("http2 dialer: a restarted proxy is reached again within one connect", async () => {
  const echo = startEcho();
  let proxy = await startProxy({}, true);
  const addr = proxy.addr;
  const dialer = new Http2Dialer({ secure: false });
  const connector = new Http2Connector({ metadata: new Metadata({}), auth: AUTH, tls: { secure: false }, log: quiet });
  try {
    const c1 = await connector.connect(await dialer.dial(addr, netDial), "tcp", `127.0.0.1:${echo.port}`);
    c1.close();
    const handle = await dialer.dial(addr, netDial);
    await proxy.close();
    for (let i = 0;; i++) {
      try {
        proxy = await startProxy({}, true, addr);
        break;
      } catch (err) {
        if (i > 50) throw err;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    // The handle's connection died with the old proxy; connect builds a new one.
    const c2 = await connector.connect(handle, "tcp", `127.0.0.1:${echo.port}`);
    await writeAll(c2, enc.encode("again"));
    assertEquals(dec.decode(await readExactly(c2, 5)), "again");
    c2.close();
  } finally {
    dialer.close();
    await proxy.close();
    await echo.close();
  }
});

Deno.test("http2 handler: refuses conns that do not come from the http2 listener", async () => {
  const h = http2Handler({
    metadata: new Metadata({}),
    router: new ChainRouter(),
    tls: () => Promise.reject(new Error("no tls")) as Promise<ServerTLSConfig>,
    log: quiet,
  });
  const ln = (await listenH2c(listenerOptions({}, quiet))) as Listener;
  const d = new H2Dialer(parseH2Dialer(new Metadata({})));
  try {
    const a = ln.addr as Deno.NetAddr;
    const c = await d.dial(`${a.hostname}:${a.port}`, netDial);
    const r = await h.handle(await ln.accept(), new AbortController().signal);
    assertStringIncludes(String(r.error), "http2 listener");
    c.close();
  } finally {
    d.close();
    ln.close();
  }
});
