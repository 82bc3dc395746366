import { assert, assertEquals, assertMatch, assertStringIncludes } from "../../tests/assert.ts";
import { closeQuietly, writeAll } from "../_io/write_all.ts";
import { countResponses, delay, enc, exchange, readUntil, startServer } from "./_test_util.ts";

/** Echo handler: method, path and body back. */
const echo = async (req: Request) => {
  const body = req.body ? await req.text() : "";
  const u = new URL(req.url);
  return new Response(`${req.method} ${u.pathname}${u.search} ${body}`);
};

Deno.test("http1 server: keep-alive and pipelined requests are answered in order on one conn", async () => {
  const srv = startServer(echo);
  try {
    const out = await exchange(
      srv.port,
      "GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b?q=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assertEquals(countResponses(out), 3);
    const a = out.indexOf("GET /a"), b = out.indexOf("POST /b?q=1 hello"), c = out.indexOf("GET /c");
    assert(a > 0 && b > a && c > b, out);
    assertStringIncludes(out, "Connection: close");
    assertEquals(srv.accepted(), 1);
  } finally {
    await srv.close();
  }
});

Deno.test("http1 server: chunked request body with extensions and trailers", async () => {
  const srv = startServer(echo);
  try {
    const out = await exchange(
      srv.port,
      "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
        "3;ext=1\r\nabc\r\n4\r\ndefg\r\n0\r\nX-Trailer: 1\r\n\r\n",
    );
    assertStringIncludes(out, "HTTP/1.1 200 OK");
    assertStringIncludes(out, "POST /up abcdefg");
  } finally {
    await srv.close();
  }
});

Deno.test("http1 server: a streamed response is written chunk by chunk as it is produced", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const srv = startServer(() => {
    const body = new ReadableStream<Uint8Array>({
      async start(ctrl) {
        ctrl.enqueue(enc.encode("first\n"));
        await gate;
        ctrl.enqueue(enc.encode("second\n"));
        ctrl.close();
      },
    });
    return new Response(body, { headers: { "x-accel-buffering": "no" } });
  });
  const c = await Deno.connect({ hostname: "127.0.0.1", port: srv.port });
  try {
    await writeAll(c, enc.encode("GET /s HTTP/1.1\r\nHost: x\r\n\r\n"));
    const head = await readUntil(c, (s) => s.includes("first\n"));
    assertStringIncludes(head, "Transfer-Encoding: chunked");
    assertStringIncludes(head, "X-Accel-Buffering: no");
    assertStringIncludes(head, "6\r\nfirst\n\r\n");
    release();
    const rest = await readUntil(c, (s) => s.endsWith("0\r\n\r\n"));
    assertStringIncludes(rest, "7\r\nsecond\n\r\n0\r\n\r\n");
  } finally {
    closeQuietly(c);
    await srv.close();
  }
});

Deno.test("http1 server: malformed framing and heads get their status and a close", async () => {
  const srv = startServer(echo);
  try {
    const cases: [string, number][] = [
      ["POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc", 400],
      ["POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501],
      ["POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 4\r\n\r\nabc", 400],
      ["POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400],
      ["GET / HTTP/1.1\r\n\r\n", 400],
      ["GET /x HTTP/1.1\r\nHost: x\r\nExpect: something\r\n\r\n", 417],
      ["BROKEN\r\n\r\n", 400],
      [`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(70_000)}\r\n\r\n`, 431],
    ];
    for (const [req, status] of cases) {
      const out = await exchange(srv.port, req);
      assertMatch(out, new RegExp(`^HTTP/1\\.1 ${status} `), JSON.stringify(req.slice(0, 80)));
      assertStringIncludes(out, "Connection: close");
    }
  } finally {
    await srv.close();
  }
});

Deno.test("http1 server: Expect 100-continue, HEAD, HTTP/1.0", async () => {
  const srv = startServer(async (req) => {
    if (req.method === "HEAD") return new Response(null, { headers: { "content-length": "42" } });
    if (new URL(req.url).pathname === "/stream") {
      return new Response(new ReadableStream({ pull: (c) => (c.enqueue(enc.encode("streamed")), c.close()) }));
    }
    return await echo(req);
  });
  try {
    const c = await Deno.connect({ hostname: "127.0.0.1", port: srv.port });
    try {
      await writeAll(c, enc.encode("POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"));
      assertStringIncludes(await readUntil(c, (s) => s.includes("\r\n\r\n")), "HTTP/1.1 100 Continue");
      await writeAll(c, enc.encode("hi"));
      assertStringIncludes(await readUntil(c, (s) => s.includes("POST /e hi")), "POST /e hi");
    } finally {
      closeQuietly(c);
    }
    const head = await exchange(srv.port, "HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assertStringIncludes(head, "Content-Length: 42");
    assert(head.endsWith("\r\n\r\n"), "no body after a HEAD response");
    const old = await exchange(srv.port, "GET /stream HTTP/1.0\r\n\r\n");
    assertMatch(old, /^HTTP\/1\.1 200 OK/);
    assertStringIncludes(old, "Connection: close");
    assert(!old.includes("chunked"), "HTTP/1.0 clients get a close-delimited body");
    assert(old.endsWith("\r\n\r\nstreamed"), old);
  } finally {
    await srv.close();
  }
});

Deno.test("http1 server: the request signal aborts when the client goes away", async () => {
  const aborted = Promise.withResolvers<string>();
  const srv = startServer((req) => {
    req.signal.addEventListener("abort", () => aborted.resolve("aborted"));
    return new Response(new ReadableStream({ pull: () => new Promise(() => {}) }));
  });
  try {
    const c = await Deno.connect({ hostname: "127.0.0.1", port: srv.port });
    await writeAll(c, enc.encode("GET /long HTTP/1.1\r\nHost: x\r\n\r\n"));
    await readUntil(c, (s) => s.includes("\r\n\r\n"));
    c.close();
    assertEquals(await aborted.promise, "aborted");
  } finally {
    await srv.close();
  }
});

Deno.test("http1 server: header and idle timeouts close conns", async () => {
  const srv = startServer(echo, { headerTimeout: 100, idleTimeout: 150 });
  try {
    const silent = await Deno.connect({ hostname: "127.0.0.1", port: srv.port });
    const t0 = performance.now();
    assertEquals(await readUntil(silent, () => false), "");
    assert(performance.now() - t0 < 2000);
    closeQuietly(silent);
    const c = await Deno.connect({ hostname: "127.0.0.1", port: srv.port });
    await writeAll(c, enc.encode("GET /k HTTP/1.1\r\nHost: x\r\n\r\n"));
    const out = await readUntil(c, () => false);
    assertStringIncludes(out, "GET /k");
    closeQuietly(c);
    assertEquals(srv.server.connections, 0);
  } finally {
    await srv.close();
  }
});

Deno.test("http1 server: an unread small body is drained (keep-alive), a big one closes the conn", async () => {
  const srv = startServer(() => new Response("ignored"), { maxDrain: 1024 });
  try {
    const small = await exchange(
      srv.port,
      "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assertEquals(countResponses(small), 2);
    const c = await Deno.connect({ hostname: "127.0.0.1", port: srv.port });
    try {
      await writeAll(c, enc.encode(`POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n${"x".repeat(4096)}`));
      const out = await readUntil(c, () => false);
      assertEquals(countResponses(out), 1);
    } finally {
      closeQuietly(c);
    }
  } finally {
    await srv.close();
  }
});

Deno.test("http1 server: a handler that throws gives 500; closeIdle ends idle conns", async () => {
  const srv = startServer(() => {
    throw new Error("boom");
  });
  try {
    const c = await Deno.connect({ hostname: "127.0.0.1", port: srv.port });
    await writeAll(c, enc.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    assertStringIncludes(await readUntil(c, (s) => s.includes("Internal")), "HTTP/1.1 500");
    await delay(20);
    srv.server.closeIdle();
    assertEquals(await readUntil(c, () => false), "", "the idle conn is closed");
    closeQuietly(c);
  } finally {
    await srv.close();
  }
});
