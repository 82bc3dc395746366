/**
 * Requests per second through a tunnel entrypoint: an HTTP origin, a tunnel
 * server with an entrypoint and a client exposing the origin (dost, and gost
 * 3.2.6 when `GOST_BIN` is set), then `--workers` HTTP/1.1 clients for
 * `--seconds`, once on kept-alive connections and once with a new connection
 * per request (each a new tunnel stream); then the throughput of one
 * `--download` MiB (default 1024) download through the entrypoint with curl.
 *
 * The kept-alive mode counts some failed requests for gost and dost alike:
 * the second request on a connection sometimes meets a closed connection.
 * It comes from the Deno.serve origin behind a tunnel (a Python origin gives
 * none through the same dost pair), so the failures are reported, not fatal.
 *
 *   deno task bench -- --only tunnel                 (a side section of the benchmark)
 *   deno run --unstable-net -A scripts/bench_tunnel.ts [--seconds 5] [--workers 16] [--download 1024]
 *
 * @module
 */
let SECONDS = 5;
let WORKERS = 16;
let DOWNLOAD_MIB = 1024;
const ID = "4d21094e-b74c-4916-86c1-d9fa36ea677b";
const enc = new TextEncoder();

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const p = (l.addr as Deno.NetAddr).port;
  l.close();
  return p;
}

function spawn(cmd: string, a: string[]): Deno.ChildProcess {
  return new Deno.Command(cmd, { args: a, stdin: "null", stdout: "null", stderr: "null" }).spawn();
}

/** One GET with `Host: app.test` on `conn`; resolves when the whole response (Content-Length) is read. */
async function get(conn: Deno.Conn, buf: Uint8Array, close: boolean): Promise<void> {
  await conn.write(enc.encode(`GET / HTTP/1.1\r\nHost: app.test\r\n${close ? "Connection: close\r\n" : ""}\r\n`));
  let have = 0;
  let need = -1;
  for (;;) {
    const n = await conn.read(buf.subarray(have));
    if (n === null) {
      if (need < 0 || have < need) throw new Error("connection closed mid-response");
      return;
    }
    have += n;
    if (need < 0) {
      const text = new TextDecoder().decode(buf.subarray(0, have));
      const end = text.indexOf("\r\n\r\n");
      if (end >= 0) {
        const m = /content-length: *(\d+)/i.exec(text.slice(0, end));
        need = end + 4 + Number(m?.[1] ?? 0);
      }
    }
    if (need >= 0 && have >= need) return;
  }
}

let errors = 0;

async function run(port: number, keepAlive: boolean): Promise<number> {
  let count = 0;
  const until = performance.now() + SECONDS * 1000;
  await Promise.all(Array.from({ length: WORKERS }, async () => {
    const buf = new Uint8Array(65536);
    let conn: Deno.Conn | undefined;
    while (performance.now() < until) {
      conn ??= await Deno.connect({ hostname: "127.0.0.1", port });
      try {
        await get(conn, buf, !keepAlive);
        count++;
      } catch (_e) {
        // a failed request is not counted; start again on a new connection
        conn.close();
        conn = undefined;
        errors++;
        continue;
      }
      if (!keepAlive) {
        conn.close();
        conn = undefined;
      }
    }
    conn?.close();
  }));
  return count / SECONDS;
}

async function waitUp(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      const buf = new Uint8Array(65536);
      await get(c, buf, true);
      c.close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error("the tunnel never came up");
}

const CHUNK = new Uint8Array(1 << 20).map((_, i) => i & 0xff);

/** `mib` MiB of a repeating pattern, streamed. */
function bigBody(mib: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(c) {
      if (sent++ < mib) c.enqueue(CHUNK.slice());
      else c.close();
    },
  });
}

/** Seconds and Gbit/s of one download of `/big` through the entrypoint (curl, byte count checked). */
async function download(port: number): Promise<string> {
  const out = await new Deno.Command("curl", {
    args: [
      "-s",
      "-o",
      "/dev/null",
      "-w",
      "%{size_download} %{time_total}",
      "--resolve",
      `app.test:${port}:127.0.0.1`,
      `http://app.test:${port}/big`,
    ],
    stdout: "piped",
    stderr: "null",
  }).output();
  const [size, seconds] = new TextDecoder().decode(out.stdout).trim().split(" ").map(Number);
  if (size !== DOWNLOAD_MIB << 20) return `failed (${size} of ${DOWNLOAD_MIB << 20} bytes)`;
  return `${DOWNLOAD_MIB} MiB in ${seconds.toFixed(2)} s, ${(size * 8 / seconds / 1e9).toFixed(2)} Gbit/s`;
}

/** Options of {@linkcode benchTunnel}. */
export interface TunnelBenchOptions {
  mainTs: string;
  gostBin?: string;
  seconds?: number;
  workers?: number;
  downloadMib?: number;
}

/** Runs dost's (and gost's) rows; resolves to a markdown section and whether every row ran. */
export async function benchTunnel(opts: TunnelBenchOptions): Promise<{ text: string; ok: boolean }> {
  SECONDS = opts.seconds ?? 5;
  WORKERS = opts.workers ?? 16;
  DOWNLOAD_MIB = opts.downloadMib ?? 1024;
  const origin = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) =>
      new URL(req.url).pathname === "/big"
        ? new Response(bigBody(DOWNLOAD_MIB), { headers: { "content-length": String(DOWNLOAD_MIB << 20) } })
        : new Response("hello from the origin\n"),
  );
  const impls: [string, string[]][] = [["dost", [Deno.execPath(), "run", "--unstable-net", "-A", opts.mainTs]]];
  if (opts.gostBin) impls.push(["gost", [opts.gostBin]]);
  const lines = [
    `### Tunnel entrypoint: ${WORKERS} HTTP/1.1 clients for ${SECONDS} s through \`-L tunnel://…?entrypoint=…\` ` +
    "to a client `-L rtcp://:0/origin -F tunnel://…`, and one download",
    "",
    "| impl | req/s kept-alive (failed) | req/s new connection each (failed) | one download |",
    "| --- | ---: | ---: | --- |",
  ];
  let ok = true;
  try {
    for (const [name, cmd] of impls) {
      const [s, e] = [freePort(), freePort()];
      const server = spawn(cmd[0], [
        ...cmd.slice(1),
        "-L",
        `tunnel://127.0.0.1:${s}?entrypoint=127.0.0.1:${e}&tunnel=app.test:${ID}`,
      ]);
      await new Promise((r) => setTimeout(r, 1500));
      const client = spawn(cmd[0], [
        ...cmd.slice(1),
        "-L",
        `rtcp://:0/127.0.0.1:${origin.addr.port}`,
        "-F",
        `tunnel://127.0.0.1:${s}?tunnel.id=${ID}`,
      ]);
      try {
        await waitUp(e);
        errors = 0;
        const ka = await run(e, true);
        const kaErrors = errors;
        errors = 0;
        const fresh = await run(e, false);
        const dl = await download(e);
        if (dl.startsWith("failed")) ok = false;
        lines.push(`| ${name} | ${ka.toFixed(0)} (${kaErrors}) | ${fresh.toFixed(0)} (${errors}) | ${dl} |`);
      } catch (err) {
        ok = false;
        lines.push(`| ${name} | error: ${(err as Error).message} | | |`);
      } finally {
        for (const p of [client, server]) {
          try {
            p.kill("SIGTERM");
          } catch { /* gone */ }
          await p.status;
        }
      }
    }
  } finally {
    await origin.shutdown();
  }
  return { text: lines.join("\n"), ok };
}

if (import.meta.main) {
  const flag = (name: string, def: number) => {
    const i = Deno.args.indexOf(`--${name}`);
    return i >= 0 ? Number(Deno.args[i + 1]) : def;
  };
  const r = await benchTunnel({
    mainTs: new URL("../main.ts", import.meta.url).pathname,
    gostBin: Deno.env.get("GOST_BIN"),
    seconds: flag("seconds", 5),
    workers: flag("workers", 16),
    downloadMib: flag("download", 1024),
  });
  console.log(r.text);
  if (!r.ok) Deno.exit(1);
}
