/**
 * The PHT server driven by hand over HTTP/1.1 (raw bytes and dost's lane),
 * as the spec's wire tables describe it (shared/spec/pht.md §2–§6).
 */
import { assert, assertEquals, assertMatch, assertRejects, assertStringIncludes } from "../../tests/assert.ts";
import { writeAll } from "../_io/write_all.ts";
import { netDial } from "../tcp/mod.ts";
import { ClosedError } from "../types.ts";
import { Http1Lane } from "../_http1/client.ts";
import { addrOf, dec, delay, enc, listenerOptions, rawExchange, readExactly } from "../ws/_testing.ts";
import { listenPht, type PhtListener, type PhtSession } from "./mod.ts";

interface Harness {
  ln: PhtListener;
  addr: string;
  lane: Http1Lane;
  /** Sessions accepted so far (in order). */
  sessions: PhtSession[];
  next(): Promise<PhtSession>;
  get(path: string): Promise<Response>;
  post(path: string, body?: string | Uint8Array): Promise<Response>;
  close(): Promise<void>;
}

async function harness(md: Record<string, unknown> = {}, autoAccept = true): Promise<Harness> {
  const ln = (await listenPht(listenerOptions(md))) as PhtListener;
  const addr = addrOf(ln);
  const lane = new Http1Lane((signal) => netDial(addr, { signal }));
  const sessions: PhtSession[] = [];
  const waiting: ((s: PhtSession) => void)[] = [];
  let stopped = false;
  const loop = (async () => {
    while (autoAccept && !stopped) {
      let s: PhtSession;
      try {
        s = await ln.accept();
      } catch {
        return;
      }
      sessions.push(s);
      waiting.shift()?.(s);
    }
  })();
  let taken = 0;
  return {
    ln,
    addr,
    lane,
    sessions,
    next: () =>
      taken < sessions.length ? Promise.resolve(sessions[taken++]) : new Promise((r) => {
        taken++;
        waiting.push(r);
      }),
    get: (path) => lane.fetch(new Request(`http://${addr}${path}`)),
    post: (path, body) =>
      lane.fetch(new Request(`http://${addr}${path}`, { method: "POST", body: body as BodyInit | undefined })),
    async close() {
      stopped = true;
      lane.close();
      ln.close();
      for (const s of sessions) s.close();
      ln.server.closeSessions();
      await loop;
      await ln.done;
    },
  };
}

async function authorize(h: Harness): Promise<string> {
  const res = await h.get("/authorize");
  const text = await res.text();
  assertMatch(text, /^token=[0-9a-v]{20}$/);
  return text.slice(6);
}

/** Reads a pull body until `want` decoded bytes arrived (heartbeats skipped). */
async function pullBytes(res: Response, want: number): Promise<{ data: Uint8Array; lines: string[] }> {
  const reader = res.body!.getReader();
  let text = "";
  const lines: string[] = [];
  const parts: Uint8Array[] = [];
  let n = 0;
  while (n < want) {
    const { value, done } = await reader.read();
    if (done) break;
    text += dec.decode(value);
    let i;
    while ((i = text.indexOf("\n")) >= 0) {
      const line = text.slice(0, i);
      text = text.slice(i + 1);
      lines.push(line);
      if (line) {
        const b = Uint8Array.fromBase64(line);
        parts.push(b);
        n += b.length;
      }
    }
  }
  reader.releaseLock();
  const data = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    data.set(p, off);
    off += p.length;
  }
  return { data, lines };
}

Deno.test("pht server: authorize answers token=<xid> with GOST's exact headers, any method", async () => {
  const h = await harness();
  try {
    const raw = await rawExchange(h.addr, "GET /authorize HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assertMatch(raw, /^HTTP\/1\.1 200 OK\r\n/);
    assertStringIncludes(raw, "Content-Length: 26\r\n");
    assertStringIncludes(raw, "Content-Type: text/plain; charset=utf-8\r\n");
    assertMatch(raw, /\r\n\r\ntoken=[0-9a-v]{20}$/);
    const post = await rawExchange(
      h.addr,
      "POST /authorize HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assertMatch(post, /\r\n\r\ntoken=[0-9a-v]{20}$/);
    assertEquals(h.sessions.length, 2, "each authorize queues a session at once");
  } finally {
    await h.close();
  }
});

Deno.test("pht server: classic flow by hand — push waits for the handler, pull streams base64 lines", async () => {
  const h = await harness();
  try {
    const token = await authorize(h);
    const s = await h.next();
    assertEquals(s.token, token);
    const t0 = performance.now();
    const pushed = h.post(`/push?token=${token}`, "aGVsbG8=\n");
    await delay(150);
    assertEquals(dec.decode(await readExactly(s, 5)), "hello");
    const res = await pushed;
    assertEquals(res.status, 200);
    assert(performance.now() - t0 >= 140, "the push is answered only after the handler read the bytes");
    assertEquals(await res.text(), "");

    const pull = h.lane.fetch(new Request(`http://${h.addr}/pull?token=${token}`));
    // a second lane for pushes while the pull holds the first one
    const pres = await pull;
    assertEquals(pres.status, 200);
    assertEquals(pres.headers.get("x-accel-buffering"), "no");
    assertEquals(pres.headers.get("cache-control"), "no-cache");
    assertEquals(pres.headers.get("transfer-encoding"), "chunked");
    assertEquals(pres.headers.get("content-type"), null);
    await writeAll(s, enc.encode("world"));
    const { lines } = await pullBytes(pres, 5);
    assertEquals(lines, ["d29ybGQ="]);
    await pres.body!.cancel();
  } finally {
    await h.close();
  }
});

async function readText(res: Response, until: (s: string) => boolean): Promise<{ text: string; ended: boolean }> {
  const reader = res.body!.getReader();
  let text = "";
  let ended = false;
  while (!until(text)) {
    const { value, done } = await reader.read();
    if (done) {
      ended = true;
      break;
    }
    text += dec.decode(value);
  }
  if (!ended) await reader.cancel();
  return { text, ended };
}

Deno.test("pht server: heartbeats keep an idle pull open", async () => {
  const h = await harness({ heartbeat: "100ms" });
  try {
    const token = await authorize(h);
    const t0 = performance.now();
    const r = await readText(await h.get(`/pull?token=${token}`), (t) => t.length >= 2);
    assertEquals(r, { text: "\n\n", ended: false }, "two heartbeats on one response");
    assert(performance.now() - t0 >= 180);
  } finally {
    await h.close();
  }
});

Deno.test("pht server (classic mode): a pull ends after its heartbeat", async () => {
  const h = await classicHarness();
  try {
    const token = await authorize(h);
    assertEquals(await readText(await h.get(`/pull?token=${token}`), () => false), { text: "\n", ended: true });
  } finally {
    await h.close();
  }
});

/** A listener whose PHT core behaves like gost 3.2.6 (no lazy sessions, pull ends after a heartbeat). */
async function classicHarness(): Promise<Harness> {
  const { PhtServer } = await import("./server.ts");
  const { Http1Server } = await import("../_http1/server.ts");
  const pht = new PhtServer({ classic: true, heartbeat: 100 });
  const http = new Http1Server((req, info) => pht.handle(req, info));
  const tcp = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const addr = `127.0.0.1:${(tcp.addr as Deno.NetAddr).port}`;
  const tasks: Promise<void>[] = [];
  const loop = (async () => {
    for (;;) {
      try {
        tasks.push(http.serve(await tcp.accept()));
      } catch {
        return;
      }
    }
  })();
  const lane = new Http1Lane((signal) => netDial(addr, { signal }));
  const sessions: PhtSession[] = [];
  const acceptLoop = (async () => {
    for (;;) {
      try {
        sessions.push(await pht.accept());
      } catch {
        return;
      }
    }
  })();
  return {
    ln: undefined as unknown as PhtListener,
    addr,
    lane,
    sessions,
    next: async () => {
      while (sessions.length === 0) await delay(5);
      return sessions[0];
    },
    get: (path) => lane.fetch(new Request(`http://${addr}${path}`)),
    post: (path, body) =>
      lane.fetch(new Request(`http://${addr}${path}`, { method: "POST", body: body as BodyInit | undefined })),
    async close() {
      lane.close();
      tcp.close();
      pht.close();
      pht.closeSessions();
      http.close();
      await loop;
      await acceptLoop;
      await Promise.all(tasks);
    },
  };
}

Deno.test("pht server (classic mode): unknown tokens get 403", async () => {
  const h = await classicHarness();
  try {
    assertEquals((await h.post("/push?token=abcdefghijklmnopqrst", "aGk=\n")).status, 403);
    assertEquals((await h.get("/pull?token=abcdefghijklmnopqrst")).status, 403);
  } finally {
    await h.close();
  }
});

Deno.test("pht server: a never-seen token creates a session lazily (current clients)", async () => {
  const h = await harness();
  try {
    const pushed = h.post("/push?token=c0ffee00c0ffee00c0ff", "bGF6eQ==\n");
    const s = await h.next();
    assertEquals(s.token, "c0ffee00c0ffee00c0ff");
    assertEquals(dec.decode(await readExactly(s, 4)), "lazy");
    assertEquals((await pushed).status, 200);
    assertEquals(h.sessions.length, 1);
    assertEquals(h.ln.server.sessions, 1);
  } finally {
    await h.close();
  }
});

Deno.test("pht server: empty POST is a half-close; handler close ends the pull; the token is then refused", async () => {
  const h = await harness();
  try {
    const token = await authorize(h);
    const s = await h.next();
    assertEquals((await h.post(`/push?token=${token}`, "")).status, 200);
    assertEquals(await s.read(new Uint8Array(8)), null, "EOF for the handler");
    // The handler can still answer: the pull carries it.
    const pres = await h.get(`/pull?token=${token}`);
    await writeAll(s, enc.encode("late reply"));
    assertEquals(dec.decode((await pullBytes(pres, 10)).data), "late reply");
    s.close();
    assertEquals(await readText(pres, () => false), { text: "", ended: true }, "the pull ends without another line");
    assertEquals((await h.get(`/pull?token=${token}`)).status, 403);
    assertEquals((await h.post(`/push?token=${token}`, "aGk=\n")).status, 403);
  } finally {
    await h.close();
  }
});

Deno.test("pht server: handler closeWrite → an empty pull response is the client's EOF", async () => {
  const h = await harness();
  try {
    const token = await authorize(h);
    const s = await h.next();
    await s.closeWrite();
    const res = await h.get(`/pull?token=${token}`);
    assertEquals(res.status, 200);
    assertEquals(await res.text(), "");
    // pushes still reach the handler after its half-close
    const pushed = h.post(`/push?token=${token}`, "c3RpbGw=\n");
    assertEquals(dec.decode(await readExactly(s, 5)), "still");
    assertEquals((await pushed).status, 200);
    assertEquals((await h.post(`/push?token=${token}`)).status, 200, "the close POST");
    await s.done;
    assertEquals((await h.get(`/pull?token=${token}`)).status, 403, "both sides done: the session is gone");
  } finally {
    await h.close();
  }
});

Deno.test("pht server: bad requests get the spec's statuses", async () => {
  const h = await harness();
  try {
    const token = await authorize(h);
    const s = await h.next();
    assertEquals((await h.get(`/push?token=${token}`)).status, 400, "push must be POST");
    assertEquals((await h.post(`/pull?token=${token}`, "")).status, 400, "pull must be GET");
    assertEquals((await h.get(`/nowhere`)).status, 404);
    assertEquals((await h.post(`/push`, "aGk=\n")).status, 403, "no token");
    assertEquals((await h.post(`/push?token=bad%20token`, "aGk=\n")).status, 400, "malformed token");
    // an unterminated line is the close signal; its data is dropped
    assertEquals((await h.post(`/push?token=${token}`, "aGk=")).status, 200);
    assertEquals(await s.read(new Uint8Array(8)), null);

    const t2 = await authorize(h);
    const s2 = await h.next();
    assertEquals((await h.post(`/push?token=${t2}`, "!!!not base64\n")).status, 400);
    await assertRejects(() => s2.read(new Uint8Array(8)), ClosedError, undefined);
    assertEquals((await h.post(`/push?token=${t2}`, "aGk=\n")).status, 403, "push after close");

    const t3 = await authorize(h);
    const s3 = await h.next();
    const huge = "A".repeat(1024 * 1024 + 4) + "\n";
    assertEquals((await h.post(`/push?token=${t3}`, huge)).status, 413);
    assert(s3.closed);

    const t4 = await authorize(h);
    const s4 = await h.next();
    assertEquals((await h.post(`/push?token=${t4}`, "\n")).status, 200, "an empty line is a no-op");
    assert(!s4.closed && !s4.readEnded);
  } finally {
    await h.close();
  }
});

Deno.test("pht server: a full accept queue answers 429", async () => {
  const h = await harness({ backlog: 1 }, false);
  try {
    assertEquals((await h.get("/authorize")).status, 200);
    assertEquals((await h.get("/authorize")).status, 429);
    assertEquals((await h.post("/push?token=abcdefabcdefabcdefab", "aGk=\n")).status, 429);
  } finally {
    await h.close();
  }
});

Deno.test("pht server: idle sessions expire; a push the handler never reads fails with 410", async () => {
  const h = await harness({ idleTimeout: "200ms" });
  try {
    const token = await authorize(h);
    const s = await h.next();
    await assertRejects(() => s.read(new Uint8Array(8)), ClosedError);
    assertEquals((await h.get(`/pull?token=${token}`)).status, 403);
    assertEquals(h.ln.server.sessions, 0);
  } finally {
    await h.close();
  }
  const { PhtServer } = await import("./server.ts");
  const pht = new PhtServer({ pushTimeout: 100 });
  const res = await pht.handle(
    new Request("http://x/push?token=abcabcabcabcabcabcab", { method: "POST", body: "aGk=\n" }),
  );
  assertEquals(res.status, 410);
  pht.close();
  pht.closeSessions();
  await pht.drained;
});

Deno.test("pht server: a newer pull replaces an older one; 1 MiB comes as lines below 64 KiB", async () => {
  const h = await harness();
  const lane2 = new Http1Lane((signal) => netDial(h.addr, { signal }));
  try {
    const token = await authorize(h);
    const s = await h.next();
    const first = await h.get(`/pull?token=${token}`);
    const second = await lane2.fetch(new Request(`http://${h.addr}/pull?token=${token}`));
    assertEquals(await first.text(), "", "the older pull ended");
    const data = crypto.getRandomValues(new Uint8Array(60_000));
    const big = new Uint8Array(1024 * 1024);
    for (let i = 0; i < big.length; i += data.length) {
      big.set(data.subarray(0, Math.min(data.length, big.length - i)), i);
    }
    const w = writeAll(s, big);
    const got = await pullBytes(second, big.length);
    await w;
    assertEquals(got.data, big);
    for (const l of got.lines) assert(l.length + 1 < 65536, `line of ${l.length + 1} bytes`);
    await second.body!.cancel();
  } finally {
    lane2.close();
    await h.close();
  }
});
