import assert from "node:assert/strict";
import { applyOverrides, type CLIArgs, CLIError, parseArgs, splitWorkers, USAGE } from "./cli.ts";

const base: CLIArgs = { L: [], F: [], C: [], D: false, DD: false, V: false, help: false, rest: [] };

const CASES: [argv: string[], want: Partial<CLIArgs>][] = [
  [[], {}],
  [["-L", "http://:8080"], { L: ["http://:8080"] }],
  [["-L=http://:8080"], { L: ["http://:8080"] }],
  [["--L", "http://:8080"], { L: ["http://:8080"] }],
  [["--L=a=b"], { L: ["a=b"] }],
  [["-L", "a", "-L", "b", "-F", "c", "--F=d"], { L: ["a", "b"], F: ["c", "d"] }],
  // A value is taken whatever it looks like, as Go does.
  [["-L", "-F"], { L: ["-F"] }],
  [["-C", "a.yaml", "-C", "-", "-C", '{"services":[]}'], { C: ["a.yaml", "-", '{"services":[]}'] }],
  [["-O", "json"], { O: "json" }],
  [["-O=yaml", "-D", "-DD"], { O: "yaml", D: true, DD: true }],
  [["-D=false", "--V"], { V: true }],
  [["-D=1"], { D: true }],
  [["-api", ":18080", "-metrics=:9000"], { api: ":18080", metrics: ":9000" }],
  [["-R", "30s"], { R: 30_000 }],
  [["-R=1m30s"], { R: 90_000 }],
  // Parsing stops at the first non-flag and after "--".
  [["-L", "a", "extra", "-L", "b"], { L: ["a"], rest: ["extra", "-L", "b"] }],
  [["-L", "a", "-", "-L", "b"], { L: ["a"], rest: ["-", "-L", "b"] }],
  [["-L", "a", "--", "-L", "b"], { L: ["a"], rest: ["-L", "b"] }],
  [["-h"], { help: true }],
  [["-L", "a", "--help", "-X"], { L: ["a"], help: true }],
  [["-help"], { help: true }],
];
for (const [argv, want] of CASES) {
  Deno.test(`parseArgs ${JSON.stringify(argv)}`, () => {
    assert.deepEqual(parseArgs(argv), { ...base, ...want });
  });
}

const BAD: [argv: string[], message: string, flag: string][] = [
  [["-X"], 'Unknown flag "-X"', "X"],
  [["-l", "x"], 'Unknown flag "-l"', "l"],
  [["--dd"], 'Unknown flag "-dd"', "dd"],
  [["-L"], 'Flag "-L" needs an argument', "L"],
  [["-F", "x", "-C"], 'Flag "-C" needs an argument', "C"],
  [["-D=maybe"], 'Invalid boolean value "maybe" for flag "-D"', "D"],
  [["-R", "30"], 'Invalid value "30" for flag "-R": expected a duration like "30s"', "R"],
  [["---L", "x"], 'Bad flag syntax "---L"', "---L"],
  [["-=x"], 'Bad flag syntax "-=x"', "-=x"],
];
for (const [argv, message, flag] of BAD) {
  Deno.test(`parseArgs rejects ${JSON.stringify(argv)}`, () => {
    assert.throws(
      () => parseArgs(argv),
      (e: unknown) => e instanceof CLIError && e instanceof SyntaxError && e.message === message && e.flag === flag,
    );
  });
}

Deno.test("usage text lists every flag", () => {
  for (const f of ["-C", "-D", "-DD", "-F", "-L", "-O", "-R", "-V", "-api", "-metrics"]) {
    assert.match(USAGE, new RegExp(`^  ${f}\\b`, "m"));
  }
});

Deno.test("splitWorkers: groups between lone --", () => {
  assert.equal(splitWorkers(["-L", ":1"]), undefined);
  assert.equal(splitWorkers(["--", "-L", ":1"]), undefined, "a leading -- just ends the flags");
  assert.deepEqual(splitWorkers(["-L", ":1", "--", "-L", ":2", "-F", "x", "--", "-L", ":3"]), [
    ["-L", ":1"],
    ["-L", ":2", "-F", "x"],
    ["-L", ":3"],
  ]);
});

Deno.test("applyOverrides: -D, -DD, -api, -metrics over the config", () => {
  const noEnv = () => undefined;
  const cfg = { log: { level: "info", format: "json" }, api: { addr: ":1" } };
  assert.deepEqual(applyOverrides(cfg, { ...base, D: true }, noEnv), {
    log: { level: "debug", format: "json" },
    api: { addr: ":1" },
  });
  assert.deepEqual(applyOverrides({}, { ...base, D: true, DD: true }, noEnv), { log: { level: "trace" } });
  assert.deepEqual(
    applyOverrides(cfg, {
      ...base,
      api: "admin:pw@127.0.0.1:18080?pathPrefix=/api&accesslog=true",
      metrics: ":9000?path=/m",
    }, noEnv),
    {
      log: { level: "info", format: "json" },
      api: {
        addr: "127.0.0.1:18080",
        auth: { username: "admin", password: "pw" },
        pathPrefix: "/api",
        accesslog: true,
      },
      metrics: { addr: ":9000", path: "/m" },
    },
  );
  assert.deepEqual(cfg, { log: { level: "info", format: "json" }, api: { addr: ":1" } }, "input untouched");
});

Deno.test("applyOverrides: GOST_* variables, flags win", () => {
  const env: Record<string, string> = {
    GOST_API: ":7000",
    GOST_LOGGER_LEVEL: "warn",
    GOST_PROFILING: ":6060",
    GOST_METRICS: ":7001",
  };
  const cfg = { log: { level: "info", format: "text" } };
  assert.deepEqual(applyOverrides(cfg, base, (k) => env[k]), {
    log: { level: "warn" },
    api: { addr: ":7000" },
    profiling: { addr: ":6060" },
    metrics: { addr: ":7001" },
  });
  const flags = applyOverrides(cfg, { ...base, D: true, api: ":8000", metrics: ":8001" }, (k) => env[k]);
  assert.deepEqual([flags.log, flags.api, flags.metrics], [{ level: "debug" }, { addr: ":8000" }, { addr: ":8001" }]);
});
