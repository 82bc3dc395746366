/**
 * Every command line of the seeds against the YAML block shown beside it:
 * the command's config must contain everything the YAML says (types, addr,
 * auth, metadata, forwarder), must not add auth/TLS/forwarders/chains the
 * YAML lacks, and the YAML itself must load to a subset of the same config.
 */
import assert from "node:assert/strict";
import { parse as parseYAML } from "yaml";
import { SEED_CASES, SEED_YAML_ONLY, shellSplit } from "../tests/fixtures/config/seeds.ts";
import { parseArgs } from "./cli.ts";
import { parseConfig } from "./load.ts";
import type { Config } from "./schema.ts";
import { buildCLIConfig } from "./url.ts";

import { loadParser } from "./load.ts";
await loadParser();

/** Keys whose presence in the command's config must be announced by the YAML. */
const MUST_BE_SHOWN = new Set(["auth", "forwarder", "tls", "chain", "selector", "chains", "retries"]);

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * Asserts `expected` ⊆ `actual`. Inside `metadata` keys compare
 * case-insensitively and scalars as strings: command-line values are strings
 * and the loader lower-cases metadata keys.
 */
function assertSubset(actual: unknown, expected: unknown, path = "$", inMetadata = false): void {
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${path}: expected a list, got ${JSON.stringify(actual)}`);
    assert.equal(actual.length, expected.length, `${path}: length`);
    expected.forEach((x, i) => assertSubset(actual[i], x, `${path}[${i}]`, inMetadata));
  } else if (isMap(expected)) {
    assert.ok(isMap(actual), `${path}: expected a map, got ${JSON.stringify(actual)}`);
    for (const [k, v] of Object.entries(expected)) {
      const key: string | undefined = inMetadata
        ? Object.keys(actual).find((a) => a.toLowerCase() === k.toLowerCase())
        : k;
      assert.ok(key !== undefined && key in actual, `${path}.${k}: missing`);
      assertSubset(actual[key], v, `${path}.${k}`, inMetadata || k === "metadata");
    }
    if (!inMetadata) {
      for (const k of Object.keys(actual)) {
        if (MUST_BE_SHOWN.has(k)) assert.ok(k in expected, `${path}.${k}: not in the seed's YAML`);
      }
    }
  } else if (inMetadata) {
    assert.equal(String(actual), String(expected), path);
  } else {
    assert.equal(actual, expected, path);
  }
}

/** The config GOST builds from a seed's command line. */
function configOf(cmd: string): Config {
  const argv = shellSplit(cmd);
  assert.equal(argv[0], "gost");
  const args = parseArgs(argv.slice(1));
  assert.deepEqual(args.rest, [], "every argument is a flag");
  return buildCLIConfig(args);
}

for (const c of SEED_CASES) {
  Deno.test(`seed ${c.seed}: ${c.cmd}`, () => {
    const fromCmd = configOf(c.cmd);
    const fromYAML = parseConfig(c.yaml, { file: `seed-${c.seed}.yaml` });
    // The YAML as a plain tree (metadata keys as the seed spells them) against the command's config...
    assertSubset(fromCmd, parseYAML(c.yaml));
    // ...and through the loader: the seed's YAML loads to the same config, modulo defaults.
    assertSubset(fromCmd, fromYAML);
  });
}

for (const c of SEED_YAML_ONLY) {
  Deno.test(`seed ${c.seed}: YAML without a command line loads, map keys lower-cased`, () => {
    const cfg = parseConfig(c.yaml);
    assert.deepEqual(cfg.chains![0].hops![0].nodes![0].dialer, {
      type: "wss",
      metadata: { header: { "user-agent": "gost/3.0", foo: "bar" } },
    });
  });
}

Deno.test("seed table covers the seeds' command lines", async () => {
  // Every `gost ...` line of the seeds that are present is in the table.
  let dir: string;
  try {
    dir = new URL("../../shared/seeds/", import.meta.url).pathname;
    await Deno.stat(dir);
  } catch {
    return; // seeds live outside the repository; nothing to cross-check without them
  }
  const cmds = new Set(SEED_CASES.map((c) => c.cmd));
  for await (const f of Deno.readDir(dir)) {
    const text = await Deno.readTextFile(dir + f.name);
    for (const line of text.split("\n").map((l) => l.trim()).filter((l) => l.startsWith("gost -"))) {
      assert.ok(cmds.has(line), `${f.name}: "${line}" has no test case`);
    }
  }
});

Deno.test("the comparison catches differences (self-check)", () => {
  const cfg = configOf("gost -L http://:8000 -F http://user:pass@:8080");
  const fails = (expected: unknown) => assert.throws(() => assertSubset(cfg, expected));
  fails({ services: [{ handler: { type: "auto" } }] });
  fails({ services: [{ addr: ":8001" }] });
  fails({ services: [{ name: "service-0" }, { name: "service-1" }] });
  // auth or a chain the YAML does not show
  fails({ services: [{ handler: { type: "http" } }] });
  fails({ chains: [{ hops: [{ nodes: [{ connector: { type: "http" } }] }] }] });
});
