/**
 * `deno task bench`: single-stream iperf3 throughput on loopback, direct and
 * through dost, both directions (`iperf3 -c` and `iperf3 -c -R`). Reports
 * Gbit/s, the ratio to direct measured in the same run, pass/fail against
 * each scenario's target ratio, and the peak RSS (`VmHWM`) and CPU time of
 * every dost process. Prints a markdown table and, for a full run, writes it
 * into `docs/benchmarks.md` between the `bench:begin`/`bench:end` markers.
 *
 * ```sh
 * deno task bench                                  # every scenario, 10 s per direction
 * deno task bench -- --only relay+tls --seconds 5  # one scenario (plus the direct baseline)
 * deno task bench -- --list                        # scenario names
 * ```
 *
 * Options: `--only NAME[,NAME]` (repeatable), `--seconds N` (default 10),
 * `--entry FILE` (run a bundle such as `dist/dost.js` instead of `main.ts`),
 * `--out FILE` (default `docs/benchmarks.md`), `--write` (write the doc even
 * for an `--only` run), `--no-write`.
 *
 * Needs `iperf3` on PATH and Linux `/proc`. Every step has a time limit and
 * every child process is stopped at the end, on failure and on Ctrl-C too.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { cpuSeconds, freePort, memory, type Proc, ProcessGroup, runToEnd, waitListening } from "./bench_proc.ts";

/**
 * One row of the table: a dost set-up between the iperf3 client and server.
 * The client dost always runs `-L tcp://127.0.0.1:{listen}/127.0.0.1:{iperf}`
 * (a TCP port forward the iperf3 client connects to), plus `-F forward` when
 * set; a server dost runs `-L server` when set. In the URL templates
 * `{hop}` is replaced by the server dost's port.
 */
export interface Scenario {
  /** Row name; what `--only` matches. */
  name: string;
  /** `-L` of the server-side dost (the hop the client forwards through); none for a plain forward. */
  server?: string;
  /** `-F` of the client dost; none for a plain forward. */
  forward?: string;
  /** Minimum throughput as a fraction of direct, in both directions. */
  target: number;
  /** The ratio gost v3 measured on this machine, for comparison. */
  gost?: number;
}

/** A hop scenario: a server dost listening on `scheme` and a client forwarding through it with the same URL. */
function hop(name: string, scheme: string, target: number, gost?: number): Scenario {
  const url = `${scheme}://127.0.0.1:{hop}`;
  return { name, server: url, forward: url, target, gost };
}

/**
 * The scenarios, in table order. A new transport is one line, e.g.
 * `hop("relay+wss", "relay+wss", 0.3)`.
 */
export const SCENARIOS: Scenario[] = [
  { name: "tcp forward", target: 0.80, gost: 0.69 },
  hop("relay+tcp", "relay", 0.60, 0.50),
  hop("relay+tls", "relay+tls", 0.35, 0.28),
];

/** Seconds each iperf3 client runs, per direction. */
export const DEFAULT_SECONDS = 10;
/** Time a dost process gets to start listening. */
const START_TIMEOUT_MS = 30_000;
/** Slack on top of the test duration before an iperf3 client is killed. */
const CLIENT_SLACK_MS = 20_000;
/** Time a one-off iperf3 server gets to exit after its client finished. */
const SERVER_EXIT_MS = 5_000;

const ROOT = new URL("../", import.meta.url).pathname;
const DEFAULT_ENTRY = `${ROOT}main.ts`;
const DEFAULT_OUT = `${ROOT}docs/benchmarks.md`;
const BEGIN = "<!-- bench:begin -->";
const END = "<!-- bench:end -->";

/** One direction's throughput, in Gbit/s as the receiver saw it. */
type Gbps = number;

interface Row {
  scenario: Scenario | "direct";
  up?: Gbps;
  down?: Gbps;
  error?: string;
  /** Peak RSS in KiB per dost process name. */
  peaks: { name: string; peakKiB: number }[];
  /** CPU seconds of all dost processes together. */
  cpu?: number;
}

interface Options {
  seconds: number;
  entry: string;
  only: string[];
}

/** Starts the one-off iperf3 server on `iperfPort`, runs one client to `port`, returns Gbit/s. */
async function iperf(group: ProcessGroup, iperfPort: number, port: number, seconds: number, reverse: boolean) {
  const server = group.spawn("iperf3 -s", "iperf3", ["-s", "-1", "-B", "127.0.0.1", "-p", String(iperfPort)]);
  try {
    await waitListening(iperfPort, server, 10_000);
    const args = ["-c", "127.0.0.1", "-p", String(port), "-t", String(seconds), "-J", ...(reverse ? ["-R"] : [])];
    const out = await runToEnd("iperf3", args, seconds * 1000 + CLIENT_SLACK_MS);
    if (out.timedOut) throw new Error(`iperf3 ${args.join(" ")} timed out`);
    let report;
    try {
      report = JSON.parse(out.stdout);
    } catch {
      throw new Error(`iperf3 ${args.join(" ")} printed no JSON (exit ${out.code}): ${out.stderr.trim()}`);
    }
    if (report.error) throw new Error(`iperf3 ${args.join(" ")}: ${report.error}`);
    const bps = report.end?.sum_received?.bits_per_second;
    if (typeof bps !== "number" || !(bps > 0)) throw new Error(`iperf3 ${args.join(" ")}: no throughput in report`);
    return bps / 1e9;
  } finally {
    await Promise.race([server.exited, new Promise((r) => setTimeout(r, SERVER_EXIT_MS))]);
    await server.stop();
  }
}

function fill(template: string, ports: Record<string, number>): string {
  return template.replace(/\{(\w+)\}/g, (m, k: string) => (k in ports ? String(ports[k]) : m));
}

/** Starts a dost with `args` and waits until it listens on `port`. */
async function startDost(group: ProcessGroup, name: string, entry: string, args: string[], port: number) {
  const proc = group.spawn(name, Deno.execPath(), ["run", "--unstable-net", "--allow-all", entry, ...args], {
    DOST_SHUTDOWN_GRACE: "2s",
  });
  await waitListening(port, proc, START_TIMEOUT_MS);
  return proc;
}

async function runScenario(group: ProcessGroup, s: Scenario, opts: Options, iperfPort: number): Promise<Row> {
  const row: Row = { scenario: s, peaks: [] };
  const procs: Proc[] = [];
  try {
    const ports = { hop: freePort(), listen: freePort(), iperf: iperfPort };
    if (s.server) {
      procs.push(await startDost(group, "server", opts.entry, ["-L", fill(s.server, ports)], ports.hop));
    }
    const clientArgs = ["-L", `tcp://127.0.0.1:${ports.listen}/127.0.0.1:${ports.iperf}`];
    if (s.forward) clientArgs.push("-F", fill(s.forward, ports));
    procs.unshift(await startDost(group, "client", opts.entry, clientArgs, ports.listen));
    row.up = await iperf(group, iperfPort, ports.listen, opts.seconds, false);
    row.down = await iperf(group, iperfPort, ports.listen, opts.seconds, true);
  } catch (err) {
    row.error = (err as Error).message;
  } finally {
    let cpu = 0;
    for (const p of procs) {
      const mem = memory(p.pid);
      if (mem) row.peaks.push({ name: p.name, peakKiB: mem.peakKiB });
      cpu += cpuSeconds(p.pid) ?? 0;
    }
    row.cpu = cpu;
    await Promise.all(procs.map((p) => p.stop()));
  }
  return row;
}

const fmt = (n: number | undefined, digits = 2) => (n === undefined || Number.isNaN(n) ? "–" : n.toFixed(digits));

function ratio(v: number | undefined, base: number | undefined): number | undefined {
  return v === undefined || !base ? undefined : v / base;
}

/** The table rows in markdown; a scenario passes when both directions reach its target. */
function table(rows: Row[]): string {
  const direct = rows.find((r) => r.scenario === "direct");
  const out = [
    "| scenario | Gbit/s | ratio | Gbit/s (-R) | ratio (-R) | target | gost | result | dost peak RSS (MiB) | dost CPU s |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: |",
  ];
  for (const r of rows) {
    if (r.scenario === "direct") {
      out.push(`| direct | ${fmt(r.up)} | 1.00 | ${fmt(r.down)} | 1.00 | | | ${r.error ? "error" : ""} | | |`);
      continue;
    }
    const s = r.scenario;
    const up = ratio(r.up, direct?.up);
    const down = ratio(r.down, direct?.down);
    const result = r.error
      ? "error"
      : up !== undefined && down !== undefined && up >= s.target && down >= s.target
      ? "pass"
      : "**FAIL**";
    const rss = r.peaks.map((p) => `${p.name} ${(p.peakKiB / 1024).toFixed(0)}`).join(", ");
    out.push(
      `| ${s.name} | ${fmt(r.up)} | ${fmt(up)} | ${fmt(r.down)} | ${fmt(down)} | ${fmt(s.target)} | ${fmt(s.gost)} | ` +
        `${result} | ${rss} | ${fmt(r.cpu, 1)} |`,
    );
  }
  const errors = rows.filter((r) => r.error).map((r) =>
    `- ${r.scenario === "direct" ? "direct" : r.scenario.name}: ${r.error!.split("\n")[0]}`
  );
  return out.join("\n") + (errors.length ? `\n\nErrors:\n${errors.join("\n")}` : "");
}

async function version(cmd: string, args: string[]): Promise<string> {
  try {
    const out = await runToEnd(cmd, args, 10_000);
    return out.stdout.split("\n")[0].trim();
  } catch {
    return "unknown";
  }
}

function cpuModel(): string {
  try {
    return /^model name\s*:\s*(.+)$/m.exec(Deno.readTextFileSync("/proc/cpuinfo"))?.[1].trim() ?? "unknown";
  } catch {
    return "unknown";
  }
}

async function report(rows: Row[], opts: Options, command: string): Promise<string> {
  const lines = [
    `Measured ${new Date().toISOString().replace(/\.\d+Z$/, "Z")} with \`${command}\`.`,
    "",
    `- machine: ${navigator.hardwareConcurrency} CPUs (nproc), ${cpuModel()}, Linux ${Deno.osRelease()}`,
    `- deno ${Deno.version.deno} (v8 ${Deno.version.v8}); ${await version("iperf3", ["--version"])}`,
    `- iperf3: one stream, ${opts.seconds} s per direction, loopback; server \`iperf3 -s -1 -B 127.0.0.1 -p P\`, ` +
    `client \`iperf3 -c 127.0.0.1 -p PORT -t ${opts.seconds} -J\` and the same with \`-R\` (the "(-R)" columns)`,
    `- entry: \`${opts.entry.replace(ROOT, "")}\`; ratio = Gbit/s through dost ÷ direct Gbit/s in this run; ` +
    "a row passes when both directions reach the target",
    "",
    table(rows),
  ];
  return lines.join("\n");
}

async function writeDoc(path: string, body: string): Promise<void> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    text = `# Benchmarks\n\nWritten by \`deno task bench\` (scripts/bench.ts).\n\n${BEGIN}\n${END}\n`;
  }
  const a = text.indexOf(BEGIN);
  const b = text.indexOf(END);
  if (a < 0 || b < a) text = `${text.trimEnd()}\n\n${BEGIN}\n${body}\n${END}\n`;
  else text = `${text.slice(0, a + BEGIN.length)}\n${body}\n${text.slice(b)}`;
  await Deno.writeTextFile(path, text);
}

const USAGE = `Usage: deno task bench [-- OPTIONS]

  --only NAME[,NAME]  run only these scenarios (repeatable); the direct baseline always runs
  --seconds N         iperf3 duration per direction (default ${DEFAULT_SECONDS})
  --entry FILE        dost entry point to run (default main.ts; e.g. dist/dost.js)
  --out FILE          markdown file to update (default docs/benchmarks.md)
  --write             update the file even for an --only run
  --no-write          do not update the file
  --list              print the scenario names and exit`;

/** Runs the benchmark with command-line `argv`; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const args = argv[0] === "--" ? argv.slice(1) : argv;
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        only: { type: "string", multiple: true },
        seconds: { type: "string" },
        entry: { type: "string" },
        out: { type: "string" },
        write: { type: "boolean" },
        "no-write": { type: "boolean" },
        list: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }).values;
  } catch (err) {
    console.error(`bench: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (parsed.help) {
    console.log(USAGE);
    return 0;
  }
  if (parsed.list) {
    for (const s of SCENARIOS) console.log(s.name);
    return 0;
  }
  const seconds = Number(parsed.seconds ?? DEFAULT_SECONDS);
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 300) {
    console.error(`bench: --seconds must be an integer from 1 to 300, got "${parsed.seconds}"`);
    return 2;
  }
  const only = (parsed.only ?? []).flatMap((o) => o.split(",")).map((o) => o.trim()).filter(Boolean);
  const unknown = only.filter((o) => !SCENARIOS.some((s) => s.name === o));
  if (unknown.length) {
    console.error(`bench: unknown scenario "${unknown[0]}"; known: ${SCENARIOS.map((s) => s.name).join(", ")}`);
    return 2;
  }
  const opts: Options = {
    seconds,
    entry: parsed.entry ? new URL(parsed.entry, `file://${Deno.cwd()}/`).pathname : DEFAULT_ENTRY,
    only,
  };
  const scenarios = only.length ? SCENARIOS.filter((s) => only.includes(s.name)) : SCENARIOS;
  const write = !parsed["no-write"] && (parsed.write || only.length === 0);
  const command = `deno task bench${args.length ? ` -- ${args.join(" ")}` : ""}`;

  const group = new ProcessGroup();
  const onSignal = () => {
    console.error("bench: interrupted; stopping child processes");
    group.stopAll().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const rows: Row[] = [];
  try {
    const iperfPort = freePort();
    const direct: Row = { scenario: "direct", peaks: [] };
    rows.push(direct);
    console.error(`bench: direct (${seconds} s each way)`);
    try {
      direct.up = await iperf(group, iperfPort, iperfPort, seconds, false);
      direct.down = await iperf(group, iperfPort, iperfPort, seconds, true);
    } catch (err) {
      direct.error = (err as Error).message;
    }
    for (const s of scenarios) {
      console.error(`bench: ${s.name}`);
      rows.push(await runScenario(group, s, opts, iperfPort));
    }
  } finally {
    await group.stopAll();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }

  const body = await report(rows, opts, command);
  console.log(body);
  for (const r of rows) {
    if (r.error) console.error(`\n${r.scenario === "direct" ? "direct" : r.scenario.name}: ${r.error}`);
  }
  if (write) {
    const out = parsed.out ? new URL(parsed.out, `file://${Deno.cwd()}/`).pathname : DEFAULT_OUT;
    await writeDoc(out, body);
    console.error(`bench: wrote ${out}`);
  }
  return rows.some((r) => r.error) ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
