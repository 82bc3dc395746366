/**
 * Relay BIND and UDP: byte-exact against the spec sketches (`forward.md`
 * §3.2, `relay.md` §2.1–2.2, §3.2), bad input, keepalive release, and the
 * connector ↔ handler round trip.
 */
import { closeQuietly, writeAll } from "../../transports/_io/write_all.ts";
import { Metadata } from "../../transports/metadata.ts";
import type { Conn, Listener } from "../../transports/types.ts";
import { relayConnector } from "./connector.ts";
import {
  assert,
  assertEquals,
  assertRejects,
  deadPort,
  dec,
  enc,
  hex,
  readAll,
  readN,
  RelayServer,
  silentLog,
  TestServer,
} from "./_testing.ts";

/** `PP PP` of a port. */
const p16 = (n: number) => `${(n >> 8).toString(16).padStart(2, "0")} ${(n & 0xff).toString(16).padStart(2, "0")}`;
const dial = (port: number) => Deno.connect({ hostname: "127.0.0.1", port });
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function refused(port: number): Promise<boolean> {
  try {
    (await dial(port)).close();
    return false;
  } catch (err) {
    return err instanceof Deno.errors.ConnectionRefused;
  }
}

async function waitRefused(port: number, ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await refused(port))) {
    if (Date.now() > until) throw new Error(`port ${port} still bound after ${ms} ms`);
    await delay(20);
  }
}

Deno.test("relay BIND tcp, HEAD encoding: bytes of the spec sketch, streams, client streams closed, port released", async () => {
  const server = new RelayServer({ metadata: { bind: true, "mux.keepaliveDisabled": true } });
  const port = deadPort();
  const c = await dial(server.port);
  try {
    await writeAll(c, hex(`01 02 00 0f 04 00 02 00 00 02 00 07 01 00 00 00 00 ${p16(port)}`));
    assertEquals(await readN(c, 14), hex(`01 00 00 0a 02 00 07 01 00 00 00 00 ${p16(port)}`));

    const inbound = await dial(port);
    const lp = inbound.localAddr.port;
    assertEquals(await readN(c, 8), hex("01 00 00 00 03 00 00 00"), "SYN sid=3");
    assertEquals(
      await readN(c, 22),
      hex(`01 02 0e 00 03 00 00 00 01 00 00 0a 02 00 07 01 7f 00 00 01 ${p16(lp)}`),
      "relay OK + Addr(peer) as a frame of its own",
    );
    await writeAll(inbound, enc("hi"));
    assertEquals(await readN(c, 10), hex("01 02 02 00 03 00 00 00 68 69"));
    await writeAll(c, hex("01 02 03 00 03 00 00 00 61 62 63"));
    assertEquals(dec(await readN(inbound, 3)), "abc");

    // A second inbound connection gets its own stream (5).
    const second = await dial(port);
    assertEquals(await readN(c, 8), hex("01 00 00 00 05 00 00 00"));
    await readN(c, 22);

    // A stream the client opens is closed at once.
    await writeAll(c, hex("01 00 00 00 02 00 00 00"));
    assertEquals(await readN(c, 8), hex("01 01 00 00 02 00 00 00"));

    // The peer's end reaches the client as FIN.
    inbound.close();
    assertEquals(await readN(c, 8), hex("01 01 00 00 03 00 00 00"));

    // The client leaving closes the session, the listener and the carried connections.
    c.close();
    const [r] = await server.handled(1);
    assertEquals(r.target, `0.0.0.0:${port}`);
    await waitRefused(port); // the bound port is released when the session ends
    assertEquals(await readAll(second), new Uint8Array(0));
    second.close();
  } finally {
    closeQuietly(c);
    await server.close();
  }
});

Deno.test("relay BIND tcp, v3.2.6 encoding (zero-length domain) is accepted", async () => {
  const server = new RelayServer({ metadata: { bind: "true", "mux.keepaliveDisabled": true } });
  const port = deadPort();
  const c = await dial(server.port);
  try {
    await writeAll(c, hex(`01 02 00 0c 04 00 02 00 00 02 00 04 03 00 ${p16(port)}`));
    assertEquals(await readN(c, 14), hex(`01 00 00 0a 02 00 07 01 00 00 00 00 ${p16(port)}`));
    assert(!(await refused(port)));
  } finally {
    c.close();
    await server.handled(1);
    await server.close();
  }
});

Deno.test("relay BIND: disabled → Forbidden, port in use → Service Unavailable, unix → Bad Request", async () => {
  const server = new RelayServer({ metadata: {} });
  const enabled = new RelayServer({ metadata: { bind: true } });
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const req = (p: number) => hex(`01 02 00 0f 04 00 02 00 00 02 00 07 01 7f 00 00 01 ${p16(p)}`);
    let c = await dial(server.port);
    await writeAll(c, req(deadPort()));
    assertEquals(await readAll(c), hex("01 03 00 00"));
    c.close();

    c = await dial(enabled.port);
    await writeAll(c, req(busy.addr.port));
    assertEquals(await readAll(c), hex("01 05 00 00"));
    c.close();

    c = await dial(enabled.port);
    await writeAll(c, hex(`01 02 00 0f 04 00 02 00 10 02 00 07 01 7f 00 00 01 ${p16(deadPort())}`));
    assertEquals(await readAll(c), hex("01 01 00 00"));
    c.close();
  } finally {
    busy.close();
    await server.close();
    await enabled.close();
  }
});

Deno.test("relay BIND: garbage requests and wrong frames close only that connection", async () => {
  const server = new RelayServer({ metadata: { bind: true, "mux.keepaliveDisabled": true } });
  try {
    const garbage = [
      "02 02 00 00", // bad version
      "01 02 00 05 02 00 02 09 09", // Addr feature too short
      "01 02 00 07 02 00 04 09 00 00 50", // unknown address type
      "01 02 00 10 04 00 02", // truncated
      "01 02 00 04 04 00 05 00", // feature longer than FEALEN
    ];
    for (const g of garbage) {
      const c = await dial(server.port);
      await writeAll(c, hex(g));
      await c.closeWrite();
      assertEquals(await readAll(c), new Uint8Array(0), g);
      c.close();
    }
    // A session that receives a frame of the wrong version dies; the port goes with it.
    const port = deadPort();
    const c = await dial(server.port);
    await writeAll(c, hex(`01 02 00 0f 04 00 02 00 00 02 00 07 01 7f 00 00 01 ${p16(port)}`));
    await readN(c, 14);
    await writeAll(c, hex("07 09 00 00 00 00 00 00"));
    assertEquals(await readAll(c), new Uint8Array(0));
    c.close();
    await waitRefused(port);
    // The server is still fine.
    const ok = await dial(server.port);
    await writeAll(ok, hex(`01 02 00 0f 04 00 02 00 00 02 00 07 01 7f 00 00 01 ${p16(port)}`));
    assertEquals((await readN(ok, 14))[1], 0);
    ok.close();
    await server.handled(garbage.length + 2);
  } finally {
    await server.close();
  }
});

Deno.test("relay BIND: a silent client is dropped after mux.keepaliveTimeout and the port released", async () => {
  const server = new RelayServer({
    metadata: { bind: true, "mux.keepaliveInterval": "50ms", "mux.keepaliveTimeout": "200ms" },
  });
  const port = deadPort();
  const c = await dial(server.port);
  try {
    await writeAll(c, hex(`01 02 00 0f 04 00 02 00 00 02 00 07 01 7f 00 00 01 ${p16(port)}`));
    await readN(c, 14);
    // The server pings: NOP frames.
    assertEquals(await readN(c, 8), hex("01 03 00 00 00 00 00 00"));
    const t0 = Date.now();
    await waitRefused(port, 2000);
    assert(Date.now() - t0 < 2000, "released within a few keepalive timeouts");
    await readAll(c);
  } finally {
    c.close();
    await server.close();
  }
});

/** A UDP socket on loopback that echoes datagrams with a prefix. */
function udpEcho(prefix = "") {
  const sock = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  const loop = (async () => {
    for (;;) {
      try {
        const [d, from] = await sock.receive();
        await sock.send(new Uint8Array([...enc(prefix), ...d]), from);
      } catch {
        return;
      }
    }
  })();
  return {
    port: (sock.addr as Deno.NetAddr).port,
    async close() {
      sock.close();
      await loop;
    },
  };
}

Deno.test("relay UDP CONNECT: length-prefixed datagrams, deferred OK in front of the first answer", async () => {
  const echo = udpEcho();
  const server = new RelayServer();
  const c = await dial(server.port);
  try {
    await writeAll(c, hex(`01 81 00 0f 04 00 02 00 01 02 00 07 01 7f 00 00 01 ${p16(echo.port)} 00 02 12 34`));
    assertEquals(await readN(c, 8), hex("01 00 00 00 00 02 12 34"));
    await writeAll(c, hex("00 03 61 62 63 00 01 7a"));
    assertEquals(await readN(c, 8), hex("00 03 61 62 63 00 01 7a"));
  } finally {
    c.close();
    await server.handled(1);
    await server.close();
    await echo.close();
  }
});

Deno.test("relay BIND udp (0x82): UDP-tunnel framing both ways", async () => {
  const server = new RelayServer({ metadata: { bind: true } });
  const port = deadPort();
  const peer = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  const pp = (peer.addr as Deno.NetAddr).port;
  const c = await dial(server.port);
  try {
    await writeAll(c, hex(`01 82 00 0f 04 00 02 00 01 02 00 07 01 7f 00 00 01 ${p16(port)}`));
    assertEquals(await readN(c, 14), hex(`01 00 00 0a 02 00 07 01 7f 00 00 01 ${p16(port)}`));
    await peer.send(hex("12 34"), { transport: "udp", hostname: "127.0.0.1", port });
    assertEquals(await readN(c, 12), hex(`00 02 ff 01 7f 00 00 01 ${p16(pp)} 12 34`));
    await writeAll(c, hex(`00 03 ff 01 7f 00 00 01 ${p16(pp)} 61 62 63`));
    const [d, from] = await peer.receive();
    assertEquals(dec(d), "abc");
    assertEquals((from as Deno.NetAddr).port, port);
    // LEN 0 is a protocol error: the tunnel ends.
    await writeAll(c, hex(`00 00 ff 01 7f 00 00 01 ${p16(pp)}`));
    assertEquals(await readAll(c), new Uint8Array(0));
  } finally {
    c.close();
    peer.close();
    await server.handled(1);
    await server.close();
  }
});

function connector(md: Record<string, unknown> = {}, auth?: { username: string; password: string }) {
  return relayConnector({ metadata: new Metadata(md), auth, tls: { secure: false }, log: silentLog });
}

Deno.test("relay connector BIND: request bytes (HEAD encoding), stream header stripped, peer as remoteAddr", async () => {
  let got: Uint8Array | undefined;
  const fake = new TestServer(async (c) => {
    got = await readN(c, 19);
    await writeAll(c, hex("01 00 00 0a 02 00 07 01 00 00 00 00 1f 90"));
    // smux v1, this side is the smux client: SYN 3, the header as one frame, then data.
    await writeAll(c, hex("01 00 00 00 03 00 00 00"));
    await writeAll(c, hex("01 02 0e 00 03 00 00 00 01 00 00 0a 02 00 07 01 cb 00 71 07 c7 38"));
    await writeAll(c, hex("01 02 05 00 03 00 00 00 68 65 6c 6c 6f"));
    assertEquals(await readN(c, 13), hex("01 02 05 00 03 00 00 00 77 6f 72 6c 64"));
    await readAll(c);
  });
  const conn = await dial(fake.port);
  let ln: Listener | undefined;
  try {
    ln = await connector({ "mux.keepaliveDisabled": true }).bind(conn, "tcp", ":8080");
    assertEquals(got, hex("01 02 00 0f 04 00 02 00 00 02 00 07 01 00 00 00 00 1f 90"));
    assertEquals(ln.addr, { transport: "tcp", hostname: "0.0.0.0", port: 8080 });
    const s = await ln.accept();
    assertEquals(s.remoteAddr, { transport: "tcp", hostname: "203.0.113.7", port: 51000 });
    assertEquals(dec(await readN(s, 5)), "hello");
    await writeAll(s, enc("world"));
    await delay(50);
    s.close();
  } finally {
    ln?.close();
    closeQuietly(conn);
    await fake.close();
  }
});

Deno.test("relay connector BIND: UserAuth first; an error status rejects", async () => {
  let got: Uint8Array | undefined;
  const fake = new TestServer(async (c) => {
    got = await readN(c, 4 + 7 + 5 + 10);
    await writeAll(c, hex("01 03 00 00"));
  });
  const conn = await dial(fake.port);
  try {
    await assertRejects(
      () => connector({}, { username: "u", password: "p" }).bind(conn, "tcp", ":2222"),
      Error,
      "3 Forbidden",
    );
    assertEquals(got, hex("01 02 00 16 01 00 04 01 75 01 70 04 00 02 00 00 02 00 07 01 00 00 00 00 08 ae"));
  } finally {
    closeQuietly(conn);
    await fake.close();
  }
});

Deno.test("relay connector ↔ handler: TCP bind round trip with several concurrent peers", async () => {
  const server = new RelayServer({ metadata: { bind: true } });
  const conn = await dial(server.port);
  let ln: Listener | undefined;
  try {
    ln = await connector().bind(conn, "tcp", "127.0.0.1:0");
    const port = (ln.addr as Deno.NetAddr).port;
    assert(port > 0);
    const serving = (async () => {
      const done: Promise<void>[] = [];
      for (let i = 0; i < 5; i++) {
        const s: Conn = await ln!.accept();
        done.push((async () => {
          const b = await readN(s, 4);
          await writeAll(s, enc(`<${dec(b)}>`));
          await delay(20);
          s.close();
        })());
      }
      await Promise.all(done);
    })();
    const answers = await Promise.all([0, 1, 2, 3, 4].map(async (i) => {
      const c = await dial(port);
      await writeAll(c, enc(`req${i}`));
      const r = dec(await readAll(c));
      c.close();
      return r;
    }));
    assertEquals(answers, ["<req0>", "<req1>", "<req2>", "<req3>", "<req4>"]);
    await serving;
  } finally {
    ln?.close();
    closeQuietly(conn);
    await server.handled(1);
    await server.close();
  }
});

Deno.test("relay connector ↔ handler: UDP bind, one pseudo-connection per sender", async () => {
  const server = new RelayServer({ metadata: { bind: true } });
  const conn = await dial(server.port);
  const a = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  const b = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  let ln: Listener | undefined;
  try {
    ln = await connector().bind(conn, "udp", "127.0.0.1:0");
    const to = { transport: "udp" as const, hostname: "127.0.0.1", port: (ln.addr as Deno.NetAddr).port };
    await a.send(enc("from-a"), to);
    const ca = await ln.accept();
    await b.send(enc("from-b"), to);
    const cb = await ln.accept();
    const buf = new Uint8Array(100);
    assertEquals(dec(buf.subarray(0, (await ca.read(buf))!)), "from-a");
    assertEquals(dec(buf.subarray(0, (await cb.read(buf))!)), "from-b");
    assertEquals((ca.remoteAddr as Deno.NetAddr).port, (a.addr as Deno.NetAddr).port);
    await cb.write(enc("to-b"));
    assertEquals(dec((await b.receive())[0]), "to-b");
    ca.close();
    cb.close();
  } finally {
    ln?.close();
    a.close();
    b.close();
    closeQuietly(conn);
    await server.handled(1);
    await server.close();
  }
});

Deno.test("relay connector BIND: a stream with a bad header is dropped (FIN), the next one still served", async () => {
  const fake = new TestServer(async (c) => {
    await readN(c, 19);
    await writeAll(c, hex("01 00 00 0a 02 00 07 01 00 00 00 00 1f 90"));
    await writeAll(c, hex("01 00 00 00 03 00 00 00 01 02 04 00 03 00 00 00 02 00 00 00"));
    assertEquals(await readN(c, 8), hex("01 01 00 00 03 00 00 00"), "the bad stream is closed");
    await writeAll(c, hex("01 00 00 00 05 00 00 00"));
    await writeAll(c, hex("01 02 0e 00 05 00 00 00 01 00 00 0a 02 00 07 01 7f 00 00 01 00 50"));
    await writeAll(c, hex("01 02 02 00 05 00 00 00 6f 6b"));
    await readAll(c);
  });
  const conn = await dial(fake.port);
  let ln: Listener | undefined;
  try {
    ln = await connector({ "mux.keepaliveDisabled": true }).bind(conn, "tcp", "0.0.0.0:8080");
    const s = await ln.accept();
    assertEquals(s.remoteAddr, { transport: "tcp", hostname: "127.0.0.1", port: 80 });
    assertEquals(dec(await readN(s, 2)), "ok");
    s.close();
  } finally {
    ln?.close();
    closeQuietly(conn);
    await fake.close();
  }
});

Deno.test("relay connector ↔ handler: IPv6 bind address and peer (Addr type 04)", async () => {
  const server = new RelayServer({ metadata: { bind: true } });
  const conn = await dial(server.port);
  let ln: Listener | undefined;
  try {
    ln = await connector().bind(conn, "tcp", "[::1]:0");
    const bound = ln.addr as Deno.NetAddr;
    assertEquals(bound.hostname, "::1");
    const c = await Deno.connect({ hostname: "::1", port: bound.port });
    const s = await ln.accept();
    assertEquals(s.remoteAddr, { transport: "tcp", hostname: "::1", port: c.localAddr.port });
    await writeAll(c, enc("v6"));
    assertEquals(dec(await readN(s, 2)), "v6");
    s.close();
    c.close();
  } finally {
    ln?.close();
    closeQuietly(conn);
    await server.handled(1);
    await server.close();
  }
});
