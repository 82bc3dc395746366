import { gunzipSync } from "node:zlib";
import { assert, assertEquals, assertMatch, assertThrows } from "../tests/assert.ts";
import { Logger, textLine } from "./log.ts";
import { backupName, openLogOutput } from "./log_file.ts";

Deno.test("log file: appended, folders created, rotated by size with gzip and maxBackups", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dost-log-" });
  try {
    const path = `${dir}/sub/gost.log`;
    const out = openLogOutput(path, { maxSize: 1, maxBackups: 2, compress: true });
    const line = "x".repeat(1023); // 1 KiB with the newline
    for (let i = 0; i < 1024 * 3 + 10; i++) out.sink(line);
    await out.flushed?.();
    out.close();
    out.close();
    const names = [...Deno.readDirSync(`${dir}/sub`)].map((e) => e.name).sort();
    assertEquals(names.length, 3, names.join(", ")); // the live file and two backups (the third was pruned)
    assert(names.includes("gost.log"));
    const backups = names.filter((n) => n !== "gost.log");
    for (const b of backups) assertMatch(b, /^gost-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}\.log\.gz$/);
    const text = new TextDecoder().decode(gunzipSync(Deno.readFileSync(`${dir}/sub/${backups[0]}`)));
    assertEquals(text.length, 1024 * 1024, "each backup holds exactly maxSize of whole lines");
    assertEquals(Deno.statSync(path).size, 10 * 1024);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("log file: without rotation it only grows; a path that cannot be opened is an error", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dost-log-" });
  try {
    const a = openLogOutput(`${dir}/a.log`);
    a.sink("one");
    a.close();
    const b = openLogOutput(`${dir}/a.log`);
    b.sink("two");
    b.close();
    assertEquals(Deno.readTextFileSync(`${dir}/a.log`), "one\ntwo\n");
    Deno.writeTextFileSync(`${dir}/file`, "");
    assertThrows(() => openLogOutput(`${dir}/file/x.log`), Error, "Cannot open log file");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("log: gost's text format, fan-out with per-target level and logger field", () => {
  assertEquals(
    textLine({
      time: "2026-12-03T09:19:18.123Z",
      level: "info",
      msg: "a >< b",
      service: "s-0",
      remote: "1.2.3.4:5",
      n: 5,
    }),
    'time="2026-12-03T09:19:18Z" level=info msg="a >< b" n=5 remote="1.2.3.4:5" service=s-0',
  );
  const a: string[] = [], b: string[] = [];
  const log = Logger.fanout([
    { level: "info", sink: (l) => a.push(l), fields: { logger: "a" } },
    { level: "debug", sink: (l) => b.push(l), format: "text", fields: { logger: "b" } },
  ]).with({ service: "s" });
  log.debug("d");
  log.info("i");
  assertEquals(a.length, 1);
  assertEquals(JSON.parse(a[0]).logger, "a");
  assertEquals(b.length, 2);
  assertMatch(b[1], /level=info msg=i logger=b service=s$/);
});

Deno.test("log file: backup names follow lumberjack", () => {
  const at = new Date(Date.UTC(2026, 11, 3, 9, 5, 7, 42));
  assertEquals(backupName("/var/log/gost.log", at, false), "/var/log/gost-2026-12-03T09-05-07.042.log");
  assertEquals(backupName("gost", at, false), "gost-2026-12-03T09-05-07.042");
});
