import { assert, assertEquals, assertRejects, assertStringIncludes } from "../../tests/assert.ts";
import { writeAll } from "../_io/write_all.ts";
import { Metadata } from "../metadata.ts";
import { netDial } from "../tcp/mod.ts";
import { tlsClient } from "../tls/mod.ts";
import type { Conn } from "../types.ts";
import {
  addrOf,
  dec,
  delay,
  echoRoundTrip,
  enc,
  listenerOptions,
  pattern,
  rawExchange,
  readAll,
  readExactly,
  serve,
  sha256,
} from "../ws/_testing.ts";
import { ErrorCode, H2Session, type H2Stream, type HeaderField, headerValue, StreamResetError } from "../h2/mod.ts";
import {
  chunkHeader,
  DEFAULT_METHOD_PATH,
  encodeChunkMessage,
  GRPC_USER_AGENT,
  GrpcConn,
  GrpcDialer,
  type GrpcListener,
  GrpcStatusError,
  listenGrpc,
  methodPath,
  parseDialerMetadata,
  parseListenerMetadata,
  Status,
  stripPort,
} from "./mod.ts";

type Md = Record<string, unknown>;

const MODES = [
  { name: "grpc (TLS)", insecure: false },
  { name: "grpc (grpcInsecure)", insecure: true },
];

async function listen(md: Md = {}): Promise<GrpcListener> {
  return (await listenGrpc(listenerOptions(md))) as GrpcListener;
}

function dialer(md: Md = {}): GrpcDialer {
  return new GrpcDialer(parseDialerMetadata(new Metadata(md)), { secure: false });
}

function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** A raw HTTP/2 client session to a grpc listener, for requests a gRPC client would never send. */
async function rawSession(addr: string, tls: boolean): Promise<H2Session> {
  let conn: Conn = await netDial(addr);
  if (tls) conn = await tlsClient(conn, { secure: false, alpn: ["h2"] });
  return new H2Session(conn, { client: true });
}

function grpcRequest(path = DEFAULT_METHOD_PATH, extra: HeaderField[] = []): HeaderField[] {
  return [
    [":method", "POST"],
    [":scheme", "http"],
    [":path", path],
    [":authority", "localhost"],
    ["content-type", "application/grpc"],
    ["te", "trailers"],
    ...extra,
  ];
}

/** The concatenated `data` of the Chunk messages in `b` (messages as dost writes them). */
function chunkData(b: Uint8Array): string {
  let out = "";
  for (let i = 0; i < b.length;) {
    const len = new DataView(b.buffer, b.byteOffset + i + 1, 4).getUint32(0);
    const msg = b.subarray(i + 5, i + 5 + len);
    if (len > 0) {
      let j = 1, n = 0, shift = 0;
      for (;;) {
        const x = msg[j++];
        n |= (x & 0x7f) << shift;
        shift += 7;
        if (!(x & 0x80)) break;
      }
      out += dec.decode(msg.subarray(j, j + n));
    }
    i += 5 + len;
  }
  return out;
}

/** Reads a raw stream to its end; resolves to the body and the trailers (or the trailers-only headers). */
async function finish(s: H2Stream): Promise<{ body: Uint8Array; status?: string; message?: string; http?: string }> {
  const res = await s.response;
  const body = await readAll(s).catch(() => new Uint8Array(0));
  const t = s.trailers ?? res;
  return {
    body,
    http: headerValue(res, ":status"),
    status: headerValue(t, "grpc-status"),
    message: headerValue(t, "grpc-message"),
  };
}

Deno.test("grpc: method path from the path option (spec table)", () => {
  assertEquals(methodPath(""), "/GostTunel/Tunnel");
  assertEquals(methodPath(undefined), "/GostTunel/Tunnel");
  assertEquals(methodPath("/foo"), "/foo/Tunnel");
  assertEquals(methodPath("/foo/bar"), "/foo/bar");
  assertEquals(methodPath("/foo/bar/baz"), "/foo/bar-baz");
  assertEquals(methodPath("foo/bar/"), "/foo/bar");
});

Deno.test("grpc: Chunk messages on the wire (spec examples)", () => {
  assertEquals(toHex(encodeChunkMessage(enc.encode("hi"))), "00000000040a026869");
  const big = encodeChunkMessage(new Uint8Array(300));
  assertEquals(toHex(big.subarray(0, 8)), "000000012f0aac02");
  assertEquals(big.length, 5 + 3 + 300);
  assertEquals(toHex(chunkHeader(0)), "0000000000", "an empty chunk is an empty message");
});

Deno.test("grpc: metadata keys, aliases and defaults", () => {
  const l = parseListenerMetadata(new Metadata({}));
  assertEquals(l.insecure, false);
  assertEquals(l.methodPath, "/GostTunel/Tunnel");
  assertEquals(l.minTime, 5 * 60_000, "grpc-go's enforcement without keepalive");
  assertEquals(parseListenerMetadata(new Metadata({ "grpc.insecure": "true" })).insecure, true);
  assertEquals(parseListenerMetadata(new Metadata({ insecure: true })).insecure, true);
  const k = parseListenerMetadata(new Metadata({ keepAlive: "true", "keepalive.minTime": "10s", "grpc.path": "/a/b" }));
  assertEquals([k.keepalive, k.minTime, k.methodPath], [true, 10_000, "/a/b"]);
  const d = parseDialerMetadata(
    new Metadata({ "grpc.authority": "x.example:443", "keepalive": "1", "keepalive.time": "5" }),
  );
  assertEquals([d.authority, d.keepalive, d.keepaliveTime], ["x.example:443", true, 5000]);
  assertEquals(stripPort("x.example:443"), "x.example");
  assertEquals(stripPort("[2001:db8::1]:443"), "2001:db8::1");
  assertEquals(stripPort("x.example"), "x.example");
});

for (const m of MODES) {
  const md = { grpcInsecure: m.insecure };

  Deno.test(`${m.name}: 16 MiB both ways with half-close on three concurrent calls over one connection`, async () => {
    const ln = await listen(md);
    const srv = serve(ln);
    const d = dialer(md);
    try {
      const data = pattern(16 << 20, 3);
      const conns = await Promise.all([0, 1, 2].map(() => d.dial(addrOf(ln), netDial)));
      const hashes = await Promise.all(conns.map((c) => echoRoundTrip(c, data)));
      for (const h of hashes) assertEquals(h, await sha256(data));
      for (const c of conns) c.close();
      assertEquals(ln.sessions, 1);
      assertEquals(d.sessions(addrOf(ln)).length, 1);
    } finally {
      d.close();
      await srv.stop();
    }
  });

  Deno.test(`${m.name}: the call looks like grpc-go's (headers, authority without port, status OK trailers)`, async () => {
    const ln = await listen(md);
    const seen: GrpcConn[] = [];
    const srv = serve(ln, async (c) => {
      seen.push(c as GrpcConn);
      await writeAll(c, enc.encode("bye"));
    });
    const d = dialer(md);
    const named = dialer({ ...md, host: "cdn.example.com:8443" });
    try {
      for (const x of [d, named]) {
        const c = await x.dial(addrOf(ln), netDial);
        assertEquals(dec.decode(await readAll(c)), "bye", "the server's close ends the call with status OK");
        c.close();
      }
      const h = Object.fromEntries(seen[0].stream.requestHeaders);
      assertEquals(h[":method"], "POST");
      assertEquals(h[":scheme"], m.insecure ? "http" : "https");
      assertEquals(h[":path"], "/GostTunel/Tunnel");
      assertEquals(h[":authority"], "127.0.0.1");
      assertEquals(h["content-type"], "application/grpc");
      assertEquals(h["te"], "trailers");
      assertEquals(h["user-agent"], GRPC_USER_AGENT);
      assertEquals(Object.fromEntries(seen[1].stream.requestHeaders)[":authority"], "cdn.example.com");
    } finally {
      d.close();
      named.close();
      await srv.stop();
    }
  });

  Deno.test(`${m.name}: a custom path must match; a wrong one gets UNIMPLEMENTED`, async () => {
    const ln = await listen({ ...md, path: "/my/svc" });
    const srv = serve(ln);
    const good = dialer({ ...md, path: "my/svc/" });
    const bad = dialer(md);
    try {
      const c = await good.dial(addrOf(ln), netDial);
      assertEquals(await echoRoundTrip(c, enc.encode("ok")), await sha256(enc.encode("ok")));
      c.close();
      const b = await bad.dial(addrOf(ln), netDial);
      const err = await assertRejects(() => b.read(new Uint8Array(4)), GrpcStatusError);
      assertEquals((err as GrpcStatusError).code, Status.UNIMPLEMENTED);
      b.close();
      assertEquals(srv.accepted(), 1);
    } finally {
      good.close();
      bad.close();
      await srv.stop();
    }
  });

  Deno.test(`${m.name}: bad requests get an error status or reset; other calls are unaffected`, async () => {
    const ln = await listen(md);
    const srv = serve(ln);
    const d = dialer(md);
    const raw = await rawSession(addrOf(ln), !m.insecure);
    try {
      const good = await d.dial(addrOf(ln), netDial);
      await writeAll(good, enc.encode("before"));
      assertEquals(dec.decode(await readExactly(good, 6)), "before");

      // Wrong content type: 415.
      const ct = await finish(
        raw.request(
          grpcRequest(DEFAULT_METHOD_PATH).map(([k, v]) => k === "content-type" ? [k, "application/json"] : [k, v]),
          true,
        ),
      );
      assertEquals(ct.http, "415");
      // Not POST: 405.
      const get = await finish(raw.request(grpcRequest().map(([k, v]) => k === ":method" ? [k, "GET"] : [k, v]), true));
      assertEquals(get.http, "405");
      // Malformed prefix flag: INTERNAL.
      const s1 = raw.request(grpcRequest());
      await s1.write(new Uint8Array([2, 0, 0, 0, 1, 0]));
      const r1 = await finish(s1);
      assertEquals(r1.status, String(Status.INTERNAL));
      assertStringIncludes(decodeURIComponent(r1.message ?? ""), "invalid flag");
      // A length beyond the 4 MiB limit: RESOURCE_EXHAUSTED.
      const s2 = raw.request(grpcRequest());
      await s2.write(new Uint8Array([0, 0x7f, 0, 0, 0]));
      assertEquals((await finish(s2)).status, String(Status.RESOURCE_EXHAUSTED));
      // Compressed without negotiation: INTERNAL.
      const s3 = raw.request(grpcRequest());
      await s3.write(new Uint8Array([1, 0, 0, 0, 0]));
      assertEquals((await finish(s3)).status, String(Status.INTERNAL));
      // A message cut short by END_STREAM: INTERNAL.
      const s4 = raw.request(grpcRequest());
      await s4.write(new Uint8Array([0, 0, 0, 0, 9, 0x0a, 7, 1]));
      await s4.closeWrite();
      assertEquals((await finish(s4)).status, String(Status.INTERNAL));
      for (const s of [s1, s2, s3, s4]) s.close();

      await writeAll(good, enc.encode("after"));
      assertEquals(dec.decode(await readExactly(good, 5)), "after");
      good.close();
      assert(!raw.closed, "stream errors leave the connection up");
    } finally {
      raw.close();
      await raw.done;
      d.close();
      await srv.stop();
    }
  });

  Deno.test(`${m.name}: unknown protobuf fields and empty messages are skipped`, async () => {
    const ln = await listen(md);
    const srv = serve(ln);
    const raw = await rawSession(addrOf(ln), !m.insecure);
    try {
      const s = raw.request(grpcRequest());
      // Empty message; field 2 varint + field 1 "ab" + field 3 bytes "zz"; then "cd".
      const msg = new Uint8Array([0x10, 0x96, 0x01, 0x0a, 2, 0x61, 0x62, 0x1a, 2, 0x7a, 0x7a]);
      const prefix = new Uint8Array([0, 0, 0, 0, msg.length]);
      await s.write(new Uint8Array([0, 0, 0, 0, 0]));
      await s.writev([prefix, msg]);
      await s.write(encodeChunkMessage(enc.encode("cd")));
      await s.closeWrite();
      const r = await finish(s);
      assertEquals(r.status, "0");
      assertEquals(chunkData(r.body), "abcd", "the echo comes back as Chunk messages");
      s.close();
    } finally {
      raw.close();
      await raw.done;
      await srv.stop();
    }
  });

  Deno.test(`${m.name}: RST_STREAM mid-transfer fails that call on the server; others go on`, async () => {
    const ln = await listen(md);
    const errors: unknown[] = [];
    const srv = serve(ln, async (c) => {
      const buf = new Uint8Array(65536);
      try {
        for (;;) {
          const n = await c.read(buf);
          if (n === null) break;
          await writeAll(c, buf.subarray(0, n));
        }
        await c.closeWrite();
      } catch (err) {
        errors.push(err);
      }
    });
    const d = dialer(md);
    try {
      const victim = await d.dial(addrOf(ln), netDial) as GrpcConn;
      const other = await d.dial(addrOf(ln), netDial);
      await writeAll(victim, pattern(100_000, 1));
      await readExactly(victim, 100_000);
      victim.stream.reset(ErrorCode.CANCEL);
      for (let i = 0; i < 50 && errors.length === 0; i++) await delay(10);
      assertEquals(errors.length, 1);
      assert(errors[0] instanceof StreamResetError);
      const data = pattern(2 << 20, 2);
      assertEquals(await echoRoundTrip(other, data), await sha256(data));
      victim.close();
      other.close();
    } finally {
      d.close();
      await srv.stop();
    }
  });
}

Deno.test("grpc: an HTTP/1.1 request to the plaintext listener gets 400", async () => {
  const ln = await listen({ grpcInsecure: true });
  const srv = serve(ln);
  try {
    assertStringIncludes(await rawExchange(addrOf(ln), "POST /GostTunel/Tunnel HTTP/1.1\r\nHost: x\r\n\r\n"), "400");
  } finally {
    await srv.stop();
  }
});

Deno.test("grpc: the TLS listener offers only ALPN h2", async () => {
  const ln = await listen();
  try {
    const c = await tlsClient(await netDial(addrOf(ln)), { secure: false, alpn: ["http/1.1", "h2"] });
    assertEquals(c.alpnProtocol, "h2");
    c.close();
  } finally {
    ln.close();
    await ln.done;
  }
});

Deno.test("grpc: client pings beyond grpc-go's default policy get GOAWAY too_many_pings", async () => {
  const ln = await listen({ grpcInsecure: true });
  const srv = serve(ln);
  const d = dialer({ grpcInsecure: true, keepalive: true, "keepalive.time": "50ms", "keepalive.timeout": "5s" });
  try {
    const c = await d.dial(addrOf(ln), netDial);
    const [session] = d.sessions(addrOf(ln));
    // Silence on the call makes the client ping every 50 ms; the third strike ends the connection.
    await assertRejects(() => c.read(new Uint8Array(1)));
    await session.done;
    assert(session.closed);
    c.close();
  } finally {
    d.close();
    await srv.stop();
  }
});

Deno.test("grpc: with keepalive on both ends and a low minTime, pings are fine", async () => {
  const ln = await listen({ grpcInsecure: true, keepalive: true, "keepalive.minTime": "10ms" });
  const srv = serve(ln);
  const d = dialer({ grpcInsecure: true, keepalive: true, "keepalive.time": "50ms", "keepalive.timeout": "5s" });
  try {
    const c = await d.dial(addrOf(ln), netDial);
    await delay(400);
    assertEquals(await echoRoundTrip(c, enc.encode("alive")), await sha256(enc.encode("alive")));
    c.close();
  } finally {
    d.close();
    await srv.stop();
  }
});
