/**
 * Per-connection cost: sequential CONNECT round trips (connect, CONNECT,
 * 4-byte echo, close) through a client `-L http://… -F relay+T://…` and a
 * server `-L relay+T://…`, for each transport, dost and gost (when its
 * binary is given) alternating in the same run. Reports connections per
 * second and p50/p99 latency.
 *
 *     deno task bench -- --only conn     (gost from GOST_BIN or ../shared/bin/gost)
 *
 * @module
 */
import { freePort } from "../transports/_testing.ts";
import { ProcessGroup, waitListening } from "./bench_proc.ts";

/** Transports measured, as `relay+T` (`grpc` runs with `grpcInsecure=true`, like gost's h2c-style gRPC). */
export const CONN_TRANSPORTS = ["tcp", "tls", "ws", "wss", "mws", "mwss", "h2c", "h2", "grpc"];
/** Round trips measured per transport and proxy. @default 1000 */
export const DEFAULT_COUNT = 1000;
/** Round trips made first and not counted (session set-up, JIT). */
const WARMUP = 50;
const START_TIMEOUT_MS = 20_000;

export interface ConnRow {
  transport: string;
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

/** One CONNECT round trip; resolves to its milliseconds. */
async function roundTrip(proxy: number, target: number, buf: Uint8Array): Promise<number> {
  const t0 = performance.now();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxy });
  try {
    await conn.write(enc.encode(`CONNECT 127.0.0.1:${target} HTTP/1.1\r\nHost: x\r\n\r\n`));
    let head = "";
    while (!head.includes("\r\n\r\n")) {
      const n = await conn.read(buf);
      if (n === null) throw new Error("proxy closed before its reply");
      head += new TextDecoder().decode(buf.subarray(0, n));
    }
    if (!head.startsWith("HTTP/1.1 200")) throw new Error(`proxy answered ${head.split("\r\n")[0]}`);
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

/** Runs the rows; a transport that fails on one side is reported in `errors`. */
export async function benchConn(
  opts: { mainTs: string; gostBin?: string; count?: number; only?: string[] },
): Promise<{ rows: ConnRow[]; errors: string[] }> {
  const count = opts.count ?? DEFAULT_COUNT;
  const echo = startEcho();
  const rows: ConnRow[] = [];
  const errors: string[] = [];
  const buf = new Uint8Array(512);
  try {
    for (const t of CONN_TRANSPORTS.filter((x) => !opts.only?.length || opts.only.includes(x))) {
      const scheme = t === "grpc" ? "relay+grpc" : `relay+${t}`;
      const query = t === "grpc" ? "?grpcInsecure=true" : "";
      for (const who of opts.gostBin ? ["dost", "gost"] as const : ["dost"] as const) {
        const group = new ProcessGroup();
        try {
          const cmd = (args: string[]) =>
            who === "gost"
              ? group.spawn(who, opts.gostBin!, args)
              : group.spawn(who, Deno.execPath(), ["run", "--unstable-net", "--allow-all", opts.mainTs, ...args], {
                DOST_SHUTDOWN_GRACE: "1s",
              });
          const [s, c] = [freePort(), freePort()];
          await waitListening(s, cmd(["-L", `${scheme}://127.0.0.1:${s}${query}`]), START_TIMEOUT_MS);
          await waitListening(
            c,
            cmd(["-L", `http://127.0.0.1:${c}`, "-F", `${scheme}://127.0.0.1:${s}${query}`]),
            START_TIMEOUT_MS,
          );
          const lat: number[] = [];
          for (let i = 0; i < count + WARMUP; i++) {
            const ms = await roundTrip(c, echo.port, buf);
            if (i >= WARMUP) lat.push(ms);
          }
          lat.sort((a, b) => a - b);
          const seconds = lat.reduce((a, b) => a + b, 0) / 1000;
          rows.push({
            transport: t,
            who,
            rate: count / seconds,
            p50: lat[Math.floor(count * 0.5)],
            p99: lat[Math.floor(count * 0.99)],
          });
        } catch (err) {
          errors.push(`${t} (${who}): ${(err as Error).message}`);
        } finally {
          await group.stopAll();
        }
      }
    }
  } finally {
    echo.close();
  }
  return { rows, errors };
}

/** The rows as a markdown table, dost beside gost. */
export function connMarkdown(rows: ConnRow[]): string {
  const lines = [
    "| transport | gost conns/s | dost conns/s | dost/gost | p50 ms gost / dost | p99 ms gost / dost |",
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
