/**
 * `deno task fuzz`: mutation fuzzing of every parser and handshake dost has
 * (in-process targets, each in a worker with a hang watchdog), then of a
 * real dost process over loopback (TCP, TLS, QUIC, UDP, IPv4 and [::1]).
 *
 *   deno task fuzz [--cases N] [--seed S] [--only a,b] [--time SECONDS]
 *                  [--net-cases N] [--no-net] [--no-inproc] [--list]
 *                  [--write-corpus] [--json FILE]
 *
 * `--cases` is per target (default 100000); `--net-cases` overrides it for
 * network targets; `--time` caps each target's run. Findings are written to
 * `tests/fuzz/crashes/`; case `i` of a target is reproducible from the seed
 * alone. Exits 1 when anything was found.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { allTargets } from "../tests/fuzz/targets.ts";
import { caseInput, CORPUS_DIR, type Finding, loadSeeds, type RunResult, saveFinding } from "../tests/fuzz/runner.ts";
import { SEEDS } from "../tests/fuzz/seeds.ts";
import { NetHarness, type NetResult, netTargets, procStats, writeNetCorpus } from "../tests/fuzz/network.ts";
import type { WorkerRequest } from "../tests/fuzz/_worker.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    cases: { type: "string" },
    seed: { type: "string" },
    only: { type: "string" },
    time: { type: "string" },
    "net-cases": { type: "string" },
    json: { type: "string" },
    hang: { type: "string" },
    "no-net": { type: "boolean" },
    "no-inproc": { type: "boolean" },
    list: { type: "boolean" },
    "write-corpus": { type: "boolean" },
    help: { type: "boolean" },
  },
});
if (args.help) {
  console.log(
    "deno task fuzz [--cases N] [--seed S] [--only a,b] [--time SECONDS] [--net-cases N] [--no-net] [--no-inproc] [--list] [--write-corpus] [--json FILE]",
  );
  Deno.exit(0);
}
const cases = Number(args.cases ?? 100_000);
const netCases = Number(args["net-cases"] ?? cases);
const seed = Number(args.seed ?? 1) >>> 0;
const timeMs = args.time ? Number(args.time) * 1000 : undefined;
const hangMs = Number(args.hang ?? 10) * 1000;
const only = args.only ? new Set(String(args.only).split(",")) : undefined;
const pick = (name: string) => !only || only.has(name);
const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;

if (args.list) {
  for (const t of allTargets()) console.log(`${t.name.padEnd(16)} ${t.about}`);
  for (const t of netTargets()) {
    console.log(`${t.name.padEnd(16)} ${t.about} (${t.listen || "the net-socks5 listener"})`);
  }
  Deno.exit(0);
}

if (args["write-corpus"]) {
  let n = 0;
  for (const [name, make] of Object.entries(SEEDS)) {
    const dir = new URL(`${name}/`, CORPUS_DIR);
    await Deno.mkdir(dir, { recursive: true });
    for (const [i, b] of make().entries()) {
      await Deno.writeFile(new URL(`seed-${i}.bin`, dir), b);
      n++;
    }
  }
  n += await writeNetCorpus();
  console.log(`wrote ${n} seed files under ${CORPUS_DIR.pathname}`);
  Deno.exit(0);
}

/** Runs a target in workers, restarting after a hang. */
async function runInWorker(name: string): Promise<RunResult> {
  const total: RunResult = {
    target: name,
    cases: 0,
    ms: 0,
    findings: [],
    rssBefore: Deno.memoryUsage().rss,
    rssAfter: 0,
    rssMax: 0,
    heapAfter: 0,
  };
  let from = 0;
  const started = performance.now();
  while (from < cases) {
    // [current case, 1 once the worker runs cases]: module loading is not a hang.
    const heartbeat = new SharedArrayBuffer(8);
    const hb = new Int32Array(heartbeat);
    Atomics.store(hb, 0, from);
    const w = new Worker(new URL("../tests/fuzz/_worker.ts", import.meta.url), { type: "module" });
    const left = timeMs === undefined ? undefined : timeMs - (performance.now() - started);
    if (left !== undefined && left <= 0) {
      w.terminate();
      break;
    }
    const req: WorkerRequest = { name, seed, cases: cases - from, from, timeMs: left, heartbeat };
    const outcome = await new Promise<RunResult | { hang: number } | { error: string }>((resolve) => {
      let last = -1;
      let since = performance.now();
      const timer = setInterval(() => {
        const now = Atomics.load(hb, 0);
        if (Atomics.load(hb, 1) === 0 && performance.now() - since < 120_000) return;
        if (now !== last) {
          last = now;
          since = performance.now();
        } else if (performance.now() - since > hangMs) {
          clearInterval(timer);
          resolve({ hang: now });
        }
      }, 250);
      w.onmessage = (e) => {
        clearInterval(timer);
        resolve(e.data);
      };
      w.onerror = (e) => {
        e.preventDefault();
        clearInterval(timer);
        resolve({ error: `${e.message}` });
      };
      w.postMessage(req);
    });
    w.terminate();
    if ("hang" in outcome || "error" in outcome) {
      const index = "hang" in outcome ? outcome.hang : Atomics.load(hb, 0);
      const target = allTargets().find((t) => t.name === name)!;
      const { input } = caseInput(target, await loadSeeds(name), seed, index);
      const f: Finding = {
        target: name,
        index,
        kind: "hang" in outcome ? "hang" : "crash",
        error: "hang" in outcome ? `no progress for ${hangMs} ms` : `worker died: ${outcome.error}`,
        input,
      };
      f.file = await saveFinding(f, seed);
      total.findings.push(f);
      total.cases += index + 1 - from;
      from = index + 1;
      if (total.findings.length >= 20) break;
      continue;
    }
    total.cases += outcome.cases;
    total.findings.push(...outcome.findings);
    total.rssAfter = outcome.rssAfter;
    total.rssMax = Math.max(total.rssMax, outcome.rssMax);
    total.heapAfter = outcome.heapAfter;
    break;
  }
  total.ms = performance.now() - started;
  return total;
}

const report: { inproc: RunResult[]; net: NetResult[]; seed: number; cases: number; netCases: number } = {
  inproc: [],
  net: [],
  seed,
  cases,
  netCases,
};
let found = 0;
let known = 0;

if (!args["no-inproc"]) {
  console.log(`in-process targets: ${cases} cases each, seed ${seed}`);
  for (const t of allTargets()) {
    if (!pick(t.name)) continue;
    const r = await runInWorker(t.name);
    report.inproc.push(r);
    found += r.findings.filter((f) => f.kind !== "known").length;
    known += r.findings.length - r.findings.filter((f) => f.kind !== "known").length;
    console.log(
      `${t.name.padEnd(16)} ${String(r.cases).padStart(7)} cases ${(r.ms / 1000).toFixed(1).padStart(6)} s ` +
        `${(r.cases / (r.ms / 1000)).toFixed(0).padStart(6)}/s  findings ${r.findings.length}  ` +
        `rss ${mib(r.rssBefore)} -> ${mib(r.rssAfter)} (max ${mib(r.rssMax)})`,
    );
    for (const f of r.findings) {
      console.log(`  ${f.kind} at case ${f.index}: ${f.error.split("\n")[0]}\n    ${f.file ?? ""}`);
    }
  }
}

if (!args["no-net"]) {
  const harness = new NetHarness(pick);
  if (harness.targets.length) {
    console.log(`network targets: ${netCases} cases each`);
    await harness.start();
    try {
      const st0 = await procStats(harness.pid);
      console.log(`dost pid ${harness.pid}: rss ${mib(st0.rss)}, fds ${st0.fds}`);
      for (const tg of harness.targets) {
        const r = await harness.run(tg, {
          seed,
          cases: netCases,
          timeMs,
          log: Deno.env.get("FUZZ_VERBOSE") ? console.log : undefined,
        });
        report.net.push(r);
        found += r.findings.filter((f) => f.kind !== "refused").length;
        console.log(
          `${tg.name.padEnd(16)} ${String(r.cases).padStart(7)} cases ${(r.ms / 1000).toFixed(1).padStart(6)} s ` +
            `${(r.cases / (r.ms / 1000)).toFixed(0).padStart(6)}/s  findings ${r.findings.length}  ` +
            `dost rss ${mib(r.rssBefore)} -> ${mib(r.rssAfter)} (max ${
              mib(r.rssMax)
            }), fds ${r.fdsBefore} -> ${r.fdsAfter} (max ${r.fdsMax})`,
        );
        for (const f of r.findings) {
          console.log(`  ${f.kind} in cases ${f.range[0]}-${f.range[1]}: ${f.detail.slice(0, 500)}`);
        }
      }
      // Connections to unreachable fuzzed targets wait for their dial timeouts; a leak never goes away.
      const t0 = performance.now();
      const stats = () => procStats(harness.pid).catch(() => ({ rss: 0, fds: 0 }));
      let st = await stats();
      while (st.fds > st0.fds + 2 && performance.now() - t0 < 90_000) {
        await new Promise((r) => setTimeout(r, 1000));
        st = await stats();
      }
      console.log(
        `dost after ${((performance.now() - t0) / 1000).toFixed(0)} s idle: rss ${mib(st.rss)}, fds ${st.fds} ` +
          `(at start ${mib(st0.rss)}, ${st0.fds})${harness.alive ? "" : " — NOT RUNNING"}`,
      );
      if (st.fds > st0.fds + 2) {
        console.log(`  fds did not return to ${st0.fds} within 90 s: a leak?`);
        found++;
      }
    } finally {
      await harness.stop();
    }
  }
}

if (args.json) {
  const strip = (r: RunResult) => ({ ...r, findings: r.findings.map(({ input: _, ...f }) => f) });
  await Deno.writeTextFile(String(args.json), JSON.stringify({ ...report, inproc: report.inproc.map(strip) }, null, 2));
}
const knownNote = known ? ` (and ${known} already-reported known findings)` : "";
console.log((found ? `${found} findings (inputs in tests/fuzz/crashes/)` : "no findings") + knownNote);
Deno.exit(found ? 1 : 0);
