/**
 * Traffic limiter accuracy: a `forward` service with `limiter: l0`
 * (`$ 1MB 1MB`) in front of a local TCP server that streams data; a client
 * downloads through it and the steady rate is compared with 1 MiB/s. Runs
 * dost, and gost too when its binary is given (both read the same YAML).
 *
 * The first seconds are a warm-up: a new token bucket starts full (burst =
 * rate), so the first second brings up to twice the rate. The rate is then
 * taken between two read completions (bytes after the first, over the time
 * between them), which does not depend on how large the proxy's writes are.
 *
 *     deno task bench -- --only limiter     (gost from GOST_BIN or ../shared/bin/gost)
 *
 * @module
 */
import { freePort } from "../transports/_testing.ts";
import { ProcessGroup, waitListening } from "./bench_proc.ts";

/** The limit every run uses: `$ 1MB 1MB`, i.e. 1 MiB/s each way for the service. */
export const LIMIT_LINE = "$ 1MB 1MB";
/** 1 MiB/s, what {@linkcode LIMIT_LINE} allows. */
export const LIMIT_RATE = 1024 * 1024;
/** Seconds measured. @default 10 */
export const DEFAULT_SECONDS = 10;
/** Seconds read before measuring, so the bucket's starting burst is spent. @default 2 */
export const DEFAULT_WARMUP = 2;
/** How long a proxy gets to start listening. */
const START_TIMEOUT_MS = 20_000;

export interface BenchRow {
  /** `dost` or `gost`. */
  who: string;
  /** The limiter line. */
  limit: string;
  /** Seconds measured. */
  seconds: number;
  /** Bytes received in them. */
  bytes: number;
  /** Bytes per second. */
  rate: number;
  /** `rate` / 1 MiB/s: 1.00 is exact. */
  ratio: number;
}

export interface BenchLimiterOptions {
  /** dost's entry point (`main.ts`). */
  mainTs: string;
  /** gost's binary; without it only dost runs. */
  gostBin?: string;
  /** @default {@linkcode DEFAULT_SECONDS} */
  seconds?: number;
  /** @default {@linkcode DEFAULT_WARMUP} */
  warmup?: number;
  /** Runs only these (`dost`, `gost`). @default all */
  only?: string[];
}

/** A run that did not produce a row (the proxy did not start, closed the download, …). */
export interface BenchError {
  who: string;
  message: string;
}

/** The config both proxies run: one forward service, limited, to `targetPort`. */
export function limiterYaml(port: number, targetPort: number, limit = LIMIT_LINE): string {
  return [
    "services:",
    "- name: limited",
    `  addr: 127.0.0.1:${port}`,
    "  limiter: l0",
    "  handler:",
    "    type: tcp",
    "  listener:",
    "    type: tcp",
    "  forwarder:",
    "    nodes:",
    "    - name: source",
    `      addr: 127.0.0.1:${targetPort}`,
    "limiters:",
    "- name: l0",
    "  limits:",
    `  - ${JSON.stringify(limit)}`,
    "",
  ].join("\n");
}

/** A TCP server that writes data to every client until it goes away. */
function startSource(port: number): { close(): Promise<void> } {
  const ln = Deno.listen({ hostname: "127.0.0.1", port });
  const conns = new Set<Deno.Conn>();
  const chunk = new Uint8Array(64 * 1024).fill(0x5a);
  const serve = async (c: Deno.Conn) => {
    conns.add(c);
    try {
      for (;;) await c.write(chunk);
    } catch {
      // the client went away
    } finally {
      conns.delete(c);
      try {
        c.close();
      } catch {
        // already closed
      }
    }
  };
  const loop = (async () => {
    try {
      for await (const c of ln) serve(c);
    } catch {
      // listener closed
    }
  })();
  return {
    async close() {
      ln.close();
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // already closed
        }
      }
      await loop;
    },
  };
}

/** Downloads through `port`: reads `warmup` seconds, then measures about `seconds`. */
async function download(port: number, seconds: number, warmup: number): Promise<{ bytes: number; seconds: number }> {
  const c = await Deno.connect({ hostname: "127.0.0.1", port });
  const buf = new Uint8Array(256 * 1024);
  try {
    const start = performance.now();
    let t0 = -1;
    let last = 0;
    let bytes = 0;
    for (;;) {
      const n = await c.read(buf);
      if (n === null) throw new Error(`The proxy closed the download after ${bytes} measured bytes`);
      const now = performance.now();
      if (t0 < 0) {
        if (now - start >= warmup * 1000) t0 = now; // this read's bytes came before t0
        continue;
      }
      bytes += n;
      last = now;
      if (last - t0 >= seconds * 1000) break;
    }
    return { bytes, seconds: (last - t0) / 1000 };
  } finally {
    c.close();
  }
}

/** Runs the download through dost and, when `gostBin` is set, through gost. */
export async function benchLimiter(opts: BenchLimiterOptions): Promise<{ rows: BenchRow[]; errors: BenchError[] }> {
  const seconds = opts.seconds ?? DEFAULT_SECONDS;
  const warmup = opts.warmup ?? DEFAULT_WARMUP;
  const runs: { who: string; cmd: (yaml: string) => [string, string[]] }[] = [
    {
      who: "dost",
      cmd: (yaml) => [Deno.execPath(), ["run", "--unstable-net", "--allow-all", opts.mainTs, "-C", yaml]],
    },
  ];
  if (opts.gostBin) runs.push({ who: "gost", cmd: (yaml) => [opts.gostBin!, ["-C", yaml]] });

  const rows: BenchRow[] = [];
  const errors: BenchError[] = [];
  const dir = await Deno.makeTempDir({ prefix: "dost_bench_limiter_" });
  const targetPort = freePort();
  const source = startSource(targetPort);
  const procs = new ProcessGroup();
  try {
    for (const run of runs) {
      if (opts.only && !opts.only.includes(run.who)) continue;
      const port = freePort();
      const yaml = `${dir}/${run.who}.yaml`;
      await Deno.writeTextFile(yaml, limiterYaml(port, targetPort));
      const [cmd, args] = run.cmd(yaml);
      const proc = procs.spawn(run.who, cmd, args);
      try {
        await waitListening(port, proc, START_TIMEOUT_MS);
        const r = await download(port, seconds, warmup);
        const rate = r.bytes / r.seconds;
        rows.push({
          who: run.who,
          limit: LIMIT_LINE,
          seconds: r.seconds,
          bytes: r.bytes,
          rate,
          ratio: rate / LIMIT_RATE,
        });
      } catch (err) {
        errors.push({ who: run.who, message: err instanceof Error ? err.message : String(err) });
      } finally {
        await proc.stop();
      }
    }
  } finally {
    await procs.stopAll();
    await source.close();
    await Deno.remove(dir, { recursive: true });
  }
  return { rows, errors };
}

/** The rows as a markdown table. */
export function markdown(rows: BenchRow[]): string {
  const lines = [
    "| who | limit | seconds | bytes | rate (B/s) | ratio to 1 MiB/s |",
    "| --- | --- | ---: | ---: | ---: | ---: |",
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.who} | \`${r.limit}\` | ${r.seconds.toFixed(2)} | ${r.bytes} | ${Math.round(r.rate)} | ${
        r.ratio.toFixed(3)
      } |`,
    );
  }
  return lines.join("\n");
}
