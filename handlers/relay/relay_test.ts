/** End to end: relay connector ↔ relay handler over real sockets. */
import { writeAll } from "../../transports/_io/write_all.ts";
import type { Conn } from "../../transports/types.ts";
import { Selector } from "../chain/selector.ts";
import { AuthError, ProxyError, type Target } from "../types.ts";
import {
  assert,
  assertEquals,
  assertRejects,
  deadPort,
  dec,
  dialRelay,
  echoServer,
  enc,
  readAll,
  readN,
  RelayServer,
  TestServer,
} from "./_testing.ts";

const USERS = [{ username: "alice", password: "s3cret" }];

/** A target that greets with its name, then echoes. */
function namedServer(name: string): TestServer {
  return new TestServer(async (c) => {
    await writeAll(c, enc(name));
    await readAll(c);
  });
}

Deno.test("echo through connector and handler", async () => {
  const echo = echoServer();
  const relay = new RelayServer();
  const tunnel = await dialRelay(relay, echo.addr);
  await tunnel.write(enc("hello"));
  assertEquals(dec(await readN(tunnel, 5)), "hello");
  await tunnel.write(enc("world"));
  assertEquals(dec(await readN(tunnel, 5)), "world");
  await tunnel.closeWrite();
  assertEquals(await tunnel.read(new Uint8Array(8)), null);
  tunnel.close();
  const [r] = await relay.handled(1);
  assertEquals([r.inBytes, r.outBytes, r.error], [10, 10, undefined]);
  await relay.close();
  await echo.close();
});

async function sha256(chunks: Uint8Array[]): Promise<string> {
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += c.length;
  }
  return Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", all)), (b) => b.toString(16).padStart(2, "0"))
    .join("");
}

Deno.test("16 MiB both ways with a hash check", async () => {
  const SIZE = 16 * 1024 * 1024;
  const CHUNK = 64 * 1024;
  const echo = echoServer();
  const relay = new RelayServer();
  const tunnel = await dialRelay(relay, echo.addr);
  const sent: Uint8Array[] = [];
  for (let i = 0; i < SIZE / CHUNK; i++) sent.push(crypto.getRandomValues(new Uint8Array(CHUNK)));
  const writer = (async () => {
    for (const c of sent) await writeAll(tunnel, c);
    await tunnel.closeWrite();
  })();
  const received = await readAll(tunnel);
  await writer;
  tunnel.close();
  assertEquals(received.length, SIZE);
  assertEquals(await sha256([received]), await sha256(sent));
  const [r] = await relay.handled(1);
  assertEquals([r.inBytes, r.outBytes], [SIZE, SIZE]);
  await relay.close();
  await echo.close();
});

Deno.test("half-close works in both directions", async (t) => {
  await t.step("client finishes first, target answers after EOF", async () => {
    const target = new TestServer(async (c) => {
      const got = await readAll(c);
      await writeAll(c, enc(`got ${dec(got)}`));
    });
    const relay = new RelayServer();
    const tunnel = await dialRelay(relay, target.addr);
    await tunnel.write(enc("question"));
    await tunnel.closeWrite();
    assertEquals(dec(await readAll(tunnel)), "got question");
    tunnel.close();
    await relay.close();
    await target.close();
  });
  await t.step("target finishes first, client keeps sending", async () => {
    let got = "";
    const target = new TestServer(async (c) => {
      await writeAll(c, enc("bye"));
      await c.closeWrite();
      got = dec(await readAll(c));
    });
    const relay = new RelayServer();
    const tunnel = await dialRelay(relay, target.addr);
    await tunnel.write(enc("a"));
    assertEquals(dec(await readAll(tunnel)), "bye");
    await tunnel.write(enc("fter"));
    await tunnel.closeWrite();
    tunnel.close();
    await relay.handled(1);
    await relay.close();
    await target.close();
    assertEquals(got, "after");
  });
  await t.step("half-close before any write still sends the request", async () => {
    const echo = echoServer();
    const relay = new RelayServer();
    const tunnel = await dialRelay(relay, echo.addr);
    await tunnel.closeWrite();
    assertEquals(await tunnel.read(new Uint8Array(8)), null);
    tunnel.close();
    const [r] = await relay.handled(1);
    assertEquals([r.target, r.error], [echo.addr, undefined]);
    await relay.close();
    await echo.close();
  });
});

Deno.test("authentication: accepted, and rejected with status 2", async () => {
  const echo = echoServer();
  const relay = new RelayServer({ users: USERS });
  const ok = await dialRelay(relay, echo.addr, { auth: USERS[0] });
  await ok.write(enc("in"));
  assertEquals(dec(await readN(ok, 2)), "in");
  ok.close();
  const bad = await dialRelay(relay, echo.addr, { auth: { username: "alice", password: "nope" } });
  await bad.write(enc("in"));
  await assertRejects(() => bad.read(new Uint8Array(8)), AuthError, "2 Unauthorized");
  bad.close();
  const none = await dialRelay(relay, echo.addr, { metadata: { nodelay: true } }).catch((e) => e);
  assert(none instanceof AuthError, String(none));
  const results = await relay.handled(3);
  assertEquals(results.filter((r) => r.error instanceof AuthError).length, 2);
  assertEquals(results.find((r) => !r.error)?.fields, { user: "alice" });
  await relay.close();
  await echo.close();
});

Deno.test("dial failure: status 7 surfaces as ProxyError on the first read", async () => {
  const relay = new RelayServer();
  const tunnel = await dialRelay(relay, `127.0.0.1:${deadPort()}`);
  await tunnel.write(enc("x"));
  await assertRejects(() => tunnel.read(new Uint8Array(8)), ProxyError, "7 Network Unreachable");
  tunnel.close();
  await relay.close();
});

Deno.test("forward mode: two targets in turn, and a dead one skipped after its failure", async (t) => {
  const a = namedServer("A");
  const b = namedServer("B");
  const read1 = async (tunnel: Conn) => {
    await tunnel.write(enc("?"));
    const s = dec(await readN(tunnel, 1));
    tunnel.close();
    return s;
  };
  await t.step("round robin", async () => {
    const targets: Target[] = [{ name: "a", addr: a.addr }, { name: "b", addr: b.addr }];
    const relay = new RelayServer({ forwarder: new Selector(targets) });
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) seen.push(await read1(await dialRelay(relay, ":0")));
    assertEquals(seen, ["A", "B", "A", "B"]);
    await relay.close();
  });
  await t.step("one dead target", async () => {
    const targets: Target[] = [{ name: "dead", addr: `127.0.0.1:${deadPort()}` }, { name: "b", addr: b.addr }];
    const relay = new RelayServer({ forwarder: new Selector(targets) });
    const first = await dialRelay(relay, ":0");
    await first.write(enc("?"));
    await assertRejects(() => first.read(new Uint8Array(8)), ProxyError, "6 Host Unreachable");
    first.close();
    // The dead target is marked failed and skipped from now on.
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) seen.push(await read1(await dialRelay(relay, ":0")));
    assertEquals(seen, ["B", "B", "B"]);
    await relay.close();
  });
  await a.close();
  await b.close();
});

Deno.test("nodelay on both sides", async () => {
  const echo = echoServer();
  const relay = new RelayServer({ metadata: { nodelay: true } });
  const tunnel = await dialRelay(relay, echo.addr, { metadata: { nodelay: "true" } });
  await tunnel.write(enc("fast"));
  assertEquals(dec(await readN(tunnel, 4)), "fast");
  tunnel.close();
  await relay.close();
  await echo.close();
});

Deno.test("server-speaks-first target with connector nodelay=true", async () => {
  const smtp = new TestServer(async (c) => {
    await writeAll(c, enc("220 smtp ready\r\n"));
    const line = dec(await readN(c, 6));
    await writeAll(c, enc(line === "QUIT\r\n" ? "221 bye\r\n" : "500 what\r\n"));
  });
  const relay = new RelayServer();
  const tunnel = await dialRelay(relay, smtp.addr, { metadata: { nodelay: true } });
  // Read before writing anything: the banner arrives (behind the deferred OK, consumed in connect).
  assertEquals(dec(await readN(tunnel, 16)), "220 smtp ready\r\n");
  await tunnel.write(enc("QUIT\r\n"));
  assertEquals(dec(await readAll(tunnel)), "221 bye\r\n");
  tunnel.close();
  await relay.close();
  await smtp.close();
});

Deno.test("50 concurrent tunnels", async () => {
  const echo = echoServer();
  const relay = new RelayServer();
  await Promise.all(Array.from({ length: 50 }, async (_, i) => {
    const tunnel = await dialRelay(relay, echo.addr);
    const msg = `stream ${i} `.repeat(100);
    await tunnel.write(enc(msg));
    await tunnel.closeWrite();
    assertEquals(dec(await readAll(tunnel)), msg);
    tunnel.close();
  }));
  await relay.handled(50);
  await relay.close();
  await echo.close();
});
