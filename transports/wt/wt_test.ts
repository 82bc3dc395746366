/**
 * The wt listener and dialer over real QUIC on loopback: streams and
 * half-close, one session per node, replacing a dead session within a dial,
 * the draft-02 wire details, and bad input that must end only its own
 * stream, session or connection while the listener keeps serving.
 */
import { assert, assertEquals, assertRejects, assertThrows } from "../../tests/assert.ts";
import { writeAll } from "../_io/write_all.ts";
import { Metadata } from "../metadata.ts";
import { netDial } from "../tcp/dial.ts";
import { datagramTunnel } from "../_testing.ts";
import { type Conn, type DialerOptions, HandshakeError, type Listener, type ListenerOptions } from "../types.ts";
import { H3Connection } from "../_h3/connection.ts";
import { encodeFrame, encodeVarint, FrameType } from "../_h3/frames.ts";
import { parseResponseHead, readHeaders } from "../_h3/message.ts";
import { encodeFieldSection, type Field } from "../_h3/qpack.ts";
import { StreamReader } from "../_h3/stream_reader.ts";
import { certificateHash, listenH3, probeCertificate } from "../h3/mod.ts";
import {
  addrOf,
  dec,
  delay,
  echo,
  echoRoundTrip,
  enc,
  pattern,
  quietLogger,
  readAll,
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
  listenWt,
  parseDialerMetadata,
  parseListenerMetadata,
  WtDialer,
  wtDialer,
  type WtListener,
} from "./mod.ts";
import {
  CapsuleError,
  CapsuleParser,
  CLIENT_SETTINGS,
  CLOSE_SESSION_CAPSULE,
  closeCapsuleFrame,
  DRAFT_OFFER_HEADER,
  H3_DATAGRAM_ERROR,
  streamHeader,
} from "./_protocol.ts";
import { connectWt } from "./_client.ts";
import { serveWt } from "./_server.ts";
import { stripPort } from "./metadata.ts";

type Md = Record<string, unknown>;

function listenerOptions(md: Md = {}, addr = "127.0.0.1:0", lines?: string[]): ListenerOptions {
  return { addr, metadata: new Metadata(md), tls: serverTLS, log: quietLogger(lines) };
}

function dialerOptions(md: Md = {}): DialerOptions {
  return { metadata: new Metadata(md), tls: { secure: false }, log: quietLogger() };
}

async function withPair(
  fn: (ln: WtListener, dialer: WtDialer, addr: string) => Promise<void>,
  opts: { md?: Md; handle?: (c: Conn) => Promise<void> } = {},
): Promise<void> {
  const ln = await listenWt(listenerOptions(opts.md)) as WtListener;
  const srv = serve(ln, opts.handle ?? echo);
  const dialer = wtDialer(dialerOptions(opts.md)) as WtDialer;
  try {
    await fn(ln, dialer, addrOf(ln));
  } finally {
    dialer.close();
    await srv.stop();
    await settle();
  }
}

/** Lets connection closes scheduled for the next turn (and their endpoints) finish. */
async function settle(): Promise<void> {
  await delay(60);
}

async function until(cond: () => boolean, what: string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await delay(10);
  }
}

/** A raw HTTP/3 client connection to `addr` with WebTransport client SETTINGS (for hand-made requests). */
async function rawClient(ln: Listener, settings = CLIENT_SETTINGS): Promise<H3Connection> {
  const { hostname, port } = ln.addr as Deno.NetAddr;
  const [leaf] = await probeCertificate(hostname, port);
  const endpoint = new Deno.QuicEndpoint({ hostname: "127.0.0.1", port: 0 });
  const quic = await Deno.connectQuic({
    hostname,
    port,
    endpoint,
    alpnProtocols: ["h3"],
    serverCertificateHashes: [{ algorithm: "sha-256", value: await certificateHash(leaf) }],
  } as unknown as Deno.ConnectQuicOptions<false>);
  quic.closed.catch(() => {}).finally(() => endpoint.close());
  const h3 = new H3Connection(quic, false, { settings });
  h3.start();
  return h3;
}

function connectFields(path = "/wt", extra: Field[] = [[DRAFT_OFFER_HEADER, "1"]]): Field[] {
  return [
    [":method", "CONNECT"],
    [":protocol", "webtransport"],
    [":scheme", "https"],
    [":authority", "127.0.0.1"],
    [":path", path],
    ...extra,
  ];
}

/** Sends a request head on a new stream; resolves to the response status and the stream. */
async function rawRequest(h3: H3Connection, fields: Field[] | Uint8Array) {
  const bidi = await h3.quic.createBidirectionalStream();
  const reader = new StreamReader(bidi.readable);
  const writer = bidi.writable.getWriter();
  await writer.write(
    fields instanceof Uint8Array ? fields : encodeFrame(FrameType.HEADERS, encodeFieldSection(fields)),
  );
  const head = await readHeaders(reader, true, { maxFieldSectionSize: 65536 });
  const status = head ? parseResponseHead(head).status : 0;
  return { status, head, reader, writer, id: Number(bidi.writable.id) };
}

/** A working client through the dialer: the listener still serves. */
async function stillServes(ln: Listener): Promise<void> {
  const dialer = wtDialer(dialerOptions()) as WtDialer;
  try {
    const c = await dialer.dial(addrOf(ln), netDial);
    assertEquals(await echoRoundTrip(c, enc.encode("still serving")), await sha256(enc.encode("still serving")));
    c.close();
  } finally {
    dialer.close();
  }
}

// ---- metadata ----

Deno.test("wt metadata: GOST's keys and defaults on both sides", () => {
  const l = parseListenerMetadata(new Metadata({}));
  assertEquals(l, {
    path: "/wt",
    backlog: DEFAULT_BACKLOG,
    keepAlivePeriod: 0, // listener: off unless keepalive=true
    handshakeTimeout: DEFAULT_HANDSHAKE_TIMEOUT,
    maxIdleTimeout: DEFAULT_MAX_IDLE_TIMEOUT,
    maxStreams: DEFAULT_MAX_STREAMS,
  });
  const l2 = parseListenerMetadata(
    new Metadata({
      "wt.path": "/a",
      path: "/b",
      backlog: "7",
      keepalive: "true",
      handshakeTimeout: "2s",
      maxIdleTimeout: "1m",
      maxStreams: 9,
    }),
  );
  assertEquals(l2, {
    path: "/a",
    backlog: 7,
    keepAlivePeriod: DEFAULT_KEEPALIVE_PERIOD,
    handshakeTimeout: 2000,
    maxIdleTimeout: 60000,
    maxStreams: 9,
  });
  assertEquals(parseListenerMetadata(new Metadata({ keepalive: true, ttl: "3s" })).keepAlivePeriod, 3000);

  const d = parseDialerMetadata(new Metadata({}));
  assertEquals(d.keepAlivePeriod, DEFAULT_KEEPALIVE_PERIOD); // dialer: on unless keepalive=false
  assertEquals(d.path, "/wt");
  assertEquals(d.host, undefined);
  assertEquals(parseDialerMetadata(new Metadata({ keepalive: false, ttl: "3s" })).keepAlivePeriod, 0);
  const d2 = parseDialerMetadata(
    new Metadata({ "wt.host": "example.com:443", path: "/p", header: { "X-A": "1" }, ttl: 4 }),
  );
  assertEquals([d2.host, d2.path, d2.header, d2.keepAlivePeriod], ["example.com", "/p", { "X-A": "1" }, 4000]);
  assertThrows(() => parseListenerMetadata(new Metadata({ path: "wt" })), TypeError, '"wt"');
  assertThrows(() => parseDialerMetadata(new Metadata({ maxStreams: "x" })), TypeError, "maxStreams");
});

Deno.test("wt metadata: a host's port is dropped as GOST does", () => {
  assertEquals(stripPort("a.example:8443"), "a.example");
  assertEquals(stripPort("a.example"), "a.example");
  assertEquals(stripPort("[::1]:443"), "[::1]");
  assertEquals(stripPort("::1"), "::1");
});

// ---- wire codecs ----

Deno.test("wt protocol: stream header and CLOSE capsule bytes", () => {
  assertEquals(streamHeader(0), Uint8Array.of(0x40, 0x41, 0x00));
  assertEquals(streamHeader(8), Uint8Array.of(0x40, 0x41, 0x08));
  const f = closeCapsuleFrame(0x01020304, "bye");
  // DATA frame (0x00, length 10) around capsule type 0x2843 (2-byte varint 0x6843), length 7, code, "bye".
  assertEquals(f, Uint8Array.of(0x00, 10, 0x68, 0x43, 7, 1, 2, 3, 4, 0x62, 0x79, 0x65));
});

Deno.test("wt protocol: capsules parse across any split, unknown ones are skipped", () => {
  const unknown = Uint8Array.of(0x17, 3, 9, 9, 9);
  const close = closeCapsuleFrame(7, "done").subarray(2); // without the DATA frame header
  const all = new Uint8Array([...unknown, ...close]);
  for (let cut = 0; cut <= all.length; cut++) {
    const p = new CapsuleParser();
    const a = p.push(all.subarray(0, cut));
    const b = a ?? p.push(all.subarray(cut));
    assertEquals(b, { code: 7, message: "done" }, `split at ${cut}`);
  }
  const p = new CapsuleParser();
  assertEquals(p.push(unknown), undefined);
  assert(p.idle);
  p.push(Uint8Array.of(0x17));
  assert(!p.idle);
});

Deno.test("wt protocol: an oversized or short CLOSE capsule is an error", () => {
  const big = new Uint8Array([...encodeVarint(CLOSE_SESSION_CAPSULE), ...encodeVarint(4 + 1025)]);
  assertThrows(() => new CapsuleParser().push(big), CapsuleError, "1029 bytes");
  const short = new Uint8Array([...encodeVarint(CLOSE_SESSION_CAPSULE), 2, 0, 0]);
  assertThrows(() => new CapsuleParser().push(short), CapsuleError, "2 bytes");
});

// ---- streams ----

Deno.test("wt: hello/world on a stream, half-close both ways", async () => {
  await withPair(async (_ln, dialer, addr) => {
    const c = await dialer.dial(addr, netDial);
    await writeAll(c, enc.encode("hello"));
    assertEquals(dec.decode(await readExactly(c, 5)), "world");
    // The server half-closed: our reads end while our writes still go through.
    assertEquals(await c.read(new Uint8Array(10)), null);
    await writeAll(c, enc.encode("after"));
    await c.closeWrite();
    assertEquals((c.remoteAddr as Deno.NetAddr).transport, "udp");
    c.close();
  }, {
    handle: async (c) => {
      assertEquals(dec.decode(await readExactly(c, 5)), "hello");
      await writeAll(c, enc.encode("world"));
      await c.closeWrite();
      assertEquals(dec.decode(await readAll(c)), "after");
    },
  });
});

Deno.test("wt: 16 MiB each way through one stream, byte-exact", async () => {
  await withPair(async (_ln, dialer, addr) => {
    const c = await dialer.dial(addr, netDial);
    const data = pattern(16 << 20, 5);
    assertEquals(await echoRoundTrip(c, data), await sha256(data));
    c.close();
  });
});

Deno.test("wt: 50 concurrent streams share one session", async () => {
  await withPair(async (ln, dialer, addr) => {
    const conns = await Promise.all(Array.from({ length: 50 }, () => dialer.dial(addr, netDial)));
    assertEquals(ln.sessions, 1);
    const session = dialer.session(addr);
    assert(session);
    assertEquals(session.streams, 50);
    await Promise.all(conns.map(async (c, i) => {
      const msg = pattern(64 * 1024 + i, i + 1);
      assertEquals(await echoRoundTrip(c, msg), await sha256(msg));
      c.close();
    }));
    assertEquals(session.streams, 0);
    assertEquals(dialer.session(addr), session);
  });
});

Deno.test("wt: a dial beyond the server's maxStreams waits for room instead of failing", async () => {
  await withPair(async (_ln, dialer, addr) => {
    // The CONNECT stream takes one of the 4: three streams fit, a fourth dial waits until one ends.
    const conns = await Promise.all(Array.from({ length: 3 }, () => dialer.dial(addr, netDial)));
    let dialed = false;
    const fourth = dialer.dial(addr, netDial).then((c) => {
      dialed = true;
      return c;
    });
    for (const c of conns) {
      await writeAll(c, enc.encode("ok"));
      assertEquals(dec.decode(await readExactly(c, 2)), "ok");
    }
    await delay(100);
    assert(!dialed, "the fourth stream opened beyond the limit");
    conns[0].close();
    const c4 = await fourth;
    assertEquals(await echoRoundTrip(c4, enc.encode("late")), await sha256(enc.encode("late")));
    for (const c of [...conns, c4]) c.close();
  }, { md: { maxStreams: 4 } });
});

Deno.test("wt: a dead session is replaced within the same dial", async () => {
  await withPair(async (_ln, dialer, addr) => {
    const c1 = await dialer.dial(addr, netDial);
    assertEquals(await echoRoundTrip(c1, enc.encode("one")), await sha256(enc.encode("one")));
    const first = dialer.session(addr)!;
    // The connection dies under the session; the dial comes before the session has noticed.
    first.h3.quic.close({ closeCode: 0, reason: "" });
    assert(!first.closed);
    const c2 = await dialer.dial(addr, netDial);
    assert(dialer.session(addr) !== first);
    assert(first.closed);
    assertEquals(await echoRoundTrip(c2, enc.encode("two")), await sha256(enc.encode("two")));
    c1.close();
    c2.close();
  });
});

Deno.test("wt: the listener's close ends the client's session and its streams", async () => {
  const ln = await listenWt(listenerOptions()) as WtListener;
  const srv = serve(ln, async (c) => void (await readAll(c).catch(() => {})));
  const dialer = wtDialer(dialerOptions()) as WtDialer;
  try {
    const c = await dialer.dial(addrOf(ln), netDial);
    await writeAll(c, enc.encode("x"));
    await until(() => srv.accepted() === 1, "the stream to be accepted");
    const session = dialer.session(addrOf(ln))!;
    const reading = c.read(new Uint8Array(8)).then(() => "ended", () => "failed");
    await srv.stop();
    await session.done;
    assert(["ended", "failed"].includes(await reading));
    assertEquals(dialer.session(addrOf(ln)), undefined);
    c.close();
  } finally {
    dialer.close();
    await srv.stop();
    await settle();
  }
});

Deno.test("wt listener: streams beyond the backlog are refused, the session goes on", async () => {
  const lines: string[] = [];
  const ln = await listenWt(listenerOptions({ backlog: 2 }, "127.0.0.1:0", lines)) as WtListener;
  const dialer = wtDialer(dialerOptions()) as WtDialer;
  try {
    const conns: Conn[] = [];
    for (let i = 0; i < 3; i++) {
      const c = await dialer.dial(addrOf(ln), netDial);
      await writeAll(c, enc.encode(`c${i}`));
      conns.push(c);
    }
    // Nobody accepts yet: two streams wait in the queue, the third is reset.
    await until(() => lines.some((l) => l.includes("queue is full")), "the refusal");
    for (let i = 0; i < 2; i++) {
      const a = await ln.accept();
      assertEquals(dec.decode(await readExactly(a, 2)), `c${i}`);
      await writeAll(a, enc.encode(`s${i}`));
      a.close();
      assertEquals(dec.decode(await readExactly(conns[i], 2)), `s${i}`);
    }
    // Refused: it ends (Deno reports the reset as an end or an error) without a byte.
    const refused = await conns[2].read(new Uint8Array(4)).catch(() => "reset");
    assert(refused === null || refused === "reset", `refused stream read ${refused}`);
    // The session is still there for new streams.
    const d = await dialer.dial(addrOf(ln), netDial);
    await writeAll(d, enc.encode("c3"));
    const a = await ln.accept();
    assertEquals(dec.decode(await readExactly(a, 2)), "c3");
    a.close();
    for (const c of [...conns, d]) c.close();
  } finally {
    dialer.close();
    ln.close();
    await ln.done;
    await settle();
  }
});

// ---- the dialer ----

Deno.test("wt dialer: a later hop of a chain runs over the earlier hops' datagram tunnel", async () => {
  await withPair(async (_ln, dialer, addr) => {
    const networks: string[] = [];
    const raw = datagramTunnel(networks);
    const conns = await Promise.all(Array.from({ length: 5 }, () => dialer.dial(addr, raw)));
    const data = pattern(256 * 1024);
    for (const c of conns) assertEquals(await echoRoundTrip(c, data), await sha256(data));
    for (const c of conns) c.close();
    assertEquals(networks, ["udp", "udp"]);
  });
});

Deno.test("wt dialer: a plain HTTP/3 server without WebTransport is refused clearly", async () => {
  const ln = await listenH3(listenerOptions());
  const dialer = wtDialer(dialerOptions());
  try {
    await assertRejects(() => dialer.dial(addrOf(ln), netDial), HandshakeError, "did not enable");
  } finally {
    dialer.close?.();
    ln.close();
    await (ln as Listener & { done: Promise<void> }).done;
    await settle();
  }
});

Deno.test("wt dialer: the CONNECT carries the draft-02 offer, the host option (port dropped), path and headers", async () => {
  const endpoint = new Deno.QuicEndpoint({ hostname: "127.0.0.1", port: 0 });
  const { cert, key } = await serverTLS();
  const quic = endpoint.listen({ cert, key, alpnProtocols: ["h3"] });
  const requests: Field[][] = [];
  const ac = new AbortController();
  const served = (async () => {
    for (;;) {
      // The dialer's certificate probe comes first and ends its handshake on purpose.
      const conn = await (await quic.incoming()).accept<false>().catch(() => undefined);
      if (!conn) continue;
      return await serveWt(conn, {
        path: "/x",
        headerTimeout: 2000,
        signal: ac.signal,
        onSession: (_s, request) => requests.push(request),
        onStream: (s) => void echo(s).finally(() => s.close()),
      });
    }
  })();
  const dialer = wtDialer(dialerOptions({ path: "/x", host: "front.example:9", header: { "X-Token": "t" } }));
  try {
    const c = await dialer.dial(`127.0.0.1:${endpoint.addr.port}`, netDial);
    assertEquals(await echoRoundTrip(c, enc.encode("x")), await sha256(enc.encode("x")));
    c.close();
    assertEquals(requests, [[
      [":method", "CONNECT"],
      [":protocol", "webtransport"],
      [":scheme", "https"],
      [":authority", "front.example"],
      [":path", "/x"],
      ["x-token", "t"],
      [DRAFT_OFFER_HEADER, "1"],
    ]]);
  } finally {
    dialer.close?.();
    ac.abort();
    await served;
    quic.stop();
    endpoint.close();
    await settle();
  }
});

Deno.test("wt dialer: a wrong path is refused with GOST's 404", async () => {
  const ln = await listenWt(listenerOptions({ path: "/x" })) as WtListener;
  const srv = serve(ln);
  const other = wtDialer(dialerOptions({ path: "/y" }));
  try {
    await assertRejects(() => other.dial(addrOf(ln), netDial), HandshakeError, "status 404");
  } finally {
    other.close?.();
    await srv.stop();
    await settle();
  }
});

// ---- bad input to the listener ----

Deno.test("wt listener: bad CONNECTs get GOST's answers and end only their stream", async () => {
  const ln = await listenWt(listenerOptions()) as WtListener;
  const srv = serve(ln);
  const h3 = await rawClient(ln);
  try {
    assertEquals((await rawRequest(h3, connectFields("/nope"))).status, 404);
    assertEquals((await rawRequest(h3, connectFields("/wt", []))).status, 500); // no draft-02 offer
    assertEquals((await rawRequest(h3, connectFields("/wt", [[DRAFT_OFFER_HEADER, "2"]]))).status, 500);
    const get: Field[] = [[":method", "GET"], [":scheme", "https"], [":authority", "a"], [":path", "/wt"]];
    assertEquals((await rawRequest(h3, get)).status, 500);
    const noProto = connectFields().filter(([k]) => k !== ":protocol");
    assertEquals((await rawRequest(h3, noProto)).status, 500);
    // An oversized request head: 431, the connection goes on.
    assertEquals((await rawRequest(h3, connectFields("/wt", [["x-big", "a".repeat(20_000)]]))).status, 431);
    // A well-formed one on the same connection still becomes a session.
    const ok = await rawRequest(h3, connectFields());
    assertEquals(ok.status, 200);
    assertEquals(ok.head!.find(([k]) => k === "sec-webtransport-http3-draft")?.[1], "draft02");
    assertEquals(ln.sessions, 1);
    await stillServes(ln);
  } finally {
    h3.close();
    await srv.stop();
    await settle();
  }
});

Deno.test("wt listener: a client without H3_DATAGRAM in its SETTINGS is refused (500), as webtransport-go does", async () => {
  const ln = await listenWt(listenerOptions()) as WtListener;
  const srv = serve(ln);
  const h3 = await rawClient(ln, []);
  try {
    assertEquals((await rawRequest(h3, connectFields())).status, 500);
  } finally {
    h3.close();
    await srv.stop();
    await settle();
  }
});

Deno.test("wt listener: a garbage datagram closes that connection (H3_DATAGRAM_ERROR) only", async () => {
  const ln = await listenWt(listenerOptions()) as WtListener;
  const srv = serve(ln);
  const h3 = await rawClient(ln);
  try {
    assertEquals((await rawRequest(h3, connectFields())).status, 200);
    // A valid datagram (quarter stream id 0) is dropped; a truncated varint is malformed.
    await h3.quic.sendDatagram(Uint8Array.of(0x00, 1, 2, 3));
    await delay(50);
    assert(!h3.done);
    await h3.quic.sendDatagram(Uint8Array.of(0x40));
    const info = await h3.closed;
    assertEquals(info?.closeCode, H3_DATAGRAM_ERROR);
    await until(() => ln.sessions === 0, "the session to end");
    await stillServes(ln);
  } finally {
    h3.close();
    await srv.stop();
    await settle();
  }
});

Deno.test("wt listener: a malformed capsule ends that session only; its streams are reset", async () => {
  const ln = await listenWt(listenerOptions()) as WtListener;
  const srv = serve(ln);
  const h3 = await rawClient(ln);
  try {
    const good = await rawRequest(h3, connectFields());
    const bad = await rawRequest(h3, connectFields());
    assertEquals([good.status, bad.status], [200, 200]);
    assertEquals(ln.sessions, 2);
    // A stream in the bad session, echoing.
    const bidi = await h3.quic.createBidirectionalStream();
    const w = bidi.writable.getWriter();
    const r = new StreamReader(bidi.readable);
    await w.write(new Uint8Array([...streamHeader(bad.id), ...enc.encode("ping")]));
    assertEquals(dec.decode(await r.readExact(4)), "ping");
    // An oversized CLOSE capsule in a DATA frame: the server ends that session.
    const capsule = new Uint8Array([...encodeVarint(CLOSE_SESSION_CAPSULE), ...encodeVarint(60_000)]);
    await bad.writer.write(encodeFrame(FrameType.DATA, capsule));
    await until(() => ln.sessions === 1, "the bad session to end");
    await assertRejects(async () => {
      while (!(await r.atEnd())) await r.readSome(100);
      throw new Error("ended cleanly");
    });
    // The other session on the same connection still carries streams.
    const bidi2 = await h3.quic.createBidirectionalStream();
    const w2 = bidi2.writable.getWriter();
    const r2 = new StreamReader(bidi2.readable);
    await w2.write(new Uint8Array([...streamHeader(good.id), ...enc.encode("pong")]));
    assertEquals(dec.decode(await r2.readExact(4)), "pong");
    r2.cancel();
    w2.abort().catch(() => {});
    await stillServes(ln);
  } finally {
    h3.close();
    await srv.stop();
    await settle();
  }
});

Deno.test("wt listener: a stream for an unknown session and garbage on a new stream are dropped", async () => {
  const ln = await listenWt(listenerOptions()) as WtListener;
  const srv = serve(ln);
  const h3 = await rawClient(ln);
  try {
    const bidi = await h3.quic.createBidirectionalStream();
    const w = bidi.writable.getWriter();
    const r = new StreamReader(bidi.readable);
    await w.write(new Uint8Array([...streamHeader(400), ...enc.encode("x")]));
    await assertRejects(async () => {
      await r.atEnd();
      throw new Error("not reset");
    });
    // A stream naming itself as its session: reset at once.
    const self = await h3.quic.createBidirectionalStream();
    const sw = self.writable.getWriter();
    const sr = new StreamReader(self.readable);
    await sw.write(streamHeader(Number(self.writable.id)));
    await assertRejects(async () => {
      await sr.atEnd();
      throw new Error("not reset");
    });
    // DATA before HEADERS on a request stream: 400, connection fine.
    const data = await rawRequest(h3, encodeFrame(FrameType.DATA, enc.encode("garbage")));
    assertEquals(data.status, 400);
    assert(!h3.done);
    assertEquals(srv.accepted(), 0);
    await stillServes(ln);
  } finally {
    h3.close();
    await srv.stop();
    await settle();
  }
});

Deno.test("wt listener: client-certificate authentication is refused clearly", async () => {
  const opts = listenerOptions();
  opts.tls = async () => ({ ...(await serverTLS()), ca: "x" });
  await assertRejects(() => listenWt(opts), TypeError, "client certificates");
});

Deno.test("wt: connectWt refuses a 4xx with the status in the error", async () => {
  const ln = await listenWt(listenerOptions({ path: "/only" })) as WtListener;
  const srv = serve(ln);
  const h3 = await rawClient(ln);
  h3.close();
  const { hostname, port } = ln.addr as Deno.NetAddr;
  const [leaf] = await probeCertificate(hostname, port);
  const endpoint = new Deno.QuicEndpoint({ hostname: "127.0.0.1", port: 0 });
  try {
    const quic = await Deno.connectQuic({
      hostname,
      port,
      endpoint,
      alpnProtocols: ["h3"],
      serverCertificateHashes: [{ algorithm: "sha-256", value: await certificateHash(leaf) }],
    } as unknown as Deno.ConnectQuicOptions<false>);
    await assertRejects(
      () => connectWt(quic, { authority: "127.0.0.1", path: "/wt", timeout: 2000 }),
      HandshakeError,
      "status 404",
    );
    await quic.closed.catch(() => {});
  } finally {
    endpoint.close();
    await srv.stop();
    await settle();
  }
});
