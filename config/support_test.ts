import { assertEquals, assertStringIncludes, assertThrows } from "../tests/assert.ts";
import { parseConfig } from "./load.ts";
import { ConfigError } from "./origin.ts";
import { checkSupported } from "./support.ts";
import { buildCLIConfig } from "./url.ts";

import { loadParser } from "./load.ts";
await loadParser();

const refuse = (yaml: string, key: string, line: number) => {
  const cfg = parseConfig(yaml, { file: "gost.yaml" });
  const err = assertThrows(() => checkSupported(cfg), ConfigError) as ConfigError;
  assertEquals(err.key, key, err.message);
  assertEquals(err.line, line, err.message);
  assertStringIncludes(err.message, `gost.yaml:${line}: ${key}: `);
};

Deno.test("support: keys dost does not run are refused with file:line and key", () => {
  refuse("services:\n- name: s\n  addr: :1\n  observer: o0\n", "services[0].observer", 4);
  refuse(
    "services:\n- name: s\n  addr: :1\n  handler:\n    type: http\n    chainGroup:\n      chains: [a]\n",
    "services[0].handler.chainGroup",
    6,
  );
  refuse("authers:\n- name: a\n  plugin:\n    addr: 127.0.0.1:8000\n", "authers[0].plugin", 3);
  refuse("ingresses:\n- name: i\n  plugin:\n    addr: 127.0.0.1:8000\n", "ingresses[0].plugin", 3);
  refuse(
    "chains:\n- name: c\n  hops:\n  - name: h\n    nodes:\n    - name: n\n      addr: a:1\n      interface: eth0\n",
    "chains[0].hops[0].nodes[0].interface",
    8,
  );
  refuse("hops:\n- name: h\n  file:\n    path: /x\n", "hops[0].file", 3);
  refuse(
    "services:\n- name: s\n  addr: :1\n  listener:\n    tls:\n      options:\n        minVersion: VersionTLS12\n",
    "services[0].listener.tls.options.minVersion",
    7,
  );
});

Deno.test("support: what dost runs passes, and zero values are not 'set'", () => {
  const cfg = parseConfig(
    `services:
- name: s
  addr: :1
  admission: a
  bypass: b
  limiter: l
  climiter: c
  rlimiter: r
  hosts: h
  resolver: res
  handler: {type: http, auther: au, retries: 2}
log: {level: debug, format: json, output: stderr}
authers: [{name: au, auths: [{username: u, password: p}], reload: 10s, file: {path: /x}}]
admissions: [{name: a, matchers: [127.0.0.1]}]
bypasses: [{name: b, matchers: [10.0.0.0/8]}]
hosts: [{name: h, mappings: [{ip: 127.0.0.1, hostname: x.test}]}]
resolvers: [{name: res, nameservers: [{addr: "udp://127.0.0.1:53"}]}]
limiters: [{name: l, limits: ["$ 1MB"]}]
climiters: [{name: c, limits: ["$ 10"]}]
rlimiters: [{name: r, limits: ["$ 10"]}]
api: {}
`,
    { file: "ok.yaml" },
  );
  checkSupported(cfg);
});

Deno.test("support: command-line objects name the flag", () => {
  const cfg = buildCLIConfig({ L: ["http://:8080?interface=eth0&climiter=5"], F: [] });
  let err = assertThrows(() => checkSupported(cfg), ConfigError);
  assertStringIncludes(
    err.message,
    '-L "http://:8080?interface=eth0&climiter=5": services[0].metadata: option "interface" is not supported',
  );
  const hop = buildCLIConfig({ L: [], F: ["socks5://h:1?so_mark=3"] });
  err = assertThrows(() => checkSupported(hop), ConfigError);
  assertStringIncludes(err.message, '-F "socks5://h:1?so_mark=3": chains[0].hops[0].metadata: option "so_mark"');
});

Deno.test("load: a key no gost version knows is one warning with file:line", () => {
  const warnings: string[] = [];
  parseConfig("services:\n- name: s\n  addr: :1\n  admision: a0\n", {
    file: "typo.yaml",
    warn: (m) => warnings.push(m),
  });
  assertEquals(warnings, ["typo.yaml:4: services[0].admision: unknown key, ignored (no gost version reads it)"]);
});

Deno.test("url: scheme parts gost replaces are warned about", () => {
  const warnings: string[] = [];
  const warn = (m: string) => warnings.push(m);
  buildCLIConfig({ L: ["foo+ws://:8080", "ws://:8081", "bar://:8082"], F: ["socks5+quux://h:1"] }, undefined, { warn });
  assertEquals(warnings, [
    '-F "socks5+quux://h:1": dialer "quux" is not a gost name; gost and dost use "tcp" instead',
    '-L "foo+ws://:8080": handler "foo" is not a gost name; gost and dost use "auto" instead',
    '-L "bar://:8082": "bar" is not a gost scheme; gost and dost use auto+tcp instead',
  ]);
});

Deno.test("support: selection rules, auth files and HEAD-only keys are refused, a saved status is ignored", () => {
  refuse(
    'chains:\n- name: c\n  hops:\n  - name: h\n    nodes:\n    - name: n\n      addr: a:1\n      matcher: {rule: "Host(`x`)"}\n',
    "chains[0].hops[0].nodes[0].matcher",
    8,
  );
  refuse("authers:\n- name: a\n  auths:\n  - file: /etc/users\n", "authers[0].auths[0].file", 4);
  refuse("bypasses:\n- name: b\n  network: udp\n", "bypasses[0].network", 3);
  const warnings: string[] = [];
  const cfg = parseConfig("services:\n- name: s\n  addr: :1\n  status: {state: ready}\n", {
    file: "saved.yaml",
    warn: (m) => warnings.push(m),
  });
  checkSupported(cfg);
  assertEquals(warnings, []);
  assertEquals("status" in cfg.services![0], false);
});
