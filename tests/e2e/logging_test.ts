/**
 * Logging as an operator sets it up: the global log as text on stdout or in
 * a file, a service writing to named loggers (each line tagged `logger`),
 * and bad logging settings refused before any port opens.
 */
import { assert, assertEquals, assertStringIncludes } from "../assert.ts";
import { freePort, runDost, startDost } from "./_dost.ts";
import { curlWith, hasCurl } from "./_common.ts";
import { startOrigin } from "./_servers.ts";

const curl = curlWith();

Deno.test({
  name: "e2e logging: text format, file output, and per-service loggers with their own level",
  ignore: !hasCurl,
  async fn() {
    const origin = startOrigin();
    const dir = await Deno.makeTempDir({ prefix: "dost-e2e-log-" });
    const [p, q] = [freePort(), freePort()];
    const yaml = `services:
- name: plain
  addr: 127.0.0.1:${p}
  handler: {type: http}
- name: tagged
  addr: 127.0.0.1:${q}
  loggers: [audit, debugging]
  handler: {type: http}
log: {level: info, format: text, output: ${dir}/global.log}
loggers:
- name: audit
  log: {level: info, output: ${dir}/audit/audit.log, rotation: {maxSize: 10, maxBackups: 3}}
- name: debugging
  log: {level: debug, format: text, output: ${dir}/debug.log}
`;
    await Deno.writeTextFile(`${dir}/gost.yaml`, yaml);
    // The services' "listening" lines go to their logs, not to stderr: wait on the port instead.
    const dost = await startDost(["-C", `${dir}/gost.yaml`], { services: 0 });
    try {
      for (let i = 0; i < 100; i++) {
        try {
          (await Deno.connect({ port: q })).close();
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      assertEquals(
        (await curl("-x", `http://127.0.0.1:${p}`, `http://127.0.0.1:${origin.port}/g`)).stdout,
        "origin:/g\n200",
      );
      assertEquals(
        (await curl("-x", `http://127.0.0.1:${q}`, `http://127.0.0.1:${origin.port}/t`)).stdout,
        "origin:/t\n200",
      );
    } finally {
      assertEquals(await dost.stop(), 0);
      await origin.close();
    }
    try {
      const global = await Deno.readTextFile(`${dir}/global.log`);
      assertStringIncludes(global, 'level=info msg="listening on 127.0.0.1:');
      assertStringIncludes(global, `service=plain`);
      assert(!global.includes("service=tagged"), "the tagged service writes to its own loggers only");
      const audit = (await Deno.readTextFile(`${dir}/audit/audit.log`)).trim().split("\n").map((l) => JSON.parse(l));
      assert(audit.some((r) => r.logger === "audit" && r.service === "tagged" && r.dst === `127.0.0.1:${origin.port}`));
      assert(audit.every((r) => r.level !== "debug"), "audit is at info");
      const debug = await Deno.readTextFile(`${dir}/debug.log`);
      assertStringIncludes(debug, "level=debug");
      assertStringIncludes(debug, "logger=debugging");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("e2e logging: a bad level, format or logger name is refused at start with file:line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dost-e2e-log-" });
  const p = freePort();
  try {
    const cases: [string, string][] = [
      [`log: {level: loud}\nservices: [{name: s, addr: "127.0.0.1:${p}"}]\n`, "gost.yaml:1: log.level: unknown level"],
      [
        `log:\n  format: txt\nservices: [{name: s, addr: "127.0.0.1:${p}"}]\n`,
        "gost.yaml:2: log.format: unknown format",
      ],
      [
        `services:\n- name: s\n  addr: 127.0.0.1:${p}\n  logger: nope\n`,
        `gost.yaml:4: services[0].logger: no logger named "nope"`,
      ],
      [`log: {output: ${dir}}\nservices: [{name: s, addr: "127.0.0.1:${p}"}]\n`, "Cannot open log file"],
    ];
    for (const [yaml, want] of cases) {
      await Deno.writeTextFile(`${dir}/gost.yaml`, yaml);
      const r = await runDost(["-C", `${dir}/gost.yaml`]);
      assertEquals(r.code, 1, yaml);
      assertStringIncludes(r.stderr, want);
      assert(!r.stderr.includes("listening on"));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
