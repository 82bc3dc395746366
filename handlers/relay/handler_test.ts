/**
 * The relay handler against raw sockets that speak the protocol byte for byte
 * as GOST v3.2.6 clients do, plus bad input.
 */
import { AuthError, ProxyError } from "../types.ts";
import { Selector } from "../chain/selector.ts";
import { writeAll } from "../../transports/_io/write_all.ts";
import { HandshakeError } from "../../transports/types.ts";
import type { Target } from "../types.ts";
import {
  assert,
  assertEquals,
  deadPort,
  dec,
  echoServer,
  enc,
  type ErrorClass,
  hex,
  readAll,
  readN,
  RelayServer,
  TestServer,
} from "./_testing.ts";

const USERS = [{ username: "u", password: "p" }];

/** `02 00 07 01 7f 00 00 01 PP PP`: Addr feature 127.0.0.1:port. */
function addr4(port: number): number[] {
  return [0x02, 0x00, 0x07, 0x01, 127, 0, 0, 1, port >> 8, port & 0xff];
}

/** What a GOST v3.2.6 client writes for CONNECT 127.0.0.1:port with user u / password p. */
function gostConnect(port: number, auth = true): Uint8Array {
  const fs = [...(auth ? [0x01, 0x00, 0x04, 0x01, 0x75, 0x01, 0x70] : []), ...addr4(port)];
  return new Uint8Array([0x01, 0x01, 0x00, fs.length, ...fs]);
}

function glue(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(parts.flatMap((p) => [...p]));
}

async function connect(server: { port: number }): Promise<Deno.TcpConn> {
  return await Deno.connect({ hostname: "127.0.0.1", port: server.port });
}

/** Sends `bytes`, half-closes and returns everything the server sent back. */
async function exchange(server: RelayServer, bytes: Uint8Array, halfClose = true): Promise<Uint8Array> {
  const c = await connect(server);
  try {
    await writeAll(c, bytes);
    if (halfClose) await c.closeWrite();
    return await readAll(c);
  } catch (err) {
    // A server that closes with unread input resets the connection: no response either.
    if (err instanceof Deno.errors.ConnectionReset) return new Uint8Array(0);
    throw err;
  } finally {
    c.close();
  }
}

/** Checks that the relay still serves an echo CONNECT. */
async function assertStillServes(relay: RelayServer, echo: TestServer): Promise<void> {
  const out = await exchange(relay, glue(gostConnect(echo.port, false), enc("still here")));
  assertEquals(dec(out), "\x01\x00\x00\x00still here");
}

Deno.test("GOST v3.2.6 client: request glued to payload, deferred OK glued to the echo", async () => {
  const echo = echoServer();
  const relay = new RelayServer({ users: USERS });
  const c = await connect(relay);
  // One write: 01 01 00 11 + UserAuth(u/p) + Addr(127.0.0.1:port) + "hello".
  await writeAll(c, glue(gostConnect(echo.port), enc("hello")));
  const buf = new Uint8Array(1024);
  const n = await c.read(buf);
  // The OK arrives in the same segment as the first target bytes.
  assertEquals(buf.subarray(0, n!), glue(hex("01 00 00 00"), enc("hello")));
  await writeAll(c, enc(" world"));
  assertEquals(dec(await readN(c, 6)), " world");
  await c.closeWrite();
  assertEquals(await readAll(c), new Uint8Array(0));
  c.close();
  const [r] = await relay.handled(1);
  assertEquals(r.error, undefined);
  assertEquals(r.target, echo.addr);
  assertEquals(r.fields, { user: "u" });
  assertEquals([r.inBytes, r.outBytes], [11, 11]);
  await relay.close();
  await echo.close();
});

Deno.test("request and payload in one segment: every payload byte reaches the target", async () => {
  let received: Uint8Array = new Uint8Array(0);
  const sink = new TestServer(async (c) => {
    received = await readAll(c);
    await writeAll(c, enc(`got ${received.length}`));
  });
  const relay = new RelayServer();
  const payload = enc("GET / HTTP/1.0\r\nHost: x\r\n\r\n");
  const out = await exchange(relay, glue(gostConnect(sink.port, false), payload));
  assertEquals(received, payload);
  assertEquals(dec(out), `\x01\x00\x00\x00got ${payload.length}`);
  await relay.close();
  await sink.close();
});

Deno.test("deferred OK is still sent when the target closes without data", async () => {
  const mute = new TestServer(async () => {});
  const relay = new RelayServer();
  assertEquals(await exchange(relay, gostConnect(mute.port, false), false), hex("01 00 00 00"));
  await relay.close();
  await mute.close();
});

Deno.test("server-speaks-first target: the OK is glued to the banner", async () => {
  const smtp = new TestServer(async (c) => {
    await writeAll(c, enc("220 ready\r\n"));
    await readAll(c);
  });
  const relay = new RelayServer();
  const c = await connect(relay);
  await writeAll(c, gostConnect(smtp.port, false)); // a nodelay GOST client: request alone
  assertEquals(await readN(c, 15), glue(hex("01 00 00 00"), enc("220 ready\r\n")));
  c.close();
  await relay.close();
  await smtp.close();
});

Deno.test("handler nodelay=true sends the OK at once", async () => {
  const echo = echoServer();
  const relay = new RelayServer({ metadata: { nodelay: "true" } });
  const c = await connect(relay);
  await writeAll(c, gostConnect(echo.port, false));
  assertEquals(await readN(c, 4), hex("01 00 00 00"));
  await writeAll(c, enc("x"));
  assertEquals(dec(await readN(c, 1)), "x");
  c.close();
  await relay.close();
  await echo.close();
});

Deno.test("error statuses: auth, missing address, dial failure, BIND, unix, unknown command", async (t) => {
  const echo = echoServer();
  const cases: [string, Record<string, unknown>, Uint8Array, string, ErrorClass][] = [
    ["wrong password", {}, hex("01 01 00 07 01 00 04 01 75 01 71"), "01 02 00 00", AuthError],
    ["no credentials", {}, hex("01 01 00 00"), "01 02 00 00", AuthError],
    ["no address", {}, hex("01 01 00 07 01 00 04 01 75 01 70"), "01 01 00 00", ProxyError],
    ["dial failure", {}, gostConnect(deadPort()), "01 07 00 00", ProxyError],
    [
      "BIND disabled",
      {},
      hex("01 02 00 11 01 00 04 01 75 01 70 02 00 07 01 00 00 00 00 08 ae"),
      "01 03 00 00",
      ProxyError,
    ],
    [
      "BIND enabled, unix network",
      { bind: true },
      hex("01 02 00 16 04 00 02 00 10 01 00 04 01 75 01 70 02 00 07 01 00 00 00 00 08 ae"),
      "01 01 00 00",
      ProxyError,
    ],
    [
      "CONNECT, unix network",
      {},
      hex("01 01 00 16 04 00 02 00 10 01 00 04 01 75 01 70 02 00 07 01 7f 00 00 01 00 35"),
      "01 01 00 00",
      ProxyError,
    ],
    ["ASSOCIATE", {}, hex("01 03 00 07 01 00 04 01 75 01 70"), "01 01 00 00", ProxyError],
  ];
  for (const [name, metadata, request, response, errClass] of cases) {
    await t.step(name, async () => {
      const relay = new RelayServer({ users: USERS, metadata });
      assertEquals(await exchange(relay, request), hex(response));
      const [r] = await relay.handled(1);
      assert(r.error instanceof errClass, `${name}: ${r.error}`);
      await relay.close();
    });
  }
  await echo.close();
});

Deno.test("command 0 means CONNECT; unknown features are ignored; the last Addr wins", async () => {
  const echo = echoServer();
  const relay = new RelayServer();
  const fs = [0x09, 0x00, 0x02, 0xab, 0xcd, ...addr4(deadPort()), ...addr4(echo.port)];
  const out = await exchange(relay, glue(new Uint8Array([0x01, 0x00, 0x00, fs.length, ...fs]), enc("hi")));
  assertEquals(dec(out), "\x01\x00\x00\x00hi");
  await relay.close();
  await echo.close();
});

Deno.test("forward mode: the Addr is ignored, :0 reaches the forwarder target", async () => {
  const echo = echoServer();
  const targets: Target[] = [{ name: "target-0", addr: echo.addr }];
  const relay = new RelayServer({ forwarder: new Selector(targets) });
  const out = await exchange(relay, glue(hex("01 01 00 07 02 00 04 03 00 00 00"), enc("ping")));
  assertEquals(dec(out), "\x01\x00\x00\x00ping");
  // Even with an address and command 0 the forwarder target is used.
  const out2 = await exchange(relay, glue(gostConnect(deadPort(), false), enc("pong")));
  assertEquals(dec(out2), "\x01\x00\x00\x00pong");
  const results = await relay.handled(2);
  assertEquals(results.map((r) => r.target), [echo.addr, echo.addr]);
  await relay.close();
  await echo.close();
});

Deno.test("forward mode: no target ⇒ 0x05, dead target ⇒ 0x06", async () => {
  const empty = new RelayServer({ forwarder: new Selector<Target>([]) });
  assertEquals(await exchange(empty, hex("01 01 00 07 02 00 04 03 00 00 00")), hex("01 05 00 00"));
  await empty.close();
  const dead = new RelayServer({ forwarder: new Selector([{ name: "dead", addr: `127.0.0.1:${deadPort()}` }]) });
  assertEquals(await exchange(dead, hex("01 01 00 07 02 00 04 03 00 00 00")), hex("01 06 00 00"));
  await dead.close();
});

Deno.test("bad input closes without a response, and the next client is served", async (t) => {
  const echo = echoServer();
  const relay = new RelayServer();
  const cases: [string, Uint8Array][] = [
    ["VER=2", glue(hex("02 01 00 00"), enc("payload"))],
    ["truncated header", hex("01 01 00")],
    ["FEALEN larger than what arrives", hex("01 01 00 20 02 00 07 01 7f 00 00 01 00 50")],
    ["feature length overflowing the list", hex("01 01 00 05 02 00 10 03 00")],
    ["unknown address type", hex("01 01 00 07 02 00 04 07 00 00 00")],
    ["garbage", enc("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")],
    ["random bytes", crypto.getRandomValues(new Uint8Array(4096)).map((b, i) => (i === 0 ? 0x07 : b))],
    ["nothing at all", new Uint8Array(0)],
  ];
  let served = 0;
  for (const [name, bytes] of cases) {
    await t.step(name, async () => {
      assertEquals(await exchange(relay, bytes), new Uint8Array(0));
      const results = await relay.handled(++served);
      const err = results[served - 1].error;
      assert(err instanceof HandshakeError || err instanceof Deno.errors.UnexpectedEof, `${name}: ${err}`);
      await assertStillServes(relay, echo);
      served++;
    });
  }
  await relay.close();
  await echo.close();
});

Deno.test("readTimeout closes a silent or stalled client", async (t) => {
  const relay = new RelayServer({ metadata: { readTimeout: "150ms" } });
  for (const [name, bytes] of [["silent", new Uint8Array(0)], ["stalled mid-header", hex("01 01 00 20 02")]] as const) {
    await t.step(name, async () => {
      const start = performance.now();
      const out = await exchange(relay, bytes, false);
      const elapsed = performance.now() - start;
      assertEquals(out, new Uint8Array(0));
      assert(elapsed >= 100 && elapsed < 3000, `closed after ${elapsed} ms`);
    });
  }
  const results = await relay.handled(2);
  for (const r of results) assert(r.error instanceof Deno.errors.TimedOut, String(r.error));
  await relay.close();
});

Deno.test("service shutdown aborts a client that is still sending its request", async () => {
  const relay = new RelayServer();
  const c = await connect(relay);
  await writeAll(c, hex("01 01"));
  const closing = relay.close();
  assertEquals(await readAll(c), new Uint8Array(0));
  c.close();
  await closing;
  assert(relay.results[0].error !== undefined);
});
