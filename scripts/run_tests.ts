/**
 * `deno task test` (scripts/run_tests.ts): installs the real peers the tests drive (as root with
 * apt-get; otherwise those tests are skipped and counted), runs every test,
 * and ends with one line `N passed, N failed, N skipped`.
 *
 * Extra arguments are passed to `deno test` (e.g. a path or `--filter`).
 *
 * @module
 */
import { installPeers } from "./peers.ts";

await installPeers();

const args = [
  "test",
  "--unstable-net",
  "--allow-all",
  "--parallel",
  ...(Deno.args.length ? Deno.args : []),
];
// The real gost beside the project (../shared/bin/gost) is a test peer unless GOST_BIN says otherwise.
const env: Record<string, string> = { NO_COLOR: "1", DENO_JOBS: "2" };
if (!Deno.env.get("GOST_BIN")) {
  const beside = new URL("../../shared/bin/gost", import.meta.url).pathname;
  try {
    if (Deno.statSync(beside).isFile) env.GOST_BIN = beside;
  } catch { /* no gost: its tests are skipped and counted */ }
}
const child = new Deno.Command(Deno.execPath(), {
  args,
  stdout: "piped",
  stderr: "piped",
  env,
}).spawn();

let summary = "";
let ignoredTotal = 0;
const decoder = new TextDecoder();
const pump = async (stream: ReadableStream<Uint8Array>, out: typeof Deno.stdout) => {
  let carry = "";
  for await (const chunk of stream) {
    await out.write(chunk);
    carry += decoder.decode(chunk, { stream: true });
    const lines = carry.split("\n");
    carry = lines.pop()!;
    for (const l of lines) {
      if (/^(ok|FAILED) \| \d+ passed/.test(l)) summary = l;
      if (/\.\.\. ignored/.test(l)) ignoredTotal++;
    }
  }
};
await Promise.all([pump(child.stdout, Deno.stdout), pump(child.stderr, Deno.stderr)]);
const status = await child.status;

const num = (re: RegExp) => Number(re.exec(summary)?.[1] ?? 0);
let passed = num(/(\d+) passed/);
let failed = num(/(\d+) failed/);
const ignored = num(/(\d+) ignored/) || ignoredTotal;
if (!summary) {
  // deno test died before its summary (e.g. a type error): count it as a failure.
  passed = 0;
  failed = Math.max(1, failed);
}
if (!status.success && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed, ${ignored} skipped`);
Deno.exit(status.success && failed === 0 ? 0 : 1);
