/**
 * Throughput of dost's WsConn against Deno's own WebSocket (Deno.serve +
 * Deno.upgradeWebSocket on the server, `new WebSocket` on the client), over
 * TCP loopback, server and client in separate processes.
 *
 *   deno run --allow-all transports/_ws/_bench.ts [MiB=512] [writeKiB=256]
 *
 * @module
 */
import { acceptWebSocket, dialWebSocket } from "./mod.ts";
import type { WsConn } from "./ws_conn.ts";

type Impl = "dost" | "deno" | "tcp";
type Dir = "up" | "down";

const MiB = 1024 * 1024;

async function sleep0(): Promise<void> {
  await new Promise((r) => setTimeout(r, 0));
}

/** Sends `total` bytes over a Deno WebSocket in `chunk` messages, bounded by bufferedAmount. */
async function denoSend(ws: WebSocket, total: number, chunk: number): Promise<void> {
  const block = new Uint8Array(chunk).fill(7);
  for (let sent = 0; sent < total; sent += chunk) {
    while (ws.bufferedAmount > 8 * MiB) await sleep0();
    ws.send(block.subarray(0, Math.min(chunk, total - sent)));
  }
  while (ws.bufferedAmount > 0) await sleep0();
}

async function dostSend(ws: WsConn, total: number, chunk: number): Promise<void> {
  const block = new Uint8Array(chunk).fill(7);
  for (let sent = 0; sent < total; sent += chunk) await ws.write(block.subarray(0, Math.min(chunk, total - sent)));
}

async function dostCount(ws: WsConn, total: number): Promise<void> {
  const buf = new Uint8Array(256 * 1024);
  let got = 0;
  while (got < total) {
    const n = await ws.read(buf);
    if (n === null) throw new Error(`EOF after ${got} bytes`);
    got += n;
  }
}

/** Resolves once `total` bytes of messages arrived on a Deno WebSocket. */
function denoCount(ws: WebSocket, total: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let got = 0;
    ws.onmessage = (e) => {
      got += (e.data as ArrayBuffer).byteLength;
      if (got >= total) resolve();
    };
    ws.onclose = () => got < total && reject(new Error(`closed after ${got} bytes`));
  });
}

// ------------------------------------------------------------------ server (parent)

async function serveDost(ln: Deno.TcpListener, chunk: number): Promise<void> {
  for await (const tcp of ln) {
    tcp.setNoDelay(true);
    (async () => {
      const res = await acceptWebSocket(tcp, { path: "/" });
      if (res.rejected) return;
      const ws = res.conn;
      const q = new URLSearchParams(res.request.query);
      const h = res.request.headers;
      const total = Number(h.get("x-bytes") ?? q.get("bytes"));
      try {
        if ((h.get("x-dir") ?? q.get("dir")) === "up") {
          await dostCount(ws, total);
          await ws.write(new Uint8Array([1]));
        } else {
          await dostSend(ws, total, chunk);
        }
        await new Promise((r) => setTimeout(r, 200));
      } finally {
        ws.close();
      }
    })();
  }
}

function serveDeno(port: number, chunk: number): Deno.HttpServer {
  return Deno.serve({ port, hostname: "127.0.0.1", onListen() {} }, (req) => {
    const url = new URL(req.url);
    const total = Number(req.headers.get("x-bytes") ?? url.searchParams.get("bytes"));
    const dir = req.headers.get("x-dir") ?? url.searchParams.get("dir");
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.binaryType = "arraybuffer";
    socket.onopen = async () => {
      if (dir === "up") {
        await denoCount(socket, total);
        socket.send(new Uint8Array([1]));
      } else {
        await denoSend(socket, total, chunk);
      }
    };
    return response;
  });
}

/** Raw TCP baseline: first byte from the client says the direction. */
async function serveTcp(ln: Deno.TcpListener, total: number, chunk: number): Promise<void> {
  for await (const tcp of ln) {
    tcp.setNoDelay(true);
    (async () => {
      const dir = new Uint8Array(1);
      await tcp.read(dir);
      const buf = new Uint8Array(chunk);
      try {
        if (dir[0] === 1) {
          for (let got = 0; got < total;) got += (await tcp.read(buf)) ?? total;
          await tcp.write(dir);
        } else {
          for (let sent = 0; sent < total; sent += chunk) {
            for (let o = 0; o < chunk;) o += await tcp.write(buf.subarray(o));
          }
        }
        await new Promise((r) => setTimeout(r, 200));
      } finally {
        tcp.close();
      }
    })();
  }
}

// ------------------------------------------------------------------ client (child)

async function client(impl: Impl, port: number, dir: Dir, total: number, chunk: number): Promise<number> {
  const path = `/?bytes=${total}&dir=${dir}`;
  if (impl === "tcp") {
    const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
    tcp.setNoDelay(true);
    await tcp.write(new Uint8Array([dir === "up" ? 1 : 2]));
    const buf = new Uint8Array(chunk);
    const t0 = performance.now();
    if (dir === "up") {
      for (let sent = 0; sent < total; sent += chunk) {
        for (let o = 0; o < chunk;) o += await tcp.write(buf.subarray(o));
      }
      await tcp.read(buf);
    } else {
      for (let got = 0; got < total;) got += (await tcp.read(buf)) ?? total;
    }
    const dt = performance.now() - t0;
    tcp.close();
    return dt;
  }
  if (impl === "dost") {
    const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
    tcp.setNoDelay(true);
    // GOST's client escapes "?" in the path, so the parameters go in headers.
    const ws = await dialWebSocket(tcp, {
      host: `127.0.0.1:${port}`,
      path: "/",
      header: { "X-Dir": dir, "X-Bytes": String(total) },
    });
    const t0 = performance.now();
    if (dir === "up") {
      await dostSend(ws, total, chunk);
      await dostCount(ws, 1);
    } else {
      await dostCount(ws, total);
    }
    const dt = performance.now() - t0;
    ws.close();
    return dt;
  }
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
  ws.binaryType = "arraybuffer";
  await new Promise((r, j) => {
    ws.onopen = r;
    ws.onerror = j;
  });
  const t0 = performance.now();
  if (dir === "up") {
    const done = denoCount(ws, 1);
    await denoSend(ws, total, chunk);
    await done;
  } else {
    await denoCount(ws, total);
  }
  const dt = performance.now() - t0;
  ws.close();
  return dt;
}

// ------------------------------------------------------------------ main

if (Deno.args[0] === "client") {
  const [, impl, port, dir, total, chunk] = Deno.args;
  const ms = await client(impl as Impl, Number(port), dir as Dir, Number(total), Number(chunk));
  console.log(ms.toFixed(1));
  Deno.exit(0);
}

const totalMiB = Number(Deno.args[0] ?? 512);
const chunk = Number(Deno.args[1] ?? 256) * 1024;
const total = totalMiB * MiB;

const dostLn = Deno.listen({ hostname: "127.0.0.1", port: 0 });
serveDost(dostLn, chunk);
const denoPort = 20000 + Math.floor(Math.random() * 20000);
const denoSrv = serveDeno(denoPort, chunk);
const tcpLn = Deno.listen({ hostname: "127.0.0.1", port: 0 });
serveTcp(tcpLn, total, chunk);
const ports: Record<Impl, number> = { dost: dostLn.addr.port, deno: denoPort, tcp: tcpLn.addr.port };

async function run(server: Impl, clientImpl: Impl, dir: Dir): Promise<number> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      import.meta.filename!,
      "client",
      clientImpl,
      String(ports[server]),
      dir,
      String(total),
      String(chunk),
    ],
    stderr: "inherit",
  }).output();
  const ms = Number(new TextDecoder().decode(out.stdout).trim());
  return total / MiB / (ms / 1000);
}

const ROUNDS = Number(Deno.env.get("ROUNDS") ?? 5);
console.log(
  `${totalMiB} MiB, ${chunk / 1024} KiB writes, TCP loopback, MiB/s (median of ${ROUNDS}, configs interleaved)`,
);
const configs: [Impl, Impl, Dir][] = [];
for (const dir of ["up", "down"] as Dir[]) configs.push(["tcp", "tcp", dir]);
for (const server of ["dost", "deno"] as Impl[]) {
  for (const clientImpl of ["dost", "deno"] as Impl[]) {
    for (const dir of ["up", "down"] as Dir[]) configs.push([server, clientImpl, dir]);
  }
}
const results = configs.map(() => [] as number[]);
for (let round = 0; round < ROUNDS; round++) {
  for (const [i, [server, clientImpl, dir]] of configs.entries()) results[i].push(await run(server, clientImpl, dir));
}
for (const [i, [server, clientImpl, dir]] of configs.entries()) {
  const sorted = results[i].sort((a, b) => a - b);
  const label = dir === "up" ? "client→server" : "server→client";
  const name = server === "tcp" ? "raw TCP baseline" : `server=${server} client=${clientImpl}`;
  console.log(
    `${name} ${label}: ${sorted[sorted.length >> 1].toFixed(0)} (min ${sorted[0].toFixed(0)}, max ${
      sorted.at(-1)!.toFixed(0)
    })`,
  );
}
dostLn.close();
tcpLn.close();
await denoSrv.shutdown();
