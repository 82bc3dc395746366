import { assert, assertEquals, assertRejects } from "../../tests/assert.ts";
import { Metadata } from "../metadata.ts";
import { ClosedError } from "../types.ts";
import { dialUdp } from "./dial.ts";
import { PacketListener } from "./listener.ts";
import { DEFAULT_PACKET_LISTENER_OPTIONS, parsePacketListenerMetadata, RUDP_LISTENER_DEFAULTS } from "./metadata.ts";
import { SocketPacketConn } from "./packet.ts";
import { pipeDatagrams } from "./pipe.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sock = () => Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
const portOf = (a: Deno.Addr) => (a as Deno.NetAddr).port;

Deno.test("udp listener metadata: GOST keys and defaults", () => {
  assertEquals(parsePacketListenerMetadata(new Metadata({})), { ...DEFAULT_PACKET_LISTENER_OPTIONS, keepalive: false });
  assertEquals(
    parsePacketListenerMetadata(
      new Metadata({ ttl: "2s", readBufferSize: 100000, recvQueueSize: 3, backlog: "0", keepalive: "true" }),
    ),
    { ttl: 2000, readBufferSize: 65535, readQueueSize: 3, backlog: 128, keepalive: true },
  );
  assertEquals(parsePacketListenerMetadata(new Metadata({}), RUDP_LISTENER_DEFAULTS), {
    ttl: 5000,
    readBufferSize: 8192,
    readQueueSize: 1024,
    backlog: 128,
    keepalive: true,
  });
  assertEquals(parsePacketListenerMetadata(new Metadata({ "keepalive.ttl": 7, "udp.bufferSize": 512 })).ttl, 7000);
});

Deno.test("udp listener: one pseudo-connection per peer, replies go back to that peer, ttl ends idle ones", async () => {
  const ln = new PacketListener(SocketPacketConn.listen("127.0.0.1", 0), { ttl: 400 });
  const to = { transport: "udp" as const, hostname: "127.0.0.1", port: portOf(ln.addr) };
  const a = sock(), b = sock();
  try {
    await a.send(enc("a1"), to);
    await a.send(enc("a2"), to);
    await b.send(enc("b1"), to);
    const ca = await ln.accept();
    const cb = await ln.accept();
    assertEquals(portOf(ca.remoteAddr), portOf(a.addr));
    const buf = new Uint8Array(64);
    assertEquals(dec(buf.subarray(0, (await ca.read(buf))!)), "a1");
    assertEquals(dec(buf.subarray(0, (await ca.read(buf))!)), "a2");
    assertEquals(dec(buf.subarray(0, (await cb.read(buf))!)), "b1");
    await cb.write(enc("to-b"));
    assertEquals(dec((await b.receive())[0]), "to-b");
    assertEquals(ln.size, 2);
    // A short buffer truncates, like a UDP read.
    await a.send(enc("0123456789"), to);
    assertEquals(await ca.read(new Uint8Array(4)), 4);
    // Idle for longer than ttl: reads end.
    assertEquals(await ca.read(buf), null);
    assertEquals(await cb.read(buf), null);
    assertEquals(ln.size, 0);
    // The same peer again is a new pseudo-connection.
    await a.send(enc("again"), to);
    const ca2 = await ln.accept();
    assert(ca2 !== ca);
    ca2.close();
  } finally {
    ln.close();
    a.close();
    b.close();
    await ln.done;
  }
  await assertRejects(() => ln.accept(), ClosedError);
});

Deno.test("udp listener without keepalive (GOST's udp default): a pseudo-connection ends with its first answer", async () => {
  const ln = new PacketListener(SocketPacketConn.listen("127.0.0.1", 0), { keepalive: false });
  const to = { transport: "udp" as const, hostname: "127.0.0.1", port: portOf(ln.addr) };
  const a = sock();
  try {
    await a.send(enc("q"), to);
    const c = await ln.accept();
    const buf = new Uint8Array(8);
    assertEquals(await c.read(buf), 1);
    await c.write(enc("answer"));
    assertEquals(await c.read(buf), null);
    assertEquals(dec((await a.receive())[0]), "answer");
    await a.send(enc("again"), to);
    const c2 = await ln.accept();
    assert(c2 !== c, "the next datagram opens a new pseudo-connection");
    c2.close();
  } finally {
    ln.close();
    a.close();
    await ln.done;
  }
});

Deno.test("udp listener: backlog and per-peer queue limits drop instead of growing", async () => {
  const ln = new PacketListener(SocketPacketConn.listen("127.0.0.1", 0), { backlog: 1, readQueueSize: 2 });
  const to = { transport: "udp" as const, hostname: "127.0.0.1", port: portOf(ln.addr) };
  const a = sock(), b = sock();
  try {
    for (const m of ["1", "2", "3", "4"]) await a.send(enc(m), to);
    await b.send(enc("dropped: backlog full"), to);
    await delay(50);
    const ca = await ln.accept();
    const buf = new Uint8Array(64);
    assertEquals(dec(buf.subarray(0, (await ca.read(buf))!)), "1");
    assertEquals(dec(buf.subarray(0, (await ca.read(buf))!)), "2");
    assertEquals(ln.size, 1, "b was dropped");
    ca.close();
  } finally {
    ln.close();
    a.close();
    b.close();
    await ln.done;
  }
});

Deno.test("udp dial: talks to one peer, ignores others; pipeDatagrams keeps datagram boundaries", async () => {
  const server = sock();
  const stranger = sock();
  const conn = await dialUdp(`127.0.0.1:${portOf(server.addr)}`);
  try {
    await conn.write(enc("hello"));
    const [d, from] = await server.receive();
    assertEquals(dec(d), "hello");
    await stranger.send(enc("spoof"), from);
    await server.send(enc("world"), from);
    const buf = new Uint8Array(64);
    assertEquals(dec(buf.subarray(0, (await conn.read(buf))!)), "world");
  } finally {
    conn.close();
    server.close();
    stranger.close();
  }
  await assertRejects(() => dialUdp("127.0.0.1:0"), TypeError);
});

Deno.test("pipeDatagrams: a local forward between a pseudo-connection and a dialled socket", async () => {
  const echo = sock();
  const echoing = (async () => {
    for (;;) {
      try {
        const [d, from] = await echo.receive();
        await echo.send(new Uint8Array([...enc("re:"), ...d]), from);
      } catch {
        return;
      }
    }
  })();
  const ln = new PacketListener(SocketPacketConn.listen("127.0.0.1", 0), { ttl: 200 });
  const client = sock();
  try {
    const to = { transport: "udp" as const, hostname: "127.0.0.1", port: portOf(ln.addr) };
    await client.send(enc("q1"), to);
    const pc = await ln.accept();
    const up = await dialUdp(`127.0.0.1:${portOf(echo.addr)}`);
    const relay = pipeDatagrams(pc, up);
    assertEquals(dec((await client.receive())[0]), "re:q1");
    await client.send(enc("q2"), to);
    assertEquals(dec((await client.receive())[0]), "re:q2");
    const r = await relay; // ends with the ttl
    assertEquals([r.aToB, r.bToA], [4, 10]);
  } finally {
    ln.close();
    client.close();
    echo.close();
    await echoing;
    await ln.done;
  }
});
