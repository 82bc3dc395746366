/**
 * `deno task bundle`: bundles `main.ts` and everything it imports, npm
 * packages (`yaml`, `@peculiar/x509`, …) included, into one JavaScript file,
 * `dist/dost.js`, that runs anywhere Deno runs, with no `deno.json`,
 * lockfile, `node_modules` or npm cache beside it:
 *
 * ```sh
 * deno task bundle                       # -> dist/dost.js
 * deno task bundle -- --out /tmp/dost.js --minify
 * deno run --unstable-net --allow-all dist/dost.js -L http://127.0.0.1:8080
 * ./dist/dost.js -V                      # the file is executable (shebang)
 * ```
 *
 * Uses `deno bundle --platform deno --packages bundle` (esbuild inside Deno;
 * Deno fetches esbuild from the npm registry on first use). Then it checks
 * the result: the bundle is copied to an empty directory and run there with
 * `-V` and `-O yaml` against an empty `DENO_DIR` and an unreachable npm
 * registry, so anything not inside the bundle fails loudly. `--no-verify`
 * skips that.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { VERSION } from "../version.ts";

const ROOT = new URL("../", import.meta.url).pathname;
/** Where the bundle goes unless `--out` says otherwise. */
export const DEFAULT_OUT = `${ROOT}dist/dost.js`;

/** Permissions dost needs; `--unstable-net` is for `Deno.listenDatagram` and friends. */
const RUN_FLAGS = "--unstable-net --allow-all";

const header = (version: string) =>
  `#!/usr/bin/env -S deno run ${RUN_FLAGS}
// dost ${version}: GOST v3-compatible proxy and tunnel, bundled into one file by scripts/bundle.ts.
// Usage: deno run ${RUN_FLAGS} dost.js -L <url> [-F <url>]
//        deno run --unstable-net --allow-all dost.js -h
`;

async function run(args: string[], env: Record<string, string> = {}, cwd?: string) {
  const out = await new Deno.Command(Deno.execPath(), { args, env: { NO_COLOR: "1", ...env }, cwd, stdin: "null" })
    .output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Bundles `main.ts` into `out` and makes it executable; returns its size in bytes. */
export async function bundle(out: string, opts: { minify?: boolean } = {}): Promise<number> {
  await Deno.mkdir(new URL(".", `file://${out}`).pathname, { recursive: true });
  const tmp = out.replace(/(\.[cm]?js)?$/, ".tmp.js");
  const args = ["bundle", "--platform", "deno", "--packages", "bundle", "--output", tmp];
  if (opts.minify) args.push("--minify", "--keep-names");
  args.push(`${ROOT}main.ts`);
  const r = await run(args, {}, ROOT);
  if (r.code !== 0) {
    await Deno.remove(tmp).catch(() => {});
    throw new Error(`deno ${args.join(" ")} failed (exit ${r.code}):\n${r.stderr}`);
  }
  let body = (await Deno.readTextFile(tmp)).replace(/^#!.*\n/, "");
  if (body.includes("Dynamic require of") && !body.includes("createRequire")) {
    // Deno patches esbuild's `require` shim to `createRequire(import.meta.url)` in plain output but (2.9.6)
    // not in minified output, where CommonJS npm code then fails with 'Dynamic require of "node:process"'.
    // The shim uses a free `require` when one exists, so give it one.
    body = `import { createRequire as __dostCreateRequire } from "node:module";\n` +
      `const require = __dostCreateRequire(import.meta.url);\n${body}`;
  }
  await Deno.writeTextFile(out, header(VERSION) + body, { mode: 0o755 });
  await Deno.chmod(out, 0o755);
  await Deno.remove(tmp);
  return (await Deno.stat(out)).size;
}

/**
 * Runs the bundle from an empty directory with an empty `DENO_DIR` and an
 * unreachable npm registry: `-V` must print the version and `-O yaml` must
 * load the config (the `yaml` package). Throws with the output otherwise.
 */
export async function verify(file: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "dost-bundle-" });
  try {
    const copy = `${dir}/dost.js`;
    await Deno.copyFile(file, copy);
    const env = { DENO_DIR: `${dir}/deno_dir`, NPM_CONFIG_REGISTRY: "http://127.0.0.1:9/" };
    const flags = ["run", "--unstable-net", "--allow-all", "--no-config", "--no-lock"];
    const v = await run([...flags, copy, "-V"], env, dir);
    if (v.code !== 0 || !v.stdout.startsWith("dost ")) {
      throw new Error(`Bundle "${file}" failed "-V" (exit ${v.code}):\n${v.stdout}${v.stderr}`);
    }
    const y = await run([...flags, copy, "-L", "relay+tls://127.0.0.1:8443", "-O", "yaml"], env, dir);
    if (y.code !== 0 || !y.stdout.includes("type: relay")) {
      throw new Error(`Bundle "${file}" failed "-O yaml" (exit ${y.code}):\n${y.stdout}${y.stderr}`);
    }
    return v.stdout.trim();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const USAGE = `Usage: deno task bundle [-- OPTIONS]

  --out FILE    output file (default dist/dost.js)
  --minify      minify (keeps function and class names)
  --no-verify   skip running the bundle from an empty directory`;

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args,
    options: {
      out: { type: "string" },
      minify: { type: "boolean" },
      "no-verify": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const out = values.out ? new URL(values.out, `file://${Deno.cwd()}/`).pathname : DEFAULT_OUT;
  try {
    const size = await bundle(out, { minify: values.minify });
    console.log(`bundle: wrote ${out} (${(size / 1024).toFixed(0)} KiB)`);
    if (!values["no-verify"]) console.log(`bundle: verified from an empty directory: ${await verify(out)}`);
  } catch (err) {
    console.error(`bundle: ${(err as Error).message}`);
    Deno.exit(1);
  }
}
