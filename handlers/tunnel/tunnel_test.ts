/**
 * The tunnel handler and connector in one process over real TCP: connector
 * registration (several per tunnel, taken in turn, a dead one dropped),
 * entrypoint routing by HTTP Host and TLS SNI, visitors, and bad input (an
 * unknown or zero tunnel id, garbage, a registration flood, a 64 KiB Host
 * header) refused while the other tunnels keep serving.
 */
import { assert, assertEquals, assertStringIncludes } from "../../tests/assert.ts";
import { closeQuietly, writeAll } from "../../transports/_io/write_all.ts";
import { Logger } from "../../transports/log.ts";
import { Metadata } from "../../transports/metadata.ts";
import { clientHello } from "../../transports/obfs/_hello.ts";
import { TcpListener } from "../../transports/tcp/listener.ts";
import { freePort } from "../../transports/_testing.ts";
import type { Conn, Listener } from "../../transports/types.ts";
import { ChainRouter, PolicyRouter } from "../chain/mod.ts";
import { Bypass } from "../bypass/mod.ts";
import type { Auth, Router } from "../types.ts";
import { StaticAuthenticator } from "../auth.ts";
import { Ingress } from "../ingress/mod.ts";
import { Service } from "../service.ts";
import { encodeRequest, readResponse, STATUS_OK } from "../relay/protocol.ts";
import { tunnelConnector } from "./connector.ts";
import { type TunnelHandler, tunnelHandler } from "./handler.ts";
import { MergedListener } from "./merged_listener.ts";
import { MAX_CONNECTORS_PER_TUNNEL, TunnelConnector, TunnelPool } from "./pool.ts";
import { endpointOf } from "./_wire.ts";

const A = "4d21094e-b74c-4916-86c1-d9fa36ea677b";
const B = "ac74d9dd-3125-442a-a7c1-f9e49e05faca";
const log = new Logger({}, { level: "fatal", sink: () => {} });
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function readAll(c: Conn): Promise<string> {
  const parts: number[] = [];
  const buf = new Uint8Array(65536);
  for (;;) {
    let n: number | null;
    try {
      n = await c.read(buf);
    } catch {
      break;
    }
    if (n === null) break;
    parts.push(...buf.subarray(0, n));
  }
  return dec(new Uint8Array(parts));
}

/** A tunnel server (service on 127.0.0.1:0 with an entrypoint on 127.0.0.1:0). */
class Server {
  readonly handler: TunnelHandler;
  readonly service: Service;
  readonly ep: number;
  readonly port: number;
  readonly serving: Promise<void>;
  constructor(
    md: Record<string, unknown>,
    ingresses = new Map<string, Ingress>(),
    router: Router = new ChainRouter(),
    auther?: StaticAuthenticator,
  ) {
    this.handler = tunnelHandler({
      metadata: new Metadata({ entrypoint: "127.0.0.1:0", ...md }),
      router,
      auther,
      tls: () => Promise.reject(new Error("no TLS")),
      log,
      ingresses,
    });
    const main = TcpListener.listen("127.0.0.1:0");
    const eps: Listener[] = this.handler.openEntrypoints();
    this.ep = (eps[0].addr as Deno.NetAddr).port;
    this.port = (main.addr as Deno.NetAddr).port;
    this.service = new Service("t", new MergedListener(main, eps), this.handler, log);
    this.serving = this.service.serve();
  }
  async close(): Promise<void> {
    await this.service.shutdown(100);
    await this.serving;
  }
}

/** A client exposing a service that answers every stream with `tag` and the peer it was told about. */
async function expose(server: Server, tunnel: string, tag: string, md: Record<string, unknown> = {}, auth?: Auth) {
  const connector = tunnelConnector({
    metadata: new Metadata({ "tunnel.id": tunnel, ...md }),
    auth,
    tls: { secure: false },
    log,
  });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  const ln = await connector.bind(conn, "tcp", ":0");
  const loop = (async () => {
    for (;;) {
      let s: Conn;
      try {
        s = await ln.accept();
      } catch {
        return;
      }
      (async () => {
        const buf = new Uint8Array(70000);
        const n = await s.read(buf).catch(() => null);
        const first = n ? dec(buf.subarray(0, n)) : "";
        const line = first.split("\r\n")[0];
        const peer = "hostname" in s.remoteAddr ? s.remoteAddr.hostname : "";
        await writeAll(s, enc(`HTTP/1.0 200 OK\r\n\r\n${tag} ${peer} ${line}`)).catch(() => {});
        closeQuietly(s);
      })();
    }
  })();
  return {
    ln,
    close: async () => {
      ln.close();
      await loop;
    },
  };
}

async function httpGet(port: number, host: string, extra = ""): Promise<string> {
  const c = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await writeAll(c, enc(`GET / HTTP/1.1\r\nHost: ${host}\r\n${extra}\r\n`));
    return await readAll(c);
  } finally {
    closeQuietly(c);
  }
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await delay(10);
  }
}

/** A raw relay request with the given features on the server's main port; resolves to the response status (or null). */
async function relayStatus(port: number, cmd: number, features: Parameters<typeof encodeRequest>[0]["features"]) {
  const c = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await writeAll(c, encodeRequest({ cmd, features }));
    const r = await readResponse(c).catch(() => null);
    return r?.status ?? null;
  } finally {
    closeQuietly(c);
  }
}

const tunnelFeature = (id: string) => {
  const b = new Uint8Array(20);
  const hex = id.replaceAll("-", "");
  for (let i = 0; i < 16; i++) b[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return { kind: "tunnel" as const, id: b };
};

Deno.test("tunnel: HTTP by Host through several connectors in turn; a dropped one is skipped; 502 and 503", async () => {
  const server = new Server({ tunnel: `.a.test:${A},b.test:${B}` });
  const c1 = await expose(server, A, "one");
  const c2 = await expose(server, A, "two");
  try {
    await until(() => server.handler.pool.count(A) === 2);
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) seen.push((await httpGet(server.ep, "x.a.test")).split("\r\n\r\n")[1].split(" ")[0]);
    assertEquals(seen.sort(), ["one", "one", "two", "two"]);
    const body = await httpGet(server.ep, "a.test:8080");
    assertStringIncludes(body, "127.0.0.1 GET / HTTP/1.1"); // the connector learns the visitor's address
    // b.test has a rule but no connector: 503; c.test has no rule: 502.
    assertStringIncludes(await httpGet(server.ep, "b.test"), "HTTP/1.1 503 Service Unavailable");
    assertStringIncludes(await httpGet(server.ep, "c.test"), "HTTP/1.1 502 Bad Gateway");
    await c1.close();
    await until(() => server.handler.pool.count(A) === 1);
    for (let i = 0; i < 3; i++) assertStringIncludes(await httpGet(server.ep, "a.test"), "two 127.0.0.1");
  } finally {
    await c1.close();
    await c2.close();
    await server.close();
  }
});

Deno.test("tunnel: plain TCP goes to the ingress's * rule (short first messages do not stall); HTTP is still by Host", async () => {
  const server = new Server({ tunnel: `*:${A},web.test:${B}` });
  const plainC = await expose(server, A, "plain");
  const web = await expose(server, B, "web");
  const none = new Server({ tunnel: `web.test:${B}` });
  try {
    await until(() => server.handler.pool.count(A) === 1 && server.handler.pool.count(B) === 1);
    const say = async (port: number, text: string) => {
      const s = await Deno.connect({ hostname: "127.0.0.1", port });
      await writeAll(s, enc(text));
      const out = await readAll(s);
      closeQuietly(s);
      return out;
    };
    assertStringIncludes(await say(server.ep, "SSH-2.0-test\r\n"), "plain 127.0.0.1 SSH-2.0-test");
    const t0 = Date.now();
    assertStringIncludes(await say(server.ep, "hi"), "plain 127.0.0.1 hi");
    assert(Date.now() - t0 < 2000, "a 2-byte first message is routed at once");
    assertStringIncludes(await httpGet(server.ep, "web.test"), "web 127.0.0.1");
    assertStringIncludes(await httpGet(server.ep, "other.test"), "502 Bad Gateway"); // * is not a Host wildcard
    // Without a * rule, plain TCP is read as HTTP and refused.
    assertStringIncludes(await say(none.ep, "SSH-2.0-test\r\n\r\n"), "400 Bad Request");
  } finally {
    await plainC.close();
    await web.close();
    await server.close();
    await none.close();
  }
});

Deno.test("tunnel: TLS routed by SNI, never terminated; no SNI or no rule closes", async () => {
  const server = new Server({ tunnel: `tls.test:${A}` });
  const c = await expose(server, A, "tls");
  try {
    await until(() => server.handler.pool.count(A) === 1);
    const send = async (hello: Uint8Array) => {
      const s = await Deno.connect({ hostname: "127.0.0.1", port: server.ep });
      await writeAll(s, hello);
      const out = await readAll(s);
      closeQuietly(s);
      return out;
    };
    const out = await send(clientHello("tls.test", new Uint8Array(0)));
    assertStringIncludes(out, "tls 127.0.0.1"); // the ClientHello reached the connector as sent
    assertEquals(await send(clientHello("other.test", new Uint8Array(0))), "");
    assertEquals(await send(new Uint8Array([0x16, 3, 1, 0, 4, 1, 0, 0, 0])), "");
  } finally {
    await c.close();
    await server.close();
  }
});

Deno.test("tunnel: visitors by relay CONNECT; unknown, zero and unrouted tunnel ids refused; endpoint as gost", async () => {
  const server = new Server({ tunnel: `svc.test:${A}` });
  const c = await expose(server, A, "v");
  try {
    await until(() => server.handler.pool.count(A) === 1);
    assertEquals(c.ln.addr, { transport: "tcp", hostname: endpointOf(A), port: 0 });
    assertEquals(endpointOf(A), "a6265c6d9847a4be"); // what gost 3.2.6 reports for this id
    // A visitor with the tunnel's id and a host routed to it.
    const visitor = tunnelConnector({ metadata: new Metadata({ "tunnel.id": A }), tls: { secure: false }, log });
    const raw = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    const conn = await visitor.connect(raw, "tcp", "svc.test:22");
    await writeAll(conn, enc("hello"));
    assertStringIncludes(await readAll(conn), "v ");
    closeQuietly(conn);
    const addr = (h: string) => ({ kind: "addr" as const, atyp: 3, host: h, port: 80 });
    // The host is routed to another tunnel: 06; an unknown id with a routed host: 06; a zero id: 01.
    assertEquals(await relayStatus(server.port, 1, [addr("src"), addr("svc.test"), tunnelFeature(B)]), 6);
    assertEquals(await relayStatus(server.port, 1, [addr("src"), addr("nope.test"), tunnelFeature(A)]), 6);
    assertEquals(await relayStatus(server.port, 1, [addr("src"), addr("svc.test"), tunnelFeature("0".repeat(32))]), 1);
    assertEquals(await relayStatus(server.port, 1, [addr("src"), addr("svc.test")]), 1);
    // Through the entrypoint port, a relay CONNECT names its tunnel directly: unknown → 05, known → OK.
    assertEquals(await relayStatus(server.ep, 1, [addr("src"), addr("x"), tunnelFeature(B)]), 5);
    assertEquals(await relayStatus(server.ep, 1, [addr("src"), addr("x"), tunnelFeature(A)]), STATUS_OK);
    assertStringIncludes(await httpGet(server.ep, "svc.test"), "v 127.0.0.1");
  } finally {
    await c.close();
    await server.close();
  }
});

Deno.test("tunnel: the service's bypass refuses a visitor's target with 03", async () => {
  const router = new PolicyRouter(new ChainRouter(), { bypass: new Bypass("b", ["*.blocked.test"]) });
  const server = new Server({ "tunnel.direct": true }, new Map(), router);
  const c = await expose(server, A, "ok");
  try {
    await until(() => server.handler.pool.count(A) === 1);
    const addr = (h: string) => ({ kind: "addr" as const, atyp: 3, host: h, port: 80 });
    assertEquals(await relayStatus(server.port, 1, [addr("s"), addr("x.blocked.test"), tunnelFeature(A)]), 3);
    assertEquals(await relayStatus(server.port, 1, [addr("s"), addr("fine.test"), tunnelFeature(A)]), STATUS_OK);
  } finally {
    await c.close();
    await server.close();
  }
});

Deno.test("tunnel: with an auther, registrations, visitors and entrypoint relay requests need credentials", async () => {
  const alice = { username: "alice", password: "s3cret" };
  const server = new Server({ tunnel: `a.test:${A}` }, new Map(), new ChainRouter(), new StaticAuthenticator([alice]));
  let refused = "";
  try {
    await expose(server, A, "anon");
  } catch (err) {
    refused = (err as Error).message;
  }
  assertStringIncludes(refused, "2 Unauthorized");
  const c = await expose(server, A, "alice", {}, alice);
  try {
    await until(() => server.handler.pool.count(A) === 1);
    const addr = (h: string) => ({ kind: "addr" as const, atyp: 3, host: h, port: 80 });
    const auth = (u: string, p: string) => ({ kind: "userAuth" as const, username: u, password: p });
    assertEquals(await relayStatus(server.port, 1, [addr("s"), addr("a.test"), tunnelFeature(A)]), 2);
    assertEquals(await relayStatus(server.ep, 1, [addr("s"), addr("a.test"), tunnelFeature(A)]), 2);
    assertEquals(await relayStatus(server.ep, 1, [auth("alice", "x"), addr("s"), addr("a"), tunnelFeature(A)]), 2);
    assertEquals(await relayStatus(server.ep, 1, [auth("alice", "s3cret"), addr("s"), addr("a"), tunnelFeature(A)]), 0);
    assertEquals(
      await relayStatus(server.port, 1, [auth("alice", "s3cret"), addr("s"), addr("a.test"), tunnelFeature(A)]),
      0,
    );
    // The public HTTP entrypoint asks nothing (that is what it is for).
    assertStringIncludes(await httpGet(server.ep, "a.test"), "alice 127.0.0.1");
  } finally {
    await c.close();
    await server.close();
  }
});

Deno.test("tunnel: tunnel.direct routes by the visitor's own id; entrypoint.id routes by the ingress only", async () => {
  const ing = new Ingress("ing", [{ hostname: "pub.test", endpoint: A }, { hostname: "priv.test", endpoint: `$${A}` }]);
  const EP = "9fd6c586-86f9-49c1-a03a-d4876851695a";
  const server = new Server({ ingress: "ing", "entrypoint.id": EP }, new Map([["ing", ing]]));
  const direct = new Server({ "tunnel.direct": true });
  const c = await expose(server, A, "pub");
  const d = await expose(direct, B, "direct");
  try {
    await until(() => server.handler.pool.count(A) === 1 && direct.handler.pool.count(B) === 1);
    const addr = (h: string) => ({ kind: "addr" as const, atyp: 3, host: h, port: 80 });
    assertEquals(await relayStatus(server.port, 1, [addr("s"), addr("pub.test"), tunnelFeature(EP)]), STATUS_OK);
    assertEquals(await relayStatus(server.port, 1, [addr("s"), addr("priv.test"), tunnelFeature(EP)]), 6);
    assertEquals(await relayStatus(server.port, 1, [addr("s"), addr("none.test"), tunnelFeature(EP)]), 7);
    assertEquals(await relayStatus(direct.port, 1, [addr("s"), addr("any.host"), tunnelFeature(B)]), STATUS_OK);
    assertEquals(await relayStatus(direct.port, 1, [addr("s"), addr("any.host"), tunnelFeature(A)]), 5);
    // A private rule is not served from the public entrypoint.
    assertStringIncludes(await httpGet(server.ep, "priv.test"), "502 Bad Gateway");
    assertStringIncludes(await httpGet(server.ep, "pub.test"), "pub 127.0.0.1");
  } finally {
    await c.close();
    await d.close();
    await server.close();
    await direct.close();
  }
});

Deno.test("tunnel: garbage, a registration flood and a 64 KiB Host header are refused; other tunnels keep serving", async () => {
  const server = new Server({ tunnel: `ok.test:${A},flood.test:${B}` });
  const good = await expose(server, A, "good");
  const flood: Awaited<ReturnType<typeof expose>>[] = [];
  try {
    await until(() => server.handler.pool.count(A) === 1);
    // Garbage on the main port and the entrypoint: closed, nothing else disturbed.
    for (const port of [server.port, server.ep]) {
      const g = await Deno.connect({ hostname: "127.0.0.1", port });
      await writeAll(g, new Uint8Array([0x05, 0xff, 0x00, 0x00, 0x13, 0x37]));
      await g.closeWrite();
      const out = await readAll(g);
      closeQuietly(g);
      assert(out === "" || out.startsWith("HTTP/1.1 400"), JSON.stringify(out));
    }
    // A 64 KiB Host header: 431 and a close.
    assertStringIncludes(await httpGet(server.ep, "h".repeat(64 * 1024) + ".ok.test"), "431");
    // Registrations beyond the cap are answered 05 and the client's bind fails.
    for (let i = 0; i < MAX_CONNECTORS_PER_TUNNEL; i++) flood.push(await expose(server, B, `f${i}`));
    await until(() => server.handler.pool.count(B) === MAX_CONNECTORS_PER_TUNNEL);
    let refused = "";
    try {
      flood.push(await expose(server, B, "over"));
    } catch (err) {
      refused = (err as Error).message;
    }
    assertStringIncludes(refused, "5 Service Unavailable");
    assertStringIncludes(await httpGet(server.ep, "ok.test"), "good 127.0.0.1");
    assertStringIncludes(await httpGet(server.ep, "flood.test"), "HTTP/1.0 200 OK");
  } finally {
    for (const f of flood) await f.close();
    await good.close();
    await server.close();
  }
});

Deno.test("tunnel: an entrypoint on the same port as the service, another address, is told apart by address", async () => {
  const port = freePort();
  const handler = tunnelHandler({
    metadata: new Metadata({ entrypoint: `127.0.0.2:${port}`, tunnel: `a.test:${A}` }),
    router: new ChainRouter(),
    tls: () => Promise.reject(new Error("no TLS")),
    log,
  });
  const main = TcpListener.listen(`127.0.0.1:${port}`);
  const service = new Service("t", new MergedListener(main, handler.openEntrypoints()), handler, log);
  const serving = service.serve();
  try {
    // HTTP on the entrypoint is routed (503: no client), on the service's own address it is not a relay request.
    const ask = async (hostname: string) => {
      const c = await Deno.connect({ hostname, port });
      await writeAll(c, enc("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n"));
      const out = await readAll(c);
      closeQuietly(c);
      return out;
    };
    assertStringIncludes(await ask("127.0.0.2"), "503 Service Unavailable");
    assertEquals(await ask("127.0.0.1"), "");
  } finally {
    await service.shutdown(100);
    await serving;
  }
});

Deno.test("tunnel pool: smooth weighted turns, weight 255 is exclusive, networks kept apart", () => {
  const pool = new TunnelPool();
  const fake = (weight: number, udp = false) => {
    const session = { closed: false } as unknown as ConstructorParameters<typeof TunnelConnector>[4];
    return new TunnelConnector(new Uint8Array(20), A, udp, weight, session);
  };
  const a = fake(1);
  const b = fake(2);
  const u = fake(1, true);
  pool.add(a);
  pool.add(b);
  pool.add(u);
  const picks = Array.from({ length: 6 }, () => pool.next(A, "tcp"));
  assertEquals(picks.filter((p) => p === b).length, 4);
  assertEquals(picks.filter((p) => p === a).length, 2);
  assertEquals(pool.next(A, "udp"), u);
  const heavy = fake(255);
  pool.add(heavy);
  assertEquals([pool.next(A, "tcp"), pool.next(A, "tcp")], [heavy, heavy]);
  pool.remove(heavy);
  assert(pool.next(A, "tcp") !== heavy);
  assertEquals(pool.next(B, "tcp"), undefined);
});
