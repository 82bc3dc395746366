import { assert, assertEquals, assertRejects, assertStringIncludes } from "../../tests/assert.ts";
import { BufferedConn } from "../_io/buffered_conn.ts";
import { writeAll } from "../_io/write_all.ts";
import { netDial } from "../tcp/mod.ts";
import { ClosedError, type Conn } from "../types.ts";
import { Http1Lane, Http1Pool, NoResponseError } from "./client.ts";
import { readRequestHead } from "./head.ts";
import { delay, enc, startRaw, startServer } from "./_test_util.ts";

function lane(addr: string, opts = {}) {
  let opened = 0;
  const l = new Http1Lane((signal) => {
    opened++;
    return netDial(addr, { signal });
  }, opts);
  return { lane: l, opened: () => opened };
}

function post(addr: string, path: string, body: string, headers: Record<string, string> = {}) {
  return new Request(`http://${addr}${path}`, { method: "POST", body, headers });
}

Deno.test("http1 lane: pipelined requests from concurrent callers are sent and answered in call order", async () => {
  const seen: string[] = [];
  const srv = startServer(async (req) => {
    const body = await req.text();
    seen.push(body);
    await delay(Number(body) % 3);
    return new Response(`got ${body}`, { headers: { "x-path": new URL(req.url).pathname } });
  });
  const { lane: l, opened } = lane(srv.addr);
  try {
    // All 50 go out at once; bodies are read in order (a lane reads a response only after the previous body).
    const pending = Array.from({ length: 50 }, (_, i) => l.fetch(post(srv.addr, "/p", String(i))));
    const responses: Response[] = [];
    const texts: string[] = [];
    for (const p of pending) {
      const r = await p;
      responses.push(r);
      texts.push(await r.text());
    }
    assertEquals(texts, Array.from({ length: 50 }, (_, i) => `got ${i}`));
    assertEquals(seen, Array.from({ length: 50 }, (_, i) => String(i)));
    assertEquals(responses[0].headers.get("x-path"), "/p");
    assertEquals(opened(), 1);
    assertEquals(srv.accepted(), 1);
  } finally {
    l.close();
    await srv.close();
  }
});

Deno.test("http1 lane: streaming chunked response, Content-Length response, Host header as given", async () => {
  let host = "";
  const srv = startServer((req) => {
    host = req.headers.get("host") ?? "";
    if (new URL(req.url).pathname === "/s") {
      let i = 0;
      return new Response(
        new ReadableStream<Uint8Array>({
          async pull(c) {
            await delay(5);
            if (i++ < 3) c.enqueue(enc.encode(`line${i}\n`));
            else c.close();
          },
        }),
      );
    }
    return new Response("fixed", { headers: { "content-length": "5" } });
  });
  const { lane: l } = lane(srv.addr);
  try {
    const res = await l.fetch(new Request(`http://${srv.addr}/s`, { headers: { host: "example.com:80" } }));
    assertEquals(host, "example.com:80");
    const reader = res.body!.getReader();
    const first = await reader.read();
    assertEquals(new TextDecoder().decode(first.value), "line1\n");
    let rest = "";
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      rest += new TextDecoder().decode(r.value);
    }
    assertEquals(rest, "line2\nline3\n");
    assertEquals(await (await l.fetch(new Request(`http://${srv.addr}/f`))).text(), "fixed");
    assertEquals(srv.accepted(), 1, "the conn is reused after a streamed body");
  } finally {
    l.close();
    await srv.close();
  }
});

Deno.test("http1 lane: requests after a Connection: close response are resent on a new conn, in order", async () => {
  const got: string[] = [];
  // Conn 0 answers its first request with "Connection: close" and ignores what was pipelined behind it.
  const srv = startRaw(async (c: Conn, index: number) => {
    const bc = new BufferedConn(c);
    for (;;) {
      const head = await readRequestHead(bc);
      if (!head) return;
      const n = Number(head.headers.get("content-length") ?? 0);
      const body = new TextDecoder().decode(await bc.readExact(n));
      got.push(`${index}:${body}`);
      const close = index === 0;
      await writeAll(
        c,
        enc.encode(`HTTP/1.1 200 OK\r\nContent-Length: 2\r\n${close ? "Connection: close\r\n" : ""}\r\nok`),
      );
      if (close) return;
    }
  });
  const { lane: l, opened } = lane(srv.addr);
  try {
    // Small Content-Length bodies are read ahead, so all heads can be awaited first.
    const rs = await Promise.all(["a", "b", "c", "d"].map((b) => l.fetch(post(srv.addr, "/x", b))));
    assertEquals(rs.map((r) => r.status), [200, 200, 200, 200]);
    assertEquals(await Promise.all(rs.map((r) => r.text())), ["ok", "ok", "ok", "ok"]);
    assertEquals(got, ["0:a", "1:b", "1:c", "1:d"]);
    assertEquals(opened(), 2);
  } finally {
    l.close();
    await srv.close();
  }
});

Deno.test("http1 lane: a server that closes an idle keep-alive conn costs nothing; a fresh conn is opened", async () => {
  const srv = startServer(() => new Response("ok"), { idleTimeout: 50 });
  const { lane: l, opened } = lane(srv.addr);
  try {
    assertEquals(await (await l.fetch(post(srv.addr, "/1", "x"))).text(), "ok");
    await delay(200);
    assertEquals(await (await l.fetch(post(srv.addr, "/2", "y"))).text(), "ok");
    assertEquals(opened(), 2);
  } finally {
    l.close();
    await srv.close();
  }
});

Deno.test("http1 lane: a request the server drops mid-answer is not resent; the lane recovers", async () => {
  const srv = startRaw(async (c, index) => {
    const bc = new BufferedConn(c);
    const head = await readRequestHead(bc);
    if (!head) return;
    if (index === 0) {
      await writeAll(c, enc.encode("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"));
      return; // truncated body, then close
    }
    await writeAll(c, enc.encode("HTTP/1.1 204 No Content\r\n\r\n"));
  });
  const { lane: l } = lane(srv.addr);
  try {
    // The truncated body fails the fetch (small bodies are read ahead) or the read of the body.
    await assertRejects(() => l.fetch(new Request(`http://${srv.addr}/a`)).then((r) => r.text()));
    assertEquals((await l.fetch(new Request(`http://${srv.addr}/b`))).status, 204);
    assertEquals(srv.accepted(), 2);
  } finally {
    l.close();
    await srv.close();
  }
});

Deno.test("http1 lane: response timeout, abort, close", async () => {
  const srv = startRaw(async (c) => {
    await new BufferedConn(c).peek(1);
    await delay(400); // never answers in time
  });
  const { lane: l } = lane(srv.addr, { responseTimeout: 100 });
  try {
    await assertRejects(() => l.fetch(new Request(`http://${srv.addr}/slow`)), Deno.errors.TimedOut);
    const ac = new AbortController();
    const p = l.fetch(new Request(`http://${srv.addr}/abort`, { signal: ac.signal }));
    setTimeout(() => ac.abort(new Error("stop")), 20);
    await assertRejects(() => p, Error, "stop");
    const q = l.fetch(new Request(`http://${srv.addr}/closed`));
    l.close();
    await assertRejects(() => q, ClosedError);
    await assertRejects(() => l.fetch(new Request(`http://${srv.addr}/after`)), ClosedError);
  } finally {
    l.close();
    await srv.close();
  }
});

Deno.test("http1 lane: a fresh conn closed before any answer fails without a resend", async () => {
  const srv = startRaw(async (c) => {
    await new BufferedConn(c).peek(1);
  });
  const { lane: l, opened } = lane(srv.addr);
  try {
    const err = await assertRejects(() => l.fetch(post(srv.addr, "/x", "data")), Deno.errors.UnexpectedEof);
    assert(!(err instanceof NoResponseError));
    assertEquals(opened(), 1, "not resent: the server may have processed it");
    assertStringIncludes(String(err), "closed");
  } finally {
    l.close();
    await srv.close();
  }
});

Deno.test("http1 pool: a released lane's idle conn serves the next lane; a conn the server closed is skipped", async () => {
  const srv = startServer(() => new Response("ok", { headers: { "content-length": "2" } }), { idleTimeout: 300 });
  const pool = new Http1Pool({ idleTimeout: 10_000 });
  let opened = 0;
  const open = (signal?: AbortSignal) => {
    opened++;
    return netDial(srv.addr, { signal });
  };
  try {
    const a = new Http1Lane(open, { pool, key: "k" });
    assertEquals(await (await a.fetch(new Request(`http://${srv.addr}/a`))).text(), "ok");
    a.release();
    assertEquals(pool.size, 1);
    const b = new Http1Lane(open, { pool, key: "k" });
    assertEquals(await (await b.fetch(new Request(`http://${srv.addr}/b`))).text(), "ok");
    assertEquals(opened, 1, "the pooled conn was reused");
    assertEquals(pool.size, 0);
    b.release();
    await delay(500); // the server closes the idle conn
    const c = new Http1Lane(open, { pool, key: "k" });
    assertEquals(await (await c.fetch(new Request(`http://${srv.addr}/c`))).text(), "ok");
    assertEquals(opened, 2);
    c.close();
    assertEquals(srv.accepted(), 2);
  } finally {
    pool.close();
    await srv.close();
  }
});
