/**
 * Built-in seed inputs per target: valid messages made with dost's own
 * encoders, so mutations start deep inside each parser. `deno task fuzz
 * --write-corpus` writes them to `tests/fuzz/corpus/<target>/*.bin`; the
 * fuzzer reads that folder (plus anything added by hand).
 *
 * @module
 */
import * as socks5 from "../../handlers/socks5/protocol.ts";
import * as socks4 from "../../handlers/socks4/protocol.ts";
import * as relay from "../../handlers/relay/protocol.ts";
import { encodeFrame as wsEncode, Opcode } from "../../transports/_ws/frame.ts";
import { encodeFrame as muxFrame, encodeUpd } from "../../transports/_mux/frame.ts";
import { HpackEncoder } from "../../transports/h2/_hpack.ts";
import { huffmanEncode } from "../../transports/_hpack/huffman.ts";
import * as h2 from "../../transports/h2/_frame.ts";
import * as h3 from "../../transports/_h3/frames.ts";
import { encodeFieldSection } from "../../transports/_h3/qpack.ts";
import { closeCapsuleFrame } from "../../transports/wt/_protocol.ts";
import { encodeChunkMessage } from "../../transports/grpc/_proto.ts";
import { encodeLines } from "../../transports/pht/lines.ts";
import { APP_DATA, clientHello, record } from "../../transports/obfs/_hello.ts";
import { encodeQuery, TYPE_A } from "../../handlers/resolver/message.ts";
import { encodeFrame as rudpFrame } from "../../transports/rudp/frame.ts";
import { encodeCommand } from "../../handlers/loader/resp.ts";
import { concat } from "../../transports/_io/write_all.ts";

const enc = new TextEncoder();
const t = (s: string) => enc.encode(s);
const b = (...x: number[]) => new Uint8Array(x);

function dnsReply(): Uint8Array {
  const q = encodeQuery(0x1234, "example.com", TYPE_A);
  const out = new Uint8Array(q.length + 16);
  out.set(q);
  out[2] = 0x81;
  out[3] = 0x80;
  out[7] = 1; // ANCOUNT
  // name pointer to offset 12, A, IN, TTL 60, RDLENGTH 4, 93.184.216.34
  out.set([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 93, 184, 216, 34], q.length);
  return out;
}

function h2Client(headers: [string, string][], data?: Uint8Array): Uint8Array {
  const block = new HpackEncoder().encode(headers);
  const parts = [
    h2.PREFACE,
    h2.settingsFrame([[h2.SETTINGS_INITIAL_WINDOW_SIZE, 65535], [h2.SETTINGS_MAX_FRAME_SIZE, 16384]]),
    h2.windowUpdateFrame(0, 1 << 20),
    h2.frameBytes(h2.HEADERS, h2.FLAG_END_HEADERS | (data ? 0 : h2.FLAG_END_STREAM), 1, block),
  ];
  if (data) parts.push(h2.frameBytes(h2.DATA, h2.FLAG_END_STREAM, 1, data));
  parts.push(h2.pingFrame(new Uint8Array(8)), h2.rstStreamFrame(1, 8), h2.goawayFrame(1, 0));
  return concat(...parts);
}

function muxSeed(version: number): Uint8Array {
  return concat(
    muxFrame(version, 0, 3),
    muxFrame(version, 2, 3, t("hello world")),
    ...(version === 2 ? [encodeUpd(version, 3, 11, 65536)] : []),
    muxFrame(version, 3, 0),
    muxFrame(version, 1, 3),
  );
}

const CONNECT_REQ =
  "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nProxy-Authorization: Basic dXNlcjpwYXNz\r\n\r\n";
const WS_REQ = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

const h3Request = encodeFieldSection([[":method", "CONNECT"], [":authority", "example.com:443"]]);
const h3Get = encodeFieldSection([[":method", "GET"], [":scheme", "https"], [":authority", "a"], [":path", "/pht"]]);

/** Seeds per in-process target. */
export const SEEDS: Record<string, () => Uint8Array[]> = {
  "socks5": () => [
    concat(socks5.encodeGreeting([0]), socks5.encodeRequest(1, "example.com:80")),
    concat(
      socks5.encodeGreeting([0, 2]),
      socks5.encodeUserPass("user", "pass"),
      socks5.encodeRequest(1, "127.0.0.1:22"),
    ),
    concat(socks5.encodeGreeting([0]), socks5.encodeRequest(3, "[::1]:53")),
    concat(socks5.encodeGreeting([0x80, 0x88]), socks5.encodeRequest(0xf3, "0.0.0.0:0")),
  ],
  "socks5-udp": () => [
    concat(b(0, 0, 0), socks5.encodeAddr("127.0.0.1:53"), t("data")),
    concat(b(0, 0, 0), socks5.encodeAddr("example.com:53"), t("x")),
    concat(b(0, 0, 0), socks5.encodeAddr("[::1]:53"), t("payload")),
  ],
  "socks4": () => [
    socks4.encodeRequest(1, "127.0.0.1", 80, "user"),
    socks4.encodeRequest(1, "example.com", 443, ""),
    socks4.encodeRequest(2, "10.0.0.1", 0, "x"),
  ],
  "relay": () => [
    relay.encodeRequest({ version: 1, cmd: 1, features: [relay.addrFeature("example.com:80")] }),
    relay.encodeRequest({
      version: 1,
      cmd: relay.CMD_CONNECT | relay.FLAG_UDP,
      features: [
        { kind: "userAuth", username: "user", password: "pass" },
        relay.addrFeature("[::1]:53"),
        { kind: "network", network: relay.NETWORK_UDP },
      ],
    }),
    relay.encodeRequest({
      version: 1,
      cmd: 2,
      features: [relay.addrFeature("127.0.0.1:8080"), { kind: "tunnel", id: new Uint8Array(20) }],
    }),
    relay.encodeResponse({ version: 1, status: 0, features: [relay.addrFeature("1.2.3.4:5")] }),
  ],
  "http1": () => [
    t(CONNECT_REQ),
    t("GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n\r\nhello"),
    t("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\n"),
    t("GET / HTTP/1.0\r\n\r\n"),
  ],
  "http1-response": () => [
    t("HTTP/1.1 200 Connection established\r\nProxy-Agent: gost/3.0\r\n\r\n"),
    t("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
    t("HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 3\r\n\r\nabc"),
  ],
  "ws-handshake": () => [
    concat(t(WS_REQ), wsEncode(Opcode.Binary, t("hello"), { mask: true })),
    concat(t(WS_REQ), wsEncode(Opcode.Ping, t("p"), { mask: true }), wsEncode(Opcode.Close, b(3, 232), { mask: true })),
  ],
  "ws-head": () => [t(WS_REQ), t("GET /ws?x=1 HTTP/1.1\r\nHost: [::1]:80\r\nUpgrade: websocket\r\n\r\n")],
  "ws-frames": () => [
    concat(
      wsEncode(Opcode.Text, t("hel"), { mask: true, fin: false }),
      wsEncode(Opcode.Ping, t("ping"), { mask: true }),
      wsEncode(Opcode.Continuation, t("lo"), { mask: true }),
      wsEncode(Opcode.Binary, new Uint8Array(300), { mask: true }),
      wsEncode(Opcode.Close, b(3, 232, 0x62, 0x79, 0x65), { mask: true }),
    ),
    concat(wsEncode(Opcode.Binary, new Uint8Array(70000)), wsEncode(Opcode.Pong, t(""))),
  ],
  "smux": () => [muxSeed(1), muxSeed(2)],
  "h2": () => [
    h2Client(
      [[":method", "CONNECT"], [":authority", "example.com:443"], ["proxy-authorization", "Basic eDp5"]],
      t("hi"),
    ),
    h2Client([[":method", "POST"], [":scheme", "https"], [":authority", "a"], [":path", "/GostTunel/Tunnel"], [
      "content-type",
      "application/grpc",
    ]], encodeChunkMessage(t("data"))),
  ],
  "hpack": () => [
    new HpackEncoder().encode([[":method", "CONNECT"], [":authority", "example.com:443"], ["user-agent", "x"]]),
    concat(b(0x40, 0x03), t("foo"), b(0x03), t("bar"), b(0xbe), b(0x3f, 0xe1, 0x1f)),
  ],
  "huffman": () => [huffmanEncode(t("www.example.com")), huffmanEncode(t("custom-value 0123456789"))],
  "h2-settings": () => [
    h2.settingsFrame([[1, 4096], [3, 100], [4, 65535], [5, 16384], [6, 65536]]).subarray(h2.FRAME_HEADER_SIZE),
  ],
  "h3-frames": () => [
    concat(
      h3.encodeSettings([[0x06, 65536], [0x2b603742, 1], [0x33, 1]]),
      h3.encodeFrame(h3.FrameType.HEADERS, h3Request),
    ),
    concat(
      h3.encodeFrame(h3.FrameType.HEADERS, h3Get),
      h3.encodeFrame(h3.FrameType.DATA, t("body")),
      h3.encodeGoaway(4),
    ),
  ],
  "qpack": () => [h3Request, h3Get, encodeFieldSection([[":status", "200"], ["content-type", "text/plain"]])],
  "wt-capsule": () => [concat(h3.encodeVarint(0x1234), h3.encodeVarint(3), t("abc"), closeCapsuleFrame(0, "bye"))],
  "grpc":
    () => [concat(encodeChunkMessage(t("hello")), encodeChunkMessage(new Uint8Array(0)), encodeChunkMessage(t("x")))],
  "pht": () => [encodeLines(t("hello world, this is pht")), t("aGVsbG8=\r\nd29ybGQ=\n")],
  "otls-hello":
    () => [clientHello("example.com", t("ticket")).subarray(5), clientHello("", new Uint8Array(0)).subarray(5)],
  "otls": () => [concat(clientHello("example.com", t("early")), record(APP_DATA, 0x0303, t("data")))],
  "ohttp":
    () => [t("GET / HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nearly bytes")],
  "dns": () => [encodeQuery(1, "example.com", TYPE_A), dnsReply()],
  "rudp": () => [
    concat(
      rudpFrame({ hostname: "127.0.0.1", port: 53 }, t("q")),
      rudpFrame({ hostname: "example.com", port: 53 }, t("query")),
      rudpFrame({ hostname: "::1", port: 53 }, t("v6")),
    ),
  ],
  "resp": () => [
    t("+OK\r\n:42\r\n$5\r\nhello\r\n*2\r\n$1\r\na\r\n$-1\r\n-ERR bad\r\n*-1\r\n"),
    encodeCommand(["HGETALL", "gost:authers"]),
  ],
  "h3-probe": () => [
    concat(b(11, 0, 0, 14, 0, 0, 0, 10), b(0, 0, 5), t("cert!"), b(0, 0)),
  ],
  "addr": () => [t("127.0.0.1:8080"), t("[::1]:443"), t("[fe80::1%eth0]:1"), t("::ffff:1.2.3.4"), t(":0")],
  "url": () =>
    [
      "http://user:pass@:8080",
      "socks5://:1080?bind=true&udp=true",
      "relay+tls://:8443/127.0.0.1:22,10.0.0.6:22",
      "tcp://:2222/10.0.0.5:22",
      "relay+wss://alice:s3cret@server.example.com:8443?path=/ws&keepalive=true",
      "rudp://:5353/[::1]:53?ttl=30s",
      "forward+h3://[::1]:443",
      "socks5+mwss://a:b@h:1?mux.version=2&climiter=10&limiter.in=1MB",
    ].map(t),
  "cli": () => ["-L http://:8080 -F socks5://h:1080", "-L=:8080 -C gost.yaml -O yaml -D", "-L a -- -L b"].map(t),
  "selftest-crash": () => [new Uint8Array([1, 2, 3])],
  "selftest-hang": () => [new Uint8Array([1, 2, 3, 4, 5, 6])],
  "yaml": () =>
    [
      "services:\n- name: s\n  addr: 127.0.0.1:8080\n  handler:\n    type: http\n    auth:\n      username: u\n      password: p\n  listener:\n    type: tcp\n",
      "services:\n- name: s\n  addr: :1\n  handler: {type: socks5, chain: c}\n  listener: {type: tls}\nchains:\n- name: c\n  hops:\n  - name: h\n    nodes:\n    - name: n\n      addr: 1.2.3.4:5\n      connector: {type: relay}\n      dialer: {type: wss, metadata: {path: /x}}\n",
      '{"services":[{"name":"a","addr":":2","handler":{"type":"auto"},"listener":{"type":"tcp"}}],"bypasses":[{"name":"b","matchers":["10.0.0.0/8"]}]}',
      "log:\n  level: debug\nlimiters:\n- name: l\n  limits: ['$ 1MB 2MB']\nhosts:\n- name: h\n  mappings: [{ip: 127.0.0.1, hostname: a}]\n",
    ].map(t),
};
