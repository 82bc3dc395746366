import { assert, assertEquals, assertRejects } from "../../tests/assert.ts";
import { BufferedConn } from "../_io/buffered_conn.ts";
import { writeAll } from "../_io/write_all.ts";
import { ClosedError, type Conn } from "../types.ts";
import { CloseCode, encodeFrame, maskBytes, Opcode, parseHeader, ProtocolError } from "./frame.ts";
import { acceptWebSocket, dialWebSocket } from "./mod.ts";
import { WsConn } from "./ws_conn.ts";
import { Digest, memoryPipe, type MemoryPipeOptions, pattern, readAll, readN, tcpPair } from "./_test_util.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

interface RawFrame {
  fin: boolean;
  opcode: number;
  masked: boolean;
  payload: Uint8Array;
}

/** Reads one frame from a raw conn (unmasking it); null at EOF. */
async function readFrame(conn: BufferedConn): Promise<RawFrame | null> {
  const first = await conn.peek(2);
  if (first.length === 0) return null;
  let h = null;
  for (let need = 2; (h = parseHeader(await conn.peek(need), Number.MAX_SAFE_INTEGER)) === null; need++) {
    // grow until the header parses
  }
  await conn.readExact(h.headerLength);
  const payload = await conn.readExact(h.length);
  if (h.maskKey) maskBytes(payload, h.maskKey);
  return { fin: h.fin, opcode: h.opcode, masked: h.masked, payload };
}

/** A WsConn in `role` whose peer is a raw conn the test drives by hand. */
function withRawPeer(role: "client" | "server", pipe: MemoryPipeOptions = {}) {
  const [a, b] = memoryPipe(pipe);
  const ws = new WsConn(a, { role });
  const raw = new BufferedConn(b);
  // Frames the raw side sends must carry the mask bit its role demands.
  const send = (opcode: number, payload: Uint8Array | string, fin = true) =>
    writeAll(
      raw,
      encodeFrame(opcode, typeof payload === "string" ? enc.encode(payload) : payload, {
        fin,
        mask: role === "server",
      }),
    );
  return { ws, raw, send, close: () => (ws.close(), raw.close()) };
}

function wsPair(pipe: MemoryPipeOptions = {}): [WsConn, WsConn] {
  const [a, b] = memoryPipe(pipe);
  return [new WsConn(a, { role: "client" }), new WsConn(b, { role: "server" })];
}

Deno.test("WsConn: each write is one binary message (256 KiB at most); client frames masked, server frames not", async () => {
  for (const role of ["client", "server"] as const) {
    const { ws, raw, close } = withRawPeer(role);
    for (const size of [1, 125, 126, 65535, 65536, 200_000]) {
      const data = pattern(size, size);
      await ws.write(data);
      const f = (await readFrame(raw))!;
      assertEquals([f.fin, f.opcode, f.masked], [true, Opcode.Binary, role === "client"], `${role} ${size}`);
      assertEquals(f.payload, data);
    }
    // Longer writes become messages of 256 KiB at most (each fits a pooled write buffer).
    const big = pattern(600_000, 3);
    await ws.write(big);
    const parts = [(await readFrame(raw))!, (await readFrame(raw))!, (await readFrame(raw))!];
    assertEquals(parts.map((f) => [f.fin, f.opcode, f.payload.length]), [
      [true, Opcode.Binary, 262144],
      [true, Opcode.Binary, 262144],
      [true, Opcode.Binary, 600_000 - 2 * 262144],
    ]);
    assertEquals(new Uint8Array([...parts[0].payload, ...parts[1].payload, ...parts[2].payload]), big);
    close();
  }
});

Deno.test("WsConn: messages arrive intact through a byte-at-a-time pipe", async () => {
  for (const maxChunk of [1, 3, 7]) {
    const [c, s] = wsPair({ maxChunk });
    const msgs = [pattern(10, 1), pattern(300, 2), pattern(70_000, 3)];
    const writer = (async () => {
      for (const m of msgs) await c.write(m);
      await c.closeWrite();
    })();
    const got = await readAll(s, 1000);
    await writer;
    const want = new Uint8Array(70_310);
    want.set(msgs[0]);
    want.set(msgs[1], 10);
    want.set(msgs[2], 310);
    assertEquals(got, want);
    c.close();
    s.close();
  }
});

Deno.test("WsConn: fragmented and text messages are concatenated into one stream", async () => {
  for (const role of ["client", "server"] as const) {
    const { ws, send, raw, close } = withRawPeer(role);
    await send(Opcode.Text, "he", false);
    await send(Opcode.Continuation, "", false);
    await send(Opcode.Ping, "p1"); // control frames may sit between fragments
    await send(Opcode.Continuation, "llo", true);
    await send(Opcode.Binary, ", ");
    await send(Opcode.Binary, "", true); // empty message: nothing to read
    await send(Opcode.Binary, "wor", false);
    await send(Opcode.Continuation, "ld", true);
    await raw.closeWrite();
    assertEquals(dec.decode(await readAll(ws, 3)), "hello, world");
    const pong = (await readFrame(raw))!;
    assertEquals([pong.opcode, dec.decode(pong.payload), pong.masked], [Opcode.Pong, "p1", role === "client"]);
    close();
  }
});

Deno.test("WsConn: ping is answered with a pong carrying the same payload", async () => {
  const { ws, send, raw, close } = withRawPeer("server");
  const reading = ws.read(new Uint8Array(10));
  const payload = pattern(125, 9);
  await send(Opcode.Ping, payload);
  const pong = (await readFrame(raw))!;
  assertEquals([pong.opcode, pong.fin, pong.masked], [Opcode.Pong, true, false]);
  assertEquals(pong.payload, payload);
  await send(Opcode.Binary, "x");
  assertEquals(await reading, 1);
  close();
});

Deno.test("WsConn: a close frame is echoed (status code) and ends the stream", async () => {
  for (const role of ["client", "server"] as const) {
    const { ws, send, raw, close } = withRawPeer(role);
    await send(Opcode.Binary, "last");
    const closeMsg = new Uint8Array([0x03, 0xe8, ...enc.encode("bye")]);
    await send(Opcode.Close, closeMsg);
    assertEquals(dec.decode(await readAll(ws)), "last");
    assertEquals(await ws.read(new Uint8Array(1)), null, "EOF stays EOF");
    const echo = (await readFrame(raw))!;
    assertEquals([echo.opcode, echo.masked], [Opcode.Close, role === "client"]);
    assertEquals(echo.payload, new Uint8Array([0x03, 0xe8]));
    assertEquals(await readFrame(raw), null, "inner write side half-closed after the echo");
    await assertRejects(() => ws.write(enc.encode("more")), ClosedError);
    close();
  }
  // An empty close frame is echoed empty.
  const { ws, send, raw, close } = withRawPeer("server");
  await send(Opcode.Close, new Uint8Array(0));
  assertEquals(await ws.read(new Uint8Array(8)), null);
  assertEquals((await readFrame(raw))!.payload.length, 0);
  close();
});

Deno.test("WsConn: protocol violations fail the read and send close 1002", async () => {
  const cases: [string, "client" | "server", Uint8Array][] = [
    ["unmasked frame to a server", "server", encodeFrame(Opcode.Binary, enc.encode("x"))],
    ["masked frame to a client", "client", encodeFrame(Opcode.Binary, enc.encode("x"), { mask: true })],
    ["continuation without start", "client", encodeFrame(Opcode.Continuation, enc.encode("x"))],
    ["unknown opcode", "client", encodeFrame(0x3, enc.encode("x"))],
    ["unknown control opcode", "client", encodeFrame(0xb, enc.encode("x"))],
    ["fragmented ping", "client", encodeFrame(Opcode.Ping, enc.encode("x"), { fin: false })],
    ["RSV1 set", "client", new Uint8Array([0xc2, 0x01, 0x78])],
    ["ping over 125 bytes", "client", encodeFrame(Opcode.Ping, new Uint8Array(126))],
    ["1-byte close", "client", encodeFrame(Opcode.Close, new Uint8Array(1))],
    [
      "new message inside a fragmented one",
      "client",
      new Uint8Array([
        ...encodeFrame(Opcode.Binary, enc.encode("a"), { fin: false }),
        ...encodeFrame(Opcode.Binary, enc.encode("b")),
      ]),
    ],
  ];
  for (const [name, role, bytes] of cases) {
    const { ws, raw, close } = withRawPeer(role);
    await writeAll(raw, bytes);
    const buf = new Uint8Array(16);
    const err = await (async () => {
      try {
        while ((await ws.read(buf)) !== null) {
          // drain data that precedes the violation
        }
      } catch (e) {
        return e;
      }
    })();
    assert(err instanceof ProtocolError, `${name}: ${err}`);
    const reply = (await readFrame(raw))!;
    assertEquals(reply.opcode, Opcode.Close, name);
    assertEquals((reply.payload[0] << 8) | reply.payload[1], CloseCode.ProtocolError, name);
    await assertRejects(() => ws.read(buf), ProtocolError);
    await assertRejects(() => ws.write(buf), ProtocolError);
    close();
  }
});

Deno.test("WsConn: frames over the size limit get close 1009 without being buffered", async () => {
  const [a, b] = memoryPipe();
  const ws = new WsConn(a, { role: "client", maxFrameSize: 1000 });
  const raw = new BufferedConn(b);
  await writeAll(raw, encodeFrame(Opcode.Binary, new Uint8Array(1000)));
  await writeAll(raw, encodeFrame(Opcode.Binary, new Uint8Array(1001)).subarray(0, 10));
  assertEquals((await readN(ws, 1000)).length, 1000);
  const err = await assertRejects(() => ws.read(new Uint8Array(10)), ProtocolError, "exceeds");
  assertEquals((err as ProtocolError).closeCode, CloseCode.MessageTooBig);
  const reply = (await readFrame(raw))!;
  assertEquals((reply.payload[0] << 8) | reply.payload[1], 1009);
  ws.close();
  raw.close();

  // The default limit: a header announcing 64 MiB + 1 is refused at once.
  const { ws: ws2, raw: raw2, close } = withRawPeer("client");
  const header = new Uint8Array([0x82, 0x7f, 0, 0, 0, 0, 0x04, 0, 0, 0x01]);
  await writeAll(raw2, header);
  await assertRejects(() => ws2.read(new Uint8Array(10)), ProtocolError, "exceeds");
  close();
});

Deno.test("WsConn: TCP EOF at a frame boundary is end of stream; inside a frame it is an error", async () => {
  const { ws, raw, close } = withRawPeer("client");
  await writeAll(raw, encodeFrame(Opcode.Binary, enc.encode("ok")));
  await raw.closeWrite();
  assertEquals(dec.decode(await readAll(ws)), "ok");
  close();

  const t = withRawPeer("client");
  await writeAll(t.raw, encodeFrame(Opcode.Binary, enc.encode("truncated")).subarray(0, 6));
  await t.raw.closeWrite();
  await assertRejects(() => readAll(t.ws), Deno.errors.UnexpectedEof);
  t.close();

  const h = withRawPeer("client");
  await writeAll(h.raw, new Uint8Array([0x82, 0x7e, 0x01]));
  await h.raw.closeWrite();
  await assertRejects(() => readAll(h.ws), Deno.errors.UnexpectedEof);
  h.close();
});

Deno.test("WsConn: closeWrite half-closes without a close frame; the other direction goes on", async () => {
  const [c, s] = wsPair();
  await c.write(enc.encode("req"));
  await c.closeWrite();
  assertEquals(dec.decode(await readAll(s)), "req");
  await s.write(enc.encode("resp"));
  await s.closeWrite();
  assertEquals(dec.decode(await readAll(c)), "resp");
  await assertRejects(() => c.write(enc.encode("x")), Deno.errors.BrokenPipe);
  c.close();
  s.close();
  await assertRejects(() => c.read(new Uint8Array(1)), ClosedError);
  c.close(); // twice is fine
});

Deno.test("WsConn: concurrent writes and pings never interleave inside a frame", async () => {
  const [c, s] = wsPair({ highWater: 4096, maxChunk: 1500 });
  const sizes = Array.from({ length: 60 }, (_, i) => (i * 7919) % 100_000 + 1);
  const total = sizes.reduce((x, y) => x + y, 0);
  const want = new Digest();
  for (const [i, n] of sizes.entries()) want.update(pattern(n, i + 1));
  const writers = Promise.all(
    sizes.map((n, i) =>
      i % 3 === 0 ? Promise.all([c.ping(enc.encode(`k${i}`)), c.write(pattern(n, i + 1))]) : c.write(pattern(n, i + 1))
    ),
  ).then(() => c.closeWrite());
  // Writes are queued in call order, so the stream is the concatenation in order.
  const got = new Digest();
  const buf = new Uint8Array(8192);
  for (;;) {
    const r = await s.read(buf);
    if (r === null) break;
    got.update(buf.subarray(0, r));
  }
  await writers;
  assertEquals(got.value, want.value);
  assertEquals(got.value.split(":")[0], String(total));
  // The client sees the server's pongs (the latest ping's payload at least) when it reads.
  await s.closeWrite();
  assertEquals(await c.read(buf), null);
  assert(c.pongsReceived >= 1, `pongs: ${c.pongsReceived}`);
  c.close();
  s.close();
});

Deno.test("WsConn: garbage bytes fail cleanly, no crash, no leak", async () => {
  for (let seed = 1; seed <= 50; seed++) {
    for (const role of ["client", "server"] as const) {
      const { ws, raw, close } = withRawPeer(role);
      await writeAll(raw, pattern(2000, seed));
      await raw.closeWrite();
      const res = await readAll(ws).then(() => "eof", (e) => e);
      assert(res === "eof" || res instanceof Error, String(res));
      close();
    }
  }
});

Deno.test("WsConn: keepalive pings every ttl; pongs keep it alive, data does not", async () => {
  // Against a server WsConn that answers pings (it must be reading).
  const [a, b] = memoryPipe();
  const client = new WsConn(a, { role: "client", keepalive: true, ttl: 40 });
  const server = new WsConn(b, { role: "server" });
  const serverReads = readAll(server).catch(() => {});
  const clientReads = readAll(client).catch((e) => e);
  await new Promise((r) => setTimeout(r, 300));
  assert(client.pongsReceived >= 2, `pongs: ${client.pongsReceived}`);
  client.close();
  server.close();
  await serverReads;
  await clientReads;

  // Against a peer that never answers: the conn fails after 2 × ttl although data flows.
  const [c2, s2] = memoryPipe();
  const silent = new WsConn(c2, { role: "client", keepalive: true, ttl: 40 });
  const rawPeer = new BufferedConn(s2);
  const feeder = setInterval(() => writeAll(rawPeer, encodeFrame(Opcode.Binary, enc.encode("d"))).catch(() => {}), 10);
  const t0 = Date.now();
  const err = await readAll(silent).then(() => null, (e) => e);
  clearInterval(feeder);
  const elapsed = Date.now() - t0;
  assert(err instanceof Deno.errors.TimedOut, String(err));
  assert(elapsed >= 70 && elapsed < 1000, `failed after ${elapsed} ms`);
  silent.close();
  rawPeer.close();
});

Deno.test("WsConn: works over a non-socket Conn with dial/accept helpers", async () => {
  const [a, b] = memoryPipe({ maxChunk: 5 });
  const [client, accepted] = await Promise.all([
    dialWebSocket(a, { host: "mem:1", path: "/t" }),
    acceptWebSocket(b, { path: "/t" }),
  ]);
  assert(!accepted.rejected);
  const server = accepted.conn;
  await client.write(enc.encode("ping?"));
  assertEquals(dec.decode(await readN(server, 5)), "ping?");
  await server.write(enc.encode("pong!"));
  assertEquals(dec.decode(await readN(client, 5)), "pong!");
  client.close();
  server.close();
});

/** Writes `total` bytes in `chunk`-sized writes, then half-closes; returns the digest. */
async function pump(conn: Conn, total: number, chunk: number, seed: number): Promise<string> {
  const d = new Digest();
  const block = pattern(chunk, seed);
  for (let sent = 0; sent < total; sent += chunk) {
    const p = block.subarray(0, Math.min(chunk, total - sent));
    d.update(p);
    await conn.write(p);
  }
  await conn.closeWrite();
  return d.value;
}

async function drain(conn: Conn): Promise<string> {
  const d = new Digest();
  const buf = new Uint8Array(256 * 1024);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) return d.value;
    d.update(buf.subarray(0, n));
  }
}

Deno.test("WsConn: 64 MiB both ways at once over TCP, hashes match", async () => {
  const [tc, ts] = await tcpPair();
  const [client, accepted] = await Promise.all([
    dialWebSocket(tc, { host: "127.0.0.1:1" }),
    acceptWebSocket(ts),
  ]);
  assert(!accepted.rejected);
  const server = accepted.conn;
  const total = 64 * 1024 * 1024;
  const [up, down, gotUp, gotDown] = await Promise.all([
    pump(client, total, 256 * 1024 + 3, 11),
    pump(server, total, 32 * 1024, 22),
    drain(server),
    drain(client),
  ]);
  assertEquals(gotUp, up);
  assertEquals(gotDown, down);
  client.close();
  server.close();
});

Deno.test("WsConn: one 64 MiB write arrives intact", async () => {
  const [tc, ts] = await tcpPair();
  const client = new WsConn(tc, { role: "client" });
  const server = new WsConn(ts, { role: "server" });
  const data = pattern(64 * 1024 * 1024, 5);
  const want = new Digest();
  want.update(data);
  const [, got] = await Promise.all([client.write(data).then(() => client.closeWrite()), drain(server)]);
  assertEquals(got, want.value);
  client.close();
  server.close();
});
