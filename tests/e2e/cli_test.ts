/**
 * The command line as a user types it: -V, -h, -O, -C (file, stdin, inline
 * JSON), seed YAML blocks, and the errors for bad flags, URLs and YAML.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../assert.ts";
import { freePort, hasCommand, run, runDost, startDost } from "./_dost.ts";
import { startOrigin } from "./_servers.ts";

// A copy of the seed lives in the fixtures, so a clone without ../shared runs this test too.
const SEEDS = new URL("../fixtures/seeds/", import.meta.url).pathname;

/** The YAML blocks of a seed file, in order (each starts at `services:` and ends at a blank line). */
function seedYamlBlocks(file: string): string[] {
  const lines = Deno.readTextFileSync(`${SEEDS}${file}`).split("\n");
  const blocks: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== "services:") continue;
    const block: string[] = [];
    for (; i < lines.length && lines[i].trim() !== ""; i++) block.push(lines[i]);
    blocks.push(block.join("\n") + "\n");
  }
  return blocks;
}

Deno.test("cli: -V prints a version and -h the usage", async () => {
  const v = await runDost(["-V"]);
  assertEquals(v.code, 0);
  assertMatch(v.stdout, /^dost \d+\.\d+\.\d+ \(deno 2\.\d+\.\d+ \w+\/\w+\)\n$/);
  const h = await runDost(["-h"]);
  assertEquals(h.code, 0);
  assertStringIncludes(h.stdout, "-L");
});

Deno.test("cli: malformed flags exit 2 naming the flag; bad URLs and YAML exit 1 naming the value or file:line", async () => {
  let r = await runDost(["-X"]);
  assertEquals(r.code, 2);
  assertStringIncludes(r.stderr, "-X");
  r = await runDost(["-L"]);
  assertEquals(r.code, 2);
  assertStringIncludes(r.stderr, "-L");
  r = await runDost(["-F", "relay+wss://", "-L", ":0"]);
  assertEquals(r.code, 1);
  assertStringIncludes(r.stderr, '"relay+wss://"');
  r = await runDost(["-L", "http://127.0.0.1:99999"]);
  assertEquals(r.code, 1);
  assertStringIncludes(r.stderr, "99999");
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/bad.yaml`,
      "services:\n- name: a\n  addr: 127.0.0.1:0\n  handler:\n    type: [1\n",
    );
    r = await runDost(["-C", `${dir}/bad.yaml`]);
    assertEquals(r.code, 1);
    assertMatch(r.stderr, /bad\.yaml:\d+/);
    await Deno.writeTextFile(
      `${dir}/type.yaml`,
      "services:\n- name: a\n  addr: 127.0.0.1:0\n  handler:\n    type: 42\n",
    );
    r = await runDost(["-C", `${dir}/type.yaml`]);
    assertEquals(r.code, 1);
    assertStringIncludes(r.stderr, "type.yaml:5");
    assertStringIncludes(r.stderr, "services[0].handler.type");
    // A scheme gost knows but dost does not run yet is refused clearly, not silently replaced.
    r = await runDost(["-L", "kcp://127.0.0.1:0"]);
    assertEquals(r.code, 1);
    assertStringIncludes(r.stderr, '"kcp"');
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: -O yaml output loads back with -C to the same config, and -C - reads stdin", async () => {
  const args = ["-L", "http://user:pass@127.0.0.1:18080", "-F", "relay+tls://u:p@127.0.0.1:18443?nodelay=true"];
  const y = await runDost([...args, "-O", "yaml"]);
  assertEquals(y.code, 0, y.stderr);
  assertStringIncludes(y.stdout, "chain-0");
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/out.yaml`, y.stdout);
    const again = await runDost(["-C", `${dir}/out.yaml`, "-O", "yaml"]);
    assertEquals(again.stdout, y.stdout);
    const j = await runDost([...args, "-O", "json"]);
    const fromStdin = await runDost(["-C", "-", "-O", "json"], { stdin: j.stdout });
    assertEquals(JSON.parse(fromStdin.stdout), JSON.parse(j.stdout));
    const inline = await runDost(["-C", j.stdout.replace(/\n\s*/g, ""), "-O", "json"]);
    assertEquals(JSON.parse(inline.stdout), JSON.parse(j.stdout));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "cli: seed 001 HTTP CONNECT YAML blocks (server with auth, client chain) run as given",
  ignore: !hasCommand("curl"),
  async fn() {
    const [server, client] = seedYamlBlocks("001_5ff304fbdc53bd9a.txt");
    assertStringIncludes(server, "username: user");
    assertStringIncludes(client, "chain-0");
    const s = freePort(), c = freePort();
    const origin = startOrigin();
    const dir = await Deno.makeTempDir();
    try {
      // Only the listen/node addresses change: tests use loopback ports only.
      await Deno.writeTextFile(`${dir}/server.yaml`, server.replace('":8080"', `"127.0.0.1:${s}"`));
      await Deno.writeTextFile(
        `${dir}/client.yaml`,
        client.replace('":8000"', `"127.0.0.1:${c}"`).replace("addr: :8080", `addr: 127.0.0.1:${s}`),
      );
      const sp = await startDost(["-C", `${dir}/server.yaml`], { services: 1 });
      const cp = await startDost(["-C", `${dir}/client.yaml`], { services: 1 });
      try {
        const r = await run("curl", [
          "-s",
          "--max-time",
          "10",
          "-x",
          `http://127.0.0.1:${c}`,
          `http://127.0.0.1:${origin.port}/seed`,
        ]);
        assertEquals(r.stdout, "origin:/seed");
        const direct = await run("curl", [
          "-s",
          "-o",
          "/dev/null",
          "-w",
          "%{http_code}",
          "-x",
          `http://127.0.0.1:${s}`,
          `http://127.0.0.1:${origin.port}/`,
        ]);
        assertEquals(direct.stdout, "407", "the seed server requires user:pass");
      } finally {
        await cp.stop();
        await sp.stop();
      }
    } finally {
      await origin.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("cli: the start task's embedded default listens on 127.0.0.1:8080 only", async () => {
  const cfg = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  assertStringIncludes(cfg.tasks.start, "-L auto://127.0.0.1:8080");
  const y = await runDost(["-L", "auto://127.0.0.1:8080", "-O", "yaml"]);
  assertStringIncludes(y.stdout, "addr: 127.0.0.1:8080");
  assert(!y.stdout.includes("addr: :8080"));
});
