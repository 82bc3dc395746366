/**
 * Idle tunnels: the memory and file descriptors a client and a server hold
 * for N concurrent idle CONNECT tunnels through `-L http://… -F relay+T://…`
 * and `-L relay+T://…`, dost and gost (when its binary is given) in the same
 * run, for relay+ws and relay+mws. Each tunnel is CONNECTed to a loopback
 * echo target and checked with a round trip before it is held; after a
 * settling pause the RSS (`VmRSS`, with its anonymous part) and the open fds
 * of both proxies are read, and every tunnel is checked again with a second
 * round trip before all are closed.
 *
 *     deno task bench -- --only idle                       (writes its section of docs/benchmarks.md)
 *     deno run --allow-all scripts/bench_idle.ts --tunnels 2000 --only mws
 *
 * The echo target runs as a child process (this script with `--echo PORT`),
 * so this process holds only the client ends. No process may open more files
 * than its hard `RLIMIT_NOFILE`, and without `CAP_SYS_RESOURCE` it cannot be
 * raised: a relay+ws tunnel costs two sockets in the client (the accepted
 * conn and its ws conn) and two in the server (the ws conn and the target
 * conn), so the tunnel count is lowered to what fits, for dost and gost
 * alike, and the report says so.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { freePort, memory, type Proc, ProcessGroup, waitListening } from "./bench_proc.ts";

/** Transports measured, as `relay+T`. */
export const IDLE_TRANSPORTS = ["ws", "mws"];
/** Tunnels held per transport and proxy. @default 10000 */
export const DEFAULT_TUNNELS = 10_000;
/** Seconds between the last tunnel opening and the reading of memory and fds. @default 10 */
export const DEFAULT_SETTLE_SECONDS = 10;
/** Tunnels opened at once. */
const OPEN_CONCURRENCY = 64;
/** Tries per tunnel before the row fails; retries are counted in the report. */
const OPEN_ATTEMPTS = 3;
/** File descriptors kept free in every process for its own needs (runtime, listeners, logs, mux sessions). */
const FD_RESERVE = 200;
const START_TIMEOUT_MS = 20_000;
/** Time one tunnel gets to open and echo. */
const TUNNEL_TIMEOUT_MS = 30_000;

const BEGIN = "<!-- idle:begin -->";
const END = "<!-- idle:end -->";

/** What one process held: RSS and its anonymous part in KiB, open fds. */
export interface Held {
  rssKiB: number;
  anonKiB: number;
  fds: number;
}

/** One proxy (dost or gost) over one transport. */
export interface IdleRow {
  transport: string;
  who: "dost" | "gost";
  tunnels: number;
  /** Tunnels that answered the second round trip after the pause. */
  alive: number;
  /** Seconds to open and check every tunnel. */
  openSeconds: number;
  /** Tunnel openings that failed and were tried again. */
  retries: number;
  client: { base: Held; held: Held };
  server: { base: Held; held: Held };
}

/** The soft and hard limit on open files of this process (children inherit them). */
export function fdLimits(): { soft: number; hard: number } {
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(Deno.readTextFileSync("/proc/self/limits"));
  const n = (s: string | undefined) => (s === undefined || s === "unlimited" ? Infinity : Number(s));
  return { soft: n(m?.[1]), hard: n(m?.[2]) };
}

/** Sockets one tunnel costs in the busiest proxy process: two per side for ws, one for a multiplexed transport. */
export function fdsPerTunnel(transport: string): number {
  return transport.startsWith("m") ? 1 : 2;
}

/** How many tunnels fit under `limit` open files per process, at most `wanted`. */
export function tunnelsThatFit(transport: string, wanted: number, limit: number): number {
  return Math.max(0, Math.min(wanted, Math.floor((limit - FD_RESERVE) / fdsPerTunnel(transport))));
}

/** Open fds of `pid` (entries of `/proc/<pid>/fd`), or NaN when it is gone. */
export function openFds(pid: number): number {
  try {
    let n = 0;
    for (const _ of Deno.readDirSync(`/proc/${pid}/fd`)) n++;
    return n;
  } catch {
    return NaN;
  }
}

function held(pid: number): Held {
  const mem = memory(pid);
  let anon = NaN;
  try {
    anon = Number(/^RssAnon:\s+(\d+) kB/m.exec(Deno.readTextFileSync(`/proc/${pid}/status`))?.[1] ?? NaN);
  } catch { /* gone */ }
  return { rssKiB: mem?.rssKiB ?? NaN, anonKiB: anon, fds: openFds(pid) };
}

/** The echo target's body, run in its own process by `--echo PORT`: echoes every conn until it ends. */
async function serveEcho(port: number): Promise<void> {
  const ln = Deno.listen({ hostname: "127.0.0.1", port });
  for await (const c of ln) {
    (async () => {
      const b = new Uint8Array(256);
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
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** Writes `word` and reads its echo back. */
async function echo(conn: Deno.Conn, word: string, buf: Uint8Array): Promise<void> {
  await conn.write(enc.encode(word));
  let got = "";
  while (got.length < word.length) {
    const n = await conn.read(buf);
    if (n === null) throw new Error(`tunnel closed after ${got.length} of ${word.length} echoed bytes`);
    got += dec.decode(buf.subarray(0, n));
  }
  if (got !== word) throw new Error(`echo mismatch: sent "${word}", got "${got}"`);
}

/** Opens one tunnel through the HTTP proxy on `proxy` to `target` and checks it with a round trip. */
async function openTunnel(proxy: number, target: number): Promise<Deno.Conn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxy });
  try {
    const buf = new Uint8Array(512);
    await conn.write(enc.encode(`CONNECT 127.0.0.1:${target} HTTP/1.1\r\nHost: 127.0.0.1:${target}\r\n\r\n`));
    let head = "";
    while (!head.includes("\r\n\r\n")) {
      const n = await conn.read(buf);
      if (n === null) throw new Error("proxy closed before its reply");
      head += dec.decode(buf.subarray(0, n));
    }
    if (!head.startsWith("HTTP/1.1 200") && !head.startsWith("HTTP/1.0 200")) {
      throw new Error(`proxy answered "${head.split("\r\n")[0]}"`);
    }
    await echo(conn, "ping", buf);
    return conn;
  } catch (err) {
    conn.close();
    throw err;
  }
}

/** Runs `fn` over `0..n-1` with `width` workers. */
async function pool(n: number, width: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(width, n) }, async () => {
    while (next < n) await fn(next++);
  }));
}

/** Options of {@linkcode benchIdle}. */
export interface IdleOptions {
  /** dost's entry point (main.ts or a bundle). */
  mainTs: string;
  /** gost's binary; without it only dost is measured. */
  gostBin?: string;
  /** @default DEFAULT_TUNNELS */
  tunnels?: number;
  /** @default DEFAULT_SETTLE_SECONDS */
  settleSeconds?: number;
  /** Transports to run (of {@linkcode IDLE_TRANSPORTS}); all when empty. */
  only?: string[];
  /** Progress lines. @default console.error */
  log?: (line: string) => void;
}

/** Runs the rows; a row that fails is reported in `errors`, limits that lowered a count in `notes`. */
export async function benchIdle(opts: IdleOptions): Promise<{ rows: IdleRow[]; errors: string[]; notes: string[] }> {
  const wanted = opts.tunnels ?? DEFAULT_TUNNELS;
  const settle = (opts.settleSeconds ?? DEFAULT_SETTLE_SECONDS) * 1000;
  const log = opts.log ?? ((l: string) => console.error(l));
  const limit = fdLimits();
  const rows: IdleRow[] = [];
  const errors: string[] = [];
  const notes: string[] = [];
  const group = new ProcessGroup();
  let procs = new ProcessGroup();
  // Ctrl-C or SIGTERM during the run: stop every child before exiting.
  const onSignal = () => {
    Promise.all([procs.stopAll(), group.stopAll()]).finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    const echoPort = freePort();
    const echoProc = group.spawn("echo", Deno.execPath(), [
      "run",
      "--allow-net",
      new URL(import.meta.url).pathname,
      "--echo",
      String(echoPort),
    ]);
    await waitListening(echoPort, echoProc, START_TIMEOUT_MS);
    for (const t of IDLE_TRANSPORTS.filter((x) => !opts.only?.length || opts.only.includes(x))) {
      // Every process inherits this limit (gost raises its soft limit to the hard one; dost and the echo use it).
      const n = tunnelsThatFit(t, wanted, Math.min(limit.hard, limit.soft));
      if (n < wanted) {
        notes.push(
          `relay+${t}: ${n} tunnels, not ${wanted}: the open-files limit is ${limit.soft} (hard ${limit.hard}) ` +
            `per process and a tunnel costs ${fdsPerTunnel(t)} sockets in the client and in the server`,
        );
      }
      for (const who of opts.gostBin ? ["dost", "gost"] as const : ["dost"] as const) {
        procs = new ProcessGroup();
        const conns: Deno.Conn[] = [];
        try {
          const cmd = (name: string, args: string[]): Proc =>
            who === "gost"
              ? procs.spawn(name, opts.gostBin!, args)
              : procs.spawn(name, Deno.execPath(), ["run", "--unstable-net", "--allow-all", opts.mainTs, ...args], {
                DOST_SHUTDOWN_GRACE: "1s",
              });
          const [s, c] = [freePort(), freePort()];
          const server = cmd("server", ["-L", `relay+${t}://127.0.0.1:${s}`]);
          await waitListening(s, server, START_TIMEOUT_MS);
          const client = cmd("client", ["-L", `http://127.0.0.1:${c}`, "-F", `relay+${t}://127.0.0.1:${s}`]);
          await waitListening(c, client, START_TIMEOUT_MS);
          await new Promise((r) => setTimeout(r, 1000));
          const base = { client: held(client.pid), server: held(server.pid) };
          log(`bench idle: relay+${t} (${who}): opening ${n} tunnels`);
          const t0 = performance.now();
          const failures: string[] = [];
          let retries = 0;
          const open = async (i: number) => {
            for (let attempt = 1; !failures.length; attempt++) {
              try {
                conns[i] = await withTimeout(openTunnel(c, echoPort), TUNNEL_TIMEOUT_MS, `tunnel ${i}`);
                break;
              } catch (err) {
                if (attempt < OPEN_ATTEMPTS) retries++;
                else failures.push(`tunnel ${i}: ${(err as Error).message}`);
              }
            }
            if (i % 1000 === 999) log(`bench idle: relay+${t} (${who}): ${i + 1} open`);
          };
          // The first tunnel alone (it sets up a mux session), then the rest in parallel.
          await open(0);
          await pool(n - 1, OPEN_CONCURRENCY, (i) => open(i + 1));
          if (failures.length) throw new Error(`${failures.length} tunnel(s) failed; first: ${failures[0]}`);
          const openSeconds = (performance.now() - t0) / 1000;
          await new Promise((r) => setTimeout(r, settle));
          const now = { client: held(client.pid), server: held(server.pid) };
          let alive = 0;
          const buf = new Uint8Array(64);
          await pool(conns.length, OPEN_CONCURRENCY, async (i) => {
            try {
              await withTimeout(echo(conns[i], "pong", buf.slice()), TUNNEL_TIMEOUT_MS, `tunnel ${i}`);
              alive++;
            } catch { /* counted as not alive */ }
          });
          log(
            `bench idle: relay+${t} (${who}): ${alive}/${n} alive; client ${now.client.rssKiB} KiB ` +
              `${now.client.fds} fds, server ${now.server.rssKiB} KiB ${now.server.fds} fds`,
          );
          rows.push({
            transport: t,
            who,
            tunnels: n,
            alive,
            openSeconds,
            retries,
            client: { base: base.client, held: now.client },
            server: { base: base.server, held: now.server },
          });
        } catch (err) {
          errors.push(`relay+${t} (${who}): ${(err as Error).message}`);
        } finally {
          for (const conn of conns) {
            try {
              conn?.close();
            } catch { /* closed */ }
          }
          await procs.stopAll();
        }
      }
    }
  } finally {
    await procs.stopAll();
    await group.stopAll();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
  return { rows, errors, notes };
}

const mib = (kib: number) => (kib / 1024).toFixed(0);
const perTunnel = (row: IdleRow, side: "client" | "server", key: "rssKiB" | "fds") =>
  (row[side].held[key] - row[side].base[key]) / row.tunnels;

/** The rows as a markdown table, and a dost-vs-gost line per transport. */
export function idleMarkdown(rows: IdleRow[]): string {
  const lines = [
    "| transport | proxy | tunnels (alive) | client RSS MiB before → held (anon) | server RSS MiB before → held (anon) | " +
    "client fds | server fds | " +
    "RSS KiB / tunnel (client + server) | fds / tunnel | open s (retries) |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const r of rows) {
    const [kc, ks] = [perTunnel(r, "client", "rssKiB"), perTunnel(r, "server", "rssKiB")];
    const fds = perTunnel(r, "client", "fds") + perTunnel(r, "server", "fds");
    lines.push(
      `| relay+${r.transport} | ${r.who} | ${r.tunnels} (${r.alive}) | ` +
        `${mib(r.client.base.rssKiB)} → ${mib(r.client.held.rssKiB)} (${mib(r.client.held.anonKiB)}) | ` +
        `${mib(r.server.base.rssKiB)} → ${mib(r.server.held.rssKiB)} (${mib(r.server.held.anonKiB)}) | ` +
        `${r.client.held.fds} | ${r.server.held.fds} | ` +
        `${(kc + ks).toFixed(1)} (${kc.toFixed(1)} + ${ks.toFixed(1)}) | ${fds.toFixed(2)} | ` +
        `${r.openSeconds.toFixed(1)} (${r.retries}) |`,
    );
  }
  lines.push("");
  for (const t of [...new Set(rows.map((r) => r.transport))]) {
    const d = rows.find((r) => r.transport === t && r.who === "dost");
    const g = rows.find((r) => r.transport === t && r.who === "gost");
    if (!d || !g) continue;
    const rss = (r: IdleRow) => r.client.held.rssKiB + r.server.held.rssKiB;
    const fds = (r: IdleRow) => r.client.held.fds + r.server.held.fds;
    const kib = (r: IdleRow) => perTunnel(r, "client", "rssKiB") + perTunnel(r, "server", "rssKiB");
    const fdt = (r: IdleRow) => perTunnel(r, "client", "fds") + perTunnel(r, "server", "fds");
    const verdict = (ok: boolean) => (ok ? "at or under gost" : "**above gost**");
    lines.push(
      `- relay+${t} (client + server): RSS dost ${mib(rss(d))} MiB, gost ${mib(rss(g))} MiB ` +
        `(dost/gost ${(rss(d) / rss(g)).toFixed(2)}): ${verdict(rss(d) <= rss(g))}; fds dost ${fds(d)}, ` +
        `gost ${fds(g)}: ${verdict(fds(d) <= fds(g))}; per tunnel dost ${kib(d).toFixed(1)} KiB and ` +
        `${fdt(d).toFixed(2)} fds, gost ${kib(g).toFixed(1)} KiB and ${fdt(g).toFixed(2)} fds` +
        (d.alive === d.tunnels ? "" : `; **${d.tunnels - d.alive} dost tunnels died while idle**`),
    );
  }
  return lines.join("\n");
}

/** Writes `body` between the idle markers of `path`, adding them after the bench section the first time. */
export async function writeIdleSection(path: string, body: string): Promise<void> {
  const text = await Deno.readTextFile(path);
  const a = text.indexOf(BEGIN);
  const b = text.indexOf(END);
  let out: string;
  if (a >= 0 && b > a) out = `${text.slice(0, a + BEGIN.length)}\n${body}\n${text.slice(b)}`;
  else {
    const block = `\n## Idle tunnels\n\nWritten by \`deno task bench -- --only idle\` (scripts/bench_idle.ts).\n\n` +
      `${BEGIN}\n${body}\n${END}\n`;
    const at = text.indexOf("<!-- bench:end -->");
    if (at < 0) out = `${text.trimEnd()}\n${block}`;
    else {
      const eol = text.indexOf("\n", at) + 1 || text.length;
      out = text.slice(0, eol) + block + text.slice(eol);
    }
  }
  await Deno.writeTextFile(path, out);
}

/** The section text: a heading line, the method, the table, notes and errors. */
export function idleSection(result: { rows: IdleRow[]; errors: string[]; notes: string[] }, settle: number): string {
  return [
    `Measured ${
      new Date().toISOString().replace(/\.\d+Z$/, "Z")
    }: N concurrent idle CONNECT tunnels through a client ` +
    "`-L http://127.0.0.1:A -F relay+T://127.0.0.1:R` and a server `-L relay+T://127.0.0.1:R` to a loopback echo " +
    "target (its own process), opened 64 at a time, each checked with a 4-byte round trip, then held; after " +
    `${settle} s idle the client's and server's \`VmRSS\` (anonymous part in brackets) and \`/proc/PID/fd\` ` +
    "count are read, and every tunnel is checked again (alive). Per tunnel = (held − before the first tunnel) ÷ N.",
    "",
    idleMarkdown(result.rows),
    ...result.notes.map((n) => `- note: ${n}`),
    ...result.errors.map((e) => `- error: ${e}`),
  ].join("\n");
}

if (import.meta.main) {
  if (Deno.args[0] === "--echo") {
    await serveEcho(Number(Deno.args[1]));
  } else {
    const { values } = parseArgs({
      args: Deno.args,
      options: {
        tunnels: { type: "string" },
        settle: { type: "string" },
        only: { type: "string" },
        entry: { type: "string" },
        gost: { type: "string" },
      },
    });
    const root = new URL("../", import.meta.url).pathname;
    const settle = Number(values.settle ?? DEFAULT_SETTLE_SECONDS);
    const gost = values.gost ?? Deno.env.get("GOST_BIN") ?? `${root}../shared/bin/gost`;
    const result = await benchIdle({
      mainTs: values.entry ?? `${root}main.ts`,
      gostBin: gost === "none" ? undefined : gost,
      tunnels: Number(values.tunnels ?? DEFAULT_TUNNELS),
      settleSeconds: settle,
      only: values.only?.split(","),
    });
    console.log(idleSection(result, settle));
    Deno.exit(result.errors.length ? 1 : 0);
  }
}
