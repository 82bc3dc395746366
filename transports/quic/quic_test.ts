/**
 * The quic listener and dialer over real QUIC on loopback: streams as
 * conns, half-close, one session per node, dead sessions replaced, the
 * accept backlog, garbage datagrams, certificates and GOST's metadata keys.
 */
import { assert, assertEquals, assertRejects } from "../../tests/assert.ts";
import { Metadata } from "../metadata.ts";
import { netDial } from "../tcp/dial.ts";
import { datagramTunnel } from "../_testing.ts";
import { type ClientTLSConfig, ClosedError, type Conn, HandshakeError, type ListenerOptions } from "../types.ts";
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
import {
  DEFAULT_BACKLOG,
  DEFAULT_HANDSHAKE_TIMEOUT,
  DEFAULT_KEEPALIVE_PERIOD,
  DEFAULT_MAX_IDLE_TIMEOUT,
  DEFAULT_MAX_STREAMS,
  listenQuic,
  parseDialerMetadata,
  parseListenerMetadata,
  QuicDialer,
  quicDialer,
  type QuicListener,
} from "./mod.ts";

function listenerOptions(md: Record<string, unknown> = {}, lines?: string[]): ListenerOptions {
  return { addr: "127.0.0.1:0", metadata: new Metadata(md), tls: serverTLS, log: quietLogger(lines) };
}

function newDialer(md: Record<string, unknown> = {}, tls: ClientTLSConfig = { secure: false }): QuicDialer {
  return quicDialer({ metadata: new Metadata(md), tls, log: quietLogger() }) as QuicDialer;
}

/** Runs `fn` with an echo server and a dialer, releasing both (and waiting for it) afterwards. */
async function withPair(
  fn: (ln: QuicListener, dialer: QuicDialer, addr: string) => Promise<void>,
  md: Record<string, unknown> = {},
): Promise<void> {
  const ln = await listenQuic(listenerOptions(md)) as QuicListener;
  const srv = serve(ln, echo);
  const dialer = newDialer(md);
  try {
    await fn(ln, dialer, addrOf(ln));
  } finally {
    dialer.close();
    await dialer.done;
    await srv.stop();
  }
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("quic dialer: a later hop of a chain runs over the earlier hops' datagram tunnel", async () => {
  await withPair(async (_ln, dialer, addr) => {
    const networks: string[] = [];
    const raw = datagramTunnel(networks);
    const conns = await Promise.all(Array.from({ length: 5 }, () => dialer.dial(addr, raw)));
    const data = pattern(256 * 1024);
    for (const c of conns) assertEquals(await echoRoundTrip(c, data), await sha256(data));
    for (const c of conns) c.close();
    // A probe learns the certificate, a second tunnel carries the session; all streams share it.
    assertEquals(networks, ["udp", "udp"]);
  });
});

Deno.test("quic: hello/world over one stream, then EOF both ways (half-close)", async () => {
  const ln = await listenQuic(listenerOptions()) as QuicListener;
  const srv = serve(ln, async (c) => {
    assertEquals(dec.decode(await readExactly(c, 5)), "hello");
    // The client half-closed: EOF here, yet this side can still write.
    assertEquals(await c.read(new Uint8Array(10)), null);
    await writeAll(c, enc.encode("world"));
    await c.closeWrite();
  });
  const dialer = newDialer();
  try {
    assertEquals(ln.addr.transport, "udp");
    const c = await dialer.dial(addrOf(ln), netDial);
    await writeAll(c, enc.encode("hello"));
    await c.closeWrite();
    await assertRejects(() => c.write(enc.encode("late")), ClosedError);
    assertEquals(dec.decode(await readExactly(c, 5)), "world");
    assertEquals(await c.read(new Uint8Array(10)), null);
    assertEquals(c.remoteAddr, { transport: "udp", hostname: "127.0.0.1", port: ln.addr.port });
    assertEquals((c.localAddr as Deno.NetAddr).transport, "udp");
    c.close();
    await assertRejects(() => c.read(new Uint8Array(1)), ClosedError);
  } finally {
    dialer.close();
    await dialer.done;
    await srv.stop();
  }
});

Deno.test("quic: 16 MiB each way through one stream, byte-exact", async () => {
  await withPair(async (_ln, dialer, addr) => {
    const c = await dialer.dial(addr, netDial);
    const data = pattern(16 << 20, 5);
    assertEquals(await echoRoundTrip(c, data), await sha256(data));
    c.close();
  });
});

Deno.test("quic: 100 concurrent streams share one session", async () => {
  await withPair(async (ln, dialer, addr) => {
    const conns: Conn[] = await Promise.all(Array.from({ length: 100 }, () => dialer.dial(addr, netDial)));
    const session = dialer.session(addr);
    assert(session, "a session is cached");
    assertEquals(new Set(conns.map((c) => (c.localAddr as Deno.NetAddr).port)).size, 1);
    const sums = await Promise.all(conns.map((c, i) => echoRoundTrip(c, pattern(64 * 1024 + i, i + 1))));
    for (let i = 0; i < conns.length; i++) assertEquals(sums[i], await sha256(pattern(64 * 1024 + i, i + 1)));
    assertEquals(ln.connections, 1);
    for (const c of conns) c.close();
    // Later dials reuse it.
    const again = await dialer.dial(addr, netDial);
    assertEquals(dialer.session(addr), session);
    again.close();
  });
});

Deno.test("quic: more streams than the server's maxStreams wait for credit instead of failing", async () => {
  await withPair(async (_ln, dialer, addr) => {
    const first = await Promise.all(Array.from({ length: 4 }, () => dialer.dial(addr, netDial)));
    for (const c of first) await writeAll(c, enc.encode("x"));
    let fifth: Conn | undefined;
    const pending = dialer.dial(addr, netDial).then((c) => (fifth = c));
    await delay(100);
    assertEquals(fifth, undefined, "the fifth stream waits");
    for (const c of first) {
      await c.closeWrite();
      assertEquals(dec.decode(await readExactly(c, 1)), "x");
      assertEquals(await c.read(new Uint8Array(1)), null);
      c.close();
    }
    const c = await pending;
    assertEquals(await echoRoundTrip(c, enc.encode("five")), await sha256(enc.encode("five")));
    c.close();
  }, { maxStreams: 4 });
});

Deno.test("quic dialer: a session that died unnoticed is replaced within the same dial", async () => {
  await withPair(async (_ln, dialer, addr) => {
    const c1 = await dialer.dial(addr, netDial);
    assertEquals(await echoRoundTrip(c1, enc.encode("one")), await sha256(enc.encode("one")));
    c1.close();
    const old = dialer.session(addr)!;
    // Closed behind the dialer's back: the dial that follows at once still finds it cached.
    old.close({ closeCode: 0, reason: "test" });
    const c2 = await dialer.dial(addr, netDial);
    assertEquals(await echoRoundTrip(c2, enc.encode("two")), await sha256(enc.encode("two")));
    assert(dialer.session(addr) !== old, "a new session");
    c2.close();
  });
});

Deno.test("quic dialer: a server that went away and came back gets a new session", async () => {
  const ln = await listenQuic(listenerOptions()) as QuicListener;
  const srv = serve(ln, echo);
  const addr = addrOf(ln);
  const dialer = newDialer();
  try {
    const c1 = await dialer.dial(addr, netDial);
    assertEquals(await echoRoundTrip(c1, enc.encode("a")), await sha256(enc.encode("a")));
    await srv.stop();
    // The server's CONNECTION_CLOSE reaches the client: the stream ends and the session is forgotten.
    assertEquals(await c1.read(new Uint8Array(1)).catch(() => null), null);
    c1.close();
    for (let i = 0; i < 100 && dialer.session(addr); i++) await delay(10);
    assertEquals(dialer.session(addr), undefined);
    const ln2 = await listenQuic({ ...listenerOptions(), addr }) as QuicListener;
    const srv2 = serve(ln2, echo);
    try {
      const c2 = await dialer.dial(addr, netDial);
      assertEquals(await echoRoundTrip(c2, enc.encode("b")), await sha256(enc.encode("b")));
      c2.close();
    } finally {
      dialer.close();
      await dialer.done;
      await srv2.stop();
    }
  } finally {
    dialer.close();
    await dialer.done;
    await srv.stop();
  }
});

Deno.test("quic dialer: concurrent first dials share one handshake", async () => {
  await withPair(async (ln, dialer, addr) => {
    const conns = await Promise.all(Array.from({ length: 10 }, () => dialer.dial(addr, netDial)));
    for (const c of conns) await echoRoundTrip(c, enc.encode("hi"));
    assertEquals(ln.connections, 1);
    for (const c of conns) c.close();
  });
});

Deno.test("quic dialer: a later hop whose tunnel ends takes its session down; the next dial builds a new one", async () => {
  await withPair(async (_ln, dialer, addr) => {
    const tunnels: Conn[] = [];
    const raw = (a: string, o?: { network?: "tcp" | "udp" }) =>
      datagramTunnel()(a, o).then((c) => {
        tunnels.push(c);
        return c;
      });
    const c1 = await dialer.dial(addr, raw);
    assertEquals(await echoRoundTrip(c1, enc.encode("one")), await sha256(enc.encode("one")));
    tunnels.at(-1)!.close();
    await delay(100);
    const c2 = await dialer.dial(addr, raw);
    assertEquals(await echoRoundTrip(c2, enc.encode("two")), await sha256(enc.encode("two")));
    c1.close();
    c2.close();
  });
});

Deno.test("quic dialer: a later hop that cannot carry datagrams fails with that hop's error", async () => {
  const dialer = newDialer();
  try {
    const raw = () => Promise.reject(new Error('Network "udp" is not supported by the http connector'));
    await assertRejects(() => dialer.dial("127.0.0.1:1", raw), Error, "not supported by the http connector");
  } finally {
    dialer.close();
    await dialer.done;
  }
});

Deno.test("quic dialer: nothing answering fails within the handshake timeout", async () => {
  // A UDP socket that never answers.
  const silent = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const dialer = newDialer({ handshakeTimeout: "400ms" });
  try {
    const t0 = Date.now();
    await assertRejects(() => dialer.dial(`127.0.0.1:${(silent.addr as Deno.NetAddr).port}`, netDial));
    assert(Date.now() - t0 < 3000, "gave up in time");
  } finally {
    dialer.close();
    await dialer.done;
    silent.close();
  }
});

Deno.test("quic dialer: an aborted dial rejects with the signal's reason", async () => {
  const silent = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const dialer = newDialer({ handshakeTimeout: "1s" });
  try {
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error("stop")), 100);
    await assertRejects(
      () => dialer.dial(`127.0.0.1:${(silent.addr as Deno.NetAddr).port}`, netDial, { signal: ac.signal }),
      Error,
      "stop",
    );
  } finally {
    dialer.close();
    await dialer.done;
    silent.close();
  }
});

Deno.test("quic dialer: secure=true verifies the server against the CA and name", async () => {
  const ln = await listenQuic(listenerOptions()) as QuicListener;
  const srv = serve(ln, echo);
  const { cert } = await serverTLS();
  const good = newDialer({}, { secure: true, ca: cert, serverName: "localhost" });
  const wrongName = newDialer({}, { secure: true, ca: cert, serverName: "example.com" });
  const noCa = newDialer({}, { secure: true, serverName: "localhost" });
  try {
    const c = await good.dial(addrOf(ln), netDial);
    assertEquals(await echoRoundTrip(c, enc.encode("ok")), await sha256(enc.encode("ok")));
    c.close();
    await assertRejects(() => wrongName.dial(addrOf(ln), netDial), HandshakeError, "not valid for name");
    await assertRejects(() => noCa.dial(addrOf(ln), netDial), HandshakeError, "UnknownIssuer");
  } finally {
    for (const d of [good, wrongName, noCa]) {
      d.close();
      await d.done;
    }
    await srv.stop();
  }
});

Deno.test("quic dialer: secure=false pins the probed certificate and learns it again when it changed", async () => {
  await withPair(async (_ln, dialer, addr) => {
    const c1 = await dialer.dial(addr, netDial);
    c1.close();
    const pin = dialer.pins.get(addr);
    assertEquals(pin?.length, 32);
    const again = newDialer();
    again.pins.set(addr, new Uint8Array(32)); // as if the server had a new certificate since
    try {
      const c2 = await again.dial(addr, netDial);
      assertEquals(await echoRoundTrip(c2, enc.encode("two")), await sha256(enc.encode("two")));
      assertEquals(again.pins.get(addr), pin);
      c2.close();
    } finally {
      again.close();
      await again.done;
    }
  });
});

Deno.test("quic dialer: close() ends its streams and sessions; later dials are refused", async () => {
  await withPair(async (_ln, dialer, addr) => {
    const c = await dialer.dial(addr, netDial);
    await writeAll(c, enc.encode("x"));
    assertEquals(dec.decode(await readExactly(c, 1)), "x");
    dialer.close();
    await assertRejects(() => c.read(new Uint8Array(1)), ClosedError);
    await dialer.done;
    assertEquals(dialer.session(addr), undefined);
    await assertRejects(() => dialer.dial(addr, netDial), ClosedError);
  });
});

Deno.test("quic listener: a full backlog discards new streams, the connection goes on", async () => {
  const lines: string[] = [];
  const ln = await listenQuic(listenerOptions({ backlog: 2 }, lines)) as QuicListener;
  const dialer = newDialer();
  const addr = addrOf(ln);
  try {
    const conns = await Promise.all(Array.from({ length: 3 }, () => dialer.dial(addr, netDial)));
    // A stream reaches the server with its first bytes; nobody accepts yet.
    for (const c of conns) await writeAll(c, enc.encode("x"));
    for (let i = 0; i < 100 && !lines.some((l) => l.includes("queue is full")); i++) await delay(10);
    assertEquals(ln.queued, 2);
    assert(lines.some((l) => l.includes("connection queue is full, client 127.0.0.1:")), lines.join("\n"));
    // The discarded one ends (FIN); the queued ones are served once accepted.
    assertEquals(await conns[2].read(new Uint8Array(1)), null);
    const srv = serve(ln, echo);
    try {
      for (const c of conns.slice(0, 2)) {
        await c.closeWrite();
        assertEquals(dec.decode(await readExactly(c, 1)), "x");
      }
      const c4 = await dialer.dial(addr, netDial);
      assertEquals(await echoRoundTrip(c4, enc.encode("four")), await sha256(enc.encode("four")));
      for (const c of [...conns, c4]) c.close();
    } finally {
      dialer.close();
      await dialer.done;
      await srv.stop();
    }
  } finally {
    dialer.close();
    ln.close();
    await ln.done;
  }
});

Deno.test("quic listener: garbage datagrams and abandoned handshakes (the certificate probe) do not stop it serving", async () => {
  await withPair(async (ln, dialer, addr) => {
    const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    try {
      const to: Deno.NetAddr = { transport: "udp", hostname: "127.0.0.1", port: ln.addr.port };
      for (let i = 0; i < 200; i++) {
        const junk = pattern(8 + (i * 37) % 1400, i + 1);
        // Some look like QUIC long headers (v1 Initial, unknown version) with nonsense after.
        if (i % 3 === 0) junk.set([0xc0, 0, 0, 0, 1], 0);
        if (i % 3 === 1) junk.set([0xc0, 0x1a, 0x2a, 0x3a, 0x4a], 0);
        await sock.send(junk, to);
      }
    } finally {
      sock.close();
    }
    const c = await dialer.dial(addr, netDial);
    const data = pattern(1 << 20, 3);
    assertEquals(await echoRoundTrip(c, data), await sha256(data));
    c.close();
    // Short enough that the probe's abandoned handshakes are dropped during the test, long enough for a loaded CI.
  }, { handshakeTimeout: "2s" });
});

Deno.test("quic listener: a stream reset by its client ends only that stream", async () => {
  await withPair(async (_ln, dialer, addr) => {
    const [a, b] = await Promise.all([dialer.dial(addr, netDial), dialer.dial(addr, netDial)]);
    await writeAll(a, enc.encode("a"));
    assertEquals(dec.decode(await readExactly(a, 1)), "a");
    a.close(); // FIN + STOP_SENDING: the server's echo ends
    assertEquals(await echoRoundTrip(b, enc.encode("still here")), await sha256(enc.encode("still here")));
    b.close();
  });
});

Deno.test("quic listener: closing ends its connections; accept() rejects with ClosedError", async () => {
  const ln = await listenQuic(listenerOptions()) as QuicListener;
  const srv = serve(ln, echo);
  const dialer = newDialer();
  try {
    const c = await dialer.dial(addrOf(ln), netDial);
    await writeAll(c, enc.encode("x"));
    assertEquals(dec.decode(await readExactly(c, 1)), "x");
    await srv.stop();
    assertEquals(await c.read(new Uint8Array(8)).catch(() => null), null);
    assertEquals(ln.connections, 0);
    await assertRejects(() => ln.accept(), ClosedError);
    c.close();
  } finally {
    dialer.close();
    await dialer.done;
  }
});

Deno.test("quic listener: client-certificate authentication is refused clearly", async () => {
  const tls = async () => ({ ...(await serverTLS()), ca: (await serverTLS()).cert });
  await assertRejects(() => listenQuic({ ...listenerOptions(), tls }), TypeError, "client certificates");
});

Deno.test("quic listener: rebinding the port of a closed listener works", async () => {
  const ln = await listenQuic(listenerOptions()) as QuicListener;
  const addr = addrOf(ln);
  ln.close();
  await ln.done;
  const ln2 = await listenQuic({ ...listenerOptions(), addr }) as QuicListener;
  assertEquals(ln2.addr.port, ln.addr.port);
  ln2.close();
  await ln2.done;
});

Deno.test("quic metadata: GOST's defaults and keepalive rules on each side", () => {
  const l = parseListenerMetadata(new Metadata({}));
  assertEquals(l, {
    keepAlivePeriod: 0,
    handshakeTimeout: DEFAULT_HANDSHAKE_TIMEOUT,
    maxIdleTimeout: DEFAULT_MAX_IDLE_TIMEOUT,
    maxStreams: DEFAULT_MAX_STREAMS,
    enableDatagram: false,
    backlog: DEFAULT_BACKLOG,
  });
  const d = parseDialerMetadata(new Metadata({}));
  assertEquals(d.keepAlivePeriod, DEFAULT_KEEPALIVE_PERIOD);
  assertEquals(parseDialerMetadata(new Metadata({ keepalive: "false", ttl: "3s" })).keepAlivePeriod, 0);
  assertEquals(parseDialerMetadata(new Metadata({ ttl: "3s" })).keepAlivePeriod, 3000);
  assertEquals(parseListenerMetadata(new Metadata({ ttl: "3s" })).keepAlivePeriod, 0);
  assertEquals(parseListenerMetadata(new Metadata({ keepAlive: true, ttl: "3s" })).keepAlivePeriod, 3000);
  assertEquals(parseListenerMetadata(new Metadata({ keepAlive: true })).keepAlivePeriod, DEFAULT_KEEPALIVE_PERIOD);
  const set = parseListenerMetadata(
    new Metadata({
      handshakeTimeout: "2s",
      maxIdleTimeout: 60,
      maxStreams: "7",
      backlog: 0,
      "quic.enableDatagram": "true",
    }),
  );
  assertEquals([set.handshakeTimeout, set.maxIdleTimeout, set.maxStreams, set.backlog], [2000, 60_000, 7, 128]);
  assertEquals(set.enableDatagram, true);
  assertEquals(parseDialerMetadata(new Metadata({ enableDatagram: 1 })).enableDatagram, true);
});

Deno.test("quic metadata: bad values are errors; cipherKey is left unread (refused at start)", () => {
  let md = new Metadata({ maxStreams: "many" });
  try {
    parseListenerMetadata(md);
    throw new Error("no error");
  } catch (err) {
    assert(err instanceof TypeError && err.message.includes("maxStreams"), String(err));
  }
  md = new Metadata({ cipherKey: "secret", backlog: 8 });
  parseListenerMetadata(md);
  assertEquals(md.unasked(), ["cipherkey"]);
  md = new Metadata({ cipherKey: "secret", ttl: "5s" });
  parseDialerMetadata(md);
  assertEquals(md.unasked(), ["cipherkey"]);
});
