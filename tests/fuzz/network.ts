/**
 * Network fuzz targets: one real dost process (`deno run main.ts -L …`)
 * with a listener per transport and handler, and mutated bytes, TLS
 * ClientHellos and UDP/QUIC datagrams thrown at them over loopback
 * (127.0.0.1 and [::1]). After every batch the process must be alive and
 * still serve a good request on the target's listener; its RSS and open fds
 * are sampled. Suspicious log lines (engine errors, "handler failed") are
 * findings too.
 *
 * @module
 */
import { caseRng, mutate, type Rng } from "./mutator.ts";
import { splitChunks } from "./_conn.ts";
import { CORPUS_DIR, CRASH_DIR, loadSeeds } from "./runner.ts";
import { SEEDS } from "./seeds.ts";
import { generateCertificate } from "../../transports/tls/cert.ts";
import { freePort } from "../../transports/_testing.ts";
import * as socks5 from "../../handlers/socks5/protocol.ts";
import * as socks4 from "../../handlers/socks4/protocol.ts";
import * as relay from "../../handlers/relay/protocol.ts";
import { encodeFrame as wsEncode, Opcode } from "../../transports/_ws/frame.ts";
import { encodeFrame as muxFrame } from "../../transports/_mux/frame.ts";
import { encodeFrame as rudpFrame } from "../../transports/rudp/frame.ts";
import { HpackEncoder } from "../../transports/h2/_hpack.ts";
import * as h2 from "../../transports/h2/_frame.ts";
import { encodeChunkMessage } from "../../transports/grpc/_proto.ts";
import { encodeLine } from "../../transports/pht/lines.ts";
import { clientHello as otlsHello } from "../../transports/obfs/_hello.ts";
import { concat } from "../../transports/_io/write_all.ts";
import * as h3 from "../../transports/_h3/frames.ts";
import { encodeFieldSection } from "../../transports/_h3/qpack.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const enc = new TextEncoder();
const t = (s: string) => enc.encode(s);
const HELLO = t("hello");

/** What the harness knows when it builds seeds and probes. */
export interface NetContext {
  echoTcp: number;
  echoUdp: number;
  echoUdp6: number;
  cert: string;
  /** Captured ClientHellos (no ALPN, h2, http/1.1). */
  hellos: Uint8Array[];
  /** Captured QUIC Initial datagrams. */
  initials: Uint8Array[];
}

/**
 * The good request after each batch. `echo`: the first seed, unmutated,
 * must bring "hello" back from the echo server through the tunnel;
 * `http200`/`http101`: it must get that status; `tls`/`tls-h2`: a verified TLS handshake;
 * `tls-echo`: `echo` after one; `quic`: a verified QUIC handshake (ALPN h3);
 * `quic-echo`: the first seed on a request stream of a fresh QUIC connection brings
 * `expect` back; `udp-echo`: a datagram through the forwarder comes back; `socks5-udp`: one
 * through a fresh UDP ASSOCIATE.
 */
type Probe =
  | "echo"
  | "http200"
  | "http101"
  | "quic-echo"
  | "tls"
  | "tls-h2"
  | "tls-echo"
  | "quic"
  | "udp-echo"
  | "socks5-udp";

export interface NetTarget {
  name: string;
  about: string;
  /** The `-L` value; `{port}` is replaced. */
  listen: string;
  host: "127.0.0.1" | "::1";
  /**
   * `tcp`: the case is the byte stream of one connection. `tls`: a TLS handshake
   * first, the case is what follows. `udp`: the case is one datagram.
   * `socks5-udp`: datagrams to a SOCKS5 UDP ASSOCIATE relay port. `quic-stream`: a
   * good QUIC handshake (one connection per batch, renewed when dost closes
   * it), the case is the bytes of one stream.
   */
  mode: "tcp" | "tls" | "udp" | "socks5-udp" | "quic-stream";
  /** `quic-stream`: the case goes on a unidirectional stream instead of a request stream. */
  uni?: boolean;
  /** `quic-stream`: written once per connection on a client control stream (HTTP/3 SETTINGS). */
  control?: Uint8Array;
  /** `quic-echo`: what the good request must bring back. @default "hello" */
  expect?: Uint8Array;
  /** ALPN offered in `tls` mode. */
  alpn?: string[];
  seeds(ctx: NetContext): Uint8Array[];
  /**
   * Sent unmutated before the case, and answered before the case is sent
   * (a WebSocket upgrade: gorilla, and so dost, drops a client that sends
   * frames before the 101).
   */
  prefix?: Uint8Array;
  probe: Probe;
  port: number;
}

function wsUpgrade(path = "/ws"): Uint8Array {
  return t(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  );
}
const ws = (p: Uint8Array) => wsEncode(Opcode.Binary, p, { mask: true });

function socks5Connect(ctx: NetContext): Uint8Array {
  return concat(socks5.encodeGreeting([0]), socks5.encodeRequest(1, `127.0.0.1:${ctx.echoTcp}`), t("hello"));
}
function relayConnect(ctx: NetContext): Uint8Array {
  return concat(
    relay.encodeRequest({ version: 1, cmd: 1, features: [relay.addrFeature(`127.0.0.1:${ctx.echoTcp}`)] }),
    t("hello"),
  );
}
function relayUdp(ctx: NetContext): Uint8Array {
  return concat(
    relay.encodeRequest({
      version: 1,
      cmd: relay.CMD_CONNECT | relay.FLAG_UDP,
      features: [relay.addrFeature(`127.0.0.1:${ctx.echoUdp}`), { kind: "network", network: relay.NETWORK_UDP }],
    }),
    rudpFrame({ hostname: "127.0.0.1", port: ctx.echoUdp }, t("dgram")),
    rudpFrame({ hostname: "::1", port: ctx.echoUdp6 }, t("dgram6")),
  );
}
function socks5UdpTun(ctx: NetContext): Uint8Array {
  return concat(
    socks5.encodeGreeting([0]),
    socks5.encodeRequest(socks5.CMD_UDP_TUN, "0.0.0.0:0"),
    rudpFrame({ hostname: "127.0.0.1", port: ctx.echoUdp }, t("dgram")),
    rudpFrame({ hostname: "example.invalid", port: 53 }, t("x")),
  );
}
function httpConnect(ctx: NetContext): Uint8Array {
  return t(`CONNECT 127.0.0.1:${ctx.echoTcp} HTTP/1.1\r\nHost: 127.0.0.1:${ctx.echoTcp}\r\n\r\nhello`);
}
function httpGet(ctx: NetContext): Uint8Array {
  return t(
    `GET http://127.0.0.1:${ctx.echoTcp}/ HTTP/1.1\r\nHost: 127.0.0.1:${ctx.echoTcp}\r\nContent-Length: 2\r\n\r\nhi`,
  );
}
function proxySeeds(ctx: NetContext): Uint8Array[] {
  return [
    socks5Connect(ctx),
    socks4.encodeRequest(1, "127.0.0.1", ctx.echoTcp, "u"),
    httpConnect(ctx),
    httpGet(ctx),
    concat(socks5.encodeGreeting([0]), socks5.encodeRequest(3, "0.0.0.0:0")),
    socks5UdpTun(ctx),
  ];
}
function muxSeeds(ctx: NetContext, version: number): Uint8Array[] {
  const inner = relayConnect(ctx);
  return [
    concat(muxFrame(version, 0, 1), muxFrame(version, 0, 3), muxFrame(version, 2, 3, inner), muxFrame(version, 3, 0)),
    concat(muxFrame(version, 0, 1), muxFrame(version, 2, 1, inner), muxFrame(version, 3, 0), muxFrame(version, 1, 1)),
  ];
}
function h2Seeds(ctx: NetContext, path?: string, body?: Uint8Array): Uint8Array[] {
  const headers: [string, string][] = path
    ? [[":method", "POST"], [":scheme", "https"], [":authority", "127.0.0.1"], [":path", path], [
      "content-type",
      "application/grpc",
    ], ["te", "trailers"]]
    : [[":method", "CONNECT"], [":authority", `127.0.0.1:${ctx.echoTcp}`]];
  const block = new HpackEncoder().encode(headers);
  const data = body ?? t("hello");
  return [
    concat(
      h2.PREFACE,
      h2.settingsFrame([[h2.SETTINGS_INITIAL_WINDOW_SIZE, 65535]]),
      h2.frameBytes(h2.HEADERS, h2.FLAG_END_HEADERS, 1, block),
      h2.frameBytes(h2.DATA, 0, 1, data),
      h2.windowUpdateFrame(1, 1000),
      h2.pingFrame(new Uint8Array(8)),
      h2.frameBytes(h2.DATA, h2.FLAG_END_STREAM, 1, new Uint8Array(0)),
    ),
    concat(
      h2.PREFACE,
      h2.settingsFrame([]),
      h2.frameBytes(h2.HEADERS, h2.FLAG_END_HEADERS | 1, 1, block),
      h2.goawayFrame(1, 0),
    ),
  ];
}
function phtSeeds(ctx: NetContext): Uint8Array[] {
  const line = encodeLine(relayConnect(ctx));
  const tok = "c0ffee0123456789abcd";
  return [
    t("GET /authorize HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
    concat(t(`POST /push?token=${tok} HTTP/1.1\r\nHost: a\r\nContent-Length: ${line.length}\r\n\r\n`), line),
    t(`GET /pull?token=${tok} HTTP/1.1\r\nHost: a\r\n\r\n`),
    concat(
      t(`POST /push?token=${tok} HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n${
        line.length.toString(16)
      }\r\n`),
      line,
      t("\r\n0\r\n\r\n"),
    ),
  ];
}

const h3Headers = (fields: [string, string][]) => h3.encodeFrame(h3.FrameType.HEADERS, encodeFieldSection(fields));
/** A client control stream: type 0x00 and SETTINGS (WebTransport enabled, as gost's client sends them). */
const H3_CONTROL = concat(new Uint8Array([0x00]), h3.encodeSettings([[0x08, 1], [0x33, 1], [0x2b603742, 1]]));
function h3Seeds(ctx: NetContext): Uint8Array[] {
  const tok = "c0ffee0123456789abcd";
  const line = encodeLine(relayConnect(ctx));
  return [
    h3Headers([[":method", "POST"], [":scheme", "https"], [":authority", "localhost"], [":path", "/authorize"]]),
    concat(
      h3Headers([[":method", "POST"], [":scheme", "https"], [":authority", "localhost"], [
        ":path",
        `/push?token=${tok}`,
      ], [
        "content-length",
        String(line.length),
      ]]),
      h3.encodeFrame(h3.FrameType.DATA, line),
    ),
    h3Headers([[":method", "GET"], [":scheme", "https"], [":authority", "localhost"], [":path", `/pull?token=${tok}`]]),
  ];
}
function wtSeeds(): Uint8Array[] {
  const connect = h3Headers([
    [":method", "CONNECT"],
    [":protocol", "webtransport"],
    [":scheme", "https"],
    [":authority", "localhost"],
    [":path", "/wt"],
    ["sec-webtransport-http3-draft02", "1"],
  ]);
  return [connect, concat(connect, h3.encodeVarint(0x2843), h3.encodeVarint(6), new Uint8Array([0, 0, 0, 1]), t("by"))];
}
const H3_UNI_SEEDS = [
  H3_CONTROL,
  concat(new Uint8Array([0x00]), h3.encodeSettings([[0x06, 4096]]), h3.encodeGoaway(0)),
  new Uint8Array([0x02, 0x3f, 0xe1, 0x1f]), // QPACK encoder stream: set capacity
  new Uint8Array([0x03, 0x80]), // QPACK decoder stream
  concat(h3.encodeVarint(0x54), h3.encodeVarint(0), t("wt uni")), // WebTransport uni stream
  concat(h3.encodeVarint(0x21), t("reserved")), // a grease stream type
];

const tcpSeeds = (f: (ctx: NetContext) => Uint8Array[]) => f;

/** The network targets; ports are assigned when the harness starts. */
export function netTargets(): NetTarget[] {
  const T = (x: Omit<NetTarget, "port">): NetTarget => ({ ...x, port: 0 });
  const hello = (ctx: NetContext) => [...ctx.hellos];
  return [
    T({
      name: "net-socks5",
      about: "socks5 handler, CONNECT/UDP-TUN/ASSOCIATE requests",
      listen: "socks5://127.0.0.1:{port}?udp=true&bind=true",
      host: "127.0.0.1",
      mode: "tcp",
      seeds: tcpSeeds(proxySeeds),
      probe: "echo",
    }),
    T({
      name: "net-socks5-udp",
      about: "socks5 UDP ASSOCIATE relay port: mutated UDP request headers",
      listen: "",
      host: "127.0.0.1",
      mode: "socks5-udp",
      seeds: (
        ctx,
      ) => [
        concat(new Uint8Array([0, 0, 0]), socks5.encodeAddr(`127.0.0.1:${ctx.echoUdp}`), t("dgram")),
        concat(new Uint8Array([0, 0, 0]), socks5.encodeAddr(`[::1]:${ctx.echoUdp6}`), t("v6")),
        ...SEEDS["socks5-udp"](),
      ],
      probe: "socks5-udp",
    }),
    T({
      name: "net-socks4",
      about: "socks4/4a handler",
      listen: "socks4://127.0.0.1:{port}",
      host: "127.0.0.1",
      mode: "tcp",
      seeds: (
        ctx,
      ) => [
        concat(socks4.encodeRequest(1, "127.0.0.1", ctx.echoTcp, "u"), HELLO),
        socks4.encodeRequest(1, "localhost", ctx.echoTcp, ""),
      ],
      probe: "echo",
    }),
    T({
      name: "net-http",
      about: "http proxy handler (CONNECT, absolute-URI forwarding, chunked bodies)",
      listen: "http://127.0.0.1:{port}",
      host: "127.0.0.1",
      mode: "tcp",
      seeds: (ctx) => [httpConnect(ctx), httpGet(ctx), ...SEEDS.http1()],
      probe: "echo",
    }),
    T({
      name: "net-relay",
      about: "relay handler: CONNECT, BIND, UDP over TCP frames",
      listen: "relay://127.0.0.1:{port}?bind=true",
      host: "127.0.0.1",
      mode: "tcp",
      seeds: (ctx) => [relayConnect(ctx), relayUdp(ctx), ...SEEDS.relay()],
      probe: "echo",
    }),
    T({
      name: "net-auto6",
      about: "auto handler (HTTP/SOCKS4/SOCKS5 sniffing) on [::1]",
      listen: "auto://[::1]:{port}?udp=true",
      host: "::1",
      mode: "tcp",
      seeds: tcpSeeds(proxySeeds),
      probe: "echo",
    }),
    T({
      name: "net-relay6",
      about: "relay handler on [::1], IPv6 targets and UDP frames",
      listen: "relay://[::1]:{port}",
      host: "::1",
      mode: "tcp",
      seeds: (ctx) => [relayConnect(ctx), relayUdp(ctx)],
      probe: "echo",
    }),
    T({
      name: "net-ws",
      about: "ws listener: RFC 6455 frames carrying socks5, after a good upgrade",
      listen: "socks5+ws://127.0.0.1:{port}",
      host: "127.0.0.1",
      mode: "tcp",
      prefix: wsUpgrade(),
      seeds: (
        ctx,
      ) => [
        ws(socks5Connect(ctx)),
        concat(
          wsEncode(Opcode.Ping, t("p"), { mask: true }),
          ws(socks5Connect(ctx)),
          wsEncode(Opcode.Close, new Uint8Array([3, 232]), { mask: true }),
        ),
      ],
      probe: "echo",
    }),
    T({
      name: "net-ws-upgrade",
      about: "ws listener: mutated upgrade requests",
      listen: "socks5+ws://127.0.0.1:{port}",
      host: "127.0.0.1",
      mode: "tcp",
      seeds: () => [wsUpgrade(), wsUpgrade("/ws?x=1"), ...SEEDS["ws-head"]()],
      probe: "http101",
    }),
    T({
      name: "net-mws",
      about: "mws listener: ws frames carrying smux v1 frames carrying relay, after a good upgrade",
      listen: "relay+mws://127.0.0.1:{port}",
      host: "127.0.0.1",
      mode: "tcp",
      prefix: wsUpgrade(),
      seeds: (ctx) => muxSeeds(ctx, 1).map(ws),
      probe: "echo",
    }),
    T({
      name: "net-mtcp",
      about: "mtcp listener: raw smux v2 frames",
      listen: "relay+mtcp://127.0.0.1:{port}",
      host: "127.0.0.1",
      mode: "tcp",
      seeds: (ctx) => muxSeeds(ctx, 2),
      probe: "echo",
    }),
    T({
      name: "net-h2c",
      about: "h2c listener: HTTP/2 preface, frames, HPACK, CONNECT streams",
      listen: "relay+h2c://127.0.0.1:{port}",
      host: "127.0.0.1",
      mode: "tcp",
      seeds: (
        ctx,
      ) => [
        ...h2Seeds(ctx, undefined, relayConnect(ctx)),
        t("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nConnection: Upgrade, HTTP2-Settings\r\n\r\n"),
      ],
      probe: "echo",
    }),
    T({
      name: "net-grpc",
      about: "grpc listener (grpcInsecure): HTTP/2 + gRPC Chunk messages",
      listen: "relay+grpc://127.0.0.1:{port}?grpcInsecure=true",
      host: "127.0.0.1",
      mode: "tcp",
      seeds: (ctx) => h2Seeds(ctx, "/GostTunel/Tunnel", encodeChunkMessage(relayConnect(ctx))),
      probe: "echo",
    }),
    T({
      name: "net-pht",
      about: "pht listener: authorize/push/pull HTTP requests with base64 lines",
      listen: "relay+pht://127.0.0.1:{port}",
      host: "127.0.0.1",
      mode: "tcp",
      seeds: phtSeeds,
      probe: "http200",
    }),
    T({
      name: "net-ohttp",
      about: "ohttp listener: fake upgrade then the stream",
      listen: "relay+ohttp://127.0.0.1:{port}",
      host: "127.0.0.1",
      mode: "tcp",
      seeds: (
        ctx,
      ) => [
        concat(t("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"), relayConnect(ctx)),
      ],
      probe: "echo",
    }),
    T({
      name: "net-otls",
      about: "otls listener: fake ClientHello then plaintext records",
      listen: "relay+otls://127.0.0.1:{port}",
      host: "127.0.0.1",
      mode: "tcp",
      seeds: (ctx) => [otlsHello("example.com", relayConnect(ctx)), ...ctx.hellos],
      probe: "echo",
    }),
    T({
      name: "net-tls",
      about: "tls listener: mutated and truncated ClientHellos",
      listen: "relay+tls://127.0.0.1:{port}",
      host: "127.0.0.1",
      mode: "tcp",
      seeds: hello,
      probe: "tls",
    }),
    T({
      name: "net-tls-inner",
      about: "tls listener: a good handshake, then mutated relay requests",
      listen: "relay+tls://127.0.0.1:{port}",
      host: "127.0.0.1",
      mode: "tls",
      seeds: (ctx) => [relayConnect(ctx), relayUdp(ctx)],
      probe: "tls-echo",
    }),
    T({
      name: "net-tls6",
      about: "tls listener on [::1]: mutated ClientHellos",
      listen: "socks5+tls://[::1]:{port}",
      host: "::1",
      mode: "tcp",
      seeds: hello,
      probe: "tls",
    }),
    T({
      name: "net-wss",
      about: "wss listener: mutated ClientHellos",
      listen: "socks5+wss://127.0.0.1:{port}",
      host: "127.0.0.1",
      mode: "tcp",
      seeds: hello,
      probe: "tls",
    }),
    T({
      name: "net-mwss",
      about: "mwss listener: mutated ClientHellos",
      listen: "relay+mwss://127.0.0.1:{port}",
      host: "127.0.0.1",
      mode: "tcp",
      seeds: hello,
      probe: "tls",
    }),
    T({
      name: "net-h2",
      about: "h2 listener (TLS): mutated ClientHellos",
      listen: "relay+h2://127.0.0.1:{port}",
      host: "127.0.0.1",
      mode: "tcp",
      seeds: hello,
      probe: "tls-h2",
    }),
    T({
      name: "net-h2-inner",
      about: "h2 listener: a good TLS handshake (ALPN h2), then mutated HTTP/2",
      listen: "relay+h2://127.0.0.1:{port}",
      host: "127.0.0.1",
      mode: "tls",
      alpn: ["h2"],
      seeds: (ctx) => h2Seeds(ctx, undefined, relayConnect(ctx)),
      probe: "tls-echo",
    }),
    T({
      name: "net-http2",
      about: "http2 listener + handler (TLS): mutated ClientHellos",
      listen: "http2://127.0.0.1:{port}",
      host: "127.0.0.1",
      mode: "tcp",
      seeds: hello,
      probe: "tls-h2",
    }),
    T({
      name: "net-grpc-tls",
      about: "grpc listener with TLS: mutated ClientHellos",
      listen: "relay+grpc://127.0.0.1:{port}",
      host: "127.0.0.1",
      mode: "tcp",
      seeds: hello,
      probe: "tls-h2",
    }),
    T({
      name: "net-phts",
      about: "phts listener: mutated ClientHellos",
      listen: "relay+phts://127.0.0.1:{port}",
      host: "127.0.0.1",
      mode: "tcp",
      seeds: hello,
      probe: "tls",
    }),
    T({
      name: "net-mtls",
      about: "mtls listener: mutated ClientHellos",
      listen: "relay+mtls://127.0.0.1:{port}",
      host: "127.0.0.1",
      mode: "tcp",
      seeds: hello,
      probe: "tls",
    }),
    T({
      name: "net-h3",
      about: "h3 listener: garbage and mutated QUIC Initial datagrams",
      listen: "relay+h3://127.0.0.1:{port}",
      host: "127.0.0.1",
      mode: "udp",
      seeds: (ctx) => [...ctx.initials],
      probe: "quic",
    }),
    T({
      name: "net-wt",
      about: "wt listener: garbage and mutated QUIC Initial datagrams",
      listen: "relay+wt://127.0.0.1:{port}",
      host: "127.0.0.1",
      mode: "udp",
      seeds: (ctx) => [...ctx.initials],
      probe: "quic",
    }),
    T({
      name: "net-quic",
      about: "quic listener: garbage and mutated QUIC Initial datagrams",
      listen: "relay+quic://127.0.0.1:{port}",
      host: "127.0.0.1",
      mode: "udp",
      seeds: (ctx) => [...ctx.initials],
      probe: "quic",
    }),
    T({
      name: "net-quic6",
      about: "h3 listener on [::1]: mutated QUIC Initial datagrams",
      listen: "relay+h3://[::1]:{port}",
      host: "::1",
      mode: "udp",
      seeds: (ctx) => [...ctx.initials],
      probe: "quic",
    }),
    T({
      name: "net-h3-stream",
      about: "h3 listener: a good QUIC handshake, then mutated HTTP/3 request streams (PHT)",
      listen: "relay+h3://127.0.0.1:{port}",
      host: "127.0.0.1",
      mode: "quic-stream",
      control: H3_CONTROL,
      seeds: h3Seeds,
      expect: t("token="),
      probe: "quic-echo",
    }),
    T({
      name: "net-h3-uni",
      about: "h3 listener: mutated control, QPACK and unknown unidirectional streams",
      listen: "relay+h3://127.0.0.1:{port}",
      host: "127.0.0.1",
      mode: "quic-stream",
      uni: true,
      seeds: () => H3_UNI_SEEDS,
      probe: "quic",
    }),
    T({
      name: "net-wt-stream",
      about: "wt listener: mutated extended CONNECT and capsules on a request stream",
      listen: "relay+wt://127.0.0.1:{port}",
      host: "127.0.0.1",
      mode: "quic-stream",
      control: H3_CONTROL,
      seeds: wtSeeds,
      expect: new Uint8Array(0),
      probe: "quic-echo",
    }),
    T({
      name: "net-wt-uni",
      about: "wt listener: mutated control and WebTransport unidirectional streams",
      listen: "relay+wt://127.0.0.1:{port}",
      host: "127.0.0.1",
      mode: "quic-stream",
      uni: true,
      seeds: () => H3_UNI_SEEDS,
      probe: "quic",
    }),
    T({
      name: "net-quic-stream",
      about: "quic listener: a good QUIC handshake, then mutated relay requests on streams",
      listen: "relay+quic://127.0.0.1:{port}",
      host: "127.0.0.1",
      mode: "quic-stream",
      seeds: (ctx) => [relayConnect(ctx), relayUdp(ctx)],
      probe: "quic-echo",
    }),
    T({
      name: "net-udp",
      about: "udp forward listener: arbitrary datagrams",
      listen: "udp://127.0.0.1:{port}/127.0.0.1:{echoUdp}",
      host: "127.0.0.1",
      mode: "udp",
      seeds: () => [t("hello"), new Uint8Array(1400)],
      probe: "udp-echo",
    }),
    T({
      name: "net-udp6",
      about: "udp forward listener on [::1] to an IPv6 target",
      listen: "udp://[::1]:{port}/[::1]:{echoUdp6}",
      host: "::1",
      mode: "udp",
      seeds: () => [t("hello"), new Uint8Array(1400)],
      probe: "udp-echo",
    }),
    T({
      name: "net-rudp",
      about: "rudp listener without a chain (local UDP forward)",
      listen: "rudp://127.0.0.1:{port}/127.0.0.1:{echoUdp}",
      host: "127.0.0.1",
      mode: "udp",
      seeds: () => [t("hello"), new Uint8Array(512)],
      probe: "udp-echo",
    }),
  ];
}

// ------------------------------------------------------------------ harness

function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

/** Races `p` against a timer that is always cleared; resolves to `fallback` on timeout. */
async function within<T, F>(p: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([p, new Promise<F>((r) => (timer = setTimeout(() => r(fallback), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Reads from `c` until `until` says stop, the peer closes, or `idleMs` passes without data. */
async function readFor(
  c: Deno.Conn,
  idleMs: number,
  totalMs: number,
  until?: (got: Uint8Array) => boolean,
): Promise<Uint8Array> {
  const buf = new Uint8Array(16384);
  let got: Uint8Array = new Uint8Array(0);
  const end = Date.now() + totalMs;
  for (;;) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const wait = Math.min(idleMs, end - Date.now());
    if (wait <= 0) return got;
    const n = await Promise.race([
      c.read(buf).catch(() => null),
      new Promise<"idle">((r) => (timer = setTimeout(() => r("idle"), wait))),
    ]);
    clearTimeout(timer);
    if (n === "idle" || n === null) return got;
    if (got.length < 1 << 16) got = concat(got, buf.subarray(0, n));
    if (until?.(got)) return got;
  }
}

function startEchoTcp(): { port: number; close(): void } {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  (async () => {
    for await (const c of l) {
      conns.add(c);
      (async () => {
        const buf = new Uint8Array(16384);
        try {
          for (;;) {
            const n = await c.read(buf);
            if (n === null) break;
            await c.write(buf.subarray(0, n));
          }
        } catch { /* reset by the proxy */ }
        conns.delete(c);
        try {
          c.close();
        } catch { /* closed */ }
      })();
    }
  })().catch(() => {});
  return {
    port: (l.addr as Deno.NetAddr).port,
    close() {
      l.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
    },
  };
}

function startEchoUdp(hostname: string): { port: number; close(): void } {
  const s = Deno.listenDatagram({ transport: "udp", hostname, port: 0 });
  (async () => {
    for (;;) {
      const [d, from] = await s.receive();
      await s.send(d, from).catch(() => {});
    }
  })().catch(() => {});
  return { port: (s.addr as Deno.NetAddr).port, close: () => s.close() };
}

/** ClientHellos as Deno's TLS client sends them (no ALPN, h2, http/1.1). */
async function captureHellos(): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (const alpn of [undefined, ["h2"], ["http/1.1", "h2"]]) {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    const client = Deno.connectTls({ hostname: "127.0.0.1", port, alpnProtocols: alpn }).then(async (c) => {
      try {
        await c.handshake();
      } catch { /* expected: the server never answers */ }
      return c;
    });
    const s = await l.accept();
    out.push(await readFor(s, 200, 1000));
    s.close();
    l.close();
    try {
      (await client).close();
    } catch { /* already closed */ }
  }
  return out.filter((h) => h.length > 0);
}

/** The Initial datagram(s) Deno's QUIC client sends first. */
async function captureInitials(): Promise<Uint8Array[]> {
  const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const port = (sock.addr as Deno.NetAddr).port;
  const out: Uint8Array[] = [];
  for (const alpn of [["h3"], ["h3", "quic/v1"]]) {
    const ep = new Deno.QuicEndpoint({ hostname: "127.0.0.1", port: 0 });
    const p = Promise.resolve(
      Deno.connectQuic({ endpoint: ep, hostname: "127.0.0.1", port, serverName: "localhost", alpnProtocols: alpn }),
    ).catch(() => {});
    const [d] = await sock.receive();
    out.push(d);
    ep.close();
    await p;
  }
  sock.close();
  return out;
}

/** RSS (bytes) and open fds of a process, from /proc. */
export async function procStats(pid: number): Promise<{ rss: number; fds: number }> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  let fds = 0;
  for await (const _ of Deno.readDir(`/proc/${pid}/fd`)) fds++;
  return { rss: m ? Number(m[1]) * 1024 : 0, fds };
}

/** Log lines that mean a bug rather than a refused peer. */
const SUSPICIOUS =
  /Uncaught|handler failed|panicked|Cannot read properties|is not a function|is not iterable|Maximum call stack|Invalid (typed )?array length|out of bounds|Cannot convert|Cannot destructure|is not defined|out of memory|ReferenceError/;

export interface NetFinding {
  target: string;
  kind: "death" | "probe" | "log" | "refused";
  detail: string;
  /** Case indices of the batch in which it showed up. */
  range: [number, number];
  file?: string;
}

export interface NetResult {
  target: string;
  cases: number;
  ms: number;
  findings: NetFinding[];
  rssBefore: number;
  rssAfter: number;
  rssMax: number;
  fdsBefore: number;
  fdsAfter: number;
  fdsMax: number;
}

/** One dost process serving every network target, plus echo servers. */
export class NetHarness {
  readonly targets: NetTarget[];
  ctx!: NetContext;
  #child?: Deno.ChildProcess;
  #exited = false;
  #tail: string[] = [];
  #suspicious: string[] = [];
  #dir = "";
  #echo: { close(): void }[] = [];
  #args: string[] = [];
  #pumps: Promise<unknown> = Promise.resolve();

  constructor(only?: (name: string) => boolean) {
    this.targets = netTargets().filter((t) => !only || only(t.name));
  }

  get pid(): number {
    return this.#child!.pid;
  }

  async start(): Promise<void> {
    const echoTcp = startEchoTcp();
    const echoUdp = startEchoUdp("127.0.0.1");
    const echoUdp6 = startEchoUdp("::1");
    this.#echo.push(echoTcp, echoUdp, echoUdp6);
    const { cert, key } = await generateCertificate({ dnsNames: ["localhost"], ipAddresses: ["127.0.0.1", "::1"] });
    this.#dir = await Deno.makeTempDir({ prefix: "dost-fuzz-" });
    await Deno.writeTextFile(`${this.#dir}/cert.pem`, cert);
    await Deno.writeTextFile(`${this.#dir}/key.pem`, key);
    const hellos = [...await loadSeeds("net-tls-hello"), ...await captureHellos()];
    const initials = [...await loadSeeds("net-quic-initial"), ...await captureInitials()];
    this.ctx = { echoTcp: echoTcp.port, echoUdp: echoUdp.port, echoUdp6: echoUdp6.port, cert, hellos, initials };
    const byListen = new Map<string, number>();
    const socks5 = this.targets.find((t) => t.name === "net-socks5") ?? netTargets()[0];
    for (const tg of this.targets) {
      if (tg.mode === "socks5-udp") continue;
      tg.port = byListen.get(tg.listen) ?? freePort();
      byListen.set(tg.listen, tg.port);
    }
    if (this.targets.some((t) => t.mode === "socks5-udp")) {
      if (!this.targets.includes(socks5)) {
        socks5.port = freePort();
        byListen.set(socks5.listen, socks5.port);
      }
      for (const tg of this.targets) if (tg.mode === "socks5-udp") tg.port = socks5.port;
    }
    this.#args = [];
    for (const [listen, port] of byListen) {
      this.#args.push(
        "-L",
        listen.replace("{port}", String(port)).replace("{echoUdp}", String(echoUdp.port)).replace(
          "{echoUdp6}",
          String(echoUdp6.port),
        ),
      );
    }
    await this.#spawn();
  }

  async #spawn(): Promise<void> {
    this.#exited = false;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--unstable-net", "--allow-all", MAIN, ...this.#args],
      cwd: this.#dir,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", DOST_SHUTDOWN_GRACE: "1s" },
    }).spawn();
    this.#child = child;
    child.status.then(() => (this.#exited = true));
    const want = this.#args.length / 2;
    let listening = 0;
    let ready!: () => void;
    const readyP = new Promise<void>((r) => (ready = r));
    const pump = async (s: ReadableStream<Uint8Array>) => {
      let carry = "";
      for await (const chunk of s.pipeThrough(new TextDecoderStream())) {
        carry += chunk;
        const lines = carry.split("\n");
        carry = lines.pop()!;
        for (const l of lines) {
          this.#tail.push(l);
          if (this.#tail.length > 100) this.#tail.shift();
          if (l.includes("listening on") && ++listening >= want) ready();
          if (SUSPICIOUS.test(l) && this.#suspicious.length < 1000) this.#suspicious.push(l.slice(0, 2000));
        }
      }
    };
    this.#pumps = Promise.all([pump(child.stdout).catch(() => {}), pump(child.stderr).catch(() => {})]);
    const first = await within(
      Promise.race([readyP.then(() => "ready"), child.status.then(() => "exited")]),
      60_000,
      "timeout",
    );
    if (first !== "ready") {
      throw new Error(`dost did not start (${first}):\n${this.#tail.slice(-30).join("\n")}`);
    }
  }

  get alive(): boolean {
    return !this.#exited;
  }

  /** Log lines flagged since the last call. */
  takeSuspicious(): string[] {
    return this.#suspicious.splice(0);
  }

  tail(): string {
    return this.#tail.slice(-30).join("\n");
  }

  async restart(): Promise<void> {
    try {
      this.#child?.kill("SIGKILL");
    } catch { /* gone */ }
    await this.#child?.status;
    await this.#pumps;
    await this.#spawn();
  }

  async stop(): Promise<void> {
    if (this.#child && !this.#exited) {
      this.#child.kill("SIGTERM");
      await this.#child.status;
    }
    await this.#pumps;
    for (const e of this.#echo) e.close();
    if (this.#dir) await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }

  /** The target's good request; throws when it fails. */
  async probe(tg: NetTarget): Promise<void> {
    const seeds = tg.seeds(this.ctx);
    switch (tg.probe) {
      case "echo":
      case "http101":
      case "http200": {
        const c = await Deno.connect({ hostname: tg.host, port: tg.port });
        try {
          if (tg.prefix && !(await this.#sendPrefix(c, tg.prefix))) throw new Error("no answer to the prefix");
          await c.write(seeds[0]);
          const want = tg.probe === "echo" ? HELLO : t(tg.probe === "http101" ? " 101 " : " 200 ");
          const got = await readFor(c, 3000, 5000, (g) => contains(g, want));
          if (!contains(got, want)) {
            throw new Error(`no ${tg.probe === "echo" ? '"hello" echo' : tg.probe} (got ${got.length} bytes)`);
          }
        } finally {
          c.close();
        }
        return;
      }
      case "tls":
      case "tls-h2":
      case "tls-echo": {
        const alpn = tg.probe === "tls-h2" ? ["h2"] : tg.alpn;
        const c = await Deno.connectTls({
          hostname: tg.host,
          port: tg.port,
          caCerts: [this.ctx.cert],
          alpnProtocols: alpn,
        });
        try {
          await c.handshake();
          if (tg.probe === "tls-echo") {
            await c.write(seeds[0]);
            const got = await readFor(c, 3000, 5000, (g) => contains(g, HELLO));
            if (!contains(got, HELLO)) throw new Error(`no "hello" echo over TLS (got ${got.length} bytes)`);
          }
        } finally {
          c.close();
        }
        return;
      }
      case "quic": {
        const ep = new Deno.QuicEndpoint({ hostname: tg.host, port: 0 });
        try {
          const q = await within(
            Promise.resolve(Deno.connectQuic({
              endpoint: ep,
              hostname: tg.host,
              port: tg.port,
              serverName: "localhost",
              caCerts: [this.ctx.cert],
              alpnProtocols: ["h3"],
            })),
            5000,
            null,
          );
          if (!q) throw new Error("QUIC handshake timed out");
          q.close();
        } finally {
          ep.close();
        }
        return;
      }
      case "quic-echo": {
        const q = await within(this.#quicConnect(tg), 5000, null);
        if (!q) throw new Error("QUIC handshake timed out");
        try {
          const want = tg.expect ?? HELLO;
          const got = await this.#quicStreamCase(q, tg, seeds[0], null, 3000);
          if (got === null || !contains(got, want) || (want.length === 0 && got.length === 0)) {
            throw new Error(
              `no ${JSON.stringify(new TextDecoder().decode(want))} on the QUIC stream (got ${got?.length} bytes)`,
            );
          }
        } finally {
          q.close();
        }
        return;
      }
      case "udp-echo": {
        const s = Deno.listenDatagram({ transport: "udp", hostname: tg.host, port: 0 });
        try {
          for (let attempt = 0; attempt < 3; attempt++) {
            await s.send(t("ping"), { transport: "udp", hostname: tg.host, port: tg.port });
            const r = await within(s.receive(), 1500, null);
            if (r && new TextDecoder().decode(r[0]) === "ping") return;
          }
          throw new Error("no UDP echo through the forwarder");
        } finally {
          s.close();
        }
      }
      case "socks5-udp": {
        const a = await this.#associate(tg);
        try {
          const dg = concat(new Uint8Array([0, 0, 0]), socks5.encodeAddr(`127.0.0.1:${this.ctx.echoUdp}`), t("ping"));
          for (let attempt = 0; attempt < 3; attempt++) {
            await a.sock.send(dg, a.relay);
            const r = await within(a.sock.receive(), 1500, null);
            if (r && contains(r[0], t("ping"))) return;
          }
          throw new Error("no UDP echo through UDP ASSOCIATE");
        } finally {
          a.close();
        }
      }
    }
  }

  /** Opens a SOCKS5 UDP association; returns its relay address and a client socket. */
  async #associate(tg: NetTarget) {
    const c = await Deno.connect({ hostname: "127.0.0.1", port: tg.port });
    await c.write(concat(socks5.encodeGreeting([0]), socks5.encodeRequest(socks5.CMD_UDP, "0.0.0.0:0")));
    const got = await readFor(c, 2000, 3000, (g) => g.length >= 12);
    if (got.length < 12 || got[3] !== 0 || got[2 + 1] !== 0x00 || got[5] !== 0x01) {
      c.close();
      throw new Error(`bad UDP ASSOCIATE reply ${Array.from(got.subarray(0, 16)).join(",")}`);
    }
    const relayAddr: Deno.NetAddr = { transport: "udp", hostname: "127.0.0.1", port: (got[10] << 8) | got[11] };
    const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    return {
      relay: relayAddr,
      sock,
      close() {
        sock.close();
        c.close();
      },
    };
  }

  /** A verified QUIC connection to `tg` (with its control stream, when it has one). */
  async #quicConnect(tg: NetTarget): Promise<Deno.QuicConn> {
    const q = await Deno.connectQuic({
      hostname: tg.host,
      port: tg.port,
      serverName: "localhost",
      caCerts: [this.ctx.cert],
      alpnProtocols: ["h3"],
    });
    if (tg.control) {
      const w = (await q.createUnidirectionalStream()).getWriter();
      await w.write(tg.control);
      w.releaseLock();
    }
    // Drain what dost opens (its control and QPACK streams), so flow control never stalls.
    (async () => {
      for await (const s of q.incomingUnidirectionalStreams) s.cancel().catch(() => {});
    })().catch(() => {});
    return q;
  }

  /**
   * Writes `input` on a new stream of `q` (request stream, or a unidirectional
   * one for `tg.uni`) and reads the answer for up to `waitMs`. Null when the
   * connection is gone.
   */
  async #quicStreamCase(
    q: Deno.QuicConn,
    tg: NetTarget,
    input: Uint8Array,
    rng: Rng | null,
    waitMs: number,
  ): Promise<Uint8Array | null> {
    try {
      if (tg.uni) {
        const w = (await q.createUnidirectionalStream()).getWriter();
        for (const chunk of rng ? splitChunks(input, rng) : [input]) if (chunk.length) await w.write(chunk);
        if (!rng || rng.chance(0.5)) await w.close();
        else w.releaseLock();
        return new Uint8Array(0);
      }
      const s = await q.createBidirectionalStream();
      const w = s.writable.getWriter();
      for (const chunk of rng ? splitChunks(input, rng) : [input]) if (chunk.length) await w.write(chunk);
      if (rng?.chance(0.5)) await w.close().catch(() => {});
      else w.releaseLock();
      const r = s.readable.getReader();
      let got: Uint8Array = new Uint8Array(0);
      const end = Date.now() + waitMs;
      const want = tg.expect ?? HELLO;
      for (;;) {
        const left = end - Date.now();
        if (left <= 0) break;
        const x = await within(
          r.read().catch(() => ({ done: true, value: undefined })),
          rng ? Math.min(left, 15) : left,
          null,
        );
        if (!x || x.done || !x.value) break;
        got = concat(got, x.value);
        if (!rng && (want.length === 0 || contains(got, want))) break;
      }
      r.cancel().catch(() => {});
      s.writable.close().catch(() => {});
      return got;
    } catch {
      return null;
    }
  }

  /** Writes `prefix` and waits for the end of the response head. */
  async #sendPrefix(c: Deno.Conn, prefix: Uint8Array): Promise<boolean> {
    await c.write(prefix);
    const got = await readFor(c, 2000, 3000, (g) => contains(g, t("\r\n\r\n")));
    return contains(got, t("\r\n\r\n"));
  }

  /** One TCP or TLS case. Returns false when the listener refused the connection. */
  async #streamCase(tg: NetTarget, input: Uint8Array, rng: Rng): Promise<boolean> {
    let c: Deno.Conn;
    try {
      if (tg.mode === "tls") {
        const tc = await Deno.connectTls({
          hostname: tg.host,
          port: tg.port,
          caCerts: [this.ctx.cert],
          alpnProtocols: tg.alpn,
        });
        c = tc;
        try {
          await tc.handshake();
        } catch {
          tc.close();
          return false;
        }
      } else {
        c = await Deno.connect({ hostname: tg.host, port: tg.port });
      }
    } catch {
      return false;
    }
    try {
      if (tg.prefix && !(await this.#sendPrefix(c, tg.prefix))) {
        c.close();
        return false;
      }
      for (const chunk of splitChunks(input, rng)) {
        if (chunk.length) await c.write(chunk);
      }
      if (rng.chance(0.3) && tg.mode === "tcp") await (c as Deno.TcpConn).closeWrite();
      await readFor(c, rng.chance(0.9) ? 15 : 200, 1000);
    } catch { /* reset by dost: fine */ }
    try {
      c.close();
    } catch { /* closed */ }
    return true;
  }

  /**
   * Runs `cases` cases of `tg` in batches of `batch` (`concurrency` at a
   * time), probing after each batch.
   */
  async run(
    tg: NetTarget,
    opts: {
      seed: number;
      cases: number;
      batch?: number;
      concurrency?: number;
      timeMs?: number;
      log?: (s: string) => void;
    },
  ): Promise<NetResult> {
    const seeds = [...await loadSeeds(tg.name).catch(() => []), ...tg.seeds(this.ctx)];
    const batch = opts.batch ?? 500;
    const conc = opts.concurrency ?? (tg.mode === "udp" || tg.mode === "socks5-udp" ? 1 : 16);
    const findings: NetFinding[] = [];
    const deadline = performance.now() + (opts.timeMs ?? Infinity);
    if (!this.alive) await this.restart();
    const before = await procStats(this.pid).catch(() => ({ rss: 0, fds: 0 }));
    let rssMax = before.rss;
    let fdsMax = before.fds;
    const start = performance.now();
    this.takeSuspicious();
    let done = 0;
    const udpSocks = tg.mode === "udp"
      ? Array.from({ length: 4 }, () => Deno.listenDatagram({ transport: "udp", hostname: tg.host, port: 0 }))
      : [];
    for (const s of udpSocks) {
      (async () => {
        for (;;) await s.receive();
      })().catch(() => {});
    }
    try {
      while (done < opts.cases && performance.now() < deadline) {
        const from = done;
        const to = Math.min(opts.cases, done + batch);
        let refused = 0;
        if (tg.mode === "tcp" || tg.mode === "tls") {
          let next = from;
          await Promise.all(Array.from({ length: conc }, async () => {
            while (next < to) {
              const i = next++;
              const rng = caseRng(opts.seed, tg.name, i);
              if (!(await this.#streamCase(tg, mutate(seeds, rng, 16384), rng))) refused++;
            }
          }));
        } else if (tg.mode === "quic-stream") {
          // One connection shared by 8 workers; the first to see it gone opens the next.
          const conns: Deno.QuicConn[] = [];
          let cur: Promise<Deno.QuicConn | null> | null = null;
          const get = () =>
            cur ??= within(this.#quicConnect(tg), 5000, null).catch(() => null).then((q) => {
              if (q) conns.push(q);
              else cur = null;
              return q;
            });
          let next = from;
          await Promise.all(Array.from({ length: 8 }, async () => {
            while (next < to) {
              const i = next++;
              const rng = caseRng(opts.seed, tg.name, i);
              const mine = get();
              const q = await mine;
              if (!q) {
                refused++;
                continue;
              }
              const got = await this.#quicStreamCase(q, tg, mutate(seeds, rng, 16384), rng, 100);
              if (got === null && cur === mine) cur = null;
            }
          }));
          for (const q of conns) {
            try {
              q.close();
            } catch { /* closed */ }
          }
        } else if (tg.mode === "udp") {
          const dst: Deno.NetAddr = { transport: "udp", hostname: tg.host, port: tg.port };
          for (let i = from; i < to; i++) {
            const rng = caseRng(opts.seed, tg.name, i);
            const d = mutate(seeds, rng, 1500);
            await udpSocks[i & 3].send(d, dst).catch(() => refused++);
            if ((i & 31) === 31) await new Promise((r) => setTimeout(r, 1));
          }
        } else {
          const a = await this.#associate(tg).catch(() => null);
          if (!a) refused = to - from;
          else {
            (async () => {
              for (;;) await a.sock.receive();
            })().catch(() => {});
            for (let i = from; i < to; i++) {
              const rng = caseRng(opts.seed, tg.name, i);
              await a.sock.send(mutate(seeds, rng, 1500), a.relay).catch(() => refused++);
              if ((i & 31) === 31) await new Promise((r) => setTimeout(r, 1));
            }
            await new Promise((r) => setTimeout(r, 20));
            a.close();
          }
        }
        done = to;
        const range: [number, number] = [from, to];
        if (refused > 0 && tg.mode !== "udp") {
          findings.push({ target: tg.name, kind: "refused", detail: `${refused} connections refused`, range });
        }
        for (const l of this.takeSuspicious()) {
          if (findings.filter((f) => f.kind === "log").length < 10) {
            findings.push({ target: tg.name, kind: "log", detail: l, range });
          }
        }
        if (!this.alive) {
          findings.push({ target: tg.name, kind: "death", detail: this.tail(), range });
          await this.#saveBatch(tg, seeds, opts.seed, range);
          await this.restart();
          continue;
        }
        let probeErr: unknown;
        for (let attempt = 0; attempt < 2; attempt++) {
          try {
            await this.probe(tg);
            probeErr = undefined;
            break;
          } catch (err) {
            probeErr = err;
            await new Promise((r) => setTimeout(r, 500));
          }
        }
        if (probeErr) {
          const f: NetFinding = { target: tg.name, kind: "probe", detail: String(probeErr), range };
          f.file = await this.#saveBatch(tg, seeds, opts.seed, range);
          findings.push(f);
          if (findings.filter((f) => f.kind === "probe").length >= 3) break;
        }
        const st = await procStats(this.pid).catch(() => ({ rss: 0, fds: 0 }));
        rssMax = Math.max(rssMax, st.rss);
        fdsMax = Math.max(fdsMax, st.fds);
        opts.log?.(`  ${tg.name} ${to} cases, rss ${(st.rss / 2 ** 20).toFixed(0)} MiB, fds ${st.fds}`);
      }
    } finally {
      for (const s of udpSocks) s.close();
    }
    // Let dost finish closing this target's connections before the fd count.
    await new Promise((r) => setTimeout(r, 300));
    const after = await procStats(this.pid).catch(() => ({ rss: 0, fds: 0 }));
    return {
      target: tg.name,
      cases: done,
      ms: performance.now() - start,
      findings,
      rssBefore: before.rss,
      rssAfter: after.rss,
      rssMax: Math.max(rssMax, after.rss),
      fdsBefore: before.fds,
      fdsAfter: after.fds,
      fdsMax: Math.max(fdsMax, after.fds),
    };
  }

  /** Saves the inputs of a batch to `CRASH_DIR/<target>-s<seed>-<from>-<to>/`. */
  async #saveBatch(tg: NetTarget, seeds: Uint8Array[], seed: number, [from, to]: [number, number]): Promise<string> {
    const dir = new URL(`${tg.name}-s${seed}-${from}-${to}/`, CRASH_DIR);
    await Deno.mkdir(dir, { recursive: true });
    for (let i = from; i < to; i++) {
      const rng = caseRng(seed, tg.name, i);
      await Deno.writeFile(
        new URL(`${i}.bin`, dir),
        mutate(seeds, rng, tg.mode === "udp" || tg.mode === "socks5-udp" ? 1500 : 16384),
      );
    }
    return dir.pathname;
  }
}

/** Writes the captured TLS ClientHellos and QUIC Initials to the corpus. */
export async function writeNetCorpus(): Promise<number> {
  let n = 0;
  for (
    const [name, items] of [["net-tls-hello", await captureHellos()], [
      "net-quic-initial",
      await captureInitials(),
    ]] as const
  ) {
    const dir = new URL(`${name}/`, CORPUS_DIR);
    await Deno.mkdir(dir, { recursive: true });
    for (const [i, b] of items.entries()) {
      await Deno.writeFile(new URL(`seed-${i}.bin`, dir), b);
      n++;
    }
  }
  return n;
}
