/**
 * Interop of dost's RFC 6455 code (transports/_ws) with other
 * implementations: python3-websockets (Debian) as server and as client, and
 * Deno's own WebSocket client and server.
 *
 * @module
 */
import { assert, assertEquals, assertStringIncludes } from "../../assert.ts";
import { acceptWebSocket, dialWebSocket, type WsConn } from "../../../transports/_ws/mod.ts";
import { HandshakeError } from "../../../transports/types.ts";

const PYTHON = "/usr/bin/python3";
const HERE = new URL(".", import.meta.url).pathname;
const enc = new TextEncoder();
const dec = new TextDecoder();

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
const havePython = await exists(PYTHON) && await exists("/usr/lib/python3/dist-packages/websockets");

function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

async function readN(conn: WsConn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let off = 0;
  while (off < n) {
    const r = await conn.read(out.subarray(off));
    if (r === null) throw new Error(`EOF after ${off} of ${n} bytes`);
    off += r;
  }
  return out;
}

/** Reads a whole reply whose length is not known: until `done(bytes)` holds. */
async function readUntil(conn: WsConn, done: (s: string) => boolean): Promise<string> {
  let s = "";
  const buf = new Uint8Array(4096);
  while (!done(s)) {
    const n = await conn.read(buf);
    if (n === null) throw new Error(`EOF after ${JSON.stringify(s)}`);
    s += dec.decode(buf.subarray(0, n), { stream: true });
  }
  return s;
}

/** Starts echo_server.py; resolves to its port, a log waiter and a stopper. */
async function startPythonServer() {
  const child = new Deno.Command(PYTHON, {
    args: [HERE + "echo_server.py"],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.getReader();
  let out = "";
  while (!out.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`echo_server.py exited: ${out}`);
    out += dec.decode(value);
  }
  let log = "";
  const logDone = (async () => {
    for await (const chunk of child.stderr) log += dec.decode(chunk);
  })();
  return {
    port: Number(out.trim()),
    /** Resolves once the server's stderr holds `text` (or after `ms`). */
    async waitLog(text: string, ms = 5000): Promise<string> {
      for (const end = Date.now() + ms; !log.includes(text) && Date.now() < end;) {
        await new Promise((r) => setTimeout(r, 20));
      }
      return log;
    },
    async stop(): Promise<string> {
      child.kill("SIGTERM");
      await child.status;
      await reader.cancel();
      await logDone;
      return log;
    },
  };
}

Deno.test({
  name: "interop: dost client against a python3-websockets server",
  ignore: !havePython,
  async fn() {
    const server = await startPythonServer();
    let ws: WsConn | undefined;
    try {
      const tcp = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      ws = await dialWebSocket(tcp, {
        host: `127.0.0.1:${server.port}`,
        header: { "X-Test": "interop" },
        keepalive: true,
        ttl: 200,
      });

      // The request as Python saw it.
      await ws.write(enc.encode("whoami"));
      const who = JSON.parse(await readUntil(ws, (s) => s.endsWith("}")));
      assertEquals(who.path, "/ws");
      assertEquals(who.headers["Host"], `127.0.0.1:${server.port}`);
      assertEquals(who.headers["User-Agent"], "Go-http-client/1.1");
      assertEquals(who.headers["X-Test"], "interop");
      assertEquals(Object.keys(who.headers).slice(0, 2), ["Host", "User-Agent"]);

      // Binary messages of several sizes, echoed.
      for (const size of [1, 125, 126, 65535, 65536, 70_000, 1 << 20, 5 << 20]) {
        const data = pattern(size, size);
        await ws.write(data);
        assertEquals(await readN(ws, size), data, `echo of ${size} bytes`);
      }

      // Text and fragmented messages read as plain bytes.
      await ws.write(enc.encode("text-please"));
      assertEquals(dec.decode(await readN(ws, enc.encode("héllo").length)), "héllo");
      await ws.write(enc.encode("frag-please"));
      assertEquals(dec.decode(await readN(ws, 17)), "frag1-frag2-frag3");

      // Python pings every 100 ms and drops peers that do not answer within 2 s;
      // dost's keepalive pings every 200 ms and fails without pongs within 400 ms.
      const idle = ws.read(new Uint8Array(16));
      await new Promise((r) => setTimeout(r, 1000));
      assert(ws.pongsReceived >= 2, `pongs received: ${ws.pongsReceived}`);
      await ws.write(enc.encode("still-here"));
      const first = await idle;
      assert(first !== null && first > 0);

      // Drain the rest of "still-here", then ask Python to close: echoed, then EOF.
      await readN(ws, 10 - first);
      await ws.write(enc.encode("close-me"));
      assertEquals(await ws.read(new Uint8Array(16)), null);
      // Python finished its closing handshake with our echo.
      assertStringIncludes(await server.waitLog("closed code="), "closed code=1000");
    } finally {
      ws?.close();
      await server.stop();
    }
  },
});

/** A dost echo server on TCP: every accepted WebSocket echoes its byte stream. */
function startDostEchoServer() {
  const ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const handlers: Promise<unknown>[] = [];
  const results: string[] = [];
  const loop = (async () => {
    for await (const tcp of ln) {
      handlers.push((async () => {
        const res = await acceptWebSocket(tcp);
        if (res.rejected) {
          results.push(`rejected ${res.status}`);
          return;
        }
        const ws = res.conn;
        const buf = new Uint8Array(64 * 1024);
        try {
          for (;;) {
            const n = await ws.read(buf);
            if (n === null) break;
            await ws.write(buf.subarray(0, n));
          }
          results.push("eof");
        } catch (err) {
          results.push(`error ${err}`);
        } finally {
          ws.close();
        }
      })());
    }
  })();
  return {
    port: ln.addr.port,
    results,
    stop: async () => {
      ln.close();
      await loop;
      await Promise.all(handlers);
    },
  };
}

Deno.test({
  name: "interop: python3-websockets client against a dost server",
  ignore: !havePython,
  async fn() {
    const server = startDostEchoServer();
    try {
      const out = await new Deno.Command(PYTHON, {
        args: [HERE + "client.py", String(server.port)],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stdout = dec.decode(out.stdout);
      assert(out.success, `client.py failed:\n${stdout}\n${dec.decode(out.stderr)}`);
      for (const check of ["echo 5242880", "text", "fragmented", "ping", "close", "404"]) {
        assertStringIncludes(stdout, `ok ${check}\n`);
      }
    } finally {
      await server.stop();
    }
    assertEquals(server.results, ["eof", "rejected 404"]);
  },
});

Deno.test("interop: Deno's WebSocket client against a dost server", async () => {
  const server = startDostEchoServer();
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws`);
    ws.binaryType = "arraybuffer";
    const received: Uint8Array[] = [];
    let total = 0;
    const want = pattern(300_000, 3);
    const done = new Promise<void>((resolve, reject) => {
      ws.onmessage = (e) => {
        const b = new Uint8Array(e.data as ArrayBuffer);
        received.push(b);
        total += b.length;
        if (total >= want.length) resolve();
      };
      ws.onerror = (e) => reject(new Error(`WebSocket error: ${(e as ErrorEvent).message}`));
    });
    await new Promise((resolve) => (ws.onopen = resolve));
    ws.send(want.subarray(0, 100_000));
    ws.send(want.subarray(100_000));
    await done;
    const got = new Uint8Array(total);
    let off = 0;
    for (const r of received) {
      got.set(r, off);
      off += r.length;
    }
    assertEquals(got, want);
    const closed = new Promise<CloseEvent>((resolve) => (ws.onclose = resolve));
    ws.close(1000, "done");
    const ev = await closed;
    assertEquals(ev.code, 1000);
  } finally {
    await server.stop();
  }
});

Deno.test("interop: dost client against Deno.upgradeWebSocket", async () => {
  const ac = new AbortController();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen() {} }, (req) => {
    if (new URL(req.url).pathname !== "/ws") return new Response("404 page not found\n", { status: 404 });
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onmessage = (e) => socket.send(e.data);
    return response;
  });
  const port = server.addr.port;
  try {
    const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
    const ws = await dialWebSocket(tcp, { host: `127.0.0.1:${port}` });
    for (const size of [1, 126, 65536, 1 << 20]) {
      const data = pattern(size, 7);
      await ws.write(data);
      assertEquals(await readN(ws, size), data);
    }
    ws.close();

    const tcp2 = await Deno.connect({ hostname: "127.0.0.1", port });
    const err = await dialWebSocket(tcp2, { host: `127.0.0.1:${port}`, path: "/nope" }).catch((e) => e);
    assert(err instanceof HandshakeError, String(err));
    assertStringIncludes(err.message, `"HTTP/1.1 404 Not Found"`);
  } finally {
    ac.abort();
    await server.finished;
  }
});
