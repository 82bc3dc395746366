/**
 * SOCKS5 MBIND, BIND and UDP-TUN: byte-exact against the spec sketches
 * (`socks5.md` §2.4–2.7, §3.3–3.4, §5, `forward.md` §3.2), bad input, and
 * the connector ↔ handler round trips (including GOST's default TLS method).
 */
import { assert, assertEquals, assertRejects } from "../../tests/assert.ts";
import { closeQuietly, writeAll } from "../../transports/_io/write_all.ts";
import type { Listener } from "../../transports/types.ts";
import { ProxyError } from "../types.ts";
import { socks5Connector } from "./connector.ts";
import { socks5Handler } from "./handler.ts";
import { connectorOptions, freePort, handlerOptions, readAll, serve, testCert } from "./_testing.ts";

const hex = (s: string) => new Uint8Array(s.trim().split(/\s+/).map((h) => parseInt(h, 16)));
const p16 = (n: number) => `${(n >> 8).toString(16).padStart(2, "0")} ${(n & 0xff).toString(16).padStart(2, "0")}`;
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const dial = (port: number) => Deno.connect({ hostname: "127.0.0.1", port });
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function readN(c: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  for (let off = 0; off < n;) {
    const r = await c.read(out.subarray(off));
    if (r === null) throw new Error(`EOF after ${off} of ${n} bytes`);
    off += r;
  }
  return out;
}

async function refused(port: number): Promise<boolean> {
  try {
    (await dial(port)).close();
    return false;
  } catch (err) {
    return err instanceof Deno.errors.ConnectionRefused;
  }
}

/** Waits until nothing listens on `port` (a closed listener's socket goes away a tick later). */
async function waitRefused(port: number, ms = 2000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await refused(port))) {
    if (Date.now() > until) throw new Error(`port ${port} still bound after ${ms} ms`);
    await delay(10);
  }
}

Deno.test("socks5 MBIND: request, reply, per-stream reply as its own frame, client streams closed", async () => {
  const srv = serve(socks5Handler(handlerOptions({ md: { bind: true, "mux.keepaliveDisabled": true } })));
  const port = freePort();
  const c = await dial(srv.port);
  try {
    await writeAll(c, hex(`05 01 00 05 f2 00 01 00 00 00 00 ${p16(port)}`));
    assertEquals(await readN(c, 2), hex("05 00"));
    // 05 00 00 + the control connection's local IP + the bound port.
    assertEquals(await readN(c, 10), hex(`05 00 00 01 7f 00 00 01 ${p16(port)}`));
    const inbound = await dial(port);
    const lp = inbound.localAddr.port;
    assertEquals(await readN(c, 8), hex("01 00 00 00 03 00 00 00"));
    assertEquals(await readN(c, 18), hex(`01 02 0a 00 03 00 00 00 05 00 00 01 7f 00 00 01 ${p16(lp)}`));
    await writeAll(inbound, enc("ping"));
    assertEquals(await readN(c, 12), hex("01 02 04 00 03 00 00 00 70 69 6e 67"));
    await writeAll(c, hex("01 02 04 00 03 00 00 00 70 6f 6e 67"));
    assertEquals(dec(await readN(inbound, 4)), "pong");
    await writeAll(c, hex("01 00 00 00 02 00 00 00"));
    assertEquals(await readN(c, 8), hex("01 01 00 00 02 00 00 00"));
    c.close();
    const [r] = await srv.handled(1);
    assertEquals(r.target, `0.0.0.0:${port}`);
    await waitRefused(port);
    assertEquals(await readAll(inbound), new Uint8Array(0));
    inbound.close();
  } finally {
    closeQuietly(c);
    await srv.close();
  }
});

Deno.test("socks5 MBIND with comp=true and publicAddr: no stream header; the public host in the reply", async () => {
  const srv = serve(socks5Handler(handlerOptions({
    md: { bind: true, comp: true, publicAddr: "203.0.113.7", "mux.keepaliveDisabled": true },
  })));
  const port = freePort();
  const c = await dial(srv.port);
  try {
    await writeAll(c, hex(`05 01 00 05 f2 00 01 7f 00 00 01 ${p16(port)}`));
    assertEquals(await readN(c, 12), hex(`05 00 05 00 00 01 cb 00 71 07 ${p16(port)}`));
    const inbound = await dial(port);
    await writeAll(inbound, enc("x"));
    assertEquals(await readN(c, 8), hex("01 00 00 00 03 00 00 00"));
    assertEquals(await readN(c, 9), hex("01 02 01 00 03 00 00 00 78"));
    inbound.close();
  } finally {
    c.close();
    await srv.handled(1);
    await srv.close();
  }
});

Deno.test("socks5 MBIND: port in use → 05 01; a broken smux frame ends only that session", async () => {
  const srv = serve(socks5Handler(handlerOptions({ md: { bind: true } })));
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const c1 = await dial(srv.port);
    await writeAll(c1, hex(`05 01 00 05 f2 00 01 7f 00 00 01 ${p16(busy.addr.port)}`));
    assertEquals(await readAll(c1), hex("05 00 05 01 00 01 00 00 00 00 00 00"));
    c1.close();
    const port = freePort();
    const c2 = await dial(srv.port);
    await writeAll(c2, hex(`05 01 00 05 f2 00 01 7f 00 00 01 ${p16(port)}`));
    await readN(c2, 12);
    await writeAll(c2, hex("01 09 00 00 00 00 00 00"));
    assertEquals(await readAll(c2), new Uint8Array(0));
    c2.close();
    await srv.handled(2);
    await waitRefused(port);
  } finally {
    busy.close();
    await srv.close();
  }
});

Deno.test("socks5 BIND (0x02): two replies, then the one peer is relayed over the control connection", async () => {
  const srv = serve(socks5Handler(handlerOptions({ md: { bind: true } })));
  const port = freePort();
  const c = await dial(srv.port);
  try {
    await writeAll(c, hex(`05 01 00 05 02 00 01 7f 00 00 01 ${p16(port)}`));
    assertEquals(await readN(c, 12), hex(`05 00 05 00 00 01 7f 00 00 01 ${p16(port)}`));
    const peer = await dial(port);
    assertEquals(await readN(c, 10), hex(`05 00 00 01 7f 00 00 01 ${p16(peer.localAddr.port)}`));
    await waitRefused(port); // the listener closes after one peer
    await writeAll(peer, enc("from-peer"));
    assertEquals(dec(await readN(c, 9)), "from-peer");
    await writeAll(c, enc("from-client"));
    assertEquals(dec(await readN(peer, 11)), "from-client");
    peer.close();
    assertEquals(await readAll(c), new Uint8Array(0));
    c.close();
    const [r] = await srv.handled(1);
    assertEquals([r.inBytes, r.outBytes], [11, 9]);
  } finally {
    closeQuietly(c);
    await srv.close();
  }
});

Deno.test("socks5 BIND: a client that leaves before a peer arrives closes the listener", async () => {
  const srv = serve(socks5Handler(handlerOptions({ md: { bind: true } })));
  const port = freePort();
  const c = await dial(srv.port);
  await writeAll(c, hex(`05 01 00 05 02 00 01 7f 00 00 01 ${p16(port)}`));
  await readN(c, 12);
  c.close();
  const [r] = await srv.handled(1);
  assert(r.error instanceof ProxyError, String(r.error));
  await waitRefused(port);
  await srv.close();
});

Deno.test("socks5 UDP-TUN with a port: framing both ways; bad frames end the tunnel", async () => {
  const srv = serve(socks5Handler(handlerOptions({ md: { bind: true } })));
  const port = freePort();
  const peer = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  const pp = (peer.addr as Deno.NetAddr).port;
  const c = await dial(srv.port);
  try {
    await writeAll(c, hex(`05 01 00 05 f3 00 01 7f 00 00 01 ${p16(port)}`));
    assertEquals(await readN(c, 12), hex(`05 00 05 00 00 01 7f 00 00 01 ${p16(port)}`));
    await peer.send(hex("12 34"), { transport: "udp", hostname: "127.0.0.1", port });
    assertEquals(await readN(c, 12), hex(`00 02 ff 01 7f 00 00 01 ${p16(pp)} 12 34`));
    // A frame to a named host: the server resolves it.
    await writeAll(c, hex(`00 01 ff 03 09 6c 6f 63 61 6c 68 6f 73 74 ${p16(pp)} 7a`));
    const [d, from] = await peer.receive();
    assertEquals([dec(d), (from as Deno.NetAddr).port], ["z", port]);
    await writeAll(c, hex("00 01 ff 09 00"));
    assertEquals(await readAll(c), new Uint8Array(0));
  } finally {
    c.close();
    peer.close();
    await srv.handled(1);
    await srv.close();
  }
});

Deno.test("socks5 connector: MBIND request bytes (:2222 → 0.0.0.0), reply header stripped per stream", async () => {
  let got: Uint8Array | undefined;
  const ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const server = (async () => {
    const c = await ln.accept();
    try {
      await readN(c, 3);
      await writeAll(c, hex("05 00"));
      got = await readN(c, 10);
      await writeAll(c, hex("05 00 00 01 0a 00 00 01 08 ae"));
      await writeAll(c, hex("01 00 00 00 03 00 00 00"));
      await writeAll(c, hex("01 02 0a 00 03 00 00 00 05 00 00 01 cb 00 71 07 c7 38"));
      await writeAll(c, hex("01 02 02 00 03 00 00 00 68 69"));
      await readAll(c);
    } finally {
      c.close();
    }
  })();
  const conn = await dial(ln.addr.port);
  let bound: Listener | undefined;
  try {
    const connector = socks5Connector(connectorOptions({ notls: true, "mux.keepaliveDisabled": true }));
    const hs = await connector.handshake!(conn);
    bound = await connector.bind(hs, "tcp", ":2222");
    assertEquals(got, hex("05 f2 00 01 00 00 00 00 08 ae"));
    assertEquals(bound.addr, { transport: "tcp", hostname: "10.0.0.1", port: 2222 });
    const s = await bound.accept();
    assertEquals(s.remoteAddr, { transport: "tcp", hostname: "203.0.113.7", port: 51000 });
    assertEquals(dec(await readN(s as Deno.Conn, 2)), "hi");
    s.close();
  } finally {
    bound?.close();
    closeQuietly(conn);
    ln.close();
    await server;
  }
});

Deno.test("socks5 connector ↔ handler: MBIND over GOST's TLS method 0x80 with auth, concurrent peers", async () => {
  const { StaticAuthenticator } = await import("../auth.ts");
  const srv = serve(socks5Handler(handlerOptions({
    md: { bind: true },
    auther: new StaticAuthenticator([{ username: "u", password: "p" }]),
    tls: testCert,
  })));
  const conn = await dial(srv.port);
  let bound: Listener | undefined;
  try {
    const connector = socks5Connector(connectorOptions({}, { username: "u", password: "p" }));
    const hs = await connector.handshake!(conn);
    bound = await connector.bind(hs, "tcp", "127.0.0.1:0");
    const port = (bound.addr as Deno.NetAddr).port;
    const serving = (async () => {
      for (let i = 0; i < 4; i++) {
        const s = await bound!.accept();
        (async () => {
          const buf = new Uint8Array(64);
          const n = await s.read(buf);
          await writeAll(s, enc(`echo:${dec(buf.subarray(0, n!))}`));
          await delay(20);
          s.close();
        })();
      }
    })();
    const got = await Promise.all([0, 1, 2, 3].map(async (i) => {
      const c = await dial(port);
      await writeAll(c, enc(`m${i}`));
      const r = dec(await readAll(c));
      c.close();
      return r;
    }));
    assertEquals(got, ["echo:m0", "echo:m1", "echo:m2", "echo:m3"]);
    await serving;
  } finally {
    bound?.close();
    closeQuietly(conn);
    await srv.handled(1);
    await srv.close();
  }
});

Deno.test("socks5 connector ↔ handler: UDP CONNECT over UDP-TUN (05 f3 00 01 0…0) and UDP bind", async () => {
  const srv = serve(socks5Handler(handlerOptions({ md: { bind: true, udp: true } })));
  const echo = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  const echoing = (async () => {
    for (;;) {
      try {
        const [d, from] = await echo.receive();
        await echo.send(new Uint8Array([0x3e, ...d]), from);
      } catch {
        return;
      }
    }
  })();
  const c1 = await dial(srv.port);
  const c2 = await dial(srv.port);
  let bound: Listener | undefined;
  try {
    const connector = socks5Connector(connectorOptions({ notls: true }));
    const tun = await connector.connect(
      await connector.handshake!(c1),
      "udp",
      `127.0.0.1:${(echo.addr as Deno.NetAddr).port}`,
    );
    await tun.write(enc("dns?"));
    const buf = new Uint8Array(100);
    assertEquals(dec(buf.subarray(0, (await tun.read(buf))!)), ">dns?");

    bound = await connector.bind(await connector.handshake!(c2), "udp", "127.0.0.1:0");
    const bp = (bound.addr as Deno.NetAddr).port;
    await echo.send(enc("knock"), { transport: "udp", hostname: "127.0.0.1", port: bp });
    const pc = await bound.accept();
    assertEquals(dec(buf.subarray(0, (await pc.read(buf))!)), "knock");
    await pc.write(enc("who"));
    // The echo server answers to the bound port: a second datagram on the same pseudo-connection.
    assertEquals(dec(buf.subarray(0, (await pc.read(buf))!)), ">who");
    pc.close();
    tun.close();
  } finally {
    bound?.close();
    closeQuietly(c1);
    closeQuietly(c2);
    echo.close();
    await echoing;
    await srv.handled(2);
    await srv.close();
  }
});

Deno.test("socks5 connector: a refused MBIND rejects with the reply text", async () => {
  const srv = serve(socks5Handler(handlerOptions()));
  const conn = await dial(srv.port);
  try {
    const connector = socks5Connector(connectorOptions({ notls: true }));
    await assertRejects(
      async () => await connector.bind(await connector.handshake!(conn), "tcp", ":0"),
      ProxyError,
      "not allowed",
    );
  } finally {
    conn.close();
    await srv.handled(1);
    await srv.close();
  }
});
