import { assert, assertEquals, assertRejects } from "../../tests/assert.ts";
import { writeAll } from "../_io/write_all.ts";
import { delay, pattern, readAll, readExactly, sha256 } from "../_mux/test_util.ts";
import { ClosedError } from "../types.ts";
import {
  CONTINUATION,
  DATA,
  ErrorCode,
  FLAG_ACK,
  FLAG_END_HEADERS,
  FLAG_END_STREAM,
  FLAG_PADDED,
  frameBytes,
  getU32,
  GOAWAY,
  HEADERS,
  PING,
  PREFACE,
  RST_STREAM,
  SETTINGS,
  SETTINGS_INITIAL_WINDOW_SIZE,
  SETTINGS_MAX_CONCURRENT_STREAMS,
  settingsFrame,
  WINDOW_UPDATE,
} from "./_frame.ts";
import { type HeaderField, HpackDecoder, HpackEncoder } from "./_hpack.ts";
import { H2RetryableError, H2Session, MAX_STREAM_WINDOW } from "./_session.ts";
import { StreamResetError } from "./_stream.ts";
import type { H2Stream } from "./_stream.ts";
import { echoStream, RawPeer, sessionPair, tcpPair } from "./_testing.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const CONNECT: HeaderField[] = [[":method", "CONNECT"], [":authority", "example.com:443"]];

function status(h: HeaderField[]): string | undefined {
  return h.find(([n]) => n === ":status")?.[1];
}

Deno.test("h2 session: request, 200, data both ways, half-close each way", async () => {
  const p = await sessionPair({ onStream: echoStream });
  try {
    const s = p.client.request(CONNECT);
    assertEquals(status(await s.response), "200");
    await writeAll(s, enc.encode("hello"));
    assertEquals(dec.decode(await readExactly(s, 5)), "hello");
    await s.closeWrite();
    assertEquals(await s.read(new Uint8Array(8)), null, "the server ends after our END_STREAM");
    s.close();
  } finally {
    await p.close();
  }
});

Deno.test("h2 session: 64 MiB both ways on one stream while another moves 16 MiB", async () => {
  const p = await sessionPair({ onStream: echoStream });
  try {
    const run = async (size: number, seed: number) => {
      const s = p.client.request(CONNECT);
      const data = pattern(size, seed);
      const [, back] = await Promise.all([
        (async () => {
          for (let off = 0; off < data.length; off += 300_000) await writeAll(s, data.subarray(off, off + 300_000));
          await s.closeWrite();
        })(),
        readAll(s),
      ]);
      s.close();
      assertEquals(await sha256(back), await sha256(data));
    };
    await Promise.all([run(64 << 20, 1), run(16 << 20, 2)]);
  } finally {
    await p.close();
  }
});

Deno.test("h2 session: small windows and 16 KiB frames still move data intact", async () => {
  const small = { streamWindow: 65_535, connWindow: 65_535, maxFrameSize: 16_384 };
  const p = await sessionPair({ ...small, onStream: echoStream }, small);
  try {
    const s = p.client.request(CONNECT);
    const data = pattern(3 << 20, 3);
    const [, back] = await Promise.all([writeAll(s, data).then(() => s.closeWrite()), readAll(s)]);
    assertEquals(await sha256(back), await sha256(data));
    s.close();
  } finally {
    await p.close();
  }
});

Deno.test("h2 session: a stream nobody reads does not stall the others", async () => {
  const streams: H2Stream[] = [];
  const p = await sessionPair({
    streamWindow: 256 * 1024,
    connWindow: 256 * 1024,
    onStream: (s) => {
      streams.push(s);
      if (s.header("x-echo")) echoStream(s);
      else s.respond([[":status", "200"]]);
    },
  }, { streamWindow: 256 * 1024 });
  try {
    const idle = p.client.request(CONNECT);
    // Fill the idle stream's window: its writer blocks, the server never reads it.
    const blocked = writeAll(idle, pattern(1 << 20, 4)).catch(() => {});
    const busy = p.client.request([...CONNECT, ["x-echo", "1"]]);
    const data = pattern(4 << 20, 5);
    const [, back] = await Promise.all([writeAll(busy, data).then(() => busy.closeWrite()), readAll(busy)]);
    assertEquals(await sha256(back), await sha256(data));
    assert(idle.sendWindow <= 0, "the idle stream used up its own window only");
    idle.close();
    busy.close();
    await blocked;
  } finally {
    for (const s of streams) s.close();
    await p.close();
  }
});

Deno.test("h2 session: a stream's window grows while its reader keeps up, not while it stalls", async () => {
  const streams: H2Stream[] = [];
  const p = await sessionPair({ onStream: echoStream }, {});
  try {
    const fast = p.client.request(CONNECT);
    const data = pattern(48 << 20, 8);
    const [, back] = await Promise.all([writeAll(fast, data).then(() => fast.closeWrite()), readAll(fast)]);
    assertEquals(back.length, data.length);
    assert(fast.windowTarget > 1 << 20, `grew to ${fast.windowTarget}`);
    assert(fast.windowTarget <= MAX_STREAM_WINDOW, `${fast.windowTarget} beyond the cap`);
    fast.close();
  } finally {
    for (const s of streams) s.close();
    await p.close();
  }
  const stalled: H2Stream[] = [];
  const q = await sessionPair({
    onStream: (s) => {
      stalled.push(s);
      s.respond([[":status", "200"]]);
    },
  });
  try {
    const s = q.client.request(CONNECT);
    await s.response;
    const blocked = writeAll(s, pattern(4 << 20, 9)).catch(() => {});
    for (let i = 0; i < 50 && stalled[0]?.recvWindow !== 0; i++) await new Promise((r) => setTimeout(r, 10));
    assertEquals(stalled[0].recvWindow, 0, "the sender used up the initial window");
    assertEquals(stalled[0].windowTarget, 1 << 20, "nobody read: no growth");
    s.close();
    await blocked;
  } finally {
    for (const s of stalled) s.close();
    await q.close();
  }
});

Deno.test("h2 session: RST_STREAM mid-transfer fails that stream only", async () => {
  let victim: H2Stream | undefined;
  const p = await sessionPair({
    onStream: (s) => {
      if (s.header("x-victim")) {
        victim = s;
        s.respond([[":status", "200"]]);
        s.read(new Uint8Array(10)).then(() => s.reset(ErrorCode.CANCEL));
      } else {
        echoStream(s);
      }
    },
  });
  try {
    const v = p.client.request([...CONNECT, ["x-victim", "1"]]);
    const other = p.client.request(CONNECT);
    await v.response;
    await writeAll(v, enc.encode("0123456789"));
    const err = await assertRejects(() => v.read(new Uint8Array(16)), StreamResetError);
    assertEquals((err as StreamResetError).code, ErrorCode.CANCEL);
    await assertRejects(() => v.write(enc.encode("x")), StreamResetError);
    const data = pattern(1 << 20, 6);
    const [, back] = await Promise.all([writeAll(other, data).then(() => other.closeWrite()), readAll(other)]);
    assertEquals(await sha256(back), await sha256(data));
    assert(victim);
    v.close();
    other.close();
    assert(!p.client.closed && !p.server.closed);
  } finally {
    await p.close();
  }
});

Deno.test("h2 session: trailers end a response", async () => {
  const p = await sessionPair({
    onStream: (s) => {
      s.respond([[":status", "200"], ["content-type", "application/grpc"]]);
      s.write(enc.encode("body")).then(() => s.sendTrailers([["grpc-status", "0"]]));
    },
  });
  try {
    const s = p.client.request([[":method", "POST"], [":path", "/x"], [":scheme", "http"], [":authority", "a"]]);
    const h = await s.response;
    assertEquals(status(h), "200");
    assertEquals(dec.decode(await readAll(s)), "body");
    assertEquals(s.trailers, [["grpc-status", "0"]]);
    s.close();
  } finally {
    await p.close();
  }
});

Deno.test("h2 session: header blocks beyond one frame use CONTINUATION", async () => {
  let seen: HeaderField[] = [];
  const p = await sessionPair({
    onStream: (s) => {
      seen = s.requestHeaders;
      s.respond([[":status", "200"], ["x-big", "b".repeat(40_000)]], true);
    },
  });
  try {
    const big = "a".repeat(40_000);
    const s = p.client.request([...CONNECT, ["x-big", big]], true);
    const h = await s.response;
    assertEquals(h.find(([n]) => n === "x-big")?.[1].length, 40_000);
    assertEquals(seen.find(([n]) => n === "x-big")?.[1], big);
    s.close();
  } finally {
    await p.close();
  }
});

Deno.test("h2 session: shutdown sends GOAWAY; open streams finish, new ones are refused", async () => {
  const p = await sessionPair({ onStream: echoStream });
  try {
    const s = p.client.request(CONNECT);
    await s.response;
    p.server.shutdown();
    await writeAll(s, enc.encode("still here"));
    assertEquals(dec.decode(await readExactly(s, 10)), "still here");
    // The client learns about the GOAWAY before its next request.
    for (let i = 0; i < 50 && !p.client.goawayReceived; i++) await new Promise((r) => setTimeout(r, 10));
    assert(p.client.goawayReceived);
    assert(!p.client.canOpen);
    let refused: unknown;
    try {
      p.client.request(CONNECT);
    } catch (err) {
      refused = err;
    }
    assert(refused instanceof H2RetryableError);
    await s.closeWrite();
    assertEquals(await s.read(new Uint8Array(4)), null);
    s.close();
    await p.server.done;
    await p.client.done;
    assert(p.server.closed && p.client.closed, "both close once the last stream is done");
  } finally {
    await p.close();
  }
});

Deno.test("h2 session: ping round trip; keepalive fails a peer that stops answering", async () => {
  const p = await sessionPair();
  try {
    const rtt = await p.client.ping();
    assert(rtt >= 0 && rtt < 5000);
  } finally {
    await p.close();
  }
  // A raw server that sends SETTINGS and then stays silent.
  const [a, b] = await tcpPair();
  const peer = new RawPeer(b);
  await peer.send(settingsFrame([]));
  const c = new H2Session(a, { client: true, keepalive: { interval: 100, timeout: 200, permitWithoutStream: true } });
  try {
    await c.done;
    assert(c.error?.message.includes("keepalive"), c.error?.message);
  } finally {
    c.close();
    peer.close();
  }
});

Deno.test("h2 session: pings more often than the policy allows earn GOAWAY too_many_pings", async () => {
  const [a, b] = await tcpPair();
  const s = new H2Session(b, {
    client: false,
    onStream: (st) => st.close(),
    pingPolicy: { minTime: 60_000, permitWithoutStream: true },
  });
  const peer = new RawPeer(a);
  try {
    await peer.clientPreface();
    for (let i = 0; i < 4; i++) await peer.frame(PING, 0, 0, new Uint8Array(8).fill(i));
    const g = await peer.until(GOAWAY);
    assert(g);
    assertEquals(getU32(g.payload, 4), ErrorCode.ENHANCE_YOUR_CALM);
    assertEquals(dec.decode(g.payload.subarray(8)), "too_many_pings");
    await s.done;
  } finally {
    s.close();
    peer.close();
  }
});

Deno.test("h2 session: pings in between server DATA do not count as strikes (grpc-go resets them)", async () => {
  const [a, b] = await tcpPair();
  const s = new H2Session(b, {
    client: false,
    onStream: echoStream,
    pingPolicy: { minTime: 60_000, permitWithoutStream: false },
  });
  const peer = new RawPeer(a);
  try {
    await peer.clientPreface();
    await peer.frame(HEADERS, FLAG_END_HEADERS, 1, new HpackEncoder().encode(CONNECT));
    for (let i = 0; i < 6; i++) {
      await peer.frame(DATA, 0, 1, enc.encode(`d${i}`));
      await peer.frame(PING, 0, 0, new Uint8Array(8).fill(i));
      const d = await peer.until(DATA);
      assertEquals(dec.decode(d!.payload), `d${i}`);
    }
    await peer.frame(PING, 0, 0, new Uint8Array(8).fill(9));
    for (;;) {
      const f = await peer.next();
      assert(f && f.type !== GOAWAY, "no GOAWAY");
      if (f.type === PING && f.payload[0] === 9) break;
    }
    assert(!s.closed);
  } finally {
    s.close();
    peer.close();
    await s.done;
  }
});

Deno.test("h2 session: protocol errors end the connection with GOAWAY and the right code", async () => {
  const cases: [string, (p: RawPeer) => Promise<void>, number][] = [
    ["bad preface", (p) => p.send(enc.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n")), ErrorCode.PROTOCOL_ERROR],
    ["DATA on stream 0", async (p) => {
      await p.clientPreface();
      await p.frame(DATA, 0, 0, new Uint8Array(4));
    }, ErrorCode.PROTOCOL_ERROR],
    ["frame too large", async (p) => {
      await p.clientPreface();
      const f = new Uint8Array(9);
      f[0] = 0x7f; // 8 MiB announced
      f[3] = DATA;
      f[8] = 1;
      await p.send(f);
    }, ErrorCode.FRAME_SIZE_ERROR],
    ["bad HPACK", async (p) => {
      await p.clientPreface();
      await p.frame(HEADERS, FLAG_END_HEADERS, 1, new Uint8Array([0x80]));
    }, ErrorCode.COMPRESSION_ERROR],
    ["CONTINUATION interrupted", async (p) => {
      await p.clientPreface();
      await p.frame(HEADERS, 0, 1, new HpackEncoder().encode(CONNECT));
      await p.frame(DATA, 0, 1, new Uint8Array(1));
    }, ErrorCode.PROTOCOL_ERROR],
    ["connection window overflow", async (p) => {
      await p.clientPreface();
      const inc = new Uint8Array(4);
      new DataView(inc.buffer).setUint32(0, 0x7fffffff);
      await p.frame(WINDOW_UPDATE, 0, 0, inc);
    }, ErrorCode.FLOW_CONTROL_ERROR],
  ];
  for (const [name, act, code] of cases) {
    const [a, b] = await tcpPair();
    const s = new H2Session(b, { client: false, onStream: (st) => st.close() });
    const peer = new RawPeer(a);
    try {
      await act(peer);
      const g = await peer.until(GOAWAY);
      assert(g, `${name}: GOAWAY expected`);
      assertEquals(getU32(g.payload, 4), code, name);
      await s.done;
      assert(s.closed, name);
    } finally {
      s.close();
      peer.close();
    }
  }
});

Deno.test("h2 session: padded frames, PRIORITY and unknown frame types from a raw client", async () => {
  const [a, b] = await tcpPair();
  const got: string[] = [];
  const s = new H2Session(b, {
    client: false,
    onStream: async (st) => {
      st.respond([[":status", "200"]]);
      got.push(dec.decode(await readAll(st)));
      await st.closeWrite();
    },
  });
  const peer = new RawPeer(a);
  try {
    await peer.clientPreface();
    const block = new HpackEncoder().encode(CONNECT);
    // HEADERS with padding and priority, split with a CONTINUATION.
    const head = new Uint8Array(1 + 5 + 3 + 4);
    head[0] = 4; // pad length
    head.set(block.subarray(0, 3), 6);
    await peer.frame(HEADERS, FLAG_PADDED | 0x20, 1, head.subarray(0, 1 + 5 + 3 + 4));
    await peer.frame(CONTINUATION, FLAG_END_HEADERS, 1, block.subarray(3));
    await peer.frame(0x2, 0, 1, new Uint8Array(5)); // PRIORITY
    await peer.frame(0xfa, 0, 0, new Uint8Array(7)); // unknown type: ignored
    const data = enc.encode("padded");
    const p = new Uint8Array(1 + data.length + 10);
    p[0] = 10;
    p.set(data, 1);
    await peer.frame(DATA, FLAG_PADDED | FLAG_END_STREAM, 1, p);
    // Response HEADERS, then END_STREAM.
    const h = await peer.until(HEADERS);
    assertEquals(new HpackDecoder().decode(h!.payload).headers, [[":status", "200"]]);
    for (;;) {
      const f = await peer.next();
      assert(f, "stream must end");
      if (f.type === DATA && f.flags & FLAG_END_STREAM) break;
    }
    assertEquals(got, ["padded"]);
  } finally {
    s.close();
    peer.close();
    await s.done;
  }
});

Deno.test("h2 session: server limits concurrent streams; the client respects the peer's limit", async () => {
  const [a, b] = await tcpPair();
  const s = new H2Session(b, {
    client: false,
    maxConcurrentStreams: 1,
    onStream: (st) => st.respond([[":status", "200"]]),
  });
  const peer = new RawPeer(a);
  try {
    await peer.clientPreface();
    const e = new HpackEncoder();
    await peer.frame(HEADERS, FLAG_END_HEADERS, 1, e.encode(CONNECT));
    await peer.frame(HEADERS, FLAG_END_HEADERS, 3, e.encode(CONNECT));
    const r = await peer.until(RST_STREAM);
    assertEquals(r?.id, 3);
    assertEquals(getU32(r!.payload, 0), ErrorCode.REFUSED_STREAM);
  } finally {
    s.close();
    peer.close();
    await s.done;
  }
  const [c1, c2] = await tcpPair();
  const server = new RawPeer(c2);
  const client = new H2Session(c1, { client: true });
  try {
    await readExactly(c2, PREFACE.length);
    await server.send(settingsFrame([[SETTINGS_MAX_CONCURRENT_STREAMS, 1], [SETTINGS_INITIAL_WINDOW_SIZE, 10]]));
    // Wait for our SETTINGS to be applied (the client ACKs them).
    for (;;) {
      const f = await server.next();
      if (!f || (f.type === SETTINGS && f.flags & FLAG_ACK)) break;
    }
    const first = client.request(CONNECT);
    assert(!client.canOpen, "one stream is the limit");
    let err: unknown;
    try {
      client.request(CONNECT);
    } catch (e) {
      err = e;
    }
    assert(err instanceof H2RetryableError);
    assertEquals(first.sendWindow, 10, "the peer's initial window applies to new streams");
  } finally {
    client.close();
    server.close();
    await client.done;
  }
});

Deno.test("h2 session: a server session closes itself after maxIdle without streams", async () => {
  const p = await sessionPair({ maxIdle: 100 });
  try {
    await p.server.done;
    await p.client.done;
    assert(p.client.closed);
  } finally {
    await p.close();
  }
});

Deno.test("h2 session: transport loss fails streams with ClosedError; requests then throw", async () => {
  const p = await sessionPair({ onStream: (s) => s.respond([[":status", "200"]]) });
  try {
    const s = p.client.request(CONNECT);
    await s.response;
    const pending = s.read(new Uint8Array(4));
    p.server.close();
    await assertRejects(() => pending, ClosedError);
    await p.client.done;
    let err: unknown;
    try {
      p.client.request(CONNECT);
    } catch (e) {
      err = e;
    }
    assert(err instanceof ClosedError);
  } finally {
    await p.close();
  }
});

Deno.test("h2 session: the client preface goes first, SETTINGS are ACKed, a 1xx response is skipped", async () => {
  const [a, b] = await tcpPair();
  const peer = new RawPeer(b);
  const c = new H2Session(a, { client: true });
  try {
    const pre = await readExactly(b, PREFACE.length);
    assertEquals(pre, PREFACE);
    const f = await peer.next();
    assertEquals(f?.type, SETTINGS);
    await peer.send(settingsFrame([]));
    const ack = await peer.until(SETTINGS);
    assertEquals(ack?.flags, FLAG_ACK);
    const s = c.request(CONNECT);
    const req = await peer.until(HEADERS);
    assertEquals(new HpackDecoder().decode(req!.payload).headers, CONNECT);
    const e = new HpackEncoder();
    await peer.frame(HEADERS, FLAG_END_HEADERS, s.id, e.encode([[":status", "100"]]));
    await peer.frame(HEADERS, FLAG_END_HEADERS, s.id, e.encode([[":status", "200"], ["x-final", "1"]]));
    assertEquals(await s.response, [[":status", "200"], ["x-final", "1"]]);
    s.close();
    const rst = await peer.until(RST_STREAM);
    assertEquals(getU32(rst!.payload, 0), ErrorCode.CANCEL, "a client closing an open stream cancels it");
  } finally {
    c.close();
    peer.close();
    await c.done;
  }
});

/** A server session fed by a raw client that has opened stream `ids` with CONNECT. */
async function rawServer(onStream: (st: H2Stream) => void) {
  const [a, b] = await tcpPair();
  const session = new H2Session(b, { client: false, onStream });
  const peer = new RawPeer(a);
  await peer.clientPreface();
  const open = async (id: number) => {
    await peer.frame(HEADERS, FLAG_END_HEADERS, id, new HpackEncoder().encode(CONNECT));
    await delay(20); // the stream's reader is waiting before any DATA comes
  };
  const close = async () => {
    session.close();
    peer.close();
    await session.done;
  };
  return { session, peer, open, close };
}

Deno.test("h2 session: the rest of a DATA frame that arrives in pieces goes straight into the waiting read", async () => {
  const reads: number[] = [];
  const chunks: Uint8Array[] = [];
  let finished!: () => void;
  const done = new Promise<void>((r) => (finished = r));
  const t = await rawServer(async (st) => {
    st.respond([[":status", "200"]]);
    const buf = new Uint8Array(64 * 1024);
    for (let n; (n = await st.read(buf)) !== null;) {
      reads.push(n);
      chunks.push(buf.slice(0, n));
    }
    finished();
  });
  try {
    await t.open(1);
    const data = pattern(40_000, 7);
    const frame = frameBytes(DATA, FLAG_END_STREAM, 1, data);
    await t.peer.send(frame.subarray(0, 9 + 10));
    await delay(20);
    await t.peer.send(frame.subarray(9 + 10));
    await done;
    const got = new Uint8Array(reads.reduce((a, b) => a + b, 0));
    chunks.reduce((at, c) => (got.set(c, at), at + c.length), 0);
    assertEquals(await sha256(got), await sha256(data));
    // Without the direct read the first 10 bytes would be handed out alone.
    assert(reads[0] > 10, `reads: ${reads}`);
  } finally {
    await t.close();
  }
});

Deno.test("h2 session: a stream closed while its frame is read straight into its buffer; the session goes on", async () => {
  const streams = new Map<number, H2Stream>();
  const t = await rawServer((st) => {
    st.respond([[":status", "200"]]);
    streams.set(st.id, st);
  });
  try {
    await t.open(1);
    const s1 = streams.get(1)!;
    const buf = new Uint8Array(64 * 1024);
    const first = s1.read(buf);
    const frame = frameBytes(DATA, 0, 1, pattern(50_000, 8));
    await t.peer.send(frame.subarray(0, 9 + 10));
    await delay(20);
    s1.close(); // the session is waiting for the rest of the frame
    assertEquals(await first, 10, "the bytes that had arrived are handed out");
    assertEquals(buf.subarray(0, 10), pattern(50_000, 8).subarray(0, 10));
    await t.peer.send(frame.subarray(9 + 10));
    // The rest of the frame is dropped; another stream works as before.
    await t.open(3);
    const s3 = streams.get(3)!;
    await t.peer.frame(DATA, FLAG_END_STREAM, 3, enc.encode("still here"));
    assertEquals(dec.decode(await readAll(s3)), "still here");
    assert(!t.session.closed);
  } finally {
    await t.close();
  }
});

Deno.test("h2 session: data nobody reads yet is kept across pooled blocks and read back intact in odd sizes", async () => {
  let stream!: H2Stream;
  const t = await rawServer((st) => {
    st.respond([[":status", "200"]]);
    stream = st;
  });
  try {
    await t.open(1);
    const data = pattern(300_001, 9);
    // Uneven frames, none read until all arrived.
    for (let at = 0; at < data.length;) {
      const n = Math.min(data.length - at, 1 + ((at * 7) % 40_000));
      await t.peer.frame(DATA, at + n === data.length ? FLAG_END_STREAM : 0, 1, data.subarray(at, at + n));
      at += n;
    }
    await delay(50);
    assertEquals(await sha256(await readAll(stream, 7777)), await sha256(data));
  } finally {
    await t.close();
  }
});
