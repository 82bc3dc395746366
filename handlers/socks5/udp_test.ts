/**
 * SOCKS5 UDP ASSOCIATE (`socks5.md` §2.6): byte-level exchange, dropped
 * datagrams (fragments, strangers), routing through a chain, and the end of
 * the association with its TCP connection.
 */
import { assert, assertEquals } from "../../tests/assert.ts";
import { closeQuietly, writeAll } from "../../transports/_io/write_all.ts";
import { Metadata } from "../../transports/metadata.ts";
import { tcpDialer } from "../../transports/tcp/mod.ts";
import { Chain, ChainRouter } from "../chain/chain.ts";
import { Hop } from "../chain/hop.ts";
import { relayConnector } from "../relay/connector.ts";
import { RelayServer } from "../relay/_testing.ts";
import { socks5Handler } from "./handler.ts";
import { parseUdpHeader } from "./udp.ts";
import { handlerOptions, quietLog, serve } from "./_testing.ts";

const hex = (s: string) => new Uint8Array(s.trim().split(/\s+/).map((h) => parseInt(h, 16)));
const p16 = (n: number) => `${(n >> 8).toString(16).padStart(2, "0")} ${(n & 0xff).toString(16).padStart(2, "0")}`;
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

async function readN(c: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  for (let off = 0; off < n;) {
    const r = await c.read(out.subarray(off));
    if (r === null) throw new Error(`EOF after ${off} of ${n} bytes`);
    off += r;
  }
  return out;
}

function udpEcho() {
  const sock = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  const loop = (async () => {
    for (;;) {
      try {
        const [d, from] = await sock.receive();
        await sock.send(new Uint8Array([...enc("re:"), ...d]), from);
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

/** Receives one datagram or null after `ms`. */
async function receiveOrNull(s: Deno.DatagramConn, ms: number): Promise<Uint8Array | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<null>((r) => (timer = setTimeout(() => r(null), ms)));
  const got = s.receive().then(([d]) => d, () => null);
  const r = await Promise.race([got, timeout]);
  clearTimeout(timer);
  return r;
}

Deno.test("socks5 UDP header parser: IPv4, IPv6, names, short and unknown", () => {
  assertEquals(parseUdpHeader(hex("00 00 00 01 08 08 08 08 00 35 aa")), {
    frag: 0,
    hostname: "8.8.8.8",
    port: 53,
    offset: 10,
  });
  assertEquals(parseUdpHeader(hex("00 00 01 03 01 61 00 50"))?.hostname, "a");
  assertEquals(parseUdpHeader(hex("00 00 00 04 " + "00 ".repeat(15) + "01 00 35"))?.hostname, "::1");
  assertEquals(parseUdpHeader(hex("00 00 00 01 08 08")), null);
  assertEquals(parseUdpHeader(hex("00 00 00 05 00 00 00 00 00 00")), null);
  assertEquals(parseUdpHeader(hex("00 00 00 03 09 61")), null);
});

Deno.test("socks5 UDP ASSOCIATE: relay address in the reply, datagrams both ways, fragments and strangers dropped", async () => {
  const echo = udpEcho();
  const srv = serve(socks5Handler(handlerOptions({ md: { udp: true } })));
  const c = await Deno.connect({ hostname: "127.0.0.1", port: srv.port });
  const u = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  const stranger = Deno.listenDatagram({ hostname: "127.0.0.2", port: 0, transport: "udp" });
  try {
    await writeAll(c, hex("05 01 00 05 03 00 01 00 00 00 00 00 00"));
    const reply = await readN(c, 12);
    assertEquals(Array.from(reply.subarray(0, 8)), [5, 0, 5, 0, 0, 1, 127, 0]);
    const relay = { transport: "udp" as const, hostname: "127.0.0.1", port: (reply[10] << 8) | reply[11] };
    const head = `00 00 00 01 7f 00 00 01 ${p16(echo.port)}`;
    await u.send(new Uint8Array([...hex(head), ...enc("ping")]), relay);
    const [d] = await u.receive();
    assertEquals(Array.from(d.subarray(0, 10)), Array.from(hex(head)));
    assertEquals(dec(d.subarray(10)), "re:ping");
    // A fragment (FRAG ≠ 0) and a datagram from another IP are dropped.
    await u.send(new Uint8Array([...hex(`00 00 01 01 7f 00 00 01 ${p16(echo.port)}`), ...enc("frag")]), relay);
    await stranger.send(new Uint8Array([...hex(head), ...enc("spoof")]), relay);
    assertEquals(await receiveOrNull(u, 150), null);
    assertEquals(await receiveOrNull(stranger, 10), null);
    // The association ends with the TCP connection.
    c.close();
    const [r] = await srv.handled(1);
    assertEquals([r.inBytes, r.outBytes], [4, 7]);
  } finally {
    closeQuietly(c);
    u.close();
    stranger.close();
    await srv.close();
    await echo.close();
  }
});

Deno.test("socks5 UDP ASSOCIATE through a chain: each destination via the relay node's UDP", async () => {
  const echo = udpEcho();
  const relay = new RelayServer();
  const node = {
    name: "node-0",
    addr: relay.addr,
    connector: relayConnector({ metadata: new Metadata({}), tls: { secure: false }, log: quietLog }),
    dialer: tcpDialer(),
  };
  const router = new ChainRouter(new Chain("c", [new Hop("h", [node])]));
  const srv = serve(socks5Handler(handlerOptions({ md: { udp: true }, router })));
  const c = await Deno.connect({ hostname: "127.0.0.1", port: srv.port });
  const u = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  try {
    await writeAll(c, hex("05 01 00 05 03 00 01 00 00 00 00 00 00"));
    const reply = await readN(c, 12);
    const to = { transport: "udp" as const, hostname: "127.0.0.1", port: (reply[10] << 8) | reply[11] };
    for (const m of ["one", "two"]) {
      await u.send(new Uint8Array([...hex(`00 00 00 01 7f 00 00 01 ${p16(echo.port)}`), ...enc(m)]), to);
      assertEquals(dec((await u.receive())[0].subarray(10)), `re:${m}`);
    }
    c.close();
    await srv.handled(1);
    assert((await relay.handled(1)).length === 1, "one relay UDP connection for one destination");
  } finally {
    closeQuietly(c);
    u.close();
    await srv.close();
    await relay.close();
    await echo.close();
  }
});
