/**
 * Runs one in-process target: case `i` mutates a corpus seed with
 * `caseRng(seed, target, i)`, so every finding is reproducible from its
 * index. Collects crashes (disallowed errors, broken invariants, unhandled
 * rejections, slow cases) and memory figures.
 *
 * @module
 */
import { caseRng, mutate } from "./mutator.ts";
import { InvariantError, isAllowed, type Target } from "./targets.ts";
import { SEEDS } from "./seeds.ts";

/** Where the committed seed inputs live. */
export const CORPUS_DIR = new URL("./corpus/", import.meta.url);
/** Where crashing inputs are written (gitignored). */
export const CRASH_DIR = new URL("./crashes/", import.meta.url);

export interface Finding {
  target: string;
  index: number;
  kind: "crash" | "slow" | "hang" | "known";
  error: string;
  /** Path of the saved input, when saved. */
  file?: string;
  input: Uint8Array;
}

export interface RunResult {
  target: string;
  cases: number;
  ms: number;
  findings: Finding[];
  rssBefore: number;
  rssAfter: number;
  rssMax: number;
  heapAfter: number;
}

export interface RunOptions {
  seed: number;
  cases: number;
  /** First case index (a restarted worker continues after a hang). @default 0 */
  from?: number;
  /** Stop after this many ms. @default Infinity */
  timeMs?: number;
  /** A case slower than this is a finding. @default 1000 */
  slowMs?: number;
  /** Save findings to `CRASH_DIR`. @default false */
  save?: boolean;
  /** Called before each case (the worker's heartbeat). */
  onCase?: (index: number) => void;
  /** Stop recording after this many findings. @default 20 */
  maxFindings?: number;
}

/** The seeds of `name`: the corpus folder's `*.bin` files, else the built-in ones. */
export async function loadSeeds(name: string): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  try {
    const dir = new URL(`${name}/`, CORPUS_DIR);
    const files: string[] = [];
    for await (const e of Deno.readDir(dir)) if (e.isFile && e.name.endsWith(".bin")) files.push(e.name);
    files.sort();
    for (const f of files) out.push(await Deno.readFile(new URL(f, dir)));
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return out.length ? out : (SEEDS[name]?.() ?? []);
}

/** The input of case `index`, as the runner makes it. */
export function caseInput(target: Target, seeds: readonly Uint8Array[], seed: number, index: number) {
  const rng = caseRng(seed, target.name, index);
  return { input: mutate(seeds, rng, target.maxLen ?? 65536), rng };
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    return `${err.name}: ${err.message.slice(0, 300)}\n${err.stack?.split("\n").slice(1, 6).join("\n") ?? ""}`;
  }
  return `non-Error thrown: ${String(err).slice(0, 300)}`;
}

/** Writes a finding's input to `CRASH_DIR/<target>-<kind>-<index>.bin`; returns the path. */
export async function saveFinding(f: Finding, seed: number): Promise<string> {
  await Deno.mkdir(CRASH_DIR, { recursive: true });
  const base = `${f.target}-${f.kind}-s${seed}-${f.index}`;
  const bin = new URL(`${base}.bin`, CRASH_DIR);
  await Deno.writeFile(bin, f.input);
  await Deno.writeTextFile(new URL(`${base}.txt`, CRASH_DIR), f.error + "\n");
  return bin.pathname;
}

/** Runs `opts.cases` cases of `target`. */
export async function runTarget(target: Target, opts: RunOptions): Promise<RunResult> {
  const seeds = await loadSeeds(target.name);
  await target.setup?.();
  const slowMs = opts.slowMs ?? 1000;
  const maxFindings = opts.maxFindings ?? 20;
  const deadline = performance.now() + (opts.timeMs ?? Infinity);
  const findings: Finding[] = [];
  const seen = new Set<string>();
  let current = -1;
  let currentInput: Uint8Array = new Uint8Array(0);
  const record = async (kind: Finding["kind"], index: number, input: Uint8Array, error: string) => {
    if (kind === "crash" && target.known?.some((re) => re.test(error))) kind = "known";
    // One finding per distinct error site: the message up to its first quote or colon, digits dropped, and the top frame.
    const [head, frame] = error.split("\n");
    const key = kind + head.replace(/^([^:]*:[^:"'`]*).*$/, "$1").replace(/\d+/g, "") + "|" + (frame ?? "");
    if (seen.has(key) || findings.length >= maxFindings) return;
    seen.add(key);
    const f: Finding = { target: target.name, index, kind, error, input };
    if (opts.save) f.file = await saveFinding(f, opts.seed);
    findings.push(f);
  };
  const rejections: unknown[] = [];
  const onRejection = (e: PromiseRejectionEvent) => {
    e.preventDefault();
    rejections.push(e.reason);
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  const rssBefore = Deno.memoryUsage().rss;
  let rssMax = rssBefore;
  const start = performance.now();
  const from = opts.from ?? 0;
  let i = from;
  try {
    for (; i < from + opts.cases && performance.now() < deadline; i++) {
      opts.onCase?.(i);
      const { input, rng } = caseInput(target, seeds, opts.seed, i);
      current = i;
      currentInput = input;
      const t0 = performance.now();
      try {
        await target.run(input, rng);
      } catch (err) {
        if (err instanceof InvariantError || !isAllowed(err, target.allowed)) {
          await record("crash", i, input, describe(err));
        }
      }
      const dt = performance.now() - t0;
      if (dt > slowMs) await record("slow", i, input, `case took ${dt.toFixed(0)} ms (limit ${slowMs} ms)`);
      if (rejections.length) {
        // Let late rejections of this case surface before blaming the next one.
        for (const r of rejections.splice(0)) {
          await record("crash", current, currentInput, "unhandled rejection: " + describe(r));
        }
      }
      if ((i & 1023) === 0) rssMax = Math.max(rssMax, Deno.memoryUsage().rss);
    }
    await new Promise((r) => setTimeout(r, 0));
    for (const r of rejections.splice(0)) {
      await record("crash", current, currentInput, "unhandled rejection: " + describe(r));
    }
  } finally {
    globalThis.removeEventListener("unhandledrejection", onRejection);
  }
  const mem = Deno.memoryUsage();
  return {
    target: target.name,
    cases: i - from,
    ms: performance.now() - start,
    findings,
    rssBefore,
    rssAfter: mem.rss,
    rssMax: Math.max(rssMax, mem.rss),
    heapAfter: mem.heapUsed,
  };
}
