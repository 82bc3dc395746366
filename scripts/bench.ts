/**
 * `deno task bench`: single-stream iperf3 throughput on loopback, direct and
 * through dost, both directions (`iperf3 -c` and `iperf3 -c -R`). Reports
 * Gbit/s, the ratio to direct measured in the same run, pass/fail against
 * each scenario's target ratio, and the peak RSS (`VmHWM`) and CPU time of
 * every dost process. Prints a markdown table and, for a full run, writes it
 * into `docs/benchmarks.md` between the `bench:begin`/`bench:end` markers.
 *
 * ```sh
 * deno task bench                                  # every scenario, 3 rounds of 5 s per direction
 * deno task bench -- --only relay+tls --seconds 5  # one scenario (plus the direct baseline)
 * deno task bench -- --list                        # scenario names
 * ```
 *
 * Options: `--only NAME[,NAME]` (repeatable), `--seconds N` (default 5),
 * `--rounds N` (default 3; every row is measured once per round, interleaved, and the table shows medians),
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
import { benchLimiter, LIMIT_RATE, markdown as limiterMarkdown } from "./bench_limiter.ts";
import { benchConn, connMarkdown, DEFAULT_COUNT as CONN_COUNT } from "./bench_conn.ts";
import { benchTunnel } from "./bench_tunnel.ts";
import { benchIdle, DEFAULT_SETTLE_SECONDS, idleSection, writeIdleSection } from "./bench_idle.ts";
import {
  cpuSeconds,
  freePort,
  machineCpuSeconds,
  machineTimes,
  memory,
  ownCpuSeconds,
  type Proc,
  ProcessGroup,
  runToEnd,
  waitListening,
} from "./bench_proc.ts";

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
  /**
   * `-L` of the client dost. @default "tcp://127.0.0.1:{listen}/127.0.0.1:{iperf}". An `rtcp://…` listen makes
   * `{listen}` a port the *server* dost opens.
   */
  listen?: string;
  /** Minimum throughput as a fraction of direct, in both directions. */
  target: number;
}

/** A hop scenario: a server dost listening on `scheme` and a client forwarding through it with the same URL. */
function hop(name: string, scheme: string, target: number): Scenario {
  const url = `${scheme}://127.0.0.1:{hop}`;
  return { name, server: url, forward: url, target };
}

/** A remote port forward: iperf3 connects to a port the server dost opened; the client dost's tunnel dials iperf3. */
function rtcp(name: string, scheme: string, target: number): Scenario {
  const url = `${scheme}://127.0.0.1:{hop}`;
  return {
    name,
    server: `${url}?bind=true`,
    forward: url,
    listen: "rtcp://127.0.0.1:{listen}/127.0.0.1:{iperf}",
    target,
  };
}

/**
 * The scenarios, in table order. A new transport is one line, e.g.
 * `hop("relay+wss", "relay+wss", 0.3)`.
 */
export const SCENARIOS: Scenario[] = [
  { name: "tcp forward", target: 0.80 },
  hop("relay+tcp", "relay", 0.60),
  hop("relay+tls", "relay+tls", 0.35),
  // Targets are ratios to direct loopback; with gost (GOST_BIN) in the run, a row passes when dost ≥ gost both ways.
  hop("relay+ws", "relay+ws", 0.20),
  hop("relay+wss", "relay+wss", 0.17),
  hop("relay+mws", "relay+mws", 0.18),
  hop("relay+mwss", "relay+mwss", 0.17),
  hop("http2", "http2", 0.25),
  hop("relay+h2", "relay+h2", 0.25),
  hop("relay+h2c", "relay+h2c", 0.34),
  hop("relay+grpc", "relay+grpc", 0.12),
  {
    name: "relay+grpc insecure",
    server: "relay+grpc://127.0.0.1:{hop}?grpcInsecure=true",
    forward: "relay+grpc://127.0.0.1:{hop}?grpcInsecure=true",
    target: 0.12,
  },
  hop("relay+pht", "relay+pht", 0.05),
  hop("relay+phts", "relay+phts", 0.05),
  hop("relay+h3", "relay+h3", 0.03),
  {
    name: "relay+http3",
    server: "relay+h3://127.0.0.1:{hop}",
    forward: "relay+http3://127.0.0.1:{hop}",
    target: 0.03,
  },
  hop("relay+mtcp", "relay+mtcp", 0.12),
  hop("relay+mtls", "relay+mtls", 0.17),
  hop("relay+quic", "relay+quic", 0.03),
  hop("relay+wt", "relay+wt", 0.03),
  hop("relay+ohttp", "relay+ohttp", 0.40),
  // gost 3.2.6's otls server drops all but the first 16 KiB of a first write: its reply goes out alone.
  {
    name: "relay+otls",
    server: "relay+otls://127.0.0.1:{hop}?nodelay=true",
    forward: "relay+otls://127.0.0.1:{hop}",
    target: 0.30,
  },
  rtcp("rtcp over relay+tcp", "relay", 0.20),
  rtcp("rtcp over relay+ws", "relay+ws", 0.15),
];

/** Seconds each iperf3 client runs, per direction and round. */
export const DEFAULT_SECONDS = 5;
/** Rounds; every set-up is measured once per round (interleaved), and the table shows medians. */
export const DEFAULT_ROUNDS = 3;
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

/** One set-up under test: direct, or a scenario's running dost (or gost) processes. */
interface Setup {
  scenario: Scenario | "direct";
  /** Which proxy runs the scenario: dost, or the real gost (`GOST_BIN`) for the same-run comparison. */
  impl: "dost" | "gost";
  /** Port the iperf3 client connects to. */
  port: number;
  procs: Proc[];
  /** Gbit/s per round, client to server (iperf3 -c) and server to client (-R), as the receiver saw it. */
  up: number[];
  down: number[];
  /** Share of the machine's CPU (0..1, all modes but idle) in use during each measurement. */
  busy: number[];
  error?: string;
  /** Peak RSS in KiB per dost process, read before the processes are stopped. */
  peaks: { name: string; peakKiB: number }[];
  /** CPU seconds of its dost processes together, over the whole run. */
  cpu?: number;
}

interface Options {
  seconds: number;
  rounds: number;
  entry: string;
  /** gost's binary: each scenario then also runs on gost, in the same rounds. */
  gost?: string;
}

const nameOf = (s: Setup) =>
  s.scenario === "direct" ? "direct" : s.impl === "gost" ? `${s.scenario.name} (gost)` : s.scenario.name;

/**
 * Starts the one-off iperf3 server on `iperfPort`, runs one client to `port`; returns Gbit/s and the share
 * of the machine's CPU that was busy meanwhile.
 */
async function iperf(group: ProcessGroup, iperfPort: number, port: number, seconds: number, reverse: boolean) {
  const server = group.spawn("iperf3 -s", "iperf3", ["-s", "-1", "-B", "127.0.0.1", "-p", String(iperfPort)]);
  try {
    await waitListening(iperfPort, server, 10_000);
    const args = ["-c", "127.0.0.1", "-p", String(port), "-t", String(seconds), "-J", ...(reverse ? ["-R"] : [])];
    const t0 = machineTimes();
    const out = await runToEnd("iperf3", args, seconds * 1000 + CLIENT_SLACK_MS);
    const t1 = machineTimes();
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
    return { gbps: bps / 1e9, busy: (t1.busy - t0.busy) / Math.max(1e-9, t1.total - t0.total) };
  } finally {
    await Promise.race([server.exited, new Promise((r) => setTimeout(r, SERVER_EXIT_MS))]);
    await server.stop();
  }
}

function fill(template: string, ports: Record<string, number>): string {
  return template.replace(/\{(\w+)\}/g, (m, k: string) => (k in ports ? String(ports[k]) : m));
}

/** Starts dost (or gost, given its binary) with `args` and waits until it listens on `port`. */
async function startProxy(
  group: ProcessGroup,
  name: string,
  opts: Options,
  impl: Setup["impl"],
  args: string[],
  port: number,
) {
  const proc = impl === "gost"
    ? group.spawn(name, opts.gost!, args)
    : group.spawn(name, Deno.execPath(), ["run", "--unstable-net", "--allow-all", opts.entry, ...args], {
      DOST_SHUTDOWN_GRACE: "2s",
    });
  await waitListening(port, proc, START_TIMEOUT_MS);
  return proc;
}

/** Starts the processes of `s`: the server (if any), then the client forward to `iperfPort`. */
async function startScenario(
  group: ProcessGroup,
  s: Scenario,
  opts: Options,
  impl: Setup["impl"],
  iperfPort: number,
): Promise<Setup> {
  const setup: Setup = { scenario: s, impl, port: freePort(), procs: [], up: [], down: [], busy: [], peaks: [] };
  try {
    const ports = { hop: freePort(), listen: setup.port, iperf: iperfPort };
    if (s.server) {
      setup.procs.push(await startProxy(group, "server", opts, impl, ["-L", fill(s.server, ports)], ports.hop));
    }
    const clientArgs = ["-L", fill(s.listen ?? "tcp://127.0.0.1:{listen}/127.0.0.1:{iperf}", ports)];
    if (s.forward) clientArgs.push("-F", fill(s.forward, ports));
    setup.procs.unshift(await startProxy(group, "client", opts, impl, clientArgs, ports.listen));
  } catch (err) {
    setup.error = (err as Error).message;
  }
  return setup;
}

/** Reads peak RSS and CPU time of a set-up's processes, then stops them. */
async function finish(setup: Setup): Promise<void> {
  let cpu = 0;
  for (const p of setup.procs) {
    const mem = memory(p.pid);
    if (mem) setup.peaks.push({ name: p.name, peakKiB: mem.peakKiB });
    cpu += cpuSeconds(p.pid) ?? 0;
  }
  if (setup.procs.length) setup.cpu = cpu;
  await Promise.all(setup.procs.map((p) => p.stop()));
}

/**
 * Runs `rounds` rounds; each measures every working set-up once per
 * direction, in table order, so drift on a shared machine spreads evenly.
 */
async function measure(group: ProcessGroup, setups: Setup[], iperfPort: number, opts: Options): Promise<void> {
  for (let round = 1; round <= opts.rounds; round++) {
    for (const setup of setups) {
      for (const reverse of [false, true]) {
        if (setup.error) continue;
        try {
          const { gbps, busy } = await iperf(group, iperfPort, setup.port, opts.seconds, reverse);
          (reverse ? setup.down : setup.up).push(gbps);
          setup.busy.push(busy);
          console.error(
            `bench: round ${round}/${opts.rounds} ${nameOf(setup)}${reverse ? " -R" : ""}: ${gbps.toFixed(2)}`,
          );
        } catch (err) {
          setup.error = (err as Error).message;
        }
      }
    }
  }
}

function median(xs: number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const fmt = (n: number | undefined, digits = 2) => (n === undefined || Number.isNaN(n) ? "–" : n.toFixed(digits));

const pct = (xs: number[]) => {
  const m = median(xs);
  return m === undefined ? "–" : `${(100 * m).toFixed(0)}%`;
};

/** Median over the rounds of (through dost ÷ direct in the same round). */
function ratio(runs: number[], direct: number[]): number | undefined {
  return median(runs.flatMap((v, i) => (direct[i] ? [v / direct[i]] : [])));
}

/** The table in markdown: medians over the rounds; a scenario passes when both directions reach its target. */
function table(setups: Setup[]): string {
  const direct = setups.find((r) => r.scenario === "direct");
  const out = [
    "| scenario | Gbit/s | ratio | Gbit/s (-R) | ratio (-R) | target | dost/gost (→ / ←) | result | CPU busy | " +
    "peak RSS (MiB) | CPU s |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- | ---: |",
  ];
  // With gost measured in the same run, dost's row passes when it moves at least as much as gost both ways.
  const gostOf = (r: Setup) => setups.find((g) => g.impl === "gost" && g.scenario === r.scenario && !g.error);
  for (const r of setups) {
    const up = median(r.up);
    const down = median(r.down);
    if (r.scenario === "direct") {
      out.push(
        `| direct | ${fmt(up)} | 1.00 | ${fmt(down)} | 1.00 | | | ${r.error ? "error" : ""} | ${pct(r.busy)} | | |`,
      );
      continue;
    }
    const s = r.scenario;
    const ru = ratio(r.up, direct?.up ?? []);
    const rd = ratio(r.down, direct?.down ?? []);
    const g = r.impl === "dost" ? gostOf(r) : undefined;
    const vsUp = g ? ratio(r.up, g.up) : undefined;
    const vsDown = g ? ratio(r.down, g.down) : undefined;
    const vs = g ? `${fmt(vsUp)} / ${fmt(vsDown)}` : r.impl === "gost" ? "(gost)" : "–";
    const ok = g
      ? vsUp !== undefined && vsDown !== undefined && vsUp >= 1 && vsDown >= 1
      : ru !== undefined && rd !== undefined && ru >= s.target && rd >= s.target;
    const result = r.error ? "error" : r.impl === "gost" ? "" : ok ? "pass" : "**FAIL**";
    const rss = r.peaks.map((p) => `${p.name} ${(p.peakKiB / 1024).toFixed(0)}`).join(", ");
    out.push(
      `| ${nameOf(r)} | ${fmt(up)} | ${fmt(ru)} | ${fmt(down)} | ${fmt(rd)} | ${
        r.impl === "gost" ? "" : fmt(s.target)
      } | ` +
        `${vs} | ${result} | ${pct(r.busy)} | ${rss} | ${fmt(r.cpu, 1)} |`,
    );
  }
  const runs = setups.map((r) =>
    `- ${nameOf(r)}: ${r.up.map((g) => g.toFixed(1)).join(" ")} / -R ${r.down.map((g) => g.toFixed(1)).join(" ")}`
  );
  const errors = setups.filter((r) => r.error).map((r) => `- ${nameOf(r)}: ${r.error!.split("\n")[0]}`);
  return out.join("\n") + `\n\nEvery run, Gbit/s in round order:\n${runs.join("\n")}` +
    (errors.length ? `\n\nErrors:\n${errors.join("\n")}` : "");
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

function loadAverage(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  } catch {
    return "unknown";
  }
}

/** What else the machine did while the bench ran. */
interface Background {
  loadBefore: string;
  /** Wall-clock seconds of the run. */
  wall: number;
  /** CPU seconds used by processes other than the bench and its children. */
  others: number;
}

async function report(setups: Setup[], opts: Options, command: string, bg: Background): Promise<string> {
  const lines = [
    `Measured ${new Date().toISOString().replace(/\.\d+Z$/, "Z")} with \`${command}\`.`,
    "",
    `- machine: ${navigator.hardwareConcurrency} CPUs (nproc), ${cpuModel()}, Linux ${Deno.osRelease()}`,
    `- deno ${Deno.version.deno} (v8 ${Deno.version.v8}); ${await version("iperf3", ["--version"])}`,
    `- background: load average ${bg.loadBefore} before the run; other processes used ` +
    `${bg.others.toFixed(0)} CPU-seconds during its ${bg.wall.toFixed(0)} s ` +
    `(${(100 * bg.others / (bg.wall * navigator.hardwareConcurrency)).toFixed(0)}% of the machine; ` +
    "direct needs two busy processes and a row through dost three or four, so other work lowers the ratios too)",
    `- iperf3: one stream over loopback, ${opts.seconds} s per direction, ${opts.rounds} rounds; server ` +
    `\`iperf3 -s -1 -B 127.0.0.1 -p P\`, client \`iperf3 -c 127.0.0.1 -p PORT -t ${opts.seconds} -J\` and the same ` +
    `with \`-R\` (the "(-R)" columns: server to client)`,
    `- entry: \`${opts.entry.replace(ROOT, "")}\`; Gbit/s = median over the rounds (each round measures every ` +
    "row in table order); ratio = median over the rounds of (through dost ÷ direct in the same round); a row " +
    "passes when both directions reach the target, or, with gost measured in the same rounds (`(gost)` rows, " +
    "`GOST_BIN` or ../shared/bin/gost), when dost/gost ≥ 1 both ways; CPU busy = median share of the machine's CPU in use (all modes but idle, softirq " +
    "included) while iperf3 ran; peak RSS = `VmHWM` of each dost process at the end; dost CPU = " +
    "user + system seconds of its dost processes over the whole run",
    "",
    table(setups),
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
  --seconds N         iperf3 duration per direction and round (default ${DEFAULT_SECONDS})
  --rounds N          rounds; the table shows medians (default ${DEFAULT_ROUNDS})
  --entry FILE        dost entry point to run (default main.ts; e.g. dist/dost.js)
  --out FILE          markdown file to update (default docs/benchmarks.md)
  --write             update the file even for an --only run
  --no-write          do not update the file
  --list              print the scenario names and exit

  Side sections, alone or with scenarios: limiter, conn, tunnel, idle (10,000 idle tunnels; writes its own section)`;

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
        rounds: { type: "string" },
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
  const rounds = Number(parsed.rounds ?? DEFAULT_ROUNDS);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) {
    console.error(`bench: --rounds must be an integer from 1 to 20, got "${parsed.rounds}"`);
    return 2;
  }
  let only = (parsed.only ?? []).flatMap((o) => o.split(",")).map((o) => o.trim()).filter(Boolean);
  // `limiter` is the traffic-limit accuracy row (scripts/bench_limiter.ts), not an iperf3 scenario.
  const withLimiter = only.length === 0 || only.includes(LIMITER_ROW);
  const withConn = only.length === 0 || only.includes(CONN_ROW);
  const withIdle = only.length === 0 || only.includes(IDLE_ROW);
  const withTunnel = only.length === 0 || only.includes(TUNNEL_ROW);
  const sides = [LIMITER_ROW, CONN_ROW, IDLE_ROW, TUNNEL_ROW];
  const sideOnly = only.length > 0 && only.every((o) => sides.includes(o));
  only = only.filter((o) => !sides.includes(o));
  const unknown = only.filter((o) => !SCENARIOS.some((s) => s.name === o));
  if (unknown.length) {
    console.error(`bench: unknown scenario "${unknown[0]}"; known: ${SCENARIOS.map((s) => s.name).join(", ")}`);
    return 2;
  }
  const opts: Options = {
    seconds,
    rounds,
    entry: parsed.entry ? new URL(parsed.entry, `file://${Deno.cwd()}/`).pathname : DEFAULT_ENTRY,
    gost: gostBin(),
  };
  const scenarios = only.length ? SCENARIOS.filter((s) => only.includes(s.name)) : SCENARIOS;
  const write = !parsed["no-write"] && (parsed.write || only.length === 0);
  const command = `deno task bench${args.length ? ` -- ${args.join(" ")}` : ""}`;
  const out = parsed.out ? new URL(parsed.out, `file://${Deno.cwd()}/`).pathname : DEFAULT_OUT;
  // The idle-tunnel rows keep their own markers, so `--only idle` writes them unless --no-write.
  const idle = (o: Options) => idleRun(o, parsed["no-write"] ? undefined : out);

  if (sideOnly) {
    let ok = true;
    for (
      const section of [
        withLimiter && limiterSection,
        withConn && connSection,
        withTunnel && tunnelSection,
        withIdle && idle,
      ]
    ) {
      if (!section) continue;
      const r = await section(opts);
      console.log(r.text + "\n");
      ok &&= r.ok;
    }
    return ok ? 0 : 1;
  }
  try {
    await runToEnd("iperf3", ["--version"], 10_000);
  } catch {
    console.error("bench: iperf3 is not on PATH (Debian: apt-get install iperf3)");
    return 2;
  }
  const group = new ProcessGroup();
  const onSignal = () => {
    console.error("bench: interrupted; stopping child processes");
    group.stopAll().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const setups: Setup[] = [];
  const loadBefore = loadAverage();
  const t0 = performance.now();
  const machine0 = machineCpuSeconds();
  const own0 = ownCpuSeconds();
  try {
    const iperfPort = freePort();
    setups.push({
      scenario: "direct",
      impl: "dost",
      port: iperfPort,
      procs: [],
      up: [],
      down: [],
      busy: [],
      peaks: [],
    });
    for (const s of scenarios) {
      console.error(`bench: starting ${s.name}`);
      setups.push(await startScenario(group, s, opts, "dost", iperfPort));
      if (opts.gost) setups.push(await startScenario(group, s, opts, "gost", iperfPort));
    }
    await measure(group, setups, iperfPort, opts);
  } finally {
    for (const setup of setups) await finish(setup);
    await group.stopAll();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }

  const bg: Background = {
    loadBefore,
    wall: (performance.now() - t0) / 1000,
    others: Math.max(0, machineCpuSeconds() - machine0 - (ownCpuSeconds() - own0)),
  };
  let body = await report(setups, opts, command, bg);
  if (withLimiter) body += "\n\n" + (await limiterSection(opts)).text;
  if (withConn) body += "\n\n" + (await connSection(opts)).text;
  if (withTunnel) body += "\n\n" + (await tunnelSection(opts)).text;
  console.log(body);
  for (const r of setups) if (r.error) console.error(`\n${nameOf(r)}: ${r.error}`);
  if (write) {
    await writeDoc(out, body);
    console.error(`bench: wrote ${out}`);
  }
  let idleOk = true;
  if (withIdle) {
    const r = await idle(opts);
    console.log("\n" + r.text);
    idleOk = r.ok;
  }
  return setups.some((r) => r.error) || !idleOk ? 1 : 0;
}

/** `GOST_BIN`, else ../shared/bin/gost beside the project, when it exists. */
function gostBin(): string | undefined {
  for (const p of [Deno.env.get("GOST_BIN"), `${ROOT}../shared/bin/gost`]) {
    if (!p) continue;
    try {
      if (Deno.statSync(p).isFile) return p;
    } catch { /* not here */ }
  }
  return undefined;
}

/** The `--only` name of the per-connection rows. */
const CONN_ROW = "conn";

/**
 * Sequential CONNECT round trips per transport, dost and gost alternating
 * (#16's targets: ≥ 1.2× gost's rate and ≤ gost's p99).
 */
async function connSection(opts: Options): Promise<{ text: string; ok: boolean }> {
  const { rows, errors } = await benchConn({ mainTs: opts.entry, gostBin: opts.gost });
  const text = [
    `### Connection set-up: ${CONN_COUNT} sequential CONNECT round trips (connect, CONNECT, 4-byte echo, close) ` +
    "through `-L http -F relay+T` and `-L relay+T`",
    "",
    connMarkdown(rows),
    ...errors.map((e) => `- error: ${e}`),
  ].join("\n");
  return { text, ok: errors.length === 0 };
}

/** The `--only` name of the tunnel-entrypoint rows. */
const TUNNEL_ROW = "tunnel";

/** Requests per second and one 1 GiB download through a tunnel entrypoint, dost and gost (#14). */
function tunnelSection(opts: Options): Promise<{ text: string; ok: boolean }> {
  return benchTunnel({ mainTs: opts.entry, gostBin: opts.gost });
}

/** The `--only` name of the idle-tunnel rows. */
const IDLE_ROW = "idle";

/**
 * 10,000 idle tunnels through relay+ws and relay+mws, dost and gost in the same run (#15: dost's RSS and fds at
 * or under gost's); written to `out` between the section's own markers when given.
 */
async function idleRun(opts: Options, out?: string): Promise<{ text: string; ok: boolean }> {
  const result = await benchIdle({ mainTs: opts.entry, gostBin: opts.gost });
  const text = idleSection(result, DEFAULT_SETTLE_SECONDS);
  if (out) {
    await writeIdleSection(out, text);
    console.error(`bench: wrote the idle section of ${out}`);
  }
  return { text, ok: result.errors.length === 0 };
}

/** The `--only` name of the traffic-limiter row. */
const LIMITER_ROW = "limiter";

/**
 * A 1 MiB/s service limit (`$ 1MB 1MB`) over a 10 s download, dost and gost
 * (`GOST_BIN`) in the same run; each must land within ±5% of the limit.
 * Run on its own with `--only limiter`, or as the last section of a full run.
 */
async function limiterSection(opts: Options): Promise<{ text: string; ok: boolean }> {
  const { rows, errors } = await benchLimiter({ mainTs: opts.entry, gostBin: opts.gost });
  const pass = (r: { ratio: number }) => Math.abs(r.ratio - 1) <= 0.05;
  const text = [
    `### Traffic limiter: \`$ 1MB 1MB\` (${LIMIT_RATE} B/s) over a 10 s download, target ±5%`,
    "",
    limiterMarkdown(rows),
    "",
    ...rows.map((r) => `- ${r.who}: ${pass(r) ? "pass" : "FAIL"} (${((r.ratio - 1) * 100).toFixed(1)}%)`),
    ...errors.map((e) => `- ${e.who}: error: ${e.message}`),
  ].join("\n");
  return { text, ok: errors.length === 0 && rows.every(pass) };
}

if (import.meta.main) Deno.exit(await main(Deno.args));
