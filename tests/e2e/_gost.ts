/**
 * The real gost binary as a peer: its path comes from `GOST_BIN` (`.ci/run`
 * sets it to ../shared/bin/gost); tests that need it are skipped without it.
 *
 * @module
 */

/** The gost binary, or `undefined` when `GOST_BIN` is unset or does not exist. */
export const GOST_BIN: string | undefined = (() => {
  const p = Deno.env.get("GOST_BIN");
  if (!p) return undefined;
  try {
    return Deno.statSync(p).isFile ? p : undefined;
  } catch {
    return undefined;
  }
})();

export interface GostProcess {
  logs: string[];
  stop(): Promise<void>;
}

/** Starts gost with `args` and waits for `services` "listening on" lines. */
export async function startGost(args: string[], services = 1): Promise<GostProcess> {
  if (!GOST_BIN) throw new Error("GOST_BIN is not set");
  const child = new Deno.Command(GOST_BIN, { args, stdin: "null", stdout: "piped", stderr: "piped" }).spawn();
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
        if (l.includes("listening on") && ++listening >= services) ready();
      }
    }
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  if (services === 0) ready();
  const status = child.status;
  const first = await Promise.race([readyP.then(() => "ready"), status.then(() => "exited")]);
  const stop = async () => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
    await status;
    await pumps;
  };
  if (first === "exited") {
    await pumps;
    throw new Error(`gost exited early:\n${logs.join("\n")}`);
  }
  return { logs, stop };
}
