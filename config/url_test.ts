import assert from "node:assert/strict";
import { buildCLIConfig, GOST_NAMES, type KnownNames, parseAddrURL, parseNodeURL, parseServiceURL } from "./url.ts";
import type { Config } from "./schema.ts";

const svc = (url: string) => parseServiceURL(url)[0];
const node = (url: string) => parseNodeURL(url).nodes![0];

// Spec §2.2 "Consequences": scheme → -L handler+listener, -F connector+dialer.
const SCHEMES: [scheme: string, L: string, F: string][] = [
  ["http", "http+tcp", "http+tcp"],
  ["https", "http+tls", "http+tls"],
  ["socks5", "socks5+tcp", "socks5+tcp"],
  ["socks", "socks+tcp", "socks+tcp"],
  ["relay", "relay+tcp", "relay+tcp"],
  ["tls", "auto+tls", "http+tls"],
  ["ws", "auto+ws", "http+ws"],
  ["wss", "auto+wss", "http+wss"],
  ["mws", "auto+mws", "http+mws"],
  ["mwss", "auto+mwss", "http+mwss"],
  ["relay+ws", "relay+ws", "relay+ws"],
  ["socks5+wss", "socks5+wss", "socks5+wss"],
  ["http2", "http2+http2", "http2+http2"],
  ["h2", "auto+h2", "http+h2"],
  ["h2c", "auto+h2c", "http+h2c"],
  ["grpc", "auto+grpc", "http+grpc"],
  ["pht", "auto+pht", "http+pht"],
  ["phts", "auto+phts", "http+phts"],
  ["h3", "auto+h3", "http+h3"],
  ["http3", "auto+http3", "http+http3"], // PHT over HTTP/3, what -F http3:// dials (gost: a reverse proxy)
  ["quic", "auto+quic", "http+quic"],
  ["forward+pht", "forward+pht", "forward+pht"],
  ["tcp", "tcp+tcp", "tcp+tcp"],
  ["rtcp", "rtcp+rtcp", "http+tcp"],
  ["ssu", "ssu+udp", "ssu+udp"],
  ["auto", "auto+tcp", "http+tcp"],
  ["nonsense", "auto+tcp", "http+tcp"],
  ["a+b+c", "auto+tcp", "http+tcp"],
  ["HTTP", "http+tcp", "http+tcp"],
];
for (const [scheme, L, F] of SCHEMES) {
  Deno.test(`scheme ${scheme}: -L gives ${L}, -F gives ${F}`, () => {
    const s = svc(`${scheme}://:8080`);
    assert.equal(`${s.handler!.type}+${s.listener!.type}`, L);
    const n = node(`${scheme}://10.0.0.1:8080`);
    assert.equal(`${n.connector!.type}+${n.dialer!.type}`, F);
  });
}

Deno.test("normalisation: trimmed, auto:// added for a bare address", () => {
  for (const url of [":8080", "  :8080  ", "auto://:8080"]) {
    assert.deepEqual(parseServiceURL(url), [
      { name: "service-0", addr: ":8080", handler: { type: "auto" }, listener: { type: "tcp" } },
    ]);
  }
  assert.deepEqual(node("1.2.3.4:8080"), {
    name: "node-0",
    addr: "1.2.3.4:8080",
    connector: { type: "http" },
    dialer: { type: "tcp", tls: { serverName: "1.2.3.4" } },
  });
  assert.equal(svc("127.0.0.1:1080").addr, "127.0.0.1:1080");
});

Deno.test("registry fallback uses the names it is given", () => {
  const known: KnownNames = {
    handlers: new Set(["http"]),
    listeners: new Set(["tcp"]),
    connectors: new Set(["http"]),
    dialers: new Set(["tcp"]),
  };
  const s = parseServiceURL("socks5+ws://:1080", 0, known)[0];
  assert.equal(`${s.handler!.type}+${s.listener!.type}`, "auto+tcp");
  const n = parseNodeURL("socks5+ws://h:1080", known).nodes![0];
  assert.equal(`${n.connector!.type}+${n.dialer!.type}`, "http+tcp");
  assert.ok(GOST_NAMES.listeners.has("mwss") && !GOST_NAMES.handlers.has("ws"));
});

// Spec §2.3 examples.
const FORWARD: [url: string, handler: string, listener: string, targets: string[]][] = [
  ["tcp://:8080/192.168.1.1:80", "tcp", "tcp", ["192.168.1.1:80"]],
  ["pht://:8443/:1080", "forward", "pht", [":1080"]],
  ["forward+pht://:8443/:1080", "forward", "pht", [":1080"]],
  ["relay://:8420/:53", "relay", "tcp", [":53"]],
  ["socks5://:1080/host:80", "tcp", "tcp", ["host:80"]],
  ["rtcp://:2222/:22", "rtcp", "rtcp", [":22"]],
  ["udp://:5353/1.1.1.1:53", "udp", "udp", ["1.1.1.1:53"]],
  ["wss://:8443/:1080", "forward", "wss", [":1080"]],
  ["relay+wss://:8443/a:1,b:2", "relay", "wss", ["a:1", "b:2"]],
  ["tcp://:8080/a:80,b:8000-8002/", "tcp", "tcp", ["a:80", "b:8000", "b:8001", "b:8002"]],
  ["tcp://:8080/example.com", "tcp", "tcp", ["example.com"]],
  ["tcp://:8080/[::1]:80", "tcp", "tcp", ["[::1]:80"]],
];
for (const [url, handler, listener, targets] of FORWARD) {
  Deno.test(`forward targets: ${url}`, () => {
    const s = svc(url);
    assert.equal(s.handler!.type, handler);
    assert.equal(s.listener!.type, listener);
    assert.deepEqual(s.forwarder, { nodes: targets.map((addr, i) => ({ name: `target-${i}`, addr })) });
  });
}

Deno.test("no path: no forwarder; tcp:// keeps handler tcp", () => {
  assert.deepEqual(parseServiceURL("tcp://:8080"), [
    { name: "service-0", addr: ":8080", handler: { type: "tcp" }, listener: { type: "tcp" } },
  ]);
});

Deno.test("listen port range: one service per port, targets distributed", () => {
  const names = (url: string) =>
    parseServiceURL(url).map((s) => [s.name, s.addr, s.forwarder?.nodes?.map((n) => n.addr)]);
  assert.equal(parseServiceURL("tcp://:8000-8010/x:1").length, 11);
  assert.deepEqual(names("tcp://:8000-8002/h:9000-9002"), [
    ["service-0", ":8000", ["h:9000"]],
    ["service-1", ":8001", ["h:9001"]],
    ["service-2", ":8002", ["h:9002"]],
  ]);
  assert.deepEqual(names("tcp://:8000-8001/h:9000"), [["service-0", ":8000", ["h:9000"]], [
    "service-1",
    ":8001",
    ["h:9000"],
  ]]);
  // Service i gets target i; services past the last target get none.
  assert.deepEqual(names("tcp://:8000-8002/a:1,b:2"), [
    ["service-0", ":8000", ["a:1"]],
    ["service-1", ":8001", ["b:2"]],
    ["service-2", ":8002", undefined],
  ]);
  assert.deepEqual(names("tcp://127.0.0.1:8000-8001"), [["service-0", "127.0.0.1:8000", undefined], [
    "service-1",
    "127.0.0.1:8001",
    undefined,
  ]]);
  assert.deepEqual(parseServiceURL("http://:80", 7).map((s) => s.name), ["service-7"]);
});

Deno.test("unix:///path listens on the path (HEAD)", () => {
  const s = svc("unix:///run/gost.sock");
  assert.equal(s.addr, "/run/gost.sock");
  assert.equal(s.forwarder, undefined);
  assert.equal(node("unix:///run/gost.sock").addr, "/run/gost.sock");
});

Deno.test("-F comma host list: one hop, several nodes", () => {
  const hop = parseNodeURL("http://u:p@10.0.0.1:8080,10.0.0.2:8080", GOST_NAMES, { index: 3 });
  assert.equal(hop.name, "hop-3");
  assert.deepEqual(hop.nodes!.map((n) => [n.name, n.addr, n.connector!.auth, n.dialer!.tls?.serverName]), [
    ["node-0", "10.0.0.1:8080", { username: "u", password: "p" }, "10.0.0.1"],
    ["node-1", "10.0.0.2:8080", { username: "u", password: "p" }, "10.0.0.2"],
  ]);
  // Copies, not shared objects.
  assert.notEqual(hop.nodes![0].connector, hop.nodes![1].connector);
});

Deno.test("auth: user info, user only, percent-decoding, ssh", () => {
  assert.deepEqual(svc("http://user:pass@:8080").handler!.auth, { username: "user", password: "pass" });
  assert.deepEqual(svc("http://user@:8080").handler!.auth, { username: "user" });
  assert.deepEqual(svc("http://us%20er:p%40ss@:8080").handler!.auth, { username: "us er", password: "p@ss" });
  assert.deepEqual(svc("http://%E2%9C%93:%F0%9F%94%91@:8080").handler!.auth, { username: "✓", password: "🔑" });
  assert.deepEqual(svc("http://:1?k=%F0%9F%94%91+%2B").metadata, { k: "🔑 +" });
  assert.deepEqual(node("http://u:p%3Aq@h:1").connector!.auth, { username: "u", password: "p:q" });
  const ssh = svc("sshd://u:p@:2222");
  assert.equal(ssh.handler!.auth, undefined);
  assert.deepEqual(ssh.listener!.auth, { username: "u", password: "p" });
  const sshNode = node("sshd://u:p@h:2222");
  assert.equal(sshNode.connector!.auth, undefined);
  assert.deepEqual(sshNode.dialer!.auth, { username: "u", password: "p" });
});

Deno.test("auth= query: base64, -L overrides user info, -F only without it", () => {
  const b64 = btoa("alice:s3cret");
  assert.deepEqual(svc(`http://:8080?auth=${b64}`).handler!.auth, { username: "alice", password: "s3cret" });
  assert.deepEqual(svc(`http://bob:x@:8080?auth=${b64}`).handler!.auth, { username: "alice", password: "s3cret" });
  assert.deepEqual(node(`http://h:1?auth=${b64}`).connector!.auth, { username: "alice", password: "s3cret" });
  assert.deepEqual(node(`http://bob:x@h:1?auth=${b64}`).connector!.auth, { username: "bob", password: "x" });
  assert.deepEqual(svc(`http://:8080?auth=${btoa("solo")}`).handler!.auth, { username: "solo" });
  // Unpadded URL-safe form (HEAD) is accepted too.
  assert.deepEqual(svc("http://:1?auth=YWI_Oj8-").handler!.auth, { username: "ab?", password: "?>" });
  // auth never reaches metadata.
  assert.equal(svc(`http://:8080?auth=${b64}`).handler!.metadata, undefined);
});

Deno.test("SIP002 user info on ss schemes (HEAD)", () => {
  const tok = btoa("aes-128-gcm:pw").replaceAll("=", "");
  assert.deepEqual(svc(`ss://${tok}@:8338`).handler!.auth, { username: "aes-128-gcm", password: "pw" });
  assert.deepEqual(svc("ss://aes-128-gcm:pw@:8338").handler!.auth, { username: "aes-128-gcm", password: "pw" });
});

Deno.test("-L query routing: prefixes, un-prefixed copied to all three", () => {
  const s = svc("http://:8080?a=1&service.b=2&handler.c=3&listener.d=4&Path=/x");
  assert.deepEqual(s.metadata, { a: "1", b: "2", Path: "/x" });
  assert.deepEqual(s.handler!.metadata, { a: "1", c: "3", Path: "/x" });
  assert.deepEqual(s.listener!.metadata, { a: "1", d: "4", Path: "/x" });
  // First value of a repeated key; pairs with ";" or a bad escape are dropped as Go does.
  assert.deepEqual(svc("http://:8080?k=1&k=2&bad=x;y&auth=%%%&sp=a+b%21").metadata, { k: "1", sp: "a b!" });
});

Deno.test("-L consumed keys", () => {
  const side: Config = {};
  const s = parseServiceURL(
    "http://:8080?retries=3&admission=~10.0.0.0/8,1.1.1.1&bypass=*.local&resolver=1.1.1.1:53,8.8.8.8&prefer=ipv6" +
      "&hosts=a.com:1.2.3.4,b.com:::1&limiter.in=10MB&limiter.conn.out=1MB&climiter=100&rlimiter=2.5" +
      "&interface=eth0&so_mark=7&proxyProtocol=1&netns=ns1&netns.out=ns2&dns=1.1.1.1,8.8.8.8",
    0,
    GOST_NAMES,
    { side },
  )[0];
  assert.equal(s.handler!.retries, 3);
  assert.deepEqual(
    [s.admission, s.bypass, s.resolver, s.hosts, s.limiter, s.climiter, s.rlimiter],
    ["admission-0", "bypass-0", "resolver-0", "hosts-0", "limiter-0", "climiter-0", "rlimiter-0"],
  );
  assert.deepEqual(side, {
    admissions: [{ name: "admission-0", whitelist: true, matchers: ["10.0.0.0/8", "1.1.1.1"] }],
    bypasses: [{ name: "bypass-0", matchers: ["*.local"] }],
    resolvers: [{
      name: "resolver-0",
      nameservers: [{ addr: "1.1.1.1:53", prefer: "ipv6" }, { addr: "8.8.8.8", prefer: "ipv6" }],
    }],
    hosts: [{ name: "hosts-0", mappings: [{ hostname: "a.com", ip: "1.2.3.4" }, { hostname: "b.com", ip: "::1" }] }],
    limiters: [{ name: "limiter-0", limits: ["$ 10MB 0", "$$ 0 1MB"] }],
    climiters: [{ name: "climiter-0", limits: ["$ 100"] }],
    rlimiters: [{ name: "rlimiter-0", limits: ["$ 2.5"] }],
  });
  const dns = ["1.1.1.1", "8.8.8.8"];
  assert.deepEqual(s.metadata, {
    prefer: "ipv6",
    dns,
    interface: "eth0",
    so_mark: 7,
    proxyProtocol: 1,
    netns: "ns1",
    "netns.out": "ns2",
  });
  assert.deepEqual(s.handler!.metadata, { prefer: "ipv6", dns });
  assert.deepEqual(s.listener!.metadata, { prefer: "ipv6", dns });
});

Deno.test("-L tls keys make listener.tls only with a cert file", () => {
  const s = svc("tls://:443?certFile=c.pem&key=k.pem&tls.caFile=ca.pem&x=1");
  assert.deepEqual(s.listener!.tls, { certFile: "c.pem", keyFile: "k.pem", caFile: "ca.pem" });
  assert.deepEqual(s.listener!.metadata, { x: "1" });
  const noCert = svc("tls://:443?keyFile=k.pem");
  assert.equal(noCert.listener!.tls, undefined);
  assert.equal(noCert.listener!.metadata, undefined); // consumed anyway
  assert.deepEqual(svc("tls://:443?CERTFILE=c.pem").listener!.tls, { certFile: "c.pem" });
});

Deno.test("-L selector only with a forwarder; defaults round/1/30s", () => {
  assert.deepEqual(svc("tcp://:1/a:1,b:2?strategy=fifo").forwarder!.selector, {
    strategy: "fifo",
    maxFails: 1,
    failTimeout: "30s",
  });
  assert.deepEqual(svc("tcp://:1/a:1?max_fails=3&failTimeout=90").forwarder!.selector, {
    strategy: "round",
    maxFails: 3,
    failTimeout: "1m30s",
  });
  const s = svc("http://:1?strategy=rand");
  assert.equal(s.forwarder, undefined);
  assert.equal(s.metadata, undefined); // consumed though unused, as GOST does
});

Deno.test("-F query routing: hop, node, connector, dialer", () => {
  const hop = parseNodeURL("relay+ws://h:1?a=1&hop.b=2&node.c=3&connector.d=4&dialer.e=5");
  assert.deepEqual(hop.metadata, { a: "1", b: "2" });
  const n = hop.nodes![0];
  assert.deepEqual(n.metadata, { a: "1", c: "3" });
  assert.deepEqual(n.connector!.metadata, { a: "1", d: "4" });
  assert.deepEqual(n.dialer!.metadata, { a: "1", e: "5" });
});

Deno.test("-F consumed keys: selector, side objects, interface, tls", () => {
  const side: Config = {};
  const hop = parseNodeURL(
    "http://h.example:1?strategy=ha&maxFails=2&failTimeout=10s&bypass=~a&resolver=1.1.1.1&hosts=x:1.1.1.1" +
      "&interface=eth1&so_mark=3&secure=true&serverName=sni.example&caFile=ca.pem&tls.certFile=c&keyFile=k",
    GOST_NAMES,
    { side },
  );
  assert.deepEqual(hop.selector, { strategy: "ha", maxFails: 2, failTimeout: "10s" });
  assert.deepEqual([hop.bypass, hop.resolver, hop.hosts], ["bypass-0", "resolver-0", "hosts-0"]);
  assert.deepEqual(Object.keys(side), ["bypasses", "resolvers", "hosts"]);
  assert.deepEqual(hop.metadata, { interface: "eth1", so_mark: 3 });
  const n = hop.nodes![0];
  assert.equal(n.metadata, undefined);
  assert.deepEqual(n.dialer!.tls, {
    certFile: "c",
    keyFile: "k",
    caFile: "ca.pem",
    secure: true,
    serverName: "sni.example",
  });
});

Deno.test("-F dialer tls: serverName defaults to the host name, absent for an empty host", () => {
  assert.deepEqual(node("wss://example.com:443").dialer!.tls, { serverName: "example.com" });
  assert.deepEqual(node("wss://[::1]:443").dialer!.tls, { serverName: "::1" });
  assert.equal(node("wss://:443").dialer!.tls, undefined);
  assert.deepEqual(node("wss://:443?secure=1").dialer!.tls, { secure: true });
});

Deno.test("spec §2.7 worked example", () => {
  const cfg = buildCLIConfig({ L: ["http://:8080"], F: ["relay+wss://u:p@example.com:443?path=/x"] });
  assert.deepEqual(cfg, {
    services: [{
      name: "service-0",
      addr: ":8080",
      handler: { type: "http", chain: "chain-0" },
      listener: { type: "tcp" },
    }],
    chains: [{
      name: "chain-0",
      hops: [{
        name: "hop-0",
        nodes: [{
          name: "node-0",
          addr: "example.com:443",
          connector: { type: "relay", auth: { username: "u", password: "p" }, metadata: { path: "/x" } },
          dialer: { type: "wss", tls: { serverName: "example.com" }, metadata: { path: "/x" } },
          metadata: { path: "/x" },
        }],
        metadata: { path: "/x" },
      }],
    }],
  });
});

Deno.test("buildCLIConfig: chain refs, rtcp/rudp on the listener, numbering across -L", () => {
  const cfg = buildCLIConfig({
    L: ["http://:8080", "rtcp://:2222/:22", "rudp://:5353/:53", "tcp://:9000-9001/x:1"],
    F: ["relay://a:1", "socks5://b:2"],
  });
  assert.deepEqual(cfg.chains![0].hops!.map((h) => h.name), ["hop-0", "hop-1"]);
  assert.deepEqual(
    cfg.services!.map((s) => [s.name, s.handler!.chain, s.listener!.chain]),
    [
      ["service-0", "chain-0", undefined],
      ["service-1", undefined, "chain-0"],
      ["service-2", undefined, "chain-0"],
      ["service-3", "chain-0", undefined],
      ["service-4", "chain-0", undefined],
    ],
  );
  assert.deepEqual(buildCLIConfig({ L: ["http://:1"] }), {
    services: [{ name: "service-0", addr: ":1", handler: { type: "http" }, listener: { type: "tcp" } }],
  });
  assert.deepEqual(buildCLIConfig({}), {});
});

Deno.test("buildCLIConfig: side objects numbered across hops then services", () => {
  const cfg = buildCLIConfig({ L: ["http://:1?bypass=a", "http://:2?bypass=b"], F: ["http://h:1?bypass=c"] });
  assert.deepEqual(cfg.bypasses!.map((b) => [b.name, b.matchers]), [
    ["bypass-0", ["c"]],
    ["bypass-1", ["a"]],
    ["bypass-2", ["b"]],
  ]);
  assert.deepEqual(cfg.services!.map((s) => s.bypass), ["bypass-1", "bypass-2"]);
  assert.equal(cfg.chains![0].hops![0].bypass, "bypass-0");
});

Deno.test("worker id prefixes target names only", () => {
  const cfg = buildCLIConfig({ L: ["tcp://:1/a:1,b:2"] }, GOST_NAMES, { workerId: "2" });
  assert.deepEqual(cfg.services![0].forwarder!.nodes!.map((n) => n.name), ["go-2@target-0", "go-2@target-1"]);
  assert.equal(cfg.services![0].name, "service-0");
});

const BAD: [fn: () => unknown, message: string][] = [
  [() => parseServiceURL(""), 'Cannot parse service URL "": empty'],
  [() => parseServiceURL("   "), 'Cannot parse service URL "   ": empty'],
  [() => parseNodeURL(""), 'Cannot parse node URL "": empty'],
  [() => parseNodeURL("relay+wss://"), 'Cannot parse node URL "relay+wss://": missing host'],
  [() => parseNodeURL("http://u:p@"), 'Cannot parse node URL "http://u:p@": missing host'],
  [() => parseServiceURL("http://"), 'Cannot parse service URL "http://": missing address'],
  [() => parseServiceURL("http://:abc"), 'Cannot parse service URL "http://:abc": bad port "abc" in ":abc"'],
  [() => parseServiceURL("http://:70000"), 'Cannot parse service URL "http://:70000": bad port "70000" in ":70000"'],
  [() => parseServiceURL("tcp://:9-1"), 'Cannot parse service URL "tcp://:9-1": bad port range "9-1" in ":9-1"'],
  [() => parseServiceURL("tcp://:1/h:x"), 'Cannot parse service URL "tcp://:1/h:x": bad port "x" in "h:x"'],
  [() => parseNodeURL("http://h:80x"), 'Cannot parse node URL "http://h:80x": bad port "80x" in "h:80x"'],
  [
    () => parseNodeURL("http://h:8000-8010"),
    'Cannot parse node URL "http://h:8000-8010": bad port "8000-8010" in "h:8000-8010"',
  ],
  [
    () => parseServiceURL("http://:1?auth=a%24c"),
    'Cannot parse service URL "http://:1?auth=a%24c": bad base64 in auth "a$c"',
  ],
  [() => parseServiceURL("http://:1?auth=a"), 'Cannot parse service URL "http://:1?auth=a": bad base64 in auth "a"'],
  [() => parseNodeURL("http://h:1?auth=!!"), 'Cannot parse node URL "http://h:1?auth=!!": bad base64 in auth "!!"'],
  [() => parseServiceURL("http://u%zz@:1"), 'Cannot parse service URL "http://u%zz@:1": invalid escape in user info'],
  [() => parseNodeURL("http://a b:1"), 'Cannot parse node URL "http://a b:1": invalid character in host "a b:1"'],
  [() => parseNodeURL("http://[::1:80"), 'Cannot parse node URL "http://[::1:80": bad address "[::1:80"'],
  [() => parseServiceURL("http://:1/%zz"), 'Cannot parse service URL "http://:1/%zz": invalid escape in path "/%zz"'],
  [() => parseServiceURL("1x://:1"), 'Cannot parse service URL "1x://:1": missing scheme'],
  [() => buildCLIConfig({ L: ["http://:1", ""] }), 'Cannot parse service URL "": empty'],
];
for (const [fn, message] of BAD) {
  Deno.test(`bad input: ${message}`, () => {
    assert.throws(fn, (e: unknown) => e instanceof SyntaxError && e.message === message);
  });
}

Deno.test("parseAddrURL: -api / -metrics values", () => {
  const a = parseAddrURL("user:pass@:18080?pathPrefix=/api&accesslog=true");
  assert.deepEqual([a.addr, a.auth, a.get("pathprefix"), a.get("accessLog")], [
    ":18080",
    { username: "user", password: "pass" },
    "/api",
    "true",
  ]);
  assert.equal(parseAddrURL(":9000").addr, ":9000");
  assert.equal(parseAddrURL("127.0.0.1:9000").addr, "127.0.0.1:9000");
  assert.equal(parseAddrURL("unix:///run/api.sock").addr, "unix:///run/api.sock");
});
