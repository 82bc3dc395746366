/**
 * Process metrics under the standard names (`process_*`, as Prometheus'
 * process collector exports them), read at scrape time, and the Deno heap
 * from `Deno.memoryUsage()`.
 *
 * CPU time (`getrusage`) and resident memory come from the runtime and need
 * no permission. The rest is read from `/proc`, which Deno opens only with
 * `--allow-all` (`--allow-read` is not enough): without it the start time
 * falls back to the runtime's time origin, and the virtual memory and file
 * descriptor gauges are left out of the scrape, as on systems without
 * `/proc`.
 *
 * @module
 */
import process from "node:process";
import type { Registry } from "./registry.ts";

/** Clock ticks per second of `/proc` CPU times (Linux `USER_HZ`, fixed at 100 for user space). */
export const USER_HZ = 100;

function readText(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

/** The fields of `/proc/self/stat` after the command name, so `[0]` is field 3 (state). */
function statFields(): string[] | undefined {
  const s = readText("/proc/self/stat");
  if (s === undefined) return undefined;
  // The command name is in parentheses and may itself contain spaces or parentheses.
  const end = s.lastIndexOf(")");
  return end < 0 ? undefined : s.slice(end + 2).trim().split(/\s+/);
}

/** A numeric field of `/proc/self/stat` by its 1-based number in proc(5). */
function statField(fields: string[] | undefined, n: number): number | undefined {
  const v = Number(fields?.[n - 3]);
  return Number.isFinite(v) ? v : undefined;
}

/** A `kB` line of `/proc/self/status`, in bytes. */
function statusBytes(key: string): number | undefined {
  const m = readText("/proc/self/status")?.match(new RegExp(`^${key}:\\s+(\\d+) kB$`, "m"));
  return m ? Number(m[1]) * 1024 : undefined;
}

/** Total user and system CPU time in seconds (`getrusage`, finer than `/proc`'s clock ticks). */
export function cpuSeconds(): number | undefined {
  try {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  } catch {
    return undefined;
  }
}

/** Resident set size in bytes. */
export function residentMemory(): number | undefined {
  try {
    return Deno.memoryUsage().rss;
  } catch {
    return statusBytes("VmRSS");
  }
}

/** Virtual memory size in bytes. */
export function virtualMemory(): number | undefined {
  return statField(statFields(), 23);
}

/** Open file descriptors (the one this count opens included, as Prometheus' collector counts). */
export function openFds(): number | undefined {
  try {
    let n = 0;
    for (const _ of Deno.readDirSync("/proc/self/fd")) n++;
    return n;
  } catch {
    return undefined;
  }
}

/** The soft limit on open files; `+Inf` when unlimited. */
export function maxFds(): number | undefined {
  const m = readText("/proc/self/limits")?.match(/^Max open files\s+(\S+)/m);
  if (!m) return undefined;
  if (m[1] === "unlimited") return Infinity;
  const v = Number(m[1]);
  return Number.isFinite(v) ? v : undefined;
}

let startTime: number | undefined;

/**
 * Process start time in seconds since the Unix epoch: boot time + the start
 * tick from `/proc`, else the runtime's time origin (a few milliseconds later).
 */
export function processStartTime(): number {
  if (startTime !== undefined) return startTime;
  const btime = readText("/proc/stat")?.match(/^btime\s+(\d+)$/m);
  const ticks = statField(statFields(), 22);
  startTime = btime && ticks !== undefined ? Number(btime[1]) + ticks / USER_HZ : performance.timeOrigin / 1000;
  return startTime;
}

function heap(key: "heapUsed" | "heapTotal" | "external"): number | undefined {
  try {
    return Deno.memoryUsage()[key];
  } catch {
    return undefined;
  }
}

/** Adds the `process_*` and `deno_*` families to `reg`. */
export function registerProcessMetrics(reg: Registry): void {
  reg.counterFunc("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", cpuSeconds);
  reg.gaugeFunc("process_open_fds", "Number of open file descriptors.", openFds);
  reg.gaugeFunc("process_max_fds", "Maximum number of open file descriptors.", maxFds);
  reg.gaugeFunc("process_virtual_memory_bytes", "Virtual memory size in bytes.", virtualMemory);
  reg.gaugeFunc("process_resident_memory_bytes", "Resident memory size in bytes.", residentMemory);
  reg.gaugeFunc(
    "process_start_time_seconds",
    "Start time of the process since unix epoch in seconds.",
    processStartTime,
  );
  reg.gaugeFunc("deno_heap_used_bytes", "V8 heap in use, in bytes.", () => heap("heapUsed"));
  reg.gaugeFunc("deno_heap_total_bytes", "V8 heap allocated, in bytes.", () => heap("heapTotal"));
  reg.gaugeFunc(
    "deno_external_memory_bytes",
    "Memory of V8-managed objects outside the heap, in bytes.",
    () => heap("external"),
  );
}
