/**
 * dost's HTTP/3 server and client against each other over real QUIC on
 * loopback, and the server against hand-made broken input.
 */
import { assert, assertEquals, assertRejects } from "../../tests/assert.ts";
import { ErrorCode, FrameType } from "./frames.ts";
import { encodeFrame, encodeFrameHeader, encodeVarint } from "./frames.ts";
import { encodeFieldSection } from "./qpack.ts";
import { h3Fetcher } from "./client.ts";
import { cat, controlPreface, h3Pair, headersFrame, quicClient, quicServer, rawPeer, readAll } from "./_test_util.ts";
import { serveH3 } from "./server.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function pattern(n: number, seed = 1): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

Deno.test("h3: GET round trip with query, request and response headers", async () => {
  const p = await h3Pair((req) => {
    const u = new URL(req.url);
    return new Response(`${req.method} ${u.pathname}${u.search} ${req.headers.get("x-a")}`, {
      status: 201,
      headers: { "x-b": "2", "set-cookie": "a=1" },
    });
  });
  try {
    const res = await p.fetch(new Request(`${p.base}/path/x?q=1&r=%20`, { headers: { "x-a": "1" } }));
    assertEquals(res.status, 201);
    assertEquals(res.headers.get("x-b"), "2");
    assertEquals(res.headers.get("set-cookie"), "a=1");
    assertEquals(await res.text(), "GET /path/x?q=1&r=%20 1");
  } finally {
    await p.close();
  }
});

Deno.test("h3: request and response see the right URL, authority and addresses", async () => {
  const p = await h3Pair((req, info) => {
    return Response.json({ url: req.url, remote: info.remoteAddr.hostname, transport: info.remoteAddr.transport });
  });
  try {
    const res = await p.fetch(new Request(`${p.base}/a`, { headers: { host: "example.com:8443" } }));
    assertEquals(await res.json(), { url: "https://example.com:8443/a", remote: "127.0.0.1", transport: "udp" });
  } finally {
    await p.close();
  }
});

Deno.test("h3: POST with a streaming body (chunks produced over time)", async () => {
  const p = await h3Pair(async (req) => {
    const body = new Uint8Array(await req.arrayBuffer());
    let sum = 0;
    for (const b of body) sum = (sum + b) % 65536;
    return new Response(`${body.length} ${sum} ${req.headers.get("content-type")}`);
  });
  try {
    const data = pattern(300_000);
    let i = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(ctrl) {
        if (i >= data.length) return ctrl.close();
        await new Promise((r) => setTimeout(r, 1));
        ctrl.enqueue(data.subarray(i, i + 7000));
        i += 7000;
      },
    });
    let sum = 0;
    for (const b of data) sum = (sum + b) % 65536;
    const res = await p.fetch(
      new Request(
        `${p.base}/up`,
        { method: "POST", body, headers: { "content-type": "x/y" }, duplex: "half" } as RequestInit,
      ),
    );
    assertEquals(await res.text(), `${data.length} ${sum} x/y`);
  } finally {
    await p.close();
  }
});

Deno.test("h3: streaming response: each chunk arrives before the next is produced", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const p = await h3Pair(() => {
    const body = new ReadableStream<Uint8Array>({
      async start(ctrl) {
        ctrl.enqueue(enc.encode("first\n"));
        await gate; // only after the client saw "first"
        ctrl.enqueue(enc.encode("second\n"));
        ctrl.close();
      },
    });
    return new Response(body, { headers: { "x-accel-buffering": "no" } });
  });
  try {
    const res = await p.fetch(new Request(`${p.base}/pull`));
    const r = res.body!.getReader();
    assertEquals(dec.decode((await r.read()).value), "first\n");
    release();
    assertEquals(dec.decode((await r.read()).value), "second\n");
    assertEquals((await r.read()).done, true);
  } finally {
    await p.close();
  }
});

Deno.test("h3: full duplex echo: request body streams while the response streams back", async () => {
  const p = await h3Pair((req) => new Response(req.body));
  try {
    const pending: ((v: Uint8Array) => void)[] = [];
    const body = new ReadableStream<Uint8Array>({
      start(ctrl) {
        pending.push((v) => (v.length ? ctrl.enqueue(v) : ctrl.close()));
      },
    });
    const send = pending[0];
    send(enc.encode("ping-1"));
    const res = await p.fetch(new Request(`${p.base}/echo`, { method: "POST", body, duplex: "half" } as RequestInit));
    const r = res.body!.getReader();
    assertEquals(dec.decode((await r.read()).value), "ping-1");
    send(enc.encode("ping-2"));
    assertEquals(dec.decode((await r.read()).value), "ping-2");
    send(new Uint8Array(0));
    assertEquals((await r.read()).done, true);
  } finally {
    await p.close();
  }
});

Deno.test("h3: 8 MiB each way, byte-exact", async () => {
  const p = await h3Pair(async (req) => {
    const n = Number(new URL(req.url).searchParams.get("n"));
    if (req.method === "POST") return new Response(new Uint8Array(await req.arrayBuffer()));
    return new Response(pattern(n, 7));
  });
  try {
    const up = pattern(8 << 20, 3);
    const res = await p.fetch(new Request(`${p.base}/x`, { method: "POST", body: up }));
    assertEquals(new Uint8Array(await res.arrayBuffer()), up);
    const down = await p.fetch(new Request(`${p.base}/x?n=${8 << 20}`));
    assertEquals(new Uint8Array(await down.arrayBuffer()), pattern(8 << 20, 7));
  } finally {
    await p.close();
  }
});

Deno.test("h3: 50 concurrent requests on one connection", async () => {
  const p = await h3Pair(async (req) => {
    const t = await req.text();
    await new Promise((r) => setTimeout(r, Math.random() * 20));
    return new Response(t.toUpperCase());
  });
  try {
    const results = await Promise.all(
      Array.from(
        { length: 50 },
        (_, i) =>
          p.fetch(new Request(`${p.base}/c/${i}`, { method: "POST", body: `body-${i}-`.repeat(100) })).then((r) =>
            r.text()
          ),
      ),
    );
    results.forEach((t, i) => assertEquals(t, `BODY-${i}-`.repeat(100)));
  } finally {
    await p.close();
  }
});

Deno.test("h3: HEAD, 204, 404, handler errors (500), CONNECT refused", async () => {
  const p = await h3Pair((req) => {
    const path = new URL(req.url).pathname;
    if (path === "/throw") throw new Error("boom");
    if (path === "/204") return new Response(null, { status: 204 });
    if (path === "/head") return new Response("body that HEAD must not carry", { headers: { "x-h": "1" } });
    return new Response("nope", { status: 404 });
  });
  try {
    const head = await p.fetch(new Request(`${p.base}/head`, { method: "HEAD" }));
    assertEquals([head.status, head.headers.get("x-h"), head.body], [200, "1", null]);
    const nc = await p.fetch(new Request(`${p.base}/204`));
    assertEquals([nc.status, nc.body], [204, null]);
    const nf = await p.fetch(new Request(`${p.base}/x`));
    assertEquals([nf.status, await nf.text()], [404, "nope"]);
    const err = await p.fetch(new Request(`${p.base}/throw`));
    assertEquals(err.status, 500);
    await err.body?.cancel();
    // Still usable afterwards.
    assertEquals((await p.fetch(new Request(`${p.base}/x`))).status, 404);
  } finally {
    await p.close();
  }
});

Deno.test("h3: aborting a request stops the stream; the server sees its signal and the connection lives", async () => {
  let serverAborted!: () => void;
  const sawAbort = new Promise<void>((r) => (serverAborted = r));
  const p = await h3Pair((req) => {
    if (new URL(req.url).pathname === "/ok") return new Response("ok");
    req.signal.addEventListener("abort", () => serverAborted());
    let n = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(ctrl) {
        await new Promise((r) => setTimeout(r, 2));
        ctrl.enqueue(new Uint8Array(64 * 1024).fill(n++ & 0xff));
      },
    });
    return new Response(body);
  });
  try {
    const ac = new AbortController();
    const res = await p.fetch(new Request(`${p.base}/forever`, { signal: ac.signal }));
    const r = res.body!.getReader();
    await r.read();
    ac.abort();
    await assertRejects(async () => {
      for (;;) if ((await r.read()).done) break;
    });
    await sawAbort;
    assertEquals(await (await p.fetch(new Request(`${p.base}/ok`))).text(), "ok");
    // An already aborted signal fails at once.
    await assertRejects(() => p.fetch(new Request(`${p.base}/ok`, { signal: AbortSignal.abort() })));
  } finally {
    await p.close();
  }
});

Deno.test("h3: graceful shutdown sends GOAWAY, lets the open request finish, then closes", async () => {
  const shutdown = new AbortController();
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const p = await h3Pair(() => {
    const body = new ReadableStream<Uint8Array>({
      async start(ctrl) {
        ctrl.enqueue(enc.encode("a"));
        await gate;
        ctrl.enqueue(enc.encode("b"));
        ctrl.close();
      },
    });
    return new Response(body);
  }, { signal: shutdown.signal });
  try {
    const res = await p.fetch(new Request(`${p.base}/slow`));
    const r = res.body!.getReader();
    assertEquals(dec.decode((await r.read()).value), "a");
    shutdown.abort();
    for (let i = 0; i < 100 && p.fetch.usable(); i++) await new Promise((r) => setTimeout(r, 10));
    assertEquals(p.fetch.usable(), false, "GOAWAY seen");
    await assertRejects(() => p.fetch(new Request(`${p.base}/new`)));
    release();
    assertEquals(dec.decode((await r.read()).value), "b");
    assertEquals((await r.read()).done, true);
    await p.served;
    await p.fetch.closed;
  } finally {
    await p.close();
  }
});

// ---- the server against broken peers ----

interface Broken {
  peer: ReturnType<typeof rawPeer>;
  close(): Promise<void>;
}

async function brokenPeer(onRequest?: () => void): Promise<Broken> {
  const { endpoint, listener, port } = await quicServer();
  const accepted = listener.accept();
  const conn = await quicClient(port);
  const served = serveH3(await accepted, async (req) => {
    onRequest?.();
    const body = req.body ? await req.text() : "";
    return new Response(`ok ${new URL(req.url).pathname} ${body}`);
  });
  return {
    peer: rawPeer(conn),
    async close() {
      try {
        conn.close({ closeCode: 0x100, reason: "" });
      } catch {
        // closed already
      }
      await served;
      conn.endpoint.close();
      endpoint.close();
    },
  };
}

const GET = (path: string) =>
  headersFrame([[":method", "GET"], [":scheme", "https"], [":authority", "localhost"], [":path", path]]);

async function response(s: Deno.QuicBidirectionalStream): Promise<{ status: number; body: string }> {
  const c = h3Raw(await readAll(s.readable));
  return c;
}

/** Parses a whole response stream written by dost (HEADERS + DATA frames). */
function h3Raw(b: Uint8Array): { status: number; body: string } {
  let off = 0;
  let status = 0;
  let body = "";
  const { decodeFieldSection } = qpack;
  while (off < b.length) {
    const t = readV(b, off);
    const l = readV(b, off + t.n);
    const start = off + t.n + l.n;
    const payload = b.subarray(start, start + l.v);
    if (t.v === FrameType.HEADERS) status = Number(decodeFieldSection(payload).find(([n]) => n === ":status")![1]);
    if (t.v === FrameType.DATA) body += dec.decode(payload);
    off = start + l.v;
  }
  return { status, body };
}

import * as qpack from "./qpack.ts";
function readV(b: Uint8Array, off: number): { v: number; n: number } {
  const n = 1 << (b[off] >> 6);
  let v = b[off] & 0x3f;
  for (let i = 1; i < n; i++) v = v * 256 + b[off + i];
  return { v, n };
}

Deno.test("h3 server: unknown frame types and stream types are ignored", async () => {
  const b = await brokenPeer();
  try {
    await b.peer.uni(
      cat(controlPreface(), encodeFrame(0x21, enc.encode("grease")), encodeFrame(0x1f * 7 + 0x21, new Uint8Array(0))),
    );
    await b.peer.uni(cat(encodeVarint(0x21 + 0x1f * 3), enc.encode("unknown stream type")));
    const s = await b.peer.request(cat(
      encodeFrame(0x21, new Uint8Array(10)),
      headersFrame([[":method", "POST"], [":scheme", "https"], [":authority", "localhost"], [":path", "/u"]]),
      encodeFrame(0x2a + 0x1f, enc.encode("x")),
      encodeFrame(FrameType.DATA, enc.encode("he")),
      encodeFrame(0x21, new Uint8Array(3)),
      encodeFrame(FrameType.DATA, enc.encode("llo")),
    ));
    assertEquals(await response(s), { status: 200, body: "ok /u hello" });
    assertEquals(await b.peer.closedWith(200), undefined, "connection stays open");
  } finally {
    await b.close();
  }
});

/** Each case: what the peer sends, and the connection error it must get. */
const CONNECTION_ERRORS: [string, (p: Broken["peer"]) => Promise<unknown>, number][] = [
  [
    "DATA before HEADERS",
    (p) => p.request(encodeFrame(FrameType.DATA, enc.encode("x"))),
    ErrorCode.H3_FRAME_UNEXPECTED,
  ],
  [
    "HTTP/2 frame type on a request stream",
    (p) => p.request(cat(encodeFrame(0x02, new Uint8Array(1)), GET("/"))),
    ErrorCode.H3_FRAME_UNEXPECTED,
  ],
  [
    "SETTINGS on a request stream",
    (p) => p.request(encodeFrame(FrameType.SETTINGS, new Uint8Array(0))),
    ErrorCode.H3_FRAME_UNEXPECTED,
  ],
  [
    "PUSH_PROMISE from a client",
    (p) => p.request(cat(GET("/"), encodeFrame(FrameType.PUSH_PROMISE, Uint8Array.of(0, 0, 0)))),
    ErrorCode.H3_FRAME_UNEXPECTED,
  ],
  [
    "control stream without SETTINGS first",
    (p) => p.uni(cat(Uint8Array.of(0), encodeFrame(FrameType.GOAWAY, Uint8Array.of(0)))),
    ErrorCode.H3_MISSING_SETTINGS,
  ],
  ["second control stream", async (p) => {
    await p.uni(controlPreface());
    await p.uni(controlPreface());
  }, ErrorCode.H3_STREAM_CREATION_ERROR],
  [
    "second SETTINGS",
    (p) => p.uni(cat(controlPreface(), encodeFrame(FrameType.SETTINGS, new Uint8Array(0)))),
    ErrorCode.H3_FRAME_UNEXPECTED,
  ],
  [
    "HTTP/2 setting",
    (p) => p.uni(cat(Uint8Array.of(0), encodeFrame(FrameType.SETTINGS, Uint8Array.of(0x02, 0x01)))),
    ErrorCode.H3_SETTINGS_ERROR,
  ],
  [
    "DATA on the control stream",
    (p) => p.uni(cat(controlPreface(), encodeFrame(FrameType.DATA, new Uint8Array(1)))),
    ErrorCode.H3_FRAME_UNEXPECTED,
  ],
  ["control stream closed", (p) => p.uni(controlPreface(), true), ErrorCode.H3_CLOSED_CRITICAL_STREAM],
  [
    "oversized control frame",
    (p) => p.uni(cat(controlPreface(), encodeFrameHeader(FrameType.GOAWAY, 100_000))),
    ErrorCode.H3_EXCESSIVE_LOAD,
  ],
  ["push stream from a client", (p) => p.uni(Uint8Array.of(0x01, 0x00)), ErrorCode.H3_STREAM_CREATION_ERROR],
  [
    "dynamic table reference",
    (p) => p.request(encodeFrame(FrameType.HEADERS, Uint8Array.of(0x02, 0x00, 0x80))),
    ErrorCode.QPACK_DECOMPRESSION_FAILED,
  ],
  ["insert on the encoder stream", (p) => p.uni(Uint8Array.of(0x02, 0xc0 | 17)), ErrorCode.QPACK_ENCODER_STREAM_ERROR],
  ["table capacity above 0", (p) => p.uni(Uint8Array.of(0x02, 0x3f, 0x01)), ErrorCode.QPACK_ENCODER_STREAM_ERROR],
  ["section ack on the decoder stream", (p) => p.uni(Uint8Array.of(0x03, 0x80)), ErrorCode.QPACK_DECODER_STREAM_ERROR],
  [
    "truncated HEADERS frame",
    (p) => p.request(cat(encodeFrameHeader(FrameType.HEADERS, 50), new Uint8Array(5))),
    ErrorCode.H3_FRAME_ERROR,
  ],
  [
    "truncated DATA frame",
    (p) =>
      p.request(
        cat(
          headersFrame([[":method", "POST"], [":scheme", "https"], [":authority", "l"], [":path", "/"]]),
          encodeFrameHeader(FrameType.DATA, 10),
          new Uint8Array(3),
        ),
      ),
    ErrorCode.H3_FRAME_ERROR,
  ],
];

for (const [name, send, code] of CONNECTION_ERRORS) {
  Deno.test(`h3 server: ${name} closes the connection with ${ErrorCode && Object.entries(ErrorCode).find(([, v]) => v === code)![0]}`, async () => {
    const b = await brokenPeer();
    try {
      await send(b.peer).catch(() => {});
      assertEquals(await b.peer.closedWith(), code);
    } finally {
      await b.close();
    }
  });
}

Deno.test("h3 server: allowed QPACK stream instructions do not close the connection", async () => {
  const b = await brokenPeer();
  try {
    await b.peer.uni(Uint8Array.of(0x02, 0x20)); // Set Dynamic Table Capacity 0
    await b.peer.uni(Uint8Array.of(0x03, 0x44)); // Stream Cancellation, stream 4
    const s = await b.peer.request(GET("/q"));
    assertEquals((await response(s)).status, 200);
    assertEquals(await b.peer.closedWith(200), undefined);
  } finally {
    await b.close();
  }
});

Deno.test("h3 server: malformed requests get 4xx on their stream; other streams go on", async () => {
  const b = await brokenPeer();
  try {
    const good = b.peer.request(GET("/good"));
    const cases: [Uint8Array, number][] = [
      [headersFrame([[":method", "GET"], [":scheme", "https"], [":authority", "l"]]), 400], // no :path
      [
        headersFrame([[":method", "GET"], [":scheme", "https"], [":authority", "l"], [":path", "/"], [":path", "/"]]),
        400,
      ],
      [
        headersFrame([[":method", "GET"], [":scheme", "https"], [":authority", "l"], [":path", "/"], ["X-Upper", "1"]]),
        400,
      ],
      [
        headersFrame([[":method", "GET"], [":scheme", "https"], [":authority", "l"], [":path", "/"], [
          "connection",
          "close",
        ]]),
        400,
      ],
      [headersFrame([[":method", "GET"], ["x-a", "1"], [":path", "/"]]), 400], // pseudo after regular
      [headersFrame([[":method", "GET"], [":scheme", "https"], [":path", "/"]]), 400], // no authority
      [
        headersFrame([[":method", "GET"], [":scheme", "https"], [":authority", "l"], [":path", "/"], [":foo", "x"]]),
        400,
      ],
      [
        headersFrame([[":method", "GET"], [":scheme", "https"], [":authority", "l"], [":path", "/"], ["x", "a\nb"]]),
        400,
      ],
      [headersFrame([[":method", "CONNECT"], [":authority", "l:1"]]), 501],
      [cat(encodeFrameHeader(FrameType.HEADERS, 100_000), new Uint8Array(100)), 431], // over the field section limit
      [
        encodeFrame(
          FrameType.HEADERS,
          encodeFieldSection([[":method", "GET"], [":scheme", "https"], [":authority", "l"], [":path", "/"], [
            "x-big",
            "a".repeat(70_000),
          ]]),
        ),
        431,
      ],
    ];
    for (const [bytes, status] of cases) {
      const s = await b.peer.request(bytes, status !== 431);
      assertEquals((await response(s)).status, status, dec.decode(bytes.subarray(0, 60)));
    }
    assertEquals(await response(await good), { status: 200, body: "ok /good " });
    assertEquals(await b.peer.closedWith(200), undefined);
  } finally {
    await b.close();
  }
});

Deno.test("h3 server: content-length mismatch fails the handler's body read", async () => {
  const { endpoint, listener, port } = await quicServer();
  const accepted = listener.accept();
  const conn = await quicClient(port);
  let seen = "";
  const served = serveH3(await accepted, async (req) => {
    try {
      await req.text();
      seen = "read";
    } catch (err) {
      seen = (err as Error).message;
    }
    return new Response(null, { status: 400 });
  });
  try {
    const peer = rawPeer(conn);
    const s = await peer.request(cat(
      headersFrame([[":method", "POST"], [":scheme", "https"], [":authority", "l"], [":path", "/"], [
        "content-length",
        "10",
      ]]),
      encodeFrame(FrameType.DATA, enc.encode("abc")),
    ));
    await readAll(s.readable);
    assert(seen.includes("content-length"), seen);
  } finally {
    conn.close();
    await served;
    conn.endpoint.close();
    endpoint.close();
  }
});

// ---- the client against broken servers ----

/** A raw server: answers every request stream with `reply` bytes (and runs `extra` on the connection). */
async function brokenServer(
  reply: Uint8Array,
  extra?: (c: Deno.QuicConn) => Promise<void>,
): Promise<{ fetch: ReturnType<typeof h3Fetcher>; code: () => Promise<number | undefined>; close(): Promise<void> }> {
  const { endpoint, listener, port } = await quicServer();
  const accepted = listener.accept();
  const client = await quicClient(port);
  const server = await accepted;
  const fetch = h3Fetcher(client);
  const loop = (async () => {
    await extra?.(server);
    const streams = server.incomingBidirectionalStreams.getReader();
    for (;;) {
      const r = await streams.read().catch(() => ({ done: true as const, value: undefined }));
      if (r.done) break;
      const w = r.value.writable.getWriter();
      await w.write(reply).catch(() => {});
      await w.close().catch(() => {});
    }
  })();
  return {
    fetch,
    code: () => rawPeer(server).closedWith(),
    async close() {
      fetch.close();
      await fetch.closed;
      try {
        server.close();
      } catch {
        // closed
      }
      await loop;
      client.endpoint.close();
      endpoint.close();
    },
  };
}

Deno.test("h3 client: interim 1xx responses are skipped, unknown frames ignored", async () => {
  const s = await brokenServer(cat(
    encodeFrame(0x21, new Uint8Array(4)),
    headersFrame([[":status", "103"], ["link", "</a>"]]),
    headersFrame([[":status", "200"], ["x-y", "z"]]),
    encodeFrame(0x2a + 0x1f, new Uint8Array(2)),
    encodeFrame(FrameType.DATA, enc.encode("hi")),
    headersFrame([["x-trailer", "t"]]),
  ));
  try {
    const res = await s.fetch(new Request("https://localhost/"));
    assertEquals([res.status, res.headers.get("x-y"), await res.text()], [200, "z", "hi"]);
  } finally {
    await s.close();
  }
});

Deno.test("h3 client: a response without :status is a message error (connection lives)", async () => {
  const s = await brokenServer(headersFrame([["x-y", "z"]]));
  try {
    await assertRejects(() => s.fetch(new Request("https://localhost/")), Error, ":status");
    assertEquals(await s.code(), undefined);
  } finally {
    await s.close();
  }
});

Deno.test("h3 client: DATA before HEADERS closes the connection with H3_FRAME_UNEXPECTED", async () => {
  const s = await brokenServer(encodeFrame(FrameType.DATA, enc.encode("x")));
  try {
    await assertRejects(() => s.fetch(new Request("https://localhost/")));
    assertEquals(await s.code(), ErrorCode.H3_FRAME_UNEXPECTED);
  } finally {
    await s.close();
  }
});

Deno.test("h3 client: PUSH_PROMISE (no MAX_PUSH_ID was sent) is H3_ID_ERROR", async () => {
  const s = await brokenServer(
    cat(headersFrame([[":status", "200"]]), encodeFrame(FrameType.PUSH_PROMISE, Uint8Array.of(0, 0, 0))),
  );
  try {
    const res = await s.fetch(new Request("https://localhost/"));
    await assertRejects(() => res.text());
    assertEquals(await s.code(), ErrorCode.H3_ID_ERROR);
  } finally {
    await s.close();
  }
});

Deno.test("h3 client: a push stream from the server is H3_ID_ERROR", async () => {
  const s = await brokenServer(headersFrame([[":status", "200"]]), async (c) => {
    const u = await c.createUnidirectionalStream();
    const w = u.getWriter();
    await w.write(Uint8Array.of(0x01, 0x00));
  });
  try {
    assertEquals(await s.code(), ErrorCode.H3_ID_ERROR);
    await assertRejects(() => s.fetch(new Request("https://localhost/")));
  } finally {
    await s.close();
  }
});
