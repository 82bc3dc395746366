import { assert, assertEquals } from "../tests/assert.ts";
import { type ComponentKind, GOST_OPTIONS, gostReads } from "./gost_options.ts";

// Facts checked against go-gost/x v0.8.1 (file: call).
const READS: [ComponentKind, string, string, string][] = [
  // listener/ws/metadata.go: mdutil.GetString(md, "ws.path", "path")
  ["listener", "ws", "path", "ws listener path"],
  ["listener", "wss", "ws.path", "wss shares the ws listener"],
  // handler/http/metadata.go: mdutil.GetString(md, "http.proxyAgent", "proxyAgent")
  ["handler", "http", "proxyagent", "http handler proxyAgent"],
  ["handler", "http", "probe_resist", "http handler probeResist alias"],
  // connector/relay/metadata.go: noDelay = "nodelay"
  ["connector", "relay", "nodelay", "relay connector nodelay"],
  // handler/socks/v5/metadata.go: mdutil.GetBool(md, "notls")
  ["handler", "socks5", "notls", "socks5 handler notls"],
  ["handler", "socks", "notls", "socks is socks5"],
  // dialer/mws/metadata.go: mux.Config{Version: mdutil.GetInt(md, "mux.version"), ...}
  ["dialer", "mws", "mux.version", "mws dialer smux version"],
  ["dialer", "mwss", "mux.keepaliveinterval", "mwss dialer smux keepalive"],
  ["dialer", "mws", "ws.host", "mws dialer ws options"],
  // handler/auto delegates Init to http, socks4 and socks5
  ["handler", "auto", "proxyagent", "auto via http"],
  ["handler", "auto", "notls", "auto via socks5"],
  ["handler", "auto", "mux.maxstreambuffer", "auto via socks5 smux"],
  // handler/tunnel/metadata.go: md.Get("entrypoints"), "entrypoint.ProxyProtocol"
  ["handler", "tunnel", "entrypoints", "tunnel entrypoints via md.Get"],
  ["handler", "tunnel", "entrypoint.proxyprotocol", "tunnel mixed-case key lower-cased"],
  // listener/tcp/metadata.go: mdutil.GetBool(md, "mptcp")
  ["listener", "tcp", "mptcp", "tcp listener mptcp"],
  // listener/kcp/metadata.go: mdutil.GetString(md, "kcp.configFile", "configFile", "c")
  ["listener", "kcp", "c", "kcp config file short key"],
  // dialer/quic/metadata.go: mdutil.GetBool(md, "quic.enableDatagram", "enableDatagram")
  ["dialer", "quic", "quic.enabledatagram", "quic dialer datagram"],
  // handler/forward/local registers tcp, udp and forward
  ["handler", "udp", "sniffing", "udp handler is forward/local"],
  // connector/direct registers direct and virtual
  ["connector", "virtual", "action", "virtual connector is direct"],
];

// Keys a component does not read.
const IGNORES: [ComponentKind, string, string, string][] = [
  ["handler", "http3", "proxyagent", "http3 handler has its own small parser"],
  ["handler", "http2", "udp", "http2 handler does not read udp"],
  ["connector", "http", "nodelay", "only relay/ss connectors read nodelay"],
  ["listener", "tcp", "path", "tcp listener reads only mptcp"],
  ["dialer", "ws", "mux.version", "plain ws dialer has no smux"],
  ["dialer", "tcp", "mptcp", "tcp dialer reads nothing"],
];

Deno.test("gostReads: facts from the x v0.8.1 source", async (t) => {
  for (const [kind, type, key, name] of READS) {
    await t.step(name, () => assert(gostReads(kind, type, key), `${kind} ${type} should read ${key}`));
  }
  for (const [kind, type, key, name] of IGNORES) {
    await t.step(name, () => assert(!gostReads(kind, type, key), `${kind} ${type} should not read ${key}`));
  }
});

Deno.test("gostReads: keys are case-insensitive", () => {
  assert(gostReads("handler", "http", "proxyAgent"));
  assert(gostReads("handler", "http", "HTTP.PROXYAGENT"));
  assert(gostReads("dialer", "mws", "mux.keepaliveInterval"));
  assert(gostReads("listener", "ws", "ws.readHeaderTimeout"));
});

Deno.test("gostReads: unknown types are false", () => {
  assert(!gostReads("handler", "nope", "path"));
  assert(!gostReads("dialer", "wg", "path")); // registered in x but not imported by gost 3.2.6
  assert(!gostReads("listener", "constructor", "path"));
  assert(!gostReads("handler", "toString", "hash"));
  assert(!gostReads("handler", "HTTP", "proxyagent")); // gost's registry lookup is exact
});

Deno.test("GOST_OPTIONS: shape", () => {
  for (const table of Object.values(GOST_OPTIONS)) {
    for (const [name, keys] of Object.entries(table)) {
      assertEquals([...keys], [...new Set(keys)].sort(), `${name}: sorted and unique`);
      for (const k of keys) assertEquals(k, k.toLowerCase(), `${name}: ${k} lower-cased`);
      assert(Object.isFrozen(keys));
    }
  }
  assertEquals(GOST_OPTIONS.handler.socks, GOST_OPTIONS.handler.socks5);
  assertEquals(GOST_OPTIONS.listener.rtcp, []);
  // auto is exactly the union of the handlers it delegates to
  const union = new Set([...GOST_OPTIONS.handler.http, ...GOST_OPTIONS.handler.socks4, ...GOST_OPTIONS.handler.socks5]);
  assertEquals(GOST_OPTIONS.handler.auto, [...union].sort());
  assertEquals(Object.keys(GOST_OPTIONS.handler).length, 33);
  assertEquals(Object.keys(GOST_OPTIONS.listener).length, 40);
  assertEquals(Object.keys(GOST_OPTIONS.connector).length, 19);
  assertEquals(Object.keys(GOST_OPTIONS.dialer).length, 33);
});
