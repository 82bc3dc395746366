/**
 * Runs dost as a user would (`deno run main.ts …` in a child process) and
 * waits until every service is listening.
 *
 * @module
 */
const ROOT = new URL("../../", import.meta.url).pathname;
export const MAIN = `${ROOT}main.ts`;

export interface DostProcess {
  child: Deno.ChildProcess;
  /** Log lines seen so far (JSON lines from stderr). */
  logs: string[];
  /** Sends SIGTERM and waits for exit; resolves to the exit code. */
  stop(signal?: Deno.Signal): Promise<number>;
  /** Waits for an exit that is already under way (sends no signal). */
  exited(): Promise<number>;
}

export { freePort } from "../../transports/_testing.ts";

/**
 * Starts `main.ts` with `args` and waits for `services` "listening" lines
 * (default: one per `-L`). Rejects with the collected output on early exit.
 */
export async function startDost(
  args: string[],
  opts: { services?: number; cwd?: string; env?: Record<string, string>; entry?: string } = {},
): Promise<DostProcess> {
  const want = opts.services ?? args.filter((a) => a === "-L" || a.startsWith("-L=")).length;
  return await spawnListening(Deno.execPath(), ["run", "--unstable-net", "--allow-all", opts.entry ?? MAIN, ...args], {
    ...opts,
    want,
    what: "dost",
  });
}

/**
 * Runs `cmd` (dost, or another gost-compatible binary) and waits for `want`
 * log lines saying "listening on". Rejects with the output on early exit.
 */
export async function spawnListening(
  cmd: string,
  args: string[],
  opts: { want: number; what: string; cwd?: string; env?: Record<string, string> },
): Promise<DostProcess> {
  const want = opts.want;
  const child = new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    cwd: opts.cwd,
    env: { NO_COLOR: "1", ...opts.env },
  }).spawn();
  const logs: string[] = [];
  let listening = 0;
  let ready!: () => void;
  const readyP = new Promise<void>((r) => (ready = r));
  const pump = async (s: ReadableStream<Uint8Array>) => {
    let carry = "";
    for await (const chunk of s.pipeThrough(new TextDecoderStream())) {
      carry += chunk;
      const lines = carry.split("\n");
      carry = lines.pop()!;
      for (const l of lines) {
        logs.push(l);
        if (l.includes("listening on")) listening++;
        if (listening >= want) ready();
      }
    }
    if (carry) logs.push(carry);
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  if (want === 0) ready();
  const exited = child.status.then((s) => s.code);
  const first = await Promise.race([readyP.then(() => "ready"), exited.then(() => "exited")]);
  const proc: DostProcess = {
    child,
    logs,
    async exited() {
      const code = await exited;
      await pumps;
      return code;
    },
    async stop(signal: Deno.Signal = "SIGTERM") {
      try {
        child.kill(signal);
      } catch {
        // already gone
      }
      const code = await exited;
      await pumps;
      return code;
    },
  };
  if (first === "exited") {
    await pumps;
    throw new Error(`${opts.what} exited early (code ${await exited}):\n${logs.join("\n")}`);
  }
  return proc;
}

/** Runs dost to completion (e.g. `-O yaml`, `-V`); returns code and output. */
export async function runDost(
  args: string[],
  opts: { cwd?: string; stdin?: string; entry?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--unstable-net", "--allow-all", opts.entry ?? MAIN, ...args],
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    cwd: opts.cwd,
    env: { NO_COLOR: "1", ...opts.env },
  }).spawn();
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Runs a command; returns code and output. */
export async function run(
  cmd: string,
  args: string[],
  opts: { timeoutMs?: number; stdin?: Uint8Array } = {},
): Promise<{ code: number; stdout: string; stderr: string; bytes: Uint8Array }> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: opts.stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (opts.stdin) {
    const w = child.stdin.getWriter();
    await w.write(opts.stdin);
    await w.close();
  }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // gone
    }
  }, opts.timeoutMs ?? 30_000);
  const out = await child.output();
  clearTimeout(timer);
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr), bytes: out.stdout };
}

/** True when `cmd` is on PATH (or an absolute path that exists). */
export function hasCommand(cmd: string): boolean {
  const dirs = cmd.startsWith("/") ? [""] : (Deno.env.get("PATH") ?? "").split(":").concat(["/usr/sbin", "/sbin"]);
  for (const d of dirs) {
    try {
      Deno.statSync(d ? `${d}/${cmd}` : cmd);
      return true;
    } catch {
      // next
    }
  }
  return false;
}
