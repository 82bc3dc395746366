/**
 * `deno task soak`: a long mixed load through one dost client and one dost
 * server, sampling their memory and file descriptors, to show that neither
 * grows under steady use (#15).
 *
 * ```sh
 * deno task soak                              # 60 minutes, 100 clients, 10,000 connections a minute
 * deno task soak -- --minutes 3               # a short run
 * deno task soak -- --minutes 10 --rate 3000 --clients 50 --out /tmp/soak.md
 * ```
 *
 * The server is one dost with five relay listeners (ws, mws, h2c, grpc with
 * `grpcInsecure`, pht); the client is one dost whose five services (http for
 * ws, h2c and pht; socks5 for mws and grpc) each chain through one of them.
 * Both serve Prometheus metrics on loopback, which is where the V8 heap
 * (`deno_heap_used_bytes`) comes from. The target is this script run as a
 * child (`--target PORT`) so its work does not distort the load generator,
 * which keeps `--clients` connections going (each client sticks to one
 * transport), opens `--rate` new connections a minute, and per 100
 * connections makes one deliberate cut mid-transfer, five bulk transfers of
 * 1–8 MiB (upload or download) and 94 small echo exchanges (1–4 rounds of
 * 1 B–16 KiB). Every byte is checked against a deterministic pattern; a
 * download must also end with the target's close. Every `--sample` seconds
 * it reads `VmRSS` and `/proc/PID/fd` of both proxies and scrapes their heap.
 *
 * It writes a markdown report (`--out`, default `docs/soak.md`) with the
 * figures, a per-minute table, least-squares slopes over the last 30 minutes
 * (or the last half of a shorter run), pass/fail against the targets, and
 * an SVG chart beside it (`soak.svg`). Exit code 0 when every target is met.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { pattern, readExactly } from "../transports/_testing.ts";
import { freePort, memory, type Proc, ProcessGroup, waitListening } from "./bench_proc.ts";

/** Run length in minutes. @default 60 */
export const DEFAULT_MINUTES = 60;
/** Concurrent clients. @default 100 */
export const DEFAULT_CLIENTS = 100;
/** New connections a minute, over all clients. @default 10000 */
export const DEFAULT_RATE = 10_000;
/** Seconds between samples. @default 10 */
export const DEFAULT_SAMPLE_SECONDS = 10;
/** One connection in this many is cut mid-transfer. */
export const CUT_EVERY = 100;
/** One connection in this many is a bulk transfer (the cuts aside). */
export const BULK_EVERY = 20;
/** Slope window: the last this many minutes, or the last half of a shorter run. */
export const WINDOW_MINUTES = 30;
/** Target: RSS and heap slope under this many MiB per 10 minutes over the window. */
export const MEMORY_SLOPE_LIMIT = 1;
/**
 * Target: fd slope under this many per 10 minutes. The count moves with the connections in flight (±tens between
 * samples), so "flat" allows a few fds of fitting noise; a leak of one fd in 10,000 connections is 10 per 10 minutes.
 */
export const FD_SLOPE_LIMIT = 10;
/** Bulk transfer sizes. */
const BULK_MIN = 1 << 20;
const BULK_MAX = 8 << 20;
/** Small exchange sizes and rounds. */
const SMALL_MAX = 16 << 10;
const SMALL_ROUNDS = 4;
/** Time one connection gets, set-up to close. */
const CONN_TIMEOUT_MS = 120_000;
/** Time the clients get to finish their last connection when the run ends. */
const DRAIN_MS = CONN_TIMEOUT_MS + 10_000;
const START_TIMEOUT_MS = 30_000;
/** The shared data pattern: every transfer is a slice of it. */
const PATTERN_SIZE = 16 << 20;
const PATTERN_SEED = 0x50a6;

const MAGIC = 0x534f414b; // "SOAK"
const OP_ECHO = 1;
const OP_DOWNLOAD = 2;
const OP_UPLOAD = 3;

/** A transport under test: its relay listener on the server and the client service that chains through it. */
interface Transport {
  name: string;
  /** Server `-L` scheme and query. */
  scheme: string;
  query: string;
  /** Client service handler: how the load generator asks for a tunnel. */
  proxy: "http" | "socks5";
}

/** The transports, one relay listener each; clients are spread over them evenly. */
export const TRANSPORTS: Transport[] = [
  { name: "ws", scheme: "relay+ws", query: "", proxy: "http" },
  { name: "mws", scheme: "relay+mws", query: "", proxy: "socks5" },
  { name: "h2c", scheme: "relay+h2c", query: "", proxy: "http" },
  { name: "grpc", scheme: "relay+grpc", query: "?grpcInsecure=true", proxy: "socks5" },
  { name: "pht", scheme: "relay+pht", query: "", proxy: "http" },
];

// ---------------------------------------------------------------------------------------------------------------
// Statistics and the chart (pure; tested in soak_test.ts)

/** Least-squares slope of `ys` over `xs` (units of y per unit of x); NaN with fewer than two finite points. */
export function slope(xs: number[], ys: number[]): number {
  const pts = xs.map((x, i) => [x, ys[i]]).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  if (pts.length < 2) return NaN;
  const mx = pts.reduce((a, [x]) => a + x, 0) / pts.length;
  const my = pts.reduce((a, [, y]) => a + y, 0) / pts.length;
  let num = 0;
  let den = 0;
  for (const [x, y] of pts) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? NaN : num / den;
}

/** One line of the chart: points as (seconds, value). */
export interface Series {
  label: string;
  color: string;
  dashed?: boolean;
  points: [number, number][];
}

/** A panel of the chart: several series on one y axis. */
export interface Panel {
  title: string;
  unit: string;
  series: Series[];
}

/** A "nice" step for about `n` ticks over `range`. */
function niceStep(range: number, n: number): number {
  const raw = range / Math.max(1, n);
  const p = 10 ** Math.floor(Math.log10(raw || 1));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/**
 * A self-contained SVG of `panels` stacked, sharing an x axis in minutes; the
 * slope window (from `windowStart` seconds on) is shaded.
 */
export function svgChart(panels: Panel[], opts: { title: string; windowStart?: number }): string {
  const W = 960;
  const PH = 260;
  const L = 70;
  const R = 190;
  const T = 56;
  const GAP = 50;
  const H = T + panels.length * (PH + GAP) + 10;
  const all = panels.flatMap((p) => p.series.flatMap((s) => s.points.map(([x]) => x)));
  const xMax = Math.max(60, ...all);
  const xs = (x: number) => L + (x / xMax) * (W - L - R);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ` +
    `font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(opts.title)}</text>`,
  ];
  const xStep = niceStep(xMax / 60, 10) * 60;
  panels.forEach((panel, k) => {
    const top = T + k * (PH + GAP);
    const bottom = top + PH;
    const ys = panel.series.flatMap((s) => s.points.map(([, y]) => y)).filter(Number.isFinite);
    const yMax0 = Math.max(1, ...ys);
    const yStep = niceStep(yMax0, 5);
    const yMax = Math.ceil(yMax0 / yStep) * yStep;
    const yPos = (y: number) => bottom - (y / yMax) * PH;
    if (opts.windowStart !== undefined) {
      out.push(
        `<rect x="${xs(opts.windowStart).toFixed(1)}" y="${top}" width="${
          (xs(xMax) - xs(opts.windowStart)).toFixed(1)
        }" ` +
          `height="${PH}" fill="#f2f2f2"/>`,
      );
    }
    for (let y = 0; y <= yMax + 1e-9; y += yStep) {
      out.push(
        `<line x1="${L}" x2="${W - R}" y1="${yPos(y).toFixed(1)}" y2="${yPos(y).toFixed(1)}" stroke="#ddd"/>`,
        `<text x="${L - 6}" y="${(yPos(y) + 4).toFixed(1)}" text-anchor="end">${+y.toFixed(2)}</text>`,
      );
    }
    for (let x = 0; x <= xMax + 1e-9; x += xStep) {
      out.push(
        `<line x1="${xs(x).toFixed(1)}" x2="${xs(x).toFixed(1)}" y1="${bottom}" y2="${bottom + 4}" stroke="#333"/>`,
        `<text x="${xs(x).toFixed(1)}" y="${bottom + 17}" text-anchor="middle">${+(x / 60).toFixed(1)}</text>`,
      );
    }
    out.push(
      `<rect x="${L}" y="${top}" width="${W - L - R}" height="${PH}" fill="none" stroke="#333"/>`,
      `<text x="${L}" y="${top - 8}" font-size="13">${esc(panel.title)} (${esc(panel.unit)}; x: minutes)</text>`,
    );
    panel.series.forEach((s, j) => {
      const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y))
        .map(([x, y]) => `${xs(x).toFixed(1)},${yPos(y).toFixed(1)}`).join(" ");
      const dash = s.dashed ? ` stroke-dasharray="5,3"` : "";
      out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="1.5"${dash} points="${pts}"/>`);
      const ly = top + 16 + j * 18;
      out.push(
        `<line x1="${W - R + 12}" x2="${W - R + 36}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" ` +
          `stroke-width="2"${dash}/>`,
        `<text x="${W - R + 42}" y="${ly}">${esc(s.label)}</text>`,
      );
    });
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}

// ---------------------------------------------------------------------------------------------------------------
// The target: its own process

const enc = new TextEncoder();
const dec = new TextDecoder();

async function writeAll(conn: { write(p: Uint8Array): Promise<number> }, p: Uint8Array): Promise<void> {
  for (let off = 0; off < p.length;) off += await conn.write(p.subarray(off));
}

/** Serves the soak protocol on `port`: a 16-byte header ("SOAK", op, size, offset), then echo, download or upload. */
async function serveTarget(port: number): Promise<void> {
  const data = pattern(PATTERN_SIZE, PATTERN_SEED);
  const ln = Deno.listen({ hostname: "127.0.0.1", port });
  for await (const conn of ln) {
    (async () => {
      try {
        const head = new DataView((await readExactly(conn, 16)).buffer);
        if (head.getUint32(0) !== MAGIC) return;
        const op = head.getUint8(4);
        const size = head.getUint32(8);
        const offset = head.getUint32(12);
        if (offset + size > data.length) return;
        if (op === OP_ECHO) {
          const buf = new Uint8Array(SMALL_MAX);
          for (;;) {
            const n = await conn.read(buf);
            if (n === null) break;
            await writeAll(conn, buf.subarray(0, n));
          }
        } else if (op === OP_DOWNLOAD) {
          for (let off = 0; off < size; off += 256 << 10) {
            await writeAll(conn, data.subarray(offset + off, offset + Math.min(size, off + (256 << 10))));
          }
        } else if (op === OP_UPLOAD) {
          const buf = new Uint8Array(64 << 10);
          let got = 0;
          let ok = true;
          while (got < size) {
            const n = await conn.read(buf.subarray(0, Math.min(buf.length, size - got)));
            if (n === null) return; // cut by the client
            ok &&= same(buf.subarray(0, n), data.subarray(offset + got, offset + got + n));
            got += n;
          }
          await writeAll(conn, enc.encode(ok ? "OK" : "NO"));
        }
      } catch {
        // a cut or a closed peer: nothing to answer
      } finally {
        try {
          conn.close();
        } catch { /* closed */ }
      }
    })();
  }
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------------------------
// The load generator

/** A conn with bytes that arrived after a proxy reply put back in front. */
class Stream {
  constructor(readonly conn: Deno.Conn, private pending: Uint8Array = new Uint8Array(0)) {}
  async read(p: Uint8Array): Promise<number | null> {
    if (this.pending.length) {
      const n = Math.min(p.length, this.pending.length);
      p.set(this.pending.subarray(0, n));
      this.pending = this.pending.subarray(n);
      return n;
    }
    return await this.conn.read(p);
  }
  write(p: Uint8Array): Promise<void> {
    return writeAll(this.conn, p);
  }
}

/** Opens a tunnel to `target` through the client service on `port` (HTTP CONNECT or SOCKS5 CONNECT). */
async function tunnel(
  kind: Transport["proxy"],
  port: number,
  target: number,
  onConn: (conn: Deno.Conn) => void,
): Promise<Stream> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  onConn(conn);
  try {
    if (kind === "socks5") {
      await writeAll(conn, new Uint8Array([5, 1, 0]));
      const hello = await readExactly(conn, 2);
      if (hello[0] !== 5 || hello[1] !== 0) throw new Error(`socks5 method reply ${hello.join(",")}`);
      await writeAll(conn, new Uint8Array([5, 1, 0, 1, 127, 0, 0, 1, target >> 8, target & 0xff]));
      const reply = await readExactly(conn, 10);
      if (reply[1] !== 0) throw new Error(`socks5 CONNECT reply ${reply[1]}`);
      return new Stream(conn);
    }
    await writeAll(conn, enc.encode(`CONNECT 127.0.0.1:${target} HTTP/1.1\r\nHost: 127.0.0.1:${target}\r\n\r\n`));
    const buf = new Uint8Array(1024);
    let head = new Uint8Array(0);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) throw new Error("proxy closed before its reply");
      const next = new Uint8Array(head.length + n);
      next.set(head);
      next.set(buf.subarray(0, n), head.length);
      head = next;
      const end = dec.decode(head).indexOf("\r\n\r\n");
      if (end >= 0) {
        const status = dec.decode(head.subarray(0, end)).split("\r\n")[0];
        if (!/^HTTP\/1\.[01] 200/.test(status)) throw new Error(`proxy answered "${status}"`);
        return new Stream(conn, head.subarray(end + 4));
      }
      if (head.length > 8192) throw new Error("proxy reply head over 8 KiB");
    }
  } catch (err) {
    conn.close();
    throw err;
  }
}

function header(op: number, size: number, offset: number): Uint8Array {
  const h = new Uint8Array(16);
  const v = new DataView(h.buffer);
  v.setUint32(0, MAGIC);
  v.setUint8(4, op);
  v.setUint32(8, size);
  v.setUint32(12, offset);
  return h;
}

const rand = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo + 1));

/** What one connection does. */
export type Kind = "small" | "bulk" | "cut";

/** The kind of the `n`th connection (0-based): a cut in every {@linkcode CUT_EVERY}, bulk in every {@linkcode BULK_EVERY}. */
export function kindOf(n: number): Kind {
  if (n % CUT_EVERY === CUT_EVERY - 1) return "cut";
  return n % BULK_EVERY === 0 ? "bulk" : "small";
}

/** Reads `size` bytes and checks them against `want`; `stopAt` ends early (a cut) after that many bytes. */
async function readChecked(s: Stream, want: Uint8Array, buf: Uint8Array, stopAt = Infinity): Promise<void> {
  let got = 0;
  while (got < want.length && got < stopAt) {
    const n = await s.read(buf.subarray(0, Math.min(buf.length, want.length - got)));
    if (n === null) throw new Error(`tunnel closed after ${got} of ${want.length} bytes`);
    if (!same(buf.subarray(0, n), want.subarray(got, got + n))) throw new Error(`data mismatch at byte ${got}`);
    got += n;
  }
}

/** Counters of the run; `interval` ones are reset at every sample. */
interface Counters {
  started: number;
  ok: number;
  failed: number;
  cuts: number;
  bytes: number;
  byTransport: Record<string, { ok: number; failed: number; cuts: number }>;
  byKind: Record<Kind, number>;
  errors: Map<string, number>;
}

function newCounters(): Counters {
  return {
    started: 0,
    ok: 0,
    failed: 0,
    cuts: 0,
    bytes: 0,
    byTransport: Object.fromEntries(TRANSPORTS.map((t) => [t.name, { ok: 0, failed: 0, cuts: 0 }])),
    byKind: { small: 0, bulk: 0, cut: 0 },
    errors: new Map(),
  };
}

/** One connection of `kind` through `t`; resolves to the bytes checked (sent up to the cut, for a cut). */
async function oneConnection(
  t: Transport,
  port: number,
  target: number,
  kind: Kind,
  data: Uint8Array,
  buf: Uint8Array,
): Promise<number> {
  // One time limit from connect to close: when it fires, the conn is closed, which ends any read or write.
  let conn: Deno.Conn | undefined;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      conn?.close();
    } catch { /* closed */ }
  }, CONN_TIMEOUT_MS);
  let s: Stream | undefined;
  try {
    s = await tunnel(t.proxy, port, target, (c) => {
      conn = c;
      if (timedOut) c.close();
    });
    if (kind === "small") {
      await s.write(header(OP_ECHO, 0, 0));
      let bytes = 0;
      for (let r = rand(1, SMALL_ROUNDS); r > 0; r--) {
        const size = rand(1, SMALL_MAX);
        const off = rand(0, data.length - size);
        await s.write(data.subarray(off, off + size));
        await readChecked(s, data.subarray(off, off + size), buf);
        bytes += 2 * size;
      }
      return bytes;
    }
    const size = rand(BULK_MIN, BULK_MAX);
    const off = rand(0, data.length - size);
    const slice = data.subarray(off, off + size);
    const upload = Math.random() < 0.5;
    if (kind === "cut") {
      // Cut mid-transfer: after 64 KiB to half the transfer, the client closes its end abruptly.
      const at = rand(64 << 10, size >> 1);
      if (upload) {
        await s.write(header(OP_UPLOAD, size, off));
        await s.write(slice.subarray(0, at));
      } else {
        await s.write(header(OP_DOWNLOAD, size, off));
        await readChecked(s, slice, buf, at);
      }
      return at;
    }
    if (upload) {
      await s.write(header(OP_UPLOAD, size, off));
      for (let o = 0; o < size; o += 256 << 10) await s.write(slice.subarray(o, Math.min(size, o + (256 << 10))));
      const answer = dec.decode(await readExactly(s, 2));
      if (answer !== "OK") throw new Error(`target saw different bytes on upload (${answer})`);
    } else {
      await s.write(header(OP_DOWNLOAD, size, off));
      await readChecked(s, slice, buf);
      // The target closes after the last byte: the tunnel must pass that on, and nothing more.
      if ((await s.read(buf.subarray(0, 1))) !== null) throw new Error("bytes after the end of a download");
    }
    return size;
  } catch (err) {
    throw timedOut ? new Error(`timed out after ${CONN_TIMEOUT_MS / 1000} s (${(err as Error).message})`) : err;
  } finally {
    clearTimeout(timer);
    try {
      conn?.close();
    } catch { /* closed */ }
  }
}

/** Paces connection starts at `perMinute`; a client that is late takes its start at once, up to one second's worth. */
class Pacer {
  #next = performance.now();
  readonly #interval: number;
  constructor(perMinute: number) {
    this.#interval = 60_000 / perMinute;
  }
  async ticket(): Promise<void> {
    const now = performance.now();
    // Behind by more than a second (every client busy): do not burst to catch up; the report shows the rate reached.
    if (this.#next < now - 1000) this.#next = now - 1000;
    const at = this.#next;
    this.#next += this.#interval;
    if (at > now) await new Promise((r) => setTimeout(r, at - now));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Sampling

/** One process at one sample. */
export interface ProcSample {
  rssMiB: number;
  heapMiB: number;
  fds: number;
}

/** One sample of the run. */
export interface Sample {
  /** Seconds since the load started. */
  t: number;
  client: ProcSample;
  server: ProcSample;
  /** Connections finished (ok, failed, cut) since the previous sample. */
  ok: number;
  failed: number;
  cuts: number;
}

function countFds(pid: number): number {
  try {
    let n = 0;
    for (const _ of Deno.readDirSync(`/proc/${pid}/fd`)) n++;
    return n;
  } catch {
    return NaN;
  }
}

/** `deno_heap_used_bytes` from a dost metrics endpoint, in MiB (NaN when the scrape fails). */
async function heapMiB(port: number): Promise<number> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    const m = /^deno_heap_used_bytes\s+(\S+)/m.exec(text);
    return m ? Number(m[1]) / 2 ** 20 : NaN;
  } catch {
    return NaN;
  }
}

async function sampleProc(proc: Proc, metricsPort: number): Promise<ProcSample> {
  return {
    rssMiB: (memory(proc.pid)?.rssKiB ?? NaN) / 1024,
    heapMiB: await heapMiB(metricsPort),
    fds: countFds(proc.pid),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The report

/** Options of a run. */
export interface SoakOptions {
  minutes: number;
  clients: number;
  rate: number;
  sampleSeconds: number;
  out: string;
  entry: string;
  command: string;
}

/** A slope result, per 10 minutes: over every sample, and over the per-minute minimum (the floor). */
interface SlopeRow {
  what: string;
  /** Least squares over every sample in the window. */
  value: number;
  /** Least squares over the minimum of each minute in the window. */
  floor: number;
  /** Which of the two is judged. */
  judged: "samples" | "floor";
  limit: number;
  unit: string;
  pass: boolean;
}

/** The minute a sample belongs to (1-based; a sample taken a little after a minute's end still counts in it). */
export function minuteOf(t: number): number {
  return Math.max(1, Math.ceil(Math.round(t) / 60));
}

/**
 * The slope rows over the samples from `from` seconds on. RSS is judged on every sample; the heap in use and the
 * fd count swing with the garbage collector's phase and the connections in flight at the sampling instant, so
 * they are judged on their per-minute floor, which is what a leak raises.
 */
export function slopes(samples: Sample[], from: number): SlopeRow[] {
  const win = samples.filter((s) => s.t >= from);
  const xs = win.map((s) => s.t / 600);
  const minutes = [...new Set(win.map((s) => minuteOf(s.t)))];
  const rows: SlopeRow[] = [];
  for (const side of ["client", "server"] as const) {
    const add = (
      what: string,
      get: (p: ProcSample) => number,
      judged: SlopeRow["judged"],
      limit: number,
      unit: string,
    ) => {
      const value = slope(xs, win.map((s) => get(s[side])));
      const floor = slope(
        minutes.map((m) => (m - 0.5) / 10),
        minutes.map((m) => Math.min(...win.filter((s) => minuteOf(s.t) === m).map((s) => get(s[side])))),
      );
      const v = judged === "samples" ? value : floor;
      rows.push({ what: `${side} ${what}`, value, floor, judged, limit, unit, pass: Number.isFinite(v) && v < limit });
    };
    add("RSS", (p) => p.rssMiB, "samples", MEMORY_SLOPE_LIMIT, "MiB");
    add("heap", (p) => p.heapMiB, "floor", MEMORY_SLOPE_LIMIT, "MiB");
    add("fds", (p) => p.fds, "floor", FD_SLOPE_LIMIT, "fds");
  }
  return rows;
}

const f = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : "–");
const mean = (xs: number[]) => {
  const v = xs.filter(Number.isFinite);
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN;
};

/** The markdown report. */
export function report(
  opts: SoakOptions,
  run: { started: string; seconds: number; samples: Sample[]; c: Counters; fatal?: string; svgName: string },
): { text: string; pass: boolean } {
  const { samples, c } = run;
  const windowSeconds = Math.min(WINDOW_MINUTES * 60, run.seconds / 2);
  const from = run.seconds - windowSeconds;
  const sl = slopes(samples, from);
  const pass = !run.fatal && c.failed === 0 && sl.every((r) => r.pass);
  const finished = c.ok + c.failed + c.cuts;
  const lines = [
    "# Soak test",
    "",
    `Written by \`deno task soak\` (scripts/soak.ts). Run started ${run.started} with \`${opts.command}\`; ` +
    `result: **${pass ? "pass" : "FAIL"}**.`,
    "",
    `- machine: ${navigator.hardwareConcurrency} CPUs, Linux ${Deno.osRelease()}, deno ${Deno.version.deno}; ` +
    "the load generator, the target, the client and the server all run on it",
    "- server: one dost, `-L relay+ws://127.0.0.1:P1 -L relay+mws://… -L relay+h2c://… " +
    "-L relay+grpc://…?grpcInsecure=true -L relay+pht://… -metrics 127.0.0.1:M`",
    "- client: one dost (`-C` JSON) with five services, `http` for ws, h2c and pht and `socks5` for mws and grpc, " +
    "each chained through one of the server's listeners, and `metrics`",
    `- load: ${opts.clients} concurrent clients (each on one transport, spread evenly), ${opts.rate} new ` +
    `connections a minute paced over all of them; per ${CUT_EVERY} connections one cut mid-transfer (the client ` +
    `closes after 64 KiB to half of a 1–8 MiB upload or download), ${CUT_EVERY / BULK_EVERY} bulk (1–8 MiB up or ` +
    `down) and the rest small echo exchanges (1–${SMALL_ROUNDS} rounds of 1 B–16 KiB); every byte is compared ` +
    "with a deterministic pattern at the other end, a download must end with the target's close",
    `- sampling every ${opts.sampleSeconds} s: \`VmRSS\` and the \`/proc/PID/fd\` count of both dost processes, ` +
    "and the V8 heap in use (`deno_heap_used_bytes` from each one's metrics endpoint)",
    "",
    "## Figures",
    "",
    `- ran ${f(run.seconds / 60)} minutes; ${finished} connections finished ` +
    `(${f(finished / Math.max(1e-9, run.seconds / 60), 0)} a minute): ${c.ok} ok, ${c.cuts} cut on purpose, ` +
    `**${c.failed} failed**; ${f(c.bytes / 2 ** 30, 2)} GiB checked`,
    `- by kind started: ${c.byKind.small} small, ${c.byKind.bulk} bulk, ${c.byKind.cut} cut`,
    `- by transport (ok / cut / failed): ` +
    TRANSPORTS.map((t) => {
      const b = c.byTransport[t.name];
      return `${t.name} ${b.ok} / ${b.cuts} / ${b.failed}`;
    }).join(", "),
    ...(run.fatal ? [`- **stopped early:** ${run.fatal}`] : []),
    ...(c.errors.size
      ? ["- failures by message:", ...[...c.errors].slice(0, 20).map(([m, n]) => `  - ${n}× ${m}`)]
      : []),
    "",
    `Slopes (least squares over the samples of the last ${f(windowSeconds / 60)} minutes, shaded in the chart):`,
    "",
    "| series | slope per 10 min, every sample | slope per 10 min, per-minute floor | target | result |",
    "| --- | ---: | ---: | ---: | --- |",
    ...sl.map((r) => {
      const mark = (v: number, k: SlopeRow["judged"]) =>
        `${r.judged === k ? "**" : ""}${f(v, 2)}${r.judged === k ? "**" : ""}`;
      return `| ${r.what} | ${mark(r.value, "samples")} ${r.unit} | ${mark(r.floor, "floor")} ${r.unit} | ` +
        `< ${r.limit} ${r.unit} | ${r.pass ? "pass" : "**FAIL**"} |`;
    }),
    `| failed transfers (cuts aside) | ${c.failed} | | 0 | ${c.failed === 0 ? "pass" : "**FAIL**"} |`,
    "",
    "The judged figure is in bold: RSS over every sample; the heap in use and the fd count over each minute's " +
    "minimum, since they swing with the garbage collector's phase and with the connections in flight at the " +
    `instant of a sample, and a leak raises the floor. fd target: under ${FD_SLOPE_LIMIT} per 10 minutes (a leak ` +
    "of one fd in 10,000 connections at the default rate).",
    "",
    `![RSS, heap and fds of the client and server over the run](${run.svgName})`,
    "",
    "## Per minute",
    "",
    "RSS and heap: means of the samples in each minute; fds: lowest–highest sample; connections: those finished " +
    "in the minute.",
    "",
    "| minute | ok | cut | failed | client RSS MiB | client heap MiB | client fds | server RSS MiB | " +
    "server heap MiB | server fds |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  const minutes = Math.ceil(run.seconds / 60);
  for (let m = 0; m < minutes; m++) {
    const in_ = samples.filter((s) => minuteOf(s.t) === m + 1);
    if (!in_.length) continue;
    const sum = (k: "ok" | "cuts" | "failed") => in_.reduce((a, s) => a + s[k], 0);
    const avg = (side: "client" | "server", k: keyof ProcSample) => mean(in_.map((s) => s[side][k]));
    const range = (side: "client" | "server") => {
      const v = in_.map((s) => s[side].fds).filter(Number.isFinite);
      return v.length ? `${Math.min(...v)}–${Math.max(...v)}` : "–";
    };
    lines.push(
      `| ${m + 1} | ${sum("ok")} | ${sum("cuts")} | ${sum("failed")} | ${f(avg("client", "rssMiB"))} | ` +
        `${f(avg("client", "heapMiB"))} | ${range("client")} | ${f(avg("server", "rssMiB"))} | ` +
        `${f(avg("server", "heapMiB"))} | ${range("server")} |`,
    );
  }
  return { text: lines.join("\n") + "\n", pass };
}

/** The chart of a run: memory (RSS and heap) and fds of client and server. */
export function chart(samples: Sample[], windowStart: number, title: string): string {
  const pts = (f: (s: Sample) => number): [number, number][] => samples.map((s) => [s.t, f(s)]);
  return svgChart([
    {
      title: "Memory",
      unit: "MiB",
      series: [
        { label: "client RSS", color: "#1f77b4", points: pts((s) => s.client.rssMiB) },
        { label: "server RSS", color: "#d62728", points: pts((s) => s.server.rssMiB) },
        { label: "client heap", color: "#1f77b4", dashed: true, points: pts((s) => s.client.heapMiB) },
        { label: "server heap", color: "#d62728", dashed: true, points: pts((s) => s.server.heapMiB) },
      ],
    },
    {
      title: "Open file descriptors",
      unit: "count",
      series: [
        { label: "client fds", color: "#1f77b4", points: pts((s) => s.client.fds) },
        { label: "server fds", color: "#d62728", points: pts((s) => s.server.fds) },
      ],
    },
  ], { title, windowStart });
}

// ---------------------------------------------------------------------------------------------------------------
// The run

/** Runs the soak; resolves to the exit code. */
export async function soak(opts: SoakOptions): Promise<number> {
  const group = new ProcessGroup();
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) {
      group.stopAll().finally(() => Deno.exit(130));
      return;
    }
    interrupted = true;
    console.error("soak: interrupted; stopping the load and writing the report (again to quit at once)");
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const c = newCounters();
  const samples: Sample[] = [];
  let fatal: string | undefined;
  const started = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  let seconds = 0;
  try {
    const targetPort = freePort();
    const target = group.spawn("target", Deno.execPath(), [
      "run",
      "--allow-net",
      new URL(import.meta.url).pathname,
      "--target",
      String(targetPort),
    ]);
    await waitListening(targetPort, target, START_TIMEOUT_MS);

    const serverPorts = TRANSPORTS.map(() => freePort());
    const [serverMetrics, clientMetrics] = [freePort(), freePort()];
    const dost = (name: string, args: string[]) =>
      group.spawn(name, Deno.execPath(), ["run", "--unstable-net", "--allow-all", opts.entry, ...args], {
        DOST_SHUTDOWN_GRACE: "2s",
      });
    const server = dost("server", [
      ...TRANSPORTS.flatMap((t, i) => ["-L", `${t.scheme}://127.0.0.1:${serverPorts[i]}${t.query}`]),
      "-metrics",
      `127.0.0.1:${serverMetrics}`,
    ]);
    for (const p of [...serverPorts, serverMetrics]) await waitListening(p, server, START_TIMEOUT_MS);

    const clientPorts = TRANSPORTS.map(() => freePort());
    const config = {
      services: TRANSPORTS.map((t, i) => ({
        name: `soak-${t.name}`,
        addr: `127.0.0.1:${clientPorts[i]}`,
        handler: { type: t.proxy, chain: `chain-${t.name}` },
        listener: { type: "tcp" },
      })),
      chains: TRANSPORTS.map((t, i) => {
        const md = t.query ? { grpcInsecure: "true" } : undefined;
        return {
          name: `chain-${t.name}`,
          hops: [{
            name: `hop-${t.name}`,
            nodes: [{
              name: `node-${t.name}`,
              addr: `127.0.0.1:${serverPorts[i]}`,
              connector: { type: "relay" },
              dialer: { type: t.scheme.slice("relay+".length), ...(md ? { metadata: md } : {}) },
            }],
          }],
        };
      }),
      metrics: { addr: `127.0.0.1:${clientMetrics}` },
    };
    const client = dost("client", ["-C", JSON.stringify(config)]);
    for (const p of [...clientPorts, clientMetrics]) await waitListening(p, client, START_TIMEOUT_MS);
    console.error(
      `soak: target ${target.pid}, server ${server.pid}, client ${client.pid}; ${opts.minutes} min, ` +
        `${opts.clients} clients, ${opts.rate}/min`,
    );

    const data = pattern(PATTERN_SIZE, PATTERN_SEED);
    const pacer = new Pacer(opts.rate);
    const t0 = performance.now();
    const end = t0 + opts.minutes * 60_000;
    let stopping = false;
    const interval = { ok: 0, failed: 0, cuts: 0 };
    const worker = async (i: number) => {
      const t = TRANSPORTS[i % TRANSPORTS.length];
      const port = clientPorts[i % TRANSPORTS.length];
      const buf = new Uint8Array(64 << 10);
      while (!stopping) {
        await pacer.ticket();
        if (stopping) break;
        const kind = kindOf(c.started++);
        c.byKind[kind]++;
        try {
          // Awaited first: `c.bytes += await …` would add to the value read before the await.
          const bytes = await oneConnection(t, port, targetPort, kind, data, buf);
          c.bytes += bytes;
          if (kind === "cut") {
            c.cuts++;
            interval.cuts++;
            c.byTransport[t.name].cuts++;
          } else {
            c.ok++;
            interval.ok++;
            c.byTransport[t.name].ok++;
          }
        } catch (err) {
          c.failed++;
          interval.failed++;
          c.byTransport[t.name].failed++;
          const msg = `${t.name} ${kind}: ${(err as Error).message}`.replace(/\d{4,}/g, "N");
          c.errors.set(msg, (c.errors.get(msg) ?? 0) + 1);
          if (c.failed <= 5) console.error(`soak: failed: ${t.name} ${kind}: ${(err as Error).message}`);
        }
      }
    };
    const workers = Array.from({ length: opts.clients }, (_, i) => worker(i));

    let lastLog = 0;
    while (performance.now() < end && !interrupted) {
      await new Promise((r) =>
        setTimeout(r, Math.min(opts.sampleSeconds * 1000, Math.max(0, end - performance.now())))
      );
      const t = (performance.now() - t0) / 1000;
      const [cs, ss] = await Promise.all([sampleProc(client, clientMetrics), sampleProc(server, serverMetrics)]);
      samples.push({ t, client: cs, server: ss, ...interval });
      interval.ok = interval.failed = interval.cuts = 0;
      for (const p of [server, client, target]) {
        if (p.done) fatal = `${p.name} exited with code ${await p.exited}:\n${p.tail.slice(-10).join("\n")}`;
      }
      if (fatal) break;
      if (t - lastLog >= 60 || performance.now() >= end) {
        lastLog = t;
        console.error(
          `soak: ${f(t / 60)} min: ${c.ok} ok, ${c.cuts} cut, ${c.failed} failed; client ${f(cs.rssMiB)} MiB ` +
            `heap ${f(cs.heapMiB)} ${cs.fds} fds; server ${f(ss.rssMiB)} MiB heap ${f(ss.heapMiB)} ${ss.fds} fds`,
        );
      }
    }
    seconds = (performance.now() - t0) / 1000;
    stopping = true;
    const drained = await Promise.race([
      Promise.all(workers).then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), DRAIN_MS)),
    ]);
    if (!drained) fatal ??= `clients still busy ${DRAIN_MS / 1000} s after the end`;
  } catch (err) {
    fatal = (err as Error).message;
  } finally {
    await group.stopAll();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
  if (interrupted) fatal ??= "interrupted";
  const svgPath = opts.out.replace(/\.md$/, "") + ".svg";
  const svgName = svgPath.split("/").pop()!;
  const windowStart = seconds - Math.min(WINDOW_MINUTES * 60, seconds / 2);
  const { text, pass } = report(opts, { started, seconds, samples, c, fatal, svgName });
  await Deno.writeTextFile(opts.out, text);
  await Deno.writeTextFile(
    svgPath,
    chart(samples, windowStart, `dost soak, ${started}: ${opts.clients} clients, ${opts.rate} conns/min`),
  );
  console.error(`soak: wrote ${opts.out} and ${svgPath}`);
  console.log(text);
  return pass ? 0 : 1;
}

const USAGE = `Usage: deno task soak [-- OPTIONS]

  --minutes N   run length (default ${DEFAULT_MINUTES})
  --clients N   concurrent clients (default ${DEFAULT_CLIENTS})
  --rate N      new connections a minute (default ${DEFAULT_RATE})
  --sample N    seconds between samples (default ${DEFAULT_SAMPLE_SECONDS})
  --entry FILE  dost entry point (default main.ts)
  --out FILE    report (default docs/soak.md; the chart goes beside it as soak.svg)`;

/** Parses `argv` and runs; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const args = argv[0] === "--" ? argv.slice(1) : argv;
  if (args[0] === "--target") {
    await serveTarget(Number(args[1]));
    return 0;
  }
  let v;
  try {
    v = parseArgs({
      args,
      options: {
        minutes: { type: "string" },
        clients: { type: "string" },
        rate: { type: "string" },
        sample: { type: "string" },
        entry: { type: "string" },
        out: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }).values;
  } catch (err) {
    console.error(`soak: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (v.help) {
    console.log(USAGE);
    return 0;
  }
  const num = (name: string, s: string | undefined, def: number, min: number, max: number) => {
    const n = Number(s ?? def);
    if (!Number.isFinite(n) || n < min || n > max) {
      throw new RangeError(`--${name} must be from ${min} to ${max}, got "${s}"`);
    }
    return n;
  };
  const root = new URL("../", import.meta.url).pathname;
  const path = (p: string) => new URL(p, `file://${Deno.cwd()}/`).pathname;
  let opts: SoakOptions;
  try {
    opts = {
      minutes: num("minutes", v.minutes, DEFAULT_MINUTES, 0.5, 24 * 60),
      clients: Math.round(num("clients", v.clients, DEFAULT_CLIENTS, 1, 5000)),
      rate: num("rate", v.rate, DEFAULT_RATE, 1, 1e6),
      sampleSeconds: num("sample", v.sample, DEFAULT_SAMPLE_SECONDS, 1, 600),
      entry: v.entry ? path(v.entry) : `${root}main.ts`,
      out: v.out ? path(v.out) : `${root}docs/soak.md`,
      command: `deno task soak${args.length ? ` -- ${args.join(" ")}` : ""}`,
    };
  } catch (err) {
    console.error(`soak: ${(err as Error).message}`);
    return 2;
  }
  return await soak(opts);
}

if (import.meta.main) Deno.exit(await main(Deno.args));
