/**
 * `deno task compile [target...]`: self-contained dost executables with
 * `deno compile`, one per target, as `dist/dost-<target>` (`.exe` on
 * Windows). With no target given it builds all of {@linkcode TARGETS}.
 *
 * ```sh
 * deno task compile                                  # every target
 * deno task compile x86_64-unknown-linux-gnu         # one target
 * deno task compile -- --no-check aarch64-apple-darwin
 * ./dist/dost-x86_64-unknown-linux-gnu -L http://127.0.0.1:8080
 * ```
 *
 * NEEDS NETWORK ACCESS. `deno compile` downloads the `denort` runtime for
 * each target (`https://dl.deno.land/release/v<deno version>/denort-<target>.zip`)
 * and caches it in `DENO_DIR`; the host target is downloaded too. Without
 * that host reachable every target fails with
 * `error sending request for url (https://dl.deno.land/...): ... dns error`.
 * The npm registry is not enough (the npm `deno` packages ship `deno`, not
 * `denort`, and the full `deno` binary is no substitute). Offline, point
 * `DENORT_BIN` at a `denort` binary of the target you build; `deno compile`
 * then uses it instead of downloading.
 *
 * The binaries get the permissions dost needs (net, read, write, env, sys,
 * run) and `--unstable-net` baked in, so they run without flags. Options:
 * `--no-check` (skip type-checking), `--bundle` (Deno's experimental
 * bundle-before-embed: a smaller binary).
 *
 * @module
 */
import { parseArgs } from "node:util";

/** Every target `deno compile` can build, and the default set. */
export const TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
] as const;

/** The permissions compiled into the binaries. */
export const PERMISSIONS = [
  "--unstable-net",
  // All of them: FFI (TCP_NODELAY on TLS listeners) is all power anyway, and Deno reads /proc/self (open fds for
  // the metrics) only with --allow-all.
  "--allow-all",
];

/** Time one target's compile (including its download) may take. */
const COMPILE_TIMEOUT_MS = 10 * 60_000;

const ROOT = new URL("../", import.meta.url).pathname;

/** Where the binary for `target` goes. */
export function outputPath(target: string): string {
  return `${ROOT}dist/dost-${target}${target.includes("windows") ? ".exe" : ""}`;
}

/** Compiles dost for `target`; resolves to undefined on success or the error output. */
async function compile(target: string, opts: { check: boolean; bundle: boolean }): Promise<string | undefined> {
  const args = ["compile", ...PERMISSIONS, "--target", target, "--output", outputPath(target)];
  if (!opts.check) args.push("--no-check");
  if (opts.bundle) args.push("--bundle");
  args.push(`${ROOT}main.ts`);
  console.log(`compile: deno ${args.join(" ")}`);
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdin: "null",
    stdout: "inherit",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // gone
    }
  }, COMPILE_TIMEOUT_MS);
  const out = await child.output();
  clearTimeout(timer);
  const stderr = new TextDecoder().decode(out.stderr);
  await Deno.stderr.write(out.stderr);
  if (out.code === 0) return undefined;
  // The line that says why, without the progress and backtrace noise.
  const lines = stderr.split("\n").map((l) => l.trim());
  const download = lines.find((l) => l.includes("error sending request"))?.replace(/^\d+: /, "");
  const reason = download ?? lines.find((l) => l.startsWith("error:")) ?? `exit ${out.code}`;
  return download
    ? `${reason}\n  (deno compile downloads the denort runtime for each target: it needs network access, ` +
      "or DENORT_BIN pointing at a local denort)"
    : reason;
}

const USAGE = `Usage: deno task compile [-- OPTIONS] [TARGET...]

Targets (default: all): ${TARGETS.join(", ")}
  --no-check   skip type-checking
  --bundle     bundle before embedding (experimental in Deno; smaller binary)

Needs network access: deno compile downloads the denort runtime for each target.`;

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args,
    allowPositionals: true,
    options: {
      "no-check": { type: "boolean" },
      bundle: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const unknown = positionals.find((t) => !(TARGETS as readonly string[]).includes(t));
  if (unknown) {
    console.error(`compile: unknown target "${unknown}"\n${USAGE}`);
    Deno.exit(2);
  }
  const targets = positionals.length ? positionals : [...TARGETS];
  await Deno.mkdir(`${ROOT}dist`, { recursive: true });
  const failed: string[] = [];
  for (const target of targets) {
    const err = await compile(target, { check: !values["no-check"], bundle: !!values.bundle });
    if (err) {
      failed.push(target);
      console.error(`compile: ${target} failed: ${err}`);
    } else {
      console.log(`compile: wrote ${outputPath(target)}`);
    }
  }
  if (failed.length) {
    console.error(`compile: ${failed.length} of ${targets.length} targets failed: ${failed.join(", ")}`);
    Deno.exit(1);
  }
}
