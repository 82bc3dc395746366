/**
 * Per-connection cost, dost and gost (when its binary is given) alternating
 * in the same run; connections per second and p50/p99 latency:
 * - sequential CONNECT round trips (connect, CONNECT, 4-byte echo, close)
 *   through a client `-L http://… -F relay+T://…` and a server
 *   `-L relay+T://…`, for each transport;
 * - concurrent: 64 clients opening and closing tunnels as fast as they can
 *   for 10 s through an http and a socks5 service, alone and with a
 *   relay+ws / relay+mws hop.
 *
 *     deno task bench -- --only conn     (gost from GOST_BIN or ../shared/bin/gost)
 *
 * @module
 */
import { freePort } from "../transports/_testing.ts";
import { ProcessGroup, waitListening } from "./bench_proc.ts";

/** Transports measured, as `relay+T` (`grpc` runs with `grpcInsecure=true`, like gost's h2c-style gRPC). */
export const CONN_TRANSPORTS = [
  "tcp",
  "tls",
  "ws",
  "wss",
  "mws",
  "mwss",
  "h2c",
  "h2",
  "grpc",
  "pht",
  "h3",
  "mtcp",
  "mtls",
  "quic",
  "wt",
  "ohttp",
  "otls",
];
/** Concurrent rows: the service clients talk to, and the hop behind it (none: the service dials the target). */
export const CONCURRENT_SETUPS: { proxy: "http" | "socks5"; hop?: string }[] = [
  { proxy: "http" },
  { proxy: "socks5" },
  { proxy: "http", hop: "relay+ws" },
  { proxy: "socks5", hop: "relay+ws" },
  { proxy: "http", hop: "relay+mws" },
  { proxy: "socks5", hop: "relay+mws" },
];
/** Clients of a concurrent row. */
export const CONCURRENCY = 64;
/** Seconds a concurrent row runs. */
export const CONCURRENT_SECONDS = 10;
/** Round trips measured per transport and proxy. @default 1000 */
export const DEFAULT_COUNT = 1000;
/** Round trips made first and not counted (session set-up, JIT). */
const WARMUP = 50;
const START_TIMEOUT_MS = 20_000;

export interface ConnRow {
  /** A transport (sequential rows), or "proxy → hop" (concurrent rows). */
  transport: string;
  /** Sequential round trips, or {@linkcode CONCURRENCY} clients at once. */
  kind: "sequential" | "concurrent";
  who: "dost" | "gost";
  rate: number;
  p50: number;
  p99: number;
}

const enc = new TextEncoder();

/** An echo server on loopback. */
function startEcho(): { port: number; close(): void } {
  const ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  (async () => {
    for await (const c of ln) {
      (async () => {
        const b = new Uint8Array(64);
        try {
          for (;;) {
            const n = await c.read(b);
            if (n === null) break;
            await c.write(b.subarray(0, n));
          }
        } catch { /* peer gone */ }
        try {
          c.close();
        } catch { /* closed */ }
      })();
    }
  })().catch(() => {});
  return { port: (ln.addr as Deno.NetAddr).port, close: () => ln.close() };
}

/** Reads exactly `n` bytes into `buf`. */
async function readN(conn: Deno.Conn, buf: Uint8Array, n: number, what: string): Promise<void> {
  for (let got = 0; got < n;) {
    const r = await conn.read(buf.subarray(got, n));
    if (r === null) throw new Error(`proxy closed before ${what}`);
    got += r;
  }
}

/** A SOCKS5 CONNECT to 127.0.0.1:`target` (no auth), up to the reply. */
async function socks5Connect(conn: Deno.Conn, target: number, buf: Uint8Array): Promise<void> {
  await conn.write(new Uint8Array([5, 1, 0]));
  await readN(conn, buf, 2, "its method choice");
  if (buf[0] !== 5 || buf[1] !== 0) throw new Error(`proxy chose method ${buf[1]}`);
  await conn.write(new Uint8Array([5, 1, 0, 1, 127, 0, 0, 1, target >> 8, target & 0xff]));
  await readN(conn, buf, 10, "its reply");
  if (buf[1] !== 0) throw new Error(`proxy replied ${buf[1]}`);
}

/** An HTTP CONNECT to 127.0.0.1:`target`, up to the end of the reply head. */
async function httpConnect(conn: Deno.Conn, target: number, buf: Uint8Array): Promise<void> {
  await conn.write(enc.encode(`CONNECT 127.0.0.1:${target} HTTP/1.1\r\nHost: x\r\n\r\n`));
  let head = "";
  while (!head.includes("\r\n\r\n")) {
    const n = await conn.read(buf);
    if (n === null) throw new Error("proxy closed before its reply");
    head += new TextDecoder().decode(buf.subarray(0, n));
  }
  if (!head.startsWith("HTTP/1.1 200")) throw new Error(`proxy answered ${head.split("\r\n")[0]}`);
}

/** One CONNECT round trip (connect, CONNECT, 4-byte echo, close); resolves to its milliseconds. */
async function roundTrip(
  proxy: number,
  target: number,
  buf: Uint8Array,
  protocol: "http" | "socks5" = "http",
): Promise<number> {
  const t0 = performance.now();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxy });
  try {
    if (protocol === "socks5") await socks5Connect(conn, target, buf);
    else await httpConnect(conn, target, buf);
    await conn.write(enc.encode("ping"));
    for (let got = 0; got < 4;) {
      const n = await conn.read(buf);
      if (n === null) throw new Error("tunnel closed before the echo");
      got += n;
    }
  } finally {
    conn.close();
  }
  return performance.now() - t0;
}

/** Latencies (ms) as a row. */
function row(transport: string, kind: ConnRow["kind"], who: ConnRow["who"], lat: number[], seconds?: number): ConnRow {
  lat.sort((a, b) => a - b);
  const total = seconds ?? lat.reduce((a, b) => a + b, 0) / 1000;
  return {
    transport,
    kind,
    who,
    rate: lat.length / total,
    p50: lat[Math.floor(lat.length * 0.5)],
    p99: lat[Math.floor(lat.length * 0.99)],
  };
}

/** `clients` loops of round trips for `seconds`; every latency (ms). A failed round trip fails the row. */
async function concurrentRoundTrips(
  proxy: number,
  target: number,
  protocol: "http" | "socks5",
  clients: number,
  seconds: number,
): Promise<number[]> {
  const lat: number[] = [];
  const end = performance.now() + seconds * 1000;
  let failure: unknown;
  await Promise.all(Array.from({ length: clients }, async () => {
    const buf = new Uint8Array(512);
    try {
      while (failure === undefined && performance.now() < end) lat.push(await roundTrip(proxy, target, buf, protocol));
    } catch (err) {
      failure ??= err;
    }
  }));
  if (failure !== undefined) throw failure;
  return lat;
}

/** Runs the rows; a row that fails on one side is reported in `errors`. */
export async function benchConn(
  opts: { mainTs: string; gostBin?: string; count?: number; seconds?: number; only?: string[] },
): Promise<{ rows: ConnRow[]; errors: string[] }> {
  const count = opts.count ?? DEFAULT_COUNT;
  const seconds = opts.seconds ?? CONCURRENT_SECONDS;
  const echo = startEcho();
  const rows: ConnRow[] = [];
  const errors: string[] = [];
  const buf = new Uint8Array(512);
  const impls = opts.gostBin ? ["dost", "gost"] as const : ["dost"] as const;
  const wanted = (name: string) => !opts.only?.length || opts.only.includes(name);

  /** Starts `who`'s processes (each `[port, args]`, in order) and runs `fn`, stopping them however it ends. */
  const measure = async (who: ConnRow["who"], name: string, procs: [number, string[]][], fn: () => Promise<void>) => {
    const group = new ProcessGroup();
    try {
      for (const [port, args] of procs) {
        const p = who === "gost"
          ? group.spawn(who, opts.gostBin!, args)
          : group.spawn(who, Deno.execPath(), ["run", "--unstable-net", "--allow-all", opts.mainTs, ...args], {
            DOST_SHUTDOWN_GRACE: "1s",
          });
        await waitListening(port, p, START_TIMEOUT_MS);
      }
      await fn();
    } catch (err) {
      errors.push(`${name} (${who}): ${(err as Error).message}`);
    } finally {
      await group.stopAll();
    }
  };

  try {
    for (const t of CONN_TRANSPORTS.filter(wanted)) {
      const scheme = t === "grpc" ? "relay+grpc" : `relay+${t}`;
      const query = t === "grpc" ? "?grpcInsecure=true" : "";
      for (const who of impls) {
        const [s, c] = [freePort(), freePort()];
        await measure(who, t, [
          [s, ["-L", `${scheme}://127.0.0.1:${s}${query}`]],
          [c, ["-L", `http://127.0.0.1:${c}`, "-F", `${scheme}://127.0.0.1:${s}${query}`]],
        ], async () => {
          const lat: number[] = [];
          for (let i = 0; i < count + WARMUP; i++) {
            const ms = await roundTrip(c, echo.port, buf);
            if (i >= WARMUP) lat.push(ms);
          }
          rows.push(row(t, "sequential", who, lat));
        });
      }
    }
    for (const setup of CONCURRENT_SETUPS) {
      const name = setup.hop ? `${setup.proxy} → ${setup.hop}` : setup.proxy;
      if (!wanted(name) && !wanted("concurrent")) continue;
      for (const who of impls) {
        const [s, c] = [freePort(), freePort()];
        const procs: [number, string[]][] = setup.hop
          ? [
            [s, ["-L", `${setup.hop}://127.0.0.1:${s}`]],
            [c, ["-L", `${setup.proxy}://127.0.0.1:${c}`, "-F", `${setup.hop}://127.0.0.1:${s}`]],
          ]
          : [[c, ["-L", `${setup.proxy}://127.0.0.1:${c}`]]];
        await measure(who, name, procs, async () => {
          await concurrentRoundTrips(c, echo.port, setup.proxy, CONCURRENCY, 1); // warm-up
          const lat = await concurrentRoundTrips(c, echo.port, setup.proxy, CONCURRENCY, seconds);
          rows.push(row(name, "concurrent", who, lat, seconds));
        });
      }
    }
  } finally {
    echo.close();
  }
  return { rows, errors };
}

/** The rows as markdown tables (sequential, then concurrent), dost beside gost. */
export function connMarkdown(rows: ConnRow[]): string {
  const out = [table(rows.filter((r) => r.kind === "sequential"), "transport")];
  const concurrent = rows.filter((r) => r.kind === "concurrent");
  if (concurrent.length) {
    out.push(
      "",
      `Concurrent: ${CONCURRENCY} clients opening and closing tunnels for ${CONCURRENT_SECONDS} s (conns/s: completed ` +
        "round trips per second; latency of each round trip):",
      "",
      table(concurrent, "service → hop"),
    );
  }
  return out.join("\n");
}

function table(rows: ConnRow[], first: string): string {
  const lines = [
    `| ${first} | gost conns/s | dost conns/s | dost/gost | p50 ms gost / dost | p99 ms gost / dost |`,
    "| --- | ---: | ---: | ---: | --- | --- |",
  ];
  for (const t of [...new Set(rows.map((r) => r.transport))]) {
    const d = rows.find((r) => r.transport === t && r.who === "dost");
    const g = rows.find((r) => r.transport === t && r.who === "gost");
    const f = (n: number | undefined, k = 0) => (n === undefined ? "–" : n.toFixed(k));
    lines.push(
      `| ${t} | ${f(g?.rate)} | ${f(d?.rate)} | ${d && g ? (d.rate / g.rate).toFixed(2) : "–"} | ` +
        `${f(g?.p50, 2)} / ${f(d?.p50, 2)} | ${f(g?.p99, 2)} / ${f(d?.p99, 2)} |`,
    );
  }
  return lines.join("\n");
}
