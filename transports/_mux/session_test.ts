import { assert, assertEquals, assertRejects } from "../../tests/assert.ts";
import { writeAll } from "../_io/write_all.ts";
import { ClosedError } from "../types.ts";
import { CMD_FIN, CMD_NOP, CMD_PSH, CMD_SYN, encodeFrame, encodeUpd } from "./frame.ts";
import { ACCEPT_BACKLOG, Session } from "./session.ts";
import type { Stream } from "./stream.ts";
import { delay, pattern, readAll, readExactly, sessionPair, sha256, tcpPair, writeChunked } from "./test_util.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** Echoes every accepted stream until EOF, then closes it. */
async function echoServer(session: Session): Promise<void> {
  for (;;) {
    let s: Stream;
    try {
      s = await session.accept();
    } catch {
      return;
    }
    (async () => {
      const buf = new Uint8Array(64 * 1024);
      try {
        for (;;) {
          const n = await s.read(buf);
          if (n === null) break;
          await writeAll(s, buf.subarray(0, n));
        }
      } catch {
        // session torn down under us
      } finally {
        s.close();
      }
    })();
  }
}

/**
 * Writes `data` while reading the echo back, then closes. (smux has no
 * half-close: a FIN sent before the echo came back would end the stream.)
 */
async function echoRoundTrip(s: Stream, data: Uint8Array): Promise<Uint8Array> {
  try {
    const [, got] = await Promise.all([writeChunked(s, data), readExactly(s, data.length)]);
    return got;
  } finally {
    s.close();
  }
}

for (const version of [1, 2]) {
  Deno.test(`smux v${version}: open, accept, echo, ids`, async () => {
    const p = await sessionPair({ version });
    const echo = echoServer(p.server);
    const a = await p.client.open();
    const b = await p.client.open();
    assertEquals([a.id, b.id], [3, 5]);
    assertEquals(dec(await echoRoundTrip(a, enc("hello"))), "hello");
    assertEquals(dec(await echoRoundTrip(b, enc("world"))), "world");
    // The server may open streams too: even ids.
    const [c, accepted] = await Promise.all([p.server.open(), p.client.accept()]);
    assertEquals([c.id, accepted.id], [2, 2]);
    await c.write(enc("ping"));
    assertEquals(dec(await readExactly(accepted, 4)), "ping");
    c.close();
    assertEquals(await accepted.read(new Uint8Array(10)), null);
    accepted.close();
    await p.close();
    await echo;
  });

  Deno.test(`smux v${version}: 100 sequential and 50 concurrent streams`, async () => {
    const p = await sessionPair({ version });
    const echo = echoServer(p.server);
    for (let i = 0; i < 100; i++) {
      const s = await p.client.open();
      assertEquals(dec(await echoRoundTrip(s, enc(`seq ${i}`))), `seq ${i}`);
    }
    await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const s = await p.client.open();
        const data = pattern(100_000 + i * 1000, i + 1);
        const got = await echoRoundTrip(s, data);
        assertEquals(await sha256(got), await sha256(data));
      }),
    );
    // Both sides have forgotten every finished stream.
    await delay(20);
    assertEquals([p.client.numStreams, p.server.numStreams], [0, 0]);
    await p.close();
    await echo;
  });

  Deno.test(`smux v${version}: 64 MiB through one stream both ways`, async () => {
    const p = await sessionPair({ version });
    const size = 64 * 1024 * 1024;
    const up = pattern(size, 7);
    const down = pattern(size, 9);
    const [c, s] = await Promise.all([p.client.open(), p.server.accept()]);
    const [gotDown, gotUp] = await Promise.all([
      readExactly(c, size),
      readExactly(s, size),
      writeChunked(c, up),
      writeChunked(s, down),
    ]);
    assertEquals(await sha256(gotUp), await sha256(up));
    assertEquals(await sha256(gotDown), await sha256(down));
    c.close();
    assertEquals(await s.read(new Uint8Array(1)), null);
    s.close();
    await p.close();
  });
}

Deno.test("smux: FIN delivers buffered data, then EOF; writes after peer FIN fail", async () => {
  const p = await sessionPair();
  const c = await p.client.open();
  await c.write(enc("first"));
  await c.write(enc("second"));
  await c.closeWrite();
  await assertRejects(() => c.write(enc("x")), ClosedError);
  const s = await p.server.accept();
  await delay(20); // let the FIN arrive before anything is read
  assertEquals(dec(await readAll(s)), "firstsecond");
  assertEquals(await s.read(new Uint8Array(1)), null);
  await assertRejects(() => s.write(enc("late")), Deno.errors.BrokenPipe);
  s.close();
  c.close();
  await p.close();
});

Deno.test("smux: after closeWrite, data the peer already sent stays readable until its FIN", async () => {
  const p = await sessionPair();
  const c = await p.client.open();
  await c.write(enc("req"));
  const s = await p.server.accept();
  assertEquals(dec(await readExactly(s, 3)), "req");
  await s.write(enc("reply"));
  await delay(20); // the reply is now buffered on the client
  await c.closeWrite();
  assertEquals(await s.read(new Uint8Array(10)), null);
  s.close(); // GOST closes on FIN, sending its own
  assertEquals(dec(await readAll(c)), "reply");
  c.close();
  await p.close();
});

Deno.test("smux v2: a reader that does not read blocks the writer; memory stays bounded", async () => {
  const p = await sessionPair({ version: 2 });
  const c = await p.client.open();
  let sent = 0;
  let writerDone = false;
  const chunk = new Uint8Array(16 * 1024);
  const total = 4 * 1024 * 1024;
  const writer = (async () => {
    while (sent < total) {
      await c.write(chunk);
      sent += chunk.length;
    }
    writerDone = true;
  })();
  const s = await p.server.accept();
  await delay(200);
  // Nothing read yet: the initial 256 KiB window (+ at most what the last write had queued) is all that left.
  assert(!writerDone, "writer should block on the window");
  assert(sent <= 262144 + chunk.length, `sent ${sent} bytes with no reader`);
  // After the first read the window is 64 KiB ahead of what was consumed.
  const first = await readExactly(s, 1000);
  await delay(100);
  assert(!writerDone);
  assert(sent <= 1000 + 262144 + chunk.length, `sent ${sent} after one read`);
  const rest = await readExactly(s, total - 1000);
  await writer;
  assertEquals(first.length + rest.length, total);
  c.close();
  s.close();
  await p.close();
});

Deno.test("smux v1: a full session receive buffer stops reading the transport", async () => {
  const p = await sessionPair({ version: 1, maxReceiveBuffer: 256 * 1024, maxStreamBuffer: 65536 });
  const c = await p.client.open();
  const total = 64 * 1024 * 1024;
  let done = false;
  const writer = writeChunked(c, pattern(total, 3)).then(() => (done = true));
  const s = await p.server.accept();
  await delay(300);
  // Kernel socket buffers hold a few MiB at most; 64 MiB can only pass if we read.
  assert(!done, "sender should be back-pressured");
  const got = await readExactly(s, total);
  await writer;
  assertEquals(await sha256(got), await sha256(pattern(total, 3)));
  c.close();
  s.close();
  await p.close();
});

Deno.test("smux: version mismatch kills the session", async () => {
  const [a, b] = await tcpPair();
  const client = new Session(a, { client: true, version: 1 });
  const server = new Session(b, { client: false, version: 2 });
  const accepting = server.accept();
  await client.open();
  await assertRejects(() => accepting, ClosedError, "version 1");
  await server.done;
  assert(server.closed);
  // The client sees its transport end.
  await client.done;
  assert(client.closed);
  await assertRejects(() => client.open(), ClosedError);
});

Deno.test("smux: garbage bytes and unknown commands kill the session without leaks", async () => {
  for (const junk of [pattern(4096, 5), Uint8Array.of(1, 9, 0, 0, 0, 0, 0, 0)]) {
    const [raw, b] = await tcpPair();
    const server = new Session(b, { client: false, keepaliveInterval: 50, keepaliveTimeout: 100 });
    await writeAll(raw, junk);
    await assertRejects(() => server.accept(), ClosedError);
    await server.done;
    assertEquals(await readAll(raw), new Uint8Array(0));
    raw.close();
  }
});

Deno.test("smux: duplicate SYN ignored, PSH to an unknown stream discarded, SYN then PSH at once", async () => {
  const [raw, b] = await tcpPair();
  const server = new Session(b, { client: false, keepaliveDisabled: true });
  await writeAll(
    raw,
    new Uint8Array([
      ...encodeFrame(1, CMD_PSH, 9, enc("lost")),
      ...encodeFrame(1, CMD_SYN, 3),
      ...encodeFrame(1, CMD_PSH, 3, enc("ab")),
      ...encodeFrame(1, CMD_SYN, 3),
      ...encodeFrame(1, CMD_NOP, 0),
      ...encodeFrame(1, CMD_PSH, 3, new Uint8Array(0)),
      ...encodeFrame(1, CMD_PSH, 3, enc("cd")),
      ...encodeFrame(1, CMD_FIN, 3),
    ]),
  );
  const s = await server.accept();
  assertEquals(s.id, 3);
  assertEquals(dec(await readAll(s)), "abcd");
  assertEquals(server.numStreams, 1);
  s.close();
  assertEquals(server.numStreams, 0);
  // Our FIN went out as one frame.
  assertEquals(await readExactly(raw, 8), encodeFrame(1, CMD_FIN, 3));
  raw.close();
  await server.done;
  assert(server.closed);
});

Deno.test("smux: keepalive timeout closes a session whose peer is silent", async () => {
  const [raw, b] = await tcpPair();
  const t0 = Date.now();
  const server = new Session(b, { client: false, keepaliveInterval: 30, keepaliveTimeout: 100 });
  const err = await assertRejects(() => server.accept(), ClosedError, "keepalive");
  const took = Date.now() - t0;
  assert(took >= 100 && took < 1000, `closed after ${took} ms`);
  assert(err.cause instanceof Deno.errors.TimedOut);
  await server.done;
  // It did send NOPs meanwhile.
  const got = await readAll(raw);
  assert(got.length >= 8 && got.length % 8 === 0);
  assertEquals(got.subarray(0, 8), encodeFrame(1, CMD_NOP, 0));
  raw.close();
});

Deno.test("smux: NOPs keep two idle sessions alive", async () => {
  const p = await sessionPair({ keepaliveInterval: 20, keepaliveTimeout: 200 });
  await delay(700);
  assert(!p.client.closed && !p.server.closed);
  await p.close();
});

Deno.test("smux: transport closed mid-transfer ends every stream promptly", async () => {
  const [a, b] = await tcpPair();
  const client = new Session(a, { client: true });
  const server = new Session(b, { client: false });
  const streams = await Promise.all(Array.from({ length: 4 }, () => client.open()));
  const accepted = await Promise.all(streams.map(() => server.accept()));
  const writers = streams.map((s) => writeChunked(s, pattern(16 * 1024 * 1024)).catch((e) => e));
  const readers = accepted.map(async (s) => {
    const buf = new Uint8Array(65536);
    let n = 0;
    try {
      for (;;) {
        const r = await s.read(buf);
        if (r === null) return { n, err: null };
        n += r;
        if (n > 1024 * 1024) await delay(1); // slow reader: keep data in flight
      }
    } catch (err) {
      return { n, err };
    }
  });
  await delay(50);
  const t0 = Date.now();
  a.close(); // yank the client's transport
  const results = await Promise.all(readers);
  const wErrs = await Promise.all(writers);
  assert(Date.now() - t0 < 2000);
  for (const r of results) assert(r.err instanceof ClosedError, `reader ended with ${r.err}`);
  for (const e of wErrs) assert(e instanceof Error, "writer should fail");
  await Promise.all([client.done, server.done]);
  assert(client.closed && server.closed);
  await assertRejects(() => accepted[0].write(enc("x")), ClosedError);
});

Deno.test("smux: close() fails pending accept, reads and writes", async () => {
  const p = await sessionPair({ version: 2 });
  const c = await p.client.open();
  const s = await p.server.accept();
  const pendingRead = c.read(new Uint8Array(10)); // nobody writes to c
  const pendingAccept = p.client.accept();
  // More than the 256 KiB initial window, and nobody reads s: the write waits.
  const pendingWrite = c.write(new Uint8Array(1024 * 1024));
  await delay(20);
  p.client.close();
  await assertRejects(() => pendingWrite, ClosedError);
  await assertRejects(() => pendingRead, ClosedError);
  await assertRejects(() => pendingAccept, ClosedError);
  await assertRejects(() => p.client.open(), ClosedError);
  await p.close();
  await assertRejects(() => s.read(new Uint8Array(1 << 20)).then(() => s.read(new Uint8Array(1 << 20))), ClosedError);
  assertEquals([p.client.numStreams, p.server.numStreams], [0, 0]);
});

Deno.test("smux: frames of concurrent streams never interleave, one write per frame", async () => {
  // A Conn that records every write, in front of a TCP conn.
  const [a, raw] = await tcpPair();
  const writes: Uint8Array[] = [];
  const recording = {
    read: (p: Uint8Array) => a.read(p),
    write: (p: Uint8Array) => {
      writes.push(p.slice());
      return a.write(p);
    },
    closeWrite: () => a.closeWrite(),
    close: () => a.close(),
    localAddr: a.localAddr,
    remoteAddr: a.remoteAddr,
  };
  const client = new Session(recording, { client: true, keepaliveDisabled: true, maxFrameSize: 1000 });
  const streams = await Promise.all(Array.from({ length: 8 }, () => client.open()));
  const reading = readExactly(raw, 8 * 8 + 8 * (10 * 8 + 10_000));
  await Promise.all(streams.map((s, i) => s.write(pattern(10_000, i + 1))));
  const wire = await reading;
  // Every write is exactly one well-formed frame.
  for (const w of writes) {
    const len = w[1] === CMD_PSH ? w[2] | (w[3] << 8) : 0;
    assertEquals(w.length, 8 + len);
    assert(len <= 1000);
  }
  // Reassemble per stream from the wire: each stream's bytes arrive intact and in order.
  const per = new Map<number, number[]>();
  for (let off = 0; off < wire.length;) {
    const sid = wire[off + 4] | (wire[off + 5] << 8);
    const len = wire[off + 1] === CMD_PSH ? wire[off + 2] | (wire[off + 3] << 8) : 0;
    if (wire[off + 1] === CMD_PSH) per.set(sid, [...(per.get(sid) ?? []), ...wire.subarray(off + 8, off + 8 + len)]);
    off += 8 + len;
  }
  for (const [i, s] of streams.entries()) assertEquals(new Uint8Array(per.get(s.id)!), pattern(10_000, i + 1));
  client.close();
  await client.done;
  raw.close();
});

Deno.test("smux v2 on the wire: UPD after the first read and after every maxStreamBuffer/2", async () => {
  const [raw, b] = await tcpPair();
  const server = new Session(b, { client: false, version: 2, keepaliveDisabled: true });
  await writeAll(raw, new Uint8Array([...encodeFrame(2, CMD_SYN, 3), ...encodeFrame(2, CMD_PSH, 3, pattern(1000))]));
  const s = await server.accept();
  await readExactly(s, 1000);
  assertEquals(await readExactly(raw, 16), encodeUpd(2, 3, 1000, 65536));
  // 20000 more: below 32768 since the last UPD, so none is sent...
  await writeAll(raw, encodeFrame(2, CMD_PSH, 3, pattern(20000)));
  await readExactly(s, 20000);
  // ...then 20000 more crosses it.
  await writeAll(raw, encodeFrame(2, CMD_PSH, 3, pattern(20000)));
  await readExactly(s, 20000);
  assertEquals(await readExactly(raw, 16), encodeUpd(2, 3, 41000, 65536));
  server.close();
  await server.done;
  raw.close();
});

Deno.test("smux v2 on the wire: the writer honours the initial 262144 window and UPDs", async () => {
  const [raw, a] = await tcpPair();
  const client = new Session(a, { client: true, version: 2, keepaliveDisabled: true });
  const c = await client.open();
  const total = 400_000;
  let done = false;
  const writing = c.write(pattern(total)).then(() => (done = true));
  /** Reads frames off the wire until `want` payload bytes arrived; returns them. */
  const payload = async (want: number) => {
    let got = 0;
    while (got < want) {
      const h = await readExactly(raw, 8);
      if (h[1] !== CMD_PSH) continue;
      const len = h[2] | (h[3] << 8);
      await readExactly(raw, len);
      got += len;
    }
    return got;
  };
  assertEquals(await payload(262144), 262144);
  await delay(50);
  assert(!done, "writer must wait for a window update");
  // consumed=100000, window=65536: 262144 - 100000 in flight > 65536, still blocked.
  await writeAll(raw, encodeUpd(2, c.id, 100_000, 65536));
  await delay(50);
  assert(!done);
  // consumed=262144: exactly 65536 more may go.
  await writeAll(raw, encodeUpd(2, c.id, 262144, 65536));
  assertEquals(await payload(65536), 65536);
  await delay(50);
  assert(!done);
  // A huge window lets the rest through.
  await writeAll(raw, encodeUpd(2, c.id, 262144 + 65536, 1 << 20));
  assertEquals(await payload(total - 262144 - 65536), total - 262144 - 65536);
  await writing;
  client.close();
  await client.done;
  raw.close();
});

Deno.test("smux: more SYNs than the accept backlog pause the reader, then everything is accepted", async () => {
  const [raw, b] = await tcpPair();
  const server = new Session(b, { client: false, keepaliveDisabled: true });
  const n = ACCEPT_BACKLOG + 100;
  const frames: number[] = [];
  for (let i = 0; i < n; i++) frames.push(...encodeFrame(1, CMD_SYN, 3 + 2 * i));
  frames.push(...encodeFrame(1, CMD_PSH, 3 + 2 * (n - 1), enc("last")));
  await writeAll(raw, new Uint8Array(frames));
  await delay(50);
  assertEquals(server.numStreams, ACCEPT_BACKLOG); // the rest waits in the transport
  let last: Stream | undefined;
  for (let i = 0; i < n; i++) last = await server.accept();
  assertEquals(last!.id, 3 + 2 * (n - 1));
  assertEquals(dec(await readExactly(last!, 4)), "last");
  server.close();
  await server.done;
  raw.close();
});

Deno.test("smux: empty writes, double closeWrite/close, late frames for a closed stream", async () => {
  const p = await sessionPair();
  const c = await p.client.open();
  assertEquals(await c.write(new Uint8Array(0)), 0);
  await c.write(enc("x"));
  const s = await p.server.accept();
  assertEquals(await s.read(new Uint8Array(0)), 0);
  s.close();
  s.close();
  await assertRejects(() => s.read(new Uint8Array(1)), ClosedError);
  await c.write(enc("late")).catch(() => {}); // may race the server's FIN; discarded either way
  assertEquals(await c.read(new Uint8Array(1)), null);
  await c.closeWrite().catch(() => {});
  c.close();
  await delay(20);
  assertEquals([p.client.numStreams, p.server.numStreams], [0, 0]);
  await p.close();
});
