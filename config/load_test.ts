import assert from "node:assert/strict";
import {
  ConfigError,
  findDefaultConfig,
  loadConfig,
  loadConfigSource,
  mergeConfigs,
  parseConfig,
  validateConfig,
} from "./load.ts";
import { parseArgs } from "./cli.ts";
import type { Config } from "./schema.ts";

import { loadParser } from "./load.ts";
await loadParser();

const FIXTURES = new URL("../tests/fixtures/config/", import.meta.url).pathname;
const noEnv = () => undefined;

/** Asserts `fn` throws a ConfigError whose message is `message` (or matches it). */
async function rejects(fn: () => unknown, message: string | RegExp): Promise<void> {
  try {
    await fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${e}`);
    if (typeof message === "string") assert.equal(e.message, message);
    else assert.match(e.message, message);
    return;
  }
  assert.fail(`expected a ConfigError: ${message}`);
}

Deno.test("fixture gost.yaml: canonical names, lower-cased free maps, defaults for anonymous items", async () => {
  const cfg = await loadConfigSource(FIXTURES + "gost.yaml");
  assert.deepEqual(cfg, {
    services: [
      {
        name: "service-0",
        addr: ":8080",
        handler: {
          type: "http",
          chain: "chain-0",
          auther: "users",
          metadata: { proberesist: "code:404", knock: "example.com" },
        },
        listener: { type: "tcp" },
      },
      {
        name: "service-1",
        addr: ":8443",
        handler: { type: "relay", auth: { username: "user", password: "123456" } },
        listener: {
          type: "wss",
          tls: {
            certFile: "cert.pem",
            keyFile: "key.pem",
            options: { minVersion: "VersionTLS12", alpn: ["h2", "http/1.1"] },
          },
          metadata: { path: "/ws", header: { "user-agent": "gost/3.0" } },
        },
        forwarder: {
          selector: { strategy: "fifo", maxFails: 2, failTimeout: "30s" },
          nodes: [{ name: "target-0", addr: "192.168.1.1:80" }, { name: "backup", addr: "192.168.1.2:80" }],
        },
      },
    ],
    chains: [{
      name: "chain-0",
      hops: [
        {
          name: "hop-0",
          selector: { strategy: "round", maxFails: 1, failTimeout: "10s" },
          nodes: [{
            name: "node-0",
            addr: "example.com:443",
            connector: { type: "relay", auth: { username: "u", password: "p" } },
            dialer: {
              type: "wss",
              tls: { serverName: "example.com", secure: true },
              metadata: { path: "/x", keepalive: true, ttl: "15s" },
            },
          }],
        },
        { name: "shared" },
      ],
    }],
    authers: [{ name: "users", auths: [{ username: "alice", password: "a" }, { username: "bob", password: "b" }] }],
    hops: [{ name: "shared", nodes: [{ name: "n", addr: "10.0.0.1:1080", connector: { type: "socks5" } }] }],
    bypasses: [{ name: "bypass-0", whitelist: true, matchers: ["*.example.com", "10.0.0.0/8"] }],
    ingresses: [{ name: "ingress-0", rules: [{ hostname: "a.example.com", endpoint: "x" }] }],
    tls: { validity: "8760h", commonName: "dost.test" },
    log: { level: "info", rotation: { maxSize: 100, compress: true } },
  });
  validateConfig(cfg); // the "shared" reference resolves
});

Deno.test("fixture gost.json: JSON by extension, keys case-insensitive", async () => {
  assert.deepEqual(await loadConfigSource(FIXTURES + "gost.json"), {
    services: [{
      name: "service-0",
      addr: ":8080",
      handler: { type: "socks5", metadata: { notls: true, bind: "true" } },
      listener: { type: "tcp" },
    }],
    log: { level: "debug" },
  });
});

Deno.test("syntax errors name the file and the line", async () => {
  await rejects(() => loadConfigSource(FIXTURES + "broken.yaml"), /broken\.yaml:[56]: invalid YAML: Flow sequence/);
  await rejects(
    () => loadConfigSource(FIXTURES + "broken.json"),
    `${FIXTURES}broken.json:3: invalid JSON: unexpected "}"`,
  );
  await rejects(
    () => parseConfig('{"a": [1, 2', { file: "x.json" }),
    "x.json:1: invalid JSON: unexpected end of input",
  );
  await rejects(() => parseConfig("{}\n{}", { file: "x.json" }), 'x.json:2: invalid JSON: unexpected "{"');
  await rejects(
    () => parseConfig("a: 1\na: 2\n", { file: "dup.yaml" }),
    /^dup\.yaml:2: invalid YAML: Map keys must be unique/,
  );
});

Deno.test("wrong type names file:line:key", async () => {
  await rejects(
    () => loadConfigSource(FIXTURES + "wrong_type.yaml"),
    `${FIXTURES}wrong_type.yaml:7: services[0].handler.type: expected a string, got 42`,
  );
});

const TYPE_ERRORS: [yaml: string, message: string][] = [
  ["services: {}\n", "gost.yaml:1: services: expected a list, got a map"],
  ["services:\n- 1\n", "gost.yaml:2: services[0]: expected a map, got 1"],
  [
    "services:\n- name: a\n  addr: :1\n  handler: http\n",
    'gost.yaml:4: services[0].handler: expected a map, got "http"',
  ],
  ["services:\n- name: a\n  addr: 8080\n", "gost.yaml:3: services[0].addr: expected a string, got 8080"],
  [
    "services:\n- name: a\n  addr: :1\n  handler:\n    retries: many\n",
    'gost.yaml:5: services[0].handler.retries: expected an integer, got "many"',
  ],
  [
    "services:\n- name: a\n  addr: :1\n  handler:\n    metadata: [1]\n",
    "gost.yaml:5: services[0].handler.metadata: expected a map, got a list",
  ],
  ["tls:\n  secure: maybe\n", 'gost.yaml:2: tls.secure: expected a boolean, got "maybe"'],
  ["tls:\n  validity: 1year\n", 'gost.yaml:2: tls.validity: expected a duration like "30s", got "1year"'],
  ["tls:\n  validity: '30'\n", 'gost.yaml:2: tls.validity: expected a duration like "30s", got "30"'],
  ["tls:\n  options:\n    alpn: {a: 1}\n", "gost.yaml:3: tls.options.alpn: expected a list of strings, got a map"],
  [
    "chains:\n- name: c\n  hops:\n  - name: h\n    nodes:\n    - addr: a:1\n      dialer:\n        tls:\n          serverName: [x]\n",
    "gost.yaml:9: chains[0].hops[0].nodes[0].dialer.tls.serverName: expected a string, got a list",
  ],
  [
    "services:\n- name: a\n  addr: :1\n  forwarder:\n    nodes:\n    - addr: b:1\n      http:\n        header: {X: {y: 1}}\n",
    "gost.yaml:8: services[0].forwarder.nodes[0].http.header.X: expected a string, got a map",
  ],
  ["- 1\n", "gost.yaml:1: expected a map at the top level, got a list"],
];
for (const [yaml, message] of TYPE_ERRORS) {
  Deno.test(`type error: ${message}`, async () => {
    await rejects(() => parseConfig(yaml, { file: "gost.yaml" }), message);
  });
}

const MISSING: [yaml: string, message: string][] = [
  ["services:\n- name: a\n  handler: {type: http}\n", "gost.yaml:2: services[0].addr: missing"],
  ["services:\n- addr: :1\n", "gost.yaml:2: services[0].name: missing"],
  [
    "services:\n- name: a\n  addr: :1\n  forwarder:\n    nodes:\n    - name: t\n",
    "gost.yaml:6: services[0].forwarder.nodes[0].addr: missing",
  ],
  [
    "chains:\n- name: c\n  hops:\n  - name: h\n    nodes:\n    - name: n\n      connector: {type: http}\n",
    "gost.yaml:6: chains[0].hops[0].nodes[0].addr: missing",
  ],
  ["hops:\n- name: h\n  nodes:\n  - {name: n}\n", "gost.yaml:4: hops[0].nodes[0].addr: missing"],
  ["chains:\n- hops:\n  - nodes: [{addr: a:1}]\n", "gost.yaml:2: chains[0].name: missing"],
  [
    "chains:\n- name: c\n  hops:\n  - selector: {strategy: rr}\n",
    "gost.yaml:4: chains[0].hops[0]: hop has no nodes and no name",
  ],
  ["authers:\n- auths: [{username: a}]\n", "gost.yaml:2: authers[0].name: missing"],
];
for (const [yaml, message] of MISSING) {
  Deno.test(`required field: ${message}`, async () => {
    await rejects(() => parseConfig(yaml, { file: "gost.yaml" }), message);
  });
}

Deno.test("hop references resolve against top-level hops after merging", async () => {
  const chain = parseConfig("chains:\n- name: c\n  hops:\n  - name: h0\n    nodes: [{addr: a:1}]\n  - name: shared\n", {
    file: "chain.yaml",
  });
  await rejects(
    () => validateConfig(chain),
    'chain.yaml:6: chains[0].hops[1]: hop "shared" has no nodes and there is no top-level hop of that name',
  );
  const hops = parseConfig("hops:\n- name: shared\n  nodes: [{addr: b:1}]\n", { file: "hops.yaml" });
  validateConfig(mergeConfigs(chain, hops));
  // The error names the file and the path within it, not the merged position.
  const other = parseConfig("chains:\n- name: z\n  hops:\n  - name: nope\n", { file: "other.yaml" });
  await rejects(
    () => validateConfig(mergeConfigs(chain, hops, other)),
    /^other\.yaml:4: chains\[0\]\.hops\[0\]: hop "nope"/,
  );
  // A hop with a loader or plugin needs no inline nodes.
  validateConfig(parseConfig("chains:\n- name: c\n  hops:\n  - name: h\n    file: {path: hops.txt}\n"));
});

Deno.test("weak typing where viper is weak; durations as Go strings", () => {
  const cfg = parseConfig(
    [
      "services:",
      "- name: a",
      "  addr: :1",
      "  handler: {retries: '3', authers: 'a,b', auth: {username: 42, password: true}}",
      "  forwarder:",
      "    selector: {maxFails: '2', failTimeout: 1500000000}",
      "    nodes: [{addr: b:1}]",
      "tls: {secure: 'T', validity: 0, options: {cipherSuites: [A, 1]}}",
      "log: {rotation: {compress: 1}}",
    ].join("\n"),
  );
  assert.deepEqual(cfg.services![0].handler, {
    retries: 3,
    authers: ["a", "b"],
    auth: { username: "42", password: "true" },
  });
  assert.deepEqual(cfg.services![0].forwarder!.selector, { maxFails: 2, failTimeout: "1.5s" });
  assert.deepEqual(cfg.tls, { secure: true, options: { cipherSuites: ["A", "1"] } });
  assert.deepEqual(cfg.log, { rotation: { compress: true } });
});

Deno.test("anchors, merge keys, nulls and empty documents", () => {
  const cfg = parseConfig(
    [
      "x-common: &common {type: relay, metadata: {Nodelay: true}}",
      "services:",
      "- name: a",
      "  addr: :1",
      "  handler:",
      "    <<: *common",
      "    auth: ~",
      "  listener: *common",
    ].join("\n"),
  );
  assert.deepEqual(cfg, {
    services: [{
      name: "a",
      addr: ":1",
      handler: { type: "relay", metadata: { nodelay: true } },
      listener: { type: "relay", metadata: { nodelay: true } },
    }],
  });
  assert.deepEqual(parseConfig(""), {});
  assert.deepEqual(parseConfig("# nothing\n"), {});
  assert.deepEqual(parseConfig("{}", { format: "json" }), {});
});

Deno.test("metadata and passthrough sections: keys lower-cased recursively, values kept", () => {
  const cfg = parseConfig(
    "services:\n- name: a\n  addr: :1\n  listener:\n    metadata:\n      Header: {X-Token: Abc}\n      List: [{K: V}]\n" +
      "routers:\n- Name: r\n  Routes: [{Net: 10.0.0.0/8, Gateway: 1.1.1.1}]\n",
  );
  assert.deepEqual(cfg.services![0].listener!.metadata, { header: { "x-token": "Abc" }, list: [{ k: "V" }] });
  assert.deepEqual(cfg.routers, [{ name: "r", routes: [{ net: "10.0.0.0/8", gateway: "1.1.1.1" }] }]);
});

Deno.test("loadConfigSource: inline JSON, stdin JSON or YAML, unreadable file", async () => {
  assert.deepEqual(await loadConfigSource(' {"log": {"level": "warn"}} '), { log: { level: "warn" } });
  await rejects(
    () => loadConfigSource('{"services": [{"name": "a"}]}'),
    "<inline>:1: services[0].addr: missing",
  );
  const stdin = (text: string) => ({ readStdin: () => Promise.resolve(text) });
  assert.deepEqual(await loadConfigSource("-", stdin('  {"log": {"level": "warn"}}')), { log: { level: "warn" } });
  assert.deepEqual(await loadConfigSource("-", stdin("log:\n  level: warn\n")), { log: { level: "warn" } });
  await rejects(() => loadConfigSource("-", stdin("log:\n  level: [\n")), /^<stdin>:\d+: invalid YAML/);
  await assert.rejects(
    () => loadConfigSource("/nonexistent/gost.yaml"),
    /Cannot read config file "\/nonexistent\/gost\.yaml"/,
  );
});

Deno.test("mergeConfigs: lists concatenate, singleton sections are replaced", () => {
  const a: Config = { services: [{ name: "a", addr: ":1" }], tls: { commonName: "a" }, log: { level: "info" } };
  const b: Config = { services: [{ name: "b", addr: ":2" }], tls: { commonName: "b" }, hops: [{ name: "h" }] };
  assert.deepEqual(mergeConfigs(a, b, {}), {
    services: [{ name: "a", addr: ":1" }, { name: "b", addr: ":2" }],
    tls: { commonName: "b" },
    log: { level: "info" },
    hops: [{ name: "h" }],
  });
  assert.deepEqual(mergeConfigs(), {});
});

Deno.test("findDefaultConfig: /etc/gost, $HOME/.gost, . in order; json before yaml", async () => {
  const root = await Deno.makeTempDir();
  try {
    const [etc, home, cwd] = ["etc", "home", "cwd"].map((d) => `${root}/${d}`);
    for (const d of [etc, home, cwd]) await Deno.mkdir(d);
    assert.equal(findDefaultConfig([etc, home, cwd]), undefined);
    await Deno.writeTextFile(`${cwd}/gost.yml`, "");
    assert.equal(findDefaultConfig([etc, home, cwd]), `${cwd}/gost.yml`);
    await Deno.writeTextFile(`${home}/gost.yaml`, "");
    assert.equal(findDefaultConfig([etc, home, cwd]), `${home}/gost.yaml`);
    await Deno.writeTextFile(`${home}/gost.json`, "{}");
    assert.equal(findDefaultConfig([etc, home + "/", cwd]), `${home}/gost.json`);
    await Deno.mkdir(`${etc}/gost.yaml`); // a directory is not a config file
    assert.equal(findDefaultConfig([etc, home, cwd]), `${home}/gost.json`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("loadConfig: -C sources then -L/-F, overrides, validation", async () => {
  const args = parseArgs([
    "-C",
    FIXTURES + "gost.json",
    "-C",
    '{"services": [{"name": "inline", "addr": ":2"}], "log": {"level": "error"}}',
    "-L",
    "http://:8080",
    "-F",
    "socks5://h:1080",
    "-D",
  ]);
  const cfg = await loadConfig(args, { env: noEnv });
  assert.deepEqual(cfg.services!.map((s) => s.name), ["service-0", "inline", "service-0"]);
  assert.equal(cfg.services![2].handler!.chain, "chain-0");
  assert.deepEqual(cfg.log, { level: "debug" });
  assert.equal(cfg.chains![0].hops![0].nodes![0].connector!.type, "socks5");
});

Deno.test("loadConfig: default file only when nothing else configures services", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const opts = { env: noEnv, defaultDirs: [dir] };
    await assert.rejects(() => loadConfig(parseArgs([]), opts), /No configuration/);
    await Deno.writeTextFile(`${dir}/gost.yaml`, "services:\n- name: from-default\n  addr: :1\n");
    assert.deepEqual((await loadConfig(parseArgs([]), opts)).services!.map((s) => s.name), ["from-default"]);
    assert.equal((await loadConfig(parseArgs(["-F", "http://h:1"]), opts)).services![0].name, "from-default");
    // -L, -api, an api section or any -C suppress the lookup.
    assert.equal((await loadConfig(parseArgs(["-L", ":2"]), opts)).services!.length, 1);
    assert.equal((await loadConfig(parseArgs(["-api", ":18080"]), opts)).services, undefined);
    assert.equal((await loadConfig(parseArgs(["-C", '{"api": {"addr": ":1"}}']), opts)).services, undefined);
    assert.equal((await loadConfig(parseArgs(["-C", '{"log": {"level": "info"}}']), opts)).services, undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadConfig: a dangling hop reference in -C is reported", async () => {
  await rejects(
    () => loadConfig(parseArgs(["-C", '{"chains": [{"name": "c", "hops": [{"name": "x"}]}]}']), { env: noEnv }),
    '<inline>:1: chains[0].hops[0]: hop "x" has no nodes and there is no top-level hop of that name',
  );
});

Deno.test("parseConfig: an unresolved alias and an alias bomb are ConfigErrors with file:line", () => {
  assert.throws(
    () => parseConfig("services:\n- name: a\n  addr: *x\n", { file: "a.yaml" }),
    (e: unknown) => e instanceof ConfigError && /a\.yaml:3\b.*Unresolved alias/.test(e.message),
  );
  const levels = ["a: &a [1, 2]", "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]"];
  levels.push("c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]", "d: [*c, *c, *c, *c, *c, *c, *c, *c, *c]");
  assert.throws(
    () => parseConfig(levels.join("\n") + "\n", { file: "b.yaml" }),
    (e: unknown) => e instanceof ConfigError && /b\.yaml:\d+/.test(e.message),
  );
});
