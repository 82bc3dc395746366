/**
 * The h3 listener and the h3/http3 dialer: PHT sessions over real QUIC on
 * loopback, connection pooling, certificate handling, and the QUIC probe.
 */
import { assert, assertEquals, assertRejects } from "../../tests/assert.ts";
import { Metadata } from "../metadata.ts";
import { netDial } from "../tcp/dial.ts";
import { datagramTunnel } from "../_testing.ts";
import { ClientTLSConfig, type Conn, type DialerOptions, HandshakeError, type ListenerOptions } from "../types.ts";
import { writeAll } from "../_io/write_all.ts";
import {
  addrOf,
  dec,
  echo,
  echoRoundTrip,
  enc,
  pattern,
  quietLogger,
  readExactly,
  serve,
  serverTLS,
  sha256,
} from "../ws/_testing.ts";
import { H3Dialer, h3Dialer, type H3Listener, listenH3 } from "./mod.ts";
import { H3_MAX_PUSH_PAYLOAD } from "./dialer.ts";
import { MAX_PUSH_LINE } from "../pht/server.ts";
import {
  certificateHash,
  clientHello,
  expandLabel,
  hkdfExtract,
  initialKeys,
  openPacket,
  probeCertificate,
  ProbeError,
  sealInitial,
} from "./_probe.ts";

const hex = (s: string) => Uint8Array.from(s.replace(/\s/g, "").match(/../g)!.map((b) => parseInt(b, 16)));
const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

function listenerOptions(md: Record<string, unknown> = {}, tls = serverTLS, addr = "127.0.0.1:0"): ListenerOptions {
  return { addr, metadata: new Metadata(md), tls, log: quietLogger() };
}

function dialerOptions(md: Record<string, unknown> = {}, tls: ClientTLSConfig = { secure: false }): DialerOptions {
  return { metadata: new Metadata(md), tls, log: quietLogger() };
}

async function withPair(
  fn: (ln: H3Listener, dialer: H3Dialer, addr: string) => Promise<void>,
  md: Record<string, unknown> = {},
) {
  const ln = await listenH3(listenerOptions(md)) as H3Listener;
  const srv = serve(ln, echo);
  const dialer = h3Dialer(dialerOptions(md)) as H3Dialer;
  try {
    await fn(ln, dialer, addrOf(ln));
  } finally {
    dialer.close();
    await srv.stop();
  }
}

Deno.test("h3: hello/world over a PHT session, then EOF both ways", async () => {
  const ln = await listenH3(listenerOptions()) as H3Listener;
  const dialer = h3Dialer(dialerOptions()) as H3Dialer;
  const srv = serve(ln, async (c) => {
    assertEquals(dec.decode(await readExactly(c, 5)), "hello");
    await writeAll(c, enc.encode("world"));
    await c.closeWrite();
    assertEquals(await c.read(new Uint8Array(10)), null);
  });
  try {
    assertEquals(ln.addr.transport, "udp");
    const c = await dialer.dial(addrOf(ln), netDial);
    await writeAll(c, enc.encode("hello"));
    assertEquals(dec.decode(await readExactly(c, 5)), "world");
    assertEquals(await c.read(new Uint8Array(10)), null);
    assertEquals((c.remoteAddr as Deno.NetAddr).transport, "udp");
    await c.closeWrite();
    c.close();
  } finally {
    dialer.close();
    await srv.stop();
  }
});

Deno.test("h3: 4 MiB each way through one session, byte-exact", async () => {
  await withPair(async (_ln, dialer, addr) => {
    const c = await dialer.dial(addr, netDial);
    const data = pattern(4 << 20, 9);
    assertEquals(await echoRoundTrip(c, data), await sha256(data));
    c.close();
  });
});

Deno.test("h3: the largest push POST still fits the line a dost PHT server takes", () => {
  const line = Math.ceil(H3_MAX_PUSH_PAYLOAD / 3) * 4 + 1; // base64 and its newline
  assert(line <= MAX_PUSH_LINE, `${line} > ${MAX_PUSH_LINE}`);
  assert(H3_MAX_PUSH_PAYLOAD >= 512 * 1024, "smaller POSTs cost throughput (one round trip each)");
});

Deno.test("h3: 60 concurrent sessions share pooled QUIC connections", async () => {
  await withPair(async (_ln, dialer, addr) => {
    const conns: Conn[] = await Promise.all(Array.from({ length: 60 }, () => dialer.dial(addr, netDial)));
    // 25 sessions per connection at most: three connections.
    assertEquals(dialer.connections(addr), 3);
    const results = await Promise.all(conns.map(async (c, i) => {
      const msg = enc.encode(`session-${i}-`.repeat(50));
      return dec.decode(
        await (async () => {
          await echoRoundTrip(c, msg);
          return msg;
        })(),
      );
    }));
    results.forEach((r, i) => assertEquals(r, `session-${i}-`.repeat(50)));
    for (const c of conns) c.close();
    // Idle connections beyond one are closed once their sessions are gone.
    for (let i = 0; i < 200 && dialer.connections(addr) > 1; i++) await new Promise((r) => setTimeout(r, 25));
    assertEquals(dialer.connections(addr), 1);
  });
});

Deno.test("h3: PHT paths from metadata (pht.* and bare keys) on both sides", async () => {
  await withPair(async (_ln, dialer, addr) => {
    const c = await dialer.dial(addr, netDial);
    assertEquals(await echoRoundTrip(c, enc.encode("paths")), await sha256(enc.encode("paths")));
    c.close();
  }, { "pht.authorizePath": "/a", pushPath: "/in", "pht.pullPath": "/out" });
});

Deno.test("h3 dialer: a later hop of a chain runs over the earlier hops' datagram tunnel", async () => {
  await withPair(async (_ln, dialer, addr) => {
    const networks: string[] = [];
    const raw = datagramTunnel(networks);
    const conns = await Promise.all(Array.from({ length: 3 }, () => dialer.dial(addr, raw)));
    const data = pattern(256 * 1024);
    for (const c of conns) assertEquals(await echoRoundTrip(c, data), await sha256(data));
    for (const c of conns) c.close();
    assert(networks.length >= 2 && networks.every((n) => n === "udp"), networks.join());
  });
});

Deno.test("h3 dialer: nothing listening fails within the handshake timeout", async () => {
  const dialer = h3Dialer(dialerOptions({ handshakeTimeout: "500ms" }));
  try {
    const t0 = Date.now();
    await assertRejects(() => dialer.dial("127.0.0.1:9", netDial));
    assert(Date.now() - t0 < 3000, "gave up in time");
  } finally {
    dialer.close?.();
  }
});

Deno.test("h3 dialer: secure=true verifies the server against the CA and name", async () => {
  const ln = await listenH3(listenerOptions()) as H3Listener;
  const srv = serve(ln, echo);
  const { cert } = await serverTLS();
  const good = h3Dialer(dialerOptions({}, { secure: true, ca: cert, serverName: "localhost" }));
  const wrongName = h3Dialer(dialerOptions({}, { secure: true, ca: cert, serverName: "example.com" }));
  const noCa = h3Dialer(dialerOptions({}, { secure: true, serverName: "localhost" }));
  try {
    const c = await good.dial(addrOf(ln), netDial);
    assertEquals(await echoRoundTrip(c, enc.encode("ok")), await sha256(enc.encode("ok")));
    c.close();
    await assertRejects(() => wrongName.dial(addrOf(ln), netDial), HandshakeError, "not valid for name");
    await assertRejects(() => noCa.dial(addrOf(ln), netDial), HandshakeError, "UnknownIssuer");
  } finally {
    good.close?.();
    wrongName.close?.();
    noCa.close?.();
    await srv.stop();
  }
});

Deno.test("h3 dialer: secure=false pins the probed certificate and re-probes once when it changed", async () => {
  const ln = await listenH3(listenerOptions()) as H3Listener;
  const srv = serve(ln, echo);
  const dialer = h3Dialer(dialerOptions()) as H3Dialer;
  const addr = addrOf(ln);
  try {
    const c1 = await dialer.dial(addr, netDial);
    const { cert } = await serverTLS();
    const der = Uint8Array.from(atob(cert.replace(/-----[^-]+-----|\s/g, "")), (c) => c.charCodeAt(0));
    assertEquals(dialer.pins.get(addr), await certificateHash(der));
    c1.close();
    // As if the server had restarted with a new certificate: the cached pin no longer matches.
    dialer.close();
    const again = h3Dialer(dialerOptions()) as H3Dialer;
    again.pins.set(addr, new Uint8Array(32));
    try {
      const c2 = await again.dial(addr, netDial);
      assertEquals(await echoRoundTrip(c2, enc.encode("two")), await sha256(enc.encode("two")));
      assertEquals(again.pins.get(addr), await certificateHash(der));
      c2.close();
    } finally {
      again.close();
    }
  } finally {
    dialer.close();
    await srv.stop();
  }
});

Deno.test("h3 listener: client-certificate authentication is refused clearly", async () => {
  const tls = async () => ({ ...(await serverTLS()), ca: (await serverTLS()).cert });
  await assertRejects(() => listenH3(listenerOptions({}, tls)), TypeError, "client certificates");
});

Deno.test("h3 listener: closing ends sessions and connections; the dialer sees EOF or an error", async () => {
  const ln = await listenH3(listenerOptions()) as H3Listener;
  const srv = serve(ln, echo);
  const dialer = h3Dialer(dialerOptions()) as H3Dialer;
  try {
    const c = await dialer.dial(addrOf(ln), netDial);
    await writeAll(c, enc.encode("x"));
    assertEquals(dec.decode(await readExactly(c, 1)), "x");
    await srv.stop();
    const r = await c.read(new Uint8Array(8)).catch(() => null);
    assertEquals(r, null);
    assertEquals(ln.connections, 0);
    c.close();
  } finally {
    dialer.close();
  }
});

// ---- the certificate probe ----

Deno.test("probe: Initial keys match RFC 9001 Appendix A.1", async () => {
  const { client, server } = await initialKeys(hex("8394c8f03e515708"));
  assertEquals(toHex(client.key), "1f369613dd76d5467730efcbe3b1a22d");
  assertEquals(toHex(client.iv), "fa044b2f42a3fd3b46fb255c");
  assertEquals(toHex(client.hp), "9f50449e04a0e810283a1e9933adedd2");
  assertEquals(toHex(server.key), "cf3a5331653c364c88f0f379b6067e37");
  assertEquals(toHex(server.iv), "0ac1493ca1905853b0bba03e");
  assertEquals(toHex(server.hp), "c206b8d9b9f0f37644430b490eeaa314");
  const initial = await hkdfExtract(hex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a"), hex("8394c8f03e515708"));
  assertEquals(
    toHex(await expandLabel(initial, "client in", new Uint8Array(0), 32)),
    "c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea",
  );
});

Deno.test("probe: a sealed Initial opens again and is at least 1200 bytes", async () => {
  const dcid = hex("0102030405060708");
  const { client } = await initialKeys(dcid);
  const ch = clientHello(new Uint8Array(32), new Uint8Array(32), hex("aabbccdd"), "example.com");
  const frames = Uint8Array.of(0x06, 0x00, 0x40 | (ch.length >> 8), ch.length & 0xff, ...ch);
  const packet = await sealInitial(client, dcid, hex("aabbccdd"), 0, frames);
  assert(packet.length >= 1200);
  // pn offset: 1 + 4 + 1 + 8 + 1 + 4 + 1 (token length) + 2 (length)
  const payload = await openPacket(client, packet, 22);
  assertEquals(payload.subarray(0, frames.length), frames);
  assert(dec.decode(ch).includes("example.com"), "SNI for a name");
  assert(!dec.decode(clientHello(new Uint8Array(32), new Uint8Array(32), hex("aa"), "127.0.0.1")).includes("127"));
});

Deno.test("probe: learns the certificate of a Deno QUIC server", async () => {
  const { cert, key } = await serverTLS();
  const endpoint = new Deno.QuicEndpoint({ hostname: "127.0.0.1", port: 0 });
  const listener = endpoint.listen({ cert, key, alpnProtocols: ["h3"] });
  const refused = listener.incoming().then((i) => i.accept()).then((c) => c.close(), () => "closed by the probe");
  try {
    const [leaf] = await probeCertificate("127.0.0.1", endpoint.addr.port);
    const der = Uint8Array.from(atob(cert.replace(/-----[^-]+-----|\s/g, "")), (c) => c.charCodeAt(0));
    assertEquals(leaf, der);
    assertEquals((await certificateHash(leaf)).length, 32);
    assertEquals(await refused, "closed by the probe");
  } finally {
    endpoint.close();
  }
});

Deno.test("probe: no server answers within the timeout", async () => {
  const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    await assertRejects(
      () => probeCertificate("127.0.0.1", (sock.addr as Deno.NetAddr).port, { timeout: 300 }),
      ProbeError,
      "within 300 ms",
    );
  } finally {
    sock.close();
  }
});
