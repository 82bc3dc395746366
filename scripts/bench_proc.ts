/**
 * Child processes for `scripts/bench.ts`: spawn with drained output, wait
 * for a loopback port to listen, read peak RSS and CPU time from `/proc`,
 * and stop everything (SIGTERM, then SIGKILL) however the run ends.
 *
 * Linux only: readiness and memory come from `/proc`.
 *
 * @module
 */

/** How many output lines of a child are kept for error messages. */
export const TAIL_LINES = 40;
/** How long a child gets to exit after SIGTERM before SIGKILL. */
export const STOP_GRACE_MS = 5_000;

/** A running child whose stdout and stderr are drained into {@linkcode Proc.tail}. */
export interface Proc {
  readonly name: string;
  readonly pid: number;
  /** The last {@linkcode TAIL_LINES} lines of stdout and stderr. */
  readonly tail: string[];
  /** Resolves to the exit code (signal deaths give 128 + n, as Deno reports them). */
  readonly exited: Promise<number>;
  /** True once the process has exited. */
  readonly done: boolean;
  /** SIGTERM, then SIGKILL after {@linkcode STOP_GRACE_MS}; resolves to the exit code. */
  stop(): Promise<number>;
}

/** Memory of a process from `/proc/<pid>/status`, in KiB. */
export interface Memory {
  /** `VmHWM`: peak resident set size. */
  peakKiB: number;
  /** `VmRSS`: resident set size now. */
  rssKiB: number;
}

/** Every child spawned through it; {@linkcode ProcessGroup.stopAll} ends them all. */
export class ProcessGroup {
  readonly #procs = new Set<Proc>();

  /** Spawns `cmd args` with stdin closed and both outputs drained. */
  spawn(name: string, cmd: string, args: string[], env: Record<string, string> = {}): Proc {
    const child = new Deno.Command(cmd, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", ...env },
    }).spawn();
    const tail: string[] = [];
    const drain = async (stream: ReadableStream<Uint8Array>) => {
      let carry = "";
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        carry += chunk;
        const lines = carry.split("\n");
        carry = lines.pop()!;
        for (const l of lines) {
          tail.push(l);
          if (tail.length > TAIL_LINES) tail.shift();
        }
      }
      if (carry) tail.push(carry);
    };
    const drained = Promise.all([drain(child.stdout), drain(child.stderr)]).catch(() => {});
    let done = false;
    const exited = child.status.then(async (s) => {
      done = true;
      await drained;
      return s.code;
    });
    const group = this.#procs;
    const proc: Proc = {
      name,
      pid: child.pid,
      tail,
      exited,
      get done() {
        return done;
      },
      async stop() {
        if (!done) {
          signal(child, "SIGTERM");
          const timer = setTimeout(() => signal(child, "SIGKILL"), STOP_GRACE_MS);
          try {
            await exited;
          } finally {
            clearTimeout(timer);
          }
        }
        group.delete(proc);
        return await exited;
      },
    };
    group.add(proc);
    return proc;
  }

  /** Stops every child still running. Never rejects. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.#procs].map((p) => p.stop().catch(() => {})));
  }
}

function signal(child: Deno.ChildProcess, sig: Deno.Signal): void {
  try {
    child.kill(sig);
  } catch {
    // already gone
  }
}

/** Runs `cmd args` to completion, killing it after `timeoutMs`; returns code and stdout. */
export async function runToEnd(
  cmd: string,
  args: string[],
  timeoutMs: number,
): Promise<{ code: number; stdout: string; stderr: string; timedOut: boolean }> {
  const child = new Deno.Command(cmd, { args, stdin: "null", stdout: "piped", stderr: "piped" }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    signal(child, "SIGKILL");
  }, timeoutMs);
  try {
    const out = await child.output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr), timedOut };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Ports in LISTEN state on IPv4 or IPv6, from `/proc/net/tcp{,6}`, plus bound
 * UDP ports from `/proc/net/udp{,6}` (QUIC listeners such as h3 are UDP).
 */
export function listeningPorts(): Set<number> {
  const ports = new Set<number>();
  // A bound UDP socket has no LISTEN state: state 07 (close) with a local port means bound; for TCP 0A is LISTEN.
  const tables: [string, string][] = [
    ["/proc/net/udp", "07"],
    ["/proc/net/udp6", "07"],
    ["/proc/net/tcp", "0A"],
    ["/proc/net/tcp6", "0A"],
  ];
  for (const [file, state] of tables) {
    let text: string;
    try {
      text = Deno.readTextFileSync(file);
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      // f[1] = local "ADDR:PORT" in hex, f[3] = state.
      if (f.length > 3 && f[3] === state) ports.add(parseInt(f[1].split(":").pop()!, 16));
    }
  }
  return ports;
}

/**
 * Waits until something listens on `port`, polling `/proc/net/tcp`; rejects
 * after `timeoutMs` or when `proc` exits first (with its last output lines).
 */
export async function waitListening(port: number, proc: Proc, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (listeningPorts().has(port)) return;
    if (proc.done) {
      throw new Error(
        `${proc.name} exited (code ${await proc.exited}) before listening on ${port}:\n` + tailText(proc),
      );
    }
    if (Date.now() > deadline) {
      throw new Error(`${proc.name} did not listen on ${port} within ${timeoutMs} ms:\n` + tailText(proc));
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

function tailText(proc: Proc): string {
  return proc.tail.map((l) => `  | ${l}`).join("\n");
}

/** `VmHWM` and `VmRSS` of `pid`, or undefined when the process is gone. */
export function memory(pid: number): Memory | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/status`);
  } catch {
    return undefined;
  }
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? NaN);
  return { peakKiB: kib("VmHWM"), rssKiB: kib("VmRSS") };
}

/** Clock ticks per second for `/proc/<pid>/stat` times (`getconf CLK_TCK`; 100 on Linux). */
export const CLOCK_TICKS = 100;

/** User + system CPU seconds `pid` has used, or undefined when the process is gone. */
export function cpuSeconds(pid: number): number | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    return undefined;
  }
  // Fields after the ")" that ends the command name: state is field 3, utime 14, stime 15.
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / CLOCK_TICKS;
}

/**
 * A free loopback port for TCP and UDP (QUIC rows), below Linux's ephemeral
 * range: a port handed out with `port: 0` could be taken as the source port
 * of an outgoing connection before the dost meant to listen on it started.
 */
export { freePort } from "../transports/_testing.ts";

/** CPU seconds spent in user, nice and system mode by the whole machine since boot (`/proc/stat`). */
export function machineCpuSeconds(): number {
  const f = Deno.readTextFileSync("/proc/stat").split("\n")[0].trim().split(/\s+/);
  // "cpu user nice system idle iowait irq softirq steal ..."
  return (Number(f[1]) + Number(f[2]) + Number(f[3])) / CLOCK_TICKS;
}

/** CPU seconds of this process plus its reaped children (user + system). */
export function ownCpuSeconds(): number {
  const text = Deno.readTextFileSync("/proc/self/stat");
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // utime 14, stime 15, cutime 16, cstime 17 (1-based field numbers).
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / CLOCK_TICKS;
}

/** Busy and total CPU seconds of the whole machine since boot, every mode (softirq included) but idle and iowait. */
export function machineTimes(): { busy: number; total: number } {
  const f = Deno.readTextFileSync("/proc/stat").split("\n")[0].trim().split(/\s+/).slice(1, 9).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: (total - f[3] - f[4]) / CLOCK_TICKS, total: total / CLOCK_TICKS };
}
