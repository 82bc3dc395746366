import assert from "node:assert/strict";
import { parse as parseYAML } from "yaml";
import { SEED_CASES, shellSplit } from "../tests/fixtures/config/seeds.ts";
import { parseArgs } from "./cli.ts";
import { loadConfigSource, parseConfig } from "./load.ts";
import { formatConfig, toOutput } from "./output.ts";
import type { Config } from "./schema.ts";
import { buildCLIConfig } from "./url.ts";

import { loadParser } from "./load.ts";
await loadParser();

const FIXTURES = new URL("../tests/fixtures/config/", import.meta.url).pathname;

const SPEC_EXAMPLE_YAML = `
services:
- name: service-0
  addr: :8080
  handler:
    type: http
    chain: chain-0
  listener:
    type: tcp
chains:
- name: chain-0
  hops:
  - name: hop-0
    nodes:
    - name: node-0
      addr: example.com:443
      connector:
        type: relay
        auth: {username: u, password: p}
        metadata: {path: /x}
      dialer:
        type: wss
        tls: {serverName: example.com}
        metadata: {path: /x}
      metadata: {path: /x}
    metadata: {path: /x}
`;

/** What the loader makes of metadata keys: lower-cased, recursively (viper). */
function lowerMetadataKeys<T>(v: T, inMetadata = false): T {
  if (Array.isArray(v)) return v.map((x) => lowerMetadataKeys(x, inMetadata)) as T;
  if (v === null || typeof v !== "object") return v;
  return Object.fromEntries(
    Object.entries(v).map((
      [k, x],
    ) => [inMetadata ? k.toLowerCase() : k, lowerMetadataKeys(x, inMetadata || k === "metadata")]),
  ) as T;
}

function roundTrip(cfg: Config): void {
  for (const format of ["yaml", "json"] as const) {
    const text = formatConfig(cfg, format);
    assert.deepEqual(parseConfig(text, { file: `out.${format}` }), lowerMetadataKeys(cfg), `${format}:\n${text}`);
  }
}

Deno.test("-O yaml of the spec §2.7 example is the spec's YAML, in GOST's key order", () => {
  const cfg = buildCLIConfig({ L: ["http://:8080"], F: ["relay+wss://u:p@example.com:443?path=/x"] });
  const text = formatConfig(cfg, "yaml");
  assert.deepEqual(parseYAML(text), parseYAML(SPEC_EXAMPLE_YAML));
  const out = toOutput(cfg) as { services: Record<string, unknown>[]; chains: { hops: Record<string, unknown>[] }[] };
  assert.deepEqual(Object.keys(out), ["services", "chains"]);
  assert.deepEqual(Object.keys(out.services[0]), ["name", "addr", "handler", "listener"]);
  assert.deepEqual(Object.keys(out.services[0].handler as object), ["type", "chain"]);
  assert.deepEqual(Object.keys(out.chains[0].hops[0]), ["name", "nodes", "metadata"]);
  assert.match(text, /^services:\n- name: service-0\n {2}addr: :8080\n/);
  roundTrip(cfg);
});

for (const c of SEED_CASES) {
  Deno.test(`-O round trip: ${c.cmd}`, () => {
    roundTrip(buildCLIConfig(parseArgs(shellSplit(c.cmd).slice(1))));
  });
}

Deno.test("-O round trip: side objects, selectors, lists and numbers from the command line", () => {
  roundTrip(buildCLIConfig({
    L: [
      "tcp://:8000-8002/h:9000-9002?bypass=~a,b&climiter=5&rlimiter=1.5&retries=2&interface=eth0&so_mark=3" +
      "&dns=1.1.1.1,8.8.8.8&limiter.in=1MB&strategy=fifo&failTimeout=90&resolver=1.1.1.1&prefer=ipv4&hosts=a:1.2.3.4",
      "https://u:p@:443?certFile=c.pem&keyFile=k.pem&admission=10.0.0.0/8&keepalive=true",
      "rtcp://:2222/:22",
    ],
    F: ["http://u:p@10.0.0.1:8080,10.0.0.2:8080?maxFails=3&hop.x=1&node.y=2&secure=true", "sshd://u@h:22"],
  }));
});

Deno.test("-O round trip of a loaded file is exact, in both formats", async () => {
  const cfg = await loadConfigSource(FIXTURES + "gost.yaml");
  for (const format of ["yaml", "json"]) {
    assert.deepEqual(parseConfig(formatConfig(cfg, format), { file: `x.${format}` }), cfg);
  }
});

Deno.test("zero values are left out, metadata values are kept as they are", () => {
  const cfg = {
    services: [{
      name: "s",
      addr: ":1",
      interface: "",
      handler: { type: "", retries: 0, auth: { username: "", password: "" }, metadata: { off: false, n: 0, e: "" } },
      listener: { type: "tcp", tls: {}, metadata: {} },
      forwarder: { nodes: [] },
    }],
    chains: [],
  } as Config;
  assert.deepEqual(toOutput(cfg), {
    services: [{
      name: "s",
      addr: ":1",
      handler: { metadata: { off: false, n: 0, e: "" } },
      listener: { type: "tcp" },
    }],
  });
  assert.equal(formatConfig({}), "{}\n");
});

Deno.test("format: json only when asked, YAML for anything else (as GOST)", () => {
  const cfg: Config = {
    services: [{
      name: "s",
      addr: ":1",
      forwarder: { selector: { failTimeout: "30s" }, nodes: [{ name: "t", addr: "a:1" }] },
    }],
    log: { level: "debug" },
  };
  const json = formatConfig(cfg, "json");
  assert.deepEqual(JSON.parse(json), cfg);
  assert.match(json, /\n {2}"services": \[\n/);
  for (const f of ["yaml", "yml", "xml", ""]) assert.deepEqual(parseYAML(formatConfig(cfg, f)), cfg);
});

Deno.test("strings that look like other types stay strings", () => {
  const cfg: Config = {
    services: [{
      name: "s",
      addr: ":1",
      handler: { auth: { username: "007", password: "true" }, metadata: { a: "true", b: "10", c: "null", d: "#x" } },
    }],
  };
  assert.deepEqual(parseConfig(formatConfig(cfg)), cfg);
});
