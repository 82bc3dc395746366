/**
 * In-process fuzz targets: each feeds one mutated input to a parser or a
 * server handshake of dost and says which errors that code may throw. Any
 * other error (a TypeError from reading past an array, a RangeError from a
 * bad allocation, …), a hang or a broken invariant is a crash.
 *
 * @module
 */
import { BytesConn, splitChunks } from "./_conn.ts";
import type { Rng } from "./mutator.ts";
import { ClosedError, HandshakeError } from "../../transports/types.ts";
import { BufferedConn } from "../../transports/_io/buffered_conn.ts";
import * as socks5 from "../../handlers/socks5/protocol.ts";
import { parseUdpHeader } from "../../handlers/socks5/udp.ts";
import * as socks4 from "../../handlers/socks4/protocol.ts";
import * as relay from "../../handlers/relay/protocol.ts";
import * as http1 from "../../transports/_http1/head.ts";
import { bodyReader, framingOf } from "../../transports/_http1/body.ts";
import * as wsFrame from "../../transports/_ws/frame.ts";
import {
  HttpParseError as WsHttpParseError,
  readRequestHead as wsReadRequestHead,
} from "../../transports/_ws/http_head.ts";
import { wsServerHandshake } from "../../transports/_ws/handshake.ts";
import { WsConn } from "../../transports/_ws/ws_conn.ts";
import { HpackDecoder, HpackError } from "../../transports/h2/_hpack.ts";
import { huffmanDecode, HuffmanError } from "../../transports/_hpack/huffman.ts";
import { parseSettings, validSettings } from "../../transports/h2/_frame.ts";
import { H2ProtocolError, H2Session } from "../../transports/h2/_session.ts";
import { StreamResetError } from "../../transports/h2/_stream.ts";
import * as h3 from "../../transports/_h3/frames.ts";
import { decodeFieldSection } from "../../transports/_h3/qpack.ts";
import {
  checkRequestStreamFrame,
  parseRequestHead as h3Request,
  parseResponseHead as h3Response,
} from "../../transports/_h3/message.ts";
import { CapsuleError, CapsuleParser } from "../../transports/wt/_protocol.ts";
import { GrpcConn } from "../../transports/grpc/conn.ts";
import { GrpcFramingError } from "../../transports/grpc/_proto.ts";
import type { H2Stream } from "../../transports/h2/_stream.ts";
import { decodeLine, decodeParts, LineSplitter } from "../../transports/pht/lines.ts";
import { parseClientHello } from "../../transports/obfs/_hello.ts";
import { otlsAccept, RecordReader } from "../../transports/obfs/_tls.ts";
import { ohttpAccept } from "../../transports/obfs/_http.ts";
import { addressesOf, decodeMessage, TYPE_A, TYPE_AAAA } from "../../handlers/resolver/message.ts";
import { FrameReader } from "../../transports/rudp/frame.ts";
import { RedisProtocolError, RespReader } from "../../handlers/loader/resp.ts";
import { Session as MuxSession } from "../../transports/_mux/session.ts";
import { formatIPv6, parseIPv6, splitHostPort } from "../../transports/addr.ts";
import { parseNodeURL, parseServiceURL } from "../../config/url.ts";
import { CLIError, parseArgs } from "../../config/cli.ts";
import { loadParser, parseConfig, validateConfig } from "../../config/load.ts";
import { ConfigError } from "../../config/origin.ts";
import { parseCertificate, ProbeError } from "../../transports/h3/_probe.ts";

/** One in-process target. */
export interface Target {
  name: string;
  /** What it exercises, for `--list`. */
  about: string;
  /** Runs one case. Must settle; may throw only what `allowed` accepts. */
  run(input: Uint8Array, rng: Rng): void | Promise<void>;
  /** Error classes this code declares. */
  allowed: readonly (abstract new (...args: never[]) => Error)[];
  /** Largest input generated. @default 65536 */
  maxLen?: number;
  /** Called once before the first case. */
  setup?(): Promise<void>;
  /**
   * Findings already reported upstream (code this fuzzer's owner may not
   * change): matched against `Name: message`, counted as `known`, not failed.
   */
  known?: readonly RegExp[];
}

/** Messages V8 and Deno give to their own TypeError/RangeError/SyntaxError: never a declared error. */
const ENGINE_MESSAGE =
  /Cannot read properties of|Cannot set properties of|is not a function|is not iterable|Maximum call stack|Invalid (typed )?array length|out of (bounds|range)|Cannot convert|Cannot destructure|is not defined|is not a constructor|Invalid string length|Array buffer allocation failed|Offset is outside/;

/** True when `err` is one of `allowed` and not an engine error in disguise. */
export function isAllowed(err: unknown, allowed: Target["allowed"]): boolean {
  if (!(err instanceof Error)) return false;
  if (!allowed.some((c) => err instanceof c)) return false;
  if (err instanceof TypeError || err instanceof RangeError || err instanceof SyntaxError) {
    if (ENGINE_MESSAGE.test(err.message)) return false;
  }
  return true;
}

/** Raised by a target when a parser returned something impossible. */
export class InvariantError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvariantError";
  }
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new InvariantError(what);
}

const EOF = Deno.errors.UnexpectedEof;
const dec = new TextDecoder();

async function drainConn(c: { read(p: Uint8Array): Promise<number | null> }, max = 1 << 20): Promise<void> {
  const buf = new Uint8Array(4096);
  let total = 0;
  for (let i = 0; i < 10_000; i++) {
    const n = await c.read(buf);
    if (n === null) return;
    total += n;
    check(n >= 0 && n <= buf.length, `read returned ${n}`);
    if (total > max) return;
  }
}

/** A minimal server-side H2Stream for GrpcConn: its body is the case's bytes. */
function fakeStream(conn: BytesConn): H2Stream {
  return {
    localAddr: conn.localAddr,
    remoteAddr: conn.remoteAddr,
    read: (p: Uint8Array) => conn.read(p),
    readReady: () => 0,
    writev: () => Promise.resolve(),
    write: (p: Uint8Array) => Promise.resolve(p.length),
    closeWrite: () => Promise.resolve(),
    close: () => {},
    reset: () => {},
    localEnded: false,
    trailers: undefined,
    response: Promise.resolve(undefined),
  } as unknown as H2Stream;
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new InvariantError(`${what} did not finish in ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export const TARGETS: readonly Target[] = [
  {
    name: "socks5",
    about: "SOCKS5 greeting, RFC 1929 user/pass and request (readGreeting/readUserPass/readMessage)",
    allowed: [HandshakeError, EOF],
    maxLen: 4096,
    async run(input, rng) {
      const c = new BytesConn(input, rng);
      const methods = await socks5.readGreeting(c);
      check(methods.length > 0, "greeting with no methods accepted");
      if (methods.includes(socks5.METHOD_USER_PASS)) await socks5.readUserPass(c);
      const m = await socks5.readMessage(c);
      // A domain may hold any bytes ("[x", "a:b"): the joined address then fails to split, as in Go;
      // the handler answers that with a failure reply. Only the declared TypeError is fine.
      try {
        splitHostPort(m.addr);
      } catch (err) {
        if (!(err instanceof TypeError && err.message.startsWith("Invalid address"))) throw err;
      }
    },
  },
  {
    name: "socks5-udp",
    about: "SOCKS5 UDP datagram header (parseUdpHeader), as on UDP ASSOCIATE",
    allowed: [],
    maxLen: 2048,
    run(input) {
      const h = parseUdpHeader(input);
      if (h) check(h.offset <= input.length && h.port >= 0 && h.port <= 0xffff, `bad header ${JSON.stringify(h)}`);
    },
  },
  {
    name: "socks4",
    about: "SOCKS4/4a request (readRequest)",
    allowed: [HandshakeError, EOF],
    maxLen: 2048,
    async run(input, rng) {
      const br = new BufferedConn(new BytesConn(input, rng), 1024);
      await socks4.readRequest(br);
    },
  },
  {
    name: "relay",
    about: "relay protocol request and response: head, features (user auth, addr, tunnel, network)",
    allowed: [HandshakeError, EOF],
    maxLen: 8192,
    async run(input, rng) {
      const c = new BytesConn(input, rng);
      const req = await relay.readRequest(c);
      for (const f of req?.features ?? []) if (f.kind === "addr") relay.addrString(f);
      relay.decodeFeatures(input.subarray(Math.min(4, input.length)));
    },
  },
  {
    name: "http1",
    about: "HTTP/1.1 request head, framing (Content-Length / chunked) and body",
    allowed: [http1.HttpParseError, EOF],
    maxLen: 16384,
    async run(input, rng) {
      const br = new BufferedConn(new BytesConn(input, rng), 4096);
      const head = await http1.readRequestHead(br, 8192);
      if (!head) return;
      const body = bodyReader(br, framingOf(head.headers, false), 1024);
      for (let i = 0; body && i < 10_000; i++) if ((await body.read()) === null) break;
    },
  },
  {
    name: "http1-response",
    about: "HTTP/1.1 response head and body (the connectors' side)",
    allowed: [http1.HttpParseError, EOF],
    maxLen: 16384,
    async run(input, rng) {
      const br = new BufferedConn(new BytesConn(input, rng), 4096);
      const head = await http1.readResponseHead(br, 8192);
      const body = bodyReader(br, framingOf(head.headers, true), 1024);
      for (let i = 0; body && i < 10_000; i++) if ((await body.read()) === null) break;
    },
  },
  {
    name: "ws-handshake",
    about: "WebSocket server handshake (request head, path, upgrade checks) then frames",
    allowed: [wsFrame.ProtocolError, EOF, ClosedError, Deno.errors.InvalidData],
    maxLen: 16384,
    async run(input, rng) {
      const c = new BytesConn(input, rng);
      const r = await wsServerHandshake(c, { path: "/ws", timeout: 0 });
      if (!r.rejected) await drainConn(r.conn);
    },
  },
  {
    name: "ws-head",
    about: "WebSocket listener's Go-compatible request head parser (_ws/http_head)",
    allowed: [WsHttpParseError, EOF],
    maxLen: 16384,
    async run(input, rng) {
      await wsReadRequestHead(new BufferedConn(new BytesConn(input, rng)), 8192);
    },
  },
  {
    name: "ws-frames",
    about: "RFC 6455 frames read by a server WsConn (masking, fragmentation, control frames, close)",
    allowed: [wsFrame.ProtocolError, EOF, ClosedError],
    maxLen: 32768,
    async run(input, rng) {
      for (let off = 0, i = 0; off < input.length && i < 64; i++) {
        let h: wsFrame.FrameHeader | null;
        try {
          h = wsFrame.parseHeader(input.subarray(off), 1 << 20);
        } catch (err) {
          if (err instanceof wsFrame.ProtocolError) break;
          throw err;
        }
        if (!h) break;
        check(h.headerLength >= 2 && h.headerLength <= 14, `header length ${h.headerLength}`);
        off += h.headerLength + h.length;
      }
      // Mostly the role the first frame's mask bit asks for, so the reader gets past the first frame.
      const masked = input.length > 1 && (input[1] & 0x80) !== 0;
      const role = masked !== rng.chance(0.1) ? "server" : "client";
      await drainConn(new WsConn(new BytesConn(input, rng), { role, maxFrameSize: 1 << 17 }));
    },
  },
  {
    name: "smux",
    about: "smux v1/v2 session fed raw frames (SYN/FIN/PSH/NOP/UPD), streams drained",
    allowed: [],
    maxLen: 65536,
    async run(input, rng) {
      const version = input.length > 0 && input[0] === 2 ? 2 : 1;
      const s = new MuxSession(new BytesConn(input, rng), {
        client: rng.chance(0.5),
        version,
        keepaliveDisabled: true,
      });
      const streams: Promise<void>[] = [];
      (async () => {
        for (;;) {
          const st = await s.accept();
          streams.push(drainConn(st).catch(() => {}).finally(() => st.close()));
        }
      })().catch(() => {});
      await withTimeout(s.done, 2000, "smux session");
      s.close();
      await Promise.all(streams);
    },
  },
  {
    name: "h2",
    about: "HTTP/2 server session: preface, every frame type, HPACK, flow control, streams",
    allowed: [],
    maxLen: 65536,
    async run(input, rng) {
      const streams: Promise<void>[] = [];
      const s = new H2Session(new BytesConn(input, rng), {
        client: false,
        onStream: (st) => {
          streams.push(
            drainConn(st).catch((err) => {
              if (!(err instanceof StreamResetError || err instanceof ClosedError || err instanceof H2ProtocolError)) {
                throw err;
              }
            }).finally(() => st.close()),
          );
        },
      });
      await withTimeout(s.done, 2000, "h2 session");
      await Promise.all(streams);
    },
  },
  {
    name: "hpack",
    about: "HPACK decoder over several header blocks sharing one dynamic table",
    allowed: [HpackError],
    maxLen: 16384,
    run(input, rng) {
      const d = new HpackDecoder(4096);
      for (const block of rng.chance(0.5) ? [input] : splitChunks(input, rng)) {
        d.decode(block, 16384);
        check(d.tableLength <= 4096 / 32, `dynamic table holds ${d.tableLength} entries, more than 4096 bytes allow`);
      }
    },
  },
  {
    name: "huffman",
    about: "HPACK/QPACK Huffman decoder",
    allowed: [HuffmanError],
    maxLen: 4096,
    run(input, rng) {
      const max = rng.chance(0.5) ? Infinity : rng.below(256);
      const out = huffmanDecode(input, max);
      check(out.length <= max, `decoded ${out.length} bytes, limit ${max}`);
    },
  },
  {
    name: "h2-settings",
    about: "HTTP/2 SETTINGS payload",
    allowed: [],
    maxLen: 1024,
    run(input) {
      validSettings(input);
      check(parseSettings(input).length === Math.floor(input.length / 6), "settings count");
    },
  },
  {
    name: "h3-frames",
    about: "HTTP/3 frames on a request stream: varints, SETTINGS, GOAWAY, HEADERS (QPACK) and request checks",
    allowed: [h3.H3Error],
    maxLen: 16384,
    run(input) {
      let off = 0;
      for (let i = 0; i < 256 && off < input.length; i++) {
        const fh = h3.readFrameHeader(input, off);
        if (!fh) break;
        const start = off + fh.size;
        const payload = input.subarray(start, Math.min(input.length, start + fh.length));
        switch (fh.type) {
          case h3.FrameType.SETTINGS:
            h3.decodeSettings(payload);
            break;
          case h3.FrameType.GOAWAY:
            h3.decodeSingleVarint(payload, "GOAWAY");
            break;
          case h3.FrameType.HEADERS: {
            checkRequestStreamFrame(fh.type, false);
            const fields = decodeFieldSection(payload, 8192);
            h3Request(fields);
            break;
          }
          default:
            checkRequestStreamFrame(fh.type, i % 2 === 0);
        }
        off = start + fh.length;
      }
    },
  },
  {
    name: "qpack",
    about: "QPACK field section decoder and HTTP/3 request/response head checks",
    allowed: [h3.H3Error],
    maxLen: 16384,
    run(input, rng) {
      const fields = decodeFieldSection(input, rng.chance(0.5) ? 16384 : 256);
      if (rng.chance(0.5)) h3Request(fields);
      else h3Response(fields);
    },
  },
  {
    name: "wt-capsule",
    about: "WebTransport CONNECT-stream capsules (CLOSE_WEBTRANSPORT_SESSION)",
    allowed: [CapsuleError],
    maxLen: 8192,
    run(input, rng) {
      const p = new CapsuleParser();
      for (const chunk of splitChunks(input, rng)) p.push(chunk);
    },
  },
  {
    name: "grpc",
    about: "gRPC message framing and Chunk protobuf (server GrpcConn reading the request body)",
    allowed: [GrpcFramingError, EOF],
    maxLen: 65536,
    async run(input, rng) {
      await drainConn(new GrpcConn(fakeStream(new BytesConn(input, rng)), true));
    },
  },
  {
    name: "pht",
    about: "PHT base64 line splitter and decoders",
    allowed: [SyntaxError, RangeError],
    maxLen: 16384,
    run(input, rng) {
      const ls = new LineSplitter(4096);
      const lines: string[] = [];
      for (const chunk of splitChunks(input, rng)) ls.push(chunk, (l) => lines.push(l));
      for (const l of lines) decodeLine(l);
      const text = dec.decode(input);
      decodeParts([text.slice(0, text.length >> 1), text.slice(text.length >> 1)], text.length);
    },
  },
  {
    name: "otls-hello",
    about: "obfs-tls ClientHello parser (session id, ticket, SNI)",
    allowed: [HandshakeError],
    maxLen: 16384,
    run(input) {
      parseClientHello(input);
    },
  },
  {
    name: "otls",
    about: "obfs-tls server: ClientHello record then data records (RecordReader)",
    allowed: [HandshakeError, EOF, Deno.errors.InvalidData, ClosedError],
    maxLen: 65536,
    async run(input, rng) {
      const rr = new RecordReader(rng.chance(0.5) ? "client" : "server");
      const copy = input.slice();
      try {
        const n = rr.parse(copy, copy.length);
        check(n >= 0 && n <= copy.length, `parse returned ${n}`);
      } catch (err) {
        if (!(err instanceof Deno.errors.InvalidData)) throw err;
      }
      const { conn } = await otlsAccept(new BytesConn(input, rng));
      await drainConn(conn);
    },
  },
  {
    name: "ohttp",
    about: "obfs-http server: fake WebSocket upgrade request",
    allowed: [HandshakeError, http1.HttpParseError, EOF, ClosedError],
    maxLen: 16384,
    async run(input, rng) {
      const { conn } = await ohttpAccept(new BytesConn(input, rng));
      await drainConn(conn);
    },
  },
  {
    name: "dns",
    about: "DNS message decoder (resolver replies: names, compression pointers, RRs, EDNS)",
    allowed: [SyntaxError],
    maxLen: 4096,
    run(input) {
      const m = decodeMessage(input);
      const name = m.questions?.[0]?.name ?? "example.com";
      addressesOf(m, name, TYPE_A);
      addressesOf(m, name, TYPE_AAAA);
    },
  },
  {
    name: "rudp",
    about: "UDP-over-TCP frames (socks5 UDP-TUN, relay UDP, rudp): LEN ATYP ADDR PORT DATA",
    allowed: [HandshakeError, EOF],
    maxLen: 65536,
    async run(input, rng) {
      const r = new FrameReader(new BytesConn(input, rng));
      for (let i = 0; i < 10_000; i++) if ((await r.read()) === null) break;
    },
  },
  {
    name: "resp",
    about: "Redis RESP2 replies (the redis loader)",
    allowed: [RedisProtocolError, EOF],
    maxLen: 16384,
    async run(input, rng) {
      const r = new RespReader(new BytesConn(input, rng), { maxReplySize: 1 << 20 });
      for (let i = 0; i < 1000; i++) await r.read();
    },
  },
  {
    name: "h3-probe",
    about: "TLS Certificate message parser of the h3 certificate probe",
    allowed: [ProbeError],
    maxLen: 16384,
    run(input) {
      parseCertificate(input.slice());
    },
  },
  {
    name: "addr",
    about: "host:port splitting and IPv6 parsing/formatting",
    allowed: [TypeError],
    maxLen: 512,
    run(input) {
      const s = dec.decode(input);
      const v6 = parseIPv6(s);
      if (v6) check(parseIPv6(formatIPv6(v6))?.join() === v6.join(), `IPv6 round trip of "${s}"`);
      splitHostPort(s);
    },
  },
  {
    name: "url",
    about: "-L / -F URL grammar (parseServiceURL, parseNodeURL)",
    allowed: [SyntaxError, TypeError, RangeError],
    maxLen: 2048,
    run(input, rng) {
      const s = dec.decode(input);
      if (rng.chance(0.5)) parseServiceURL(s, 0, undefined, { warn: () => {} });
      else parseNodeURL(s, undefined, { warn: () => {} });
    },
  },
  {
    name: "cli",
    about: "gost flag syntax (parseArgs)",
    allowed: [CLIError],
    maxLen: 2048,
    run(input) {
      parseArgs(dec.decode(input).split(/[ \n]/));
    },
  },
  {
    name: "yaml",
    about: "YAML/JSON configuration (parseConfig, validateConfig)",
    allowed: [ConfigError, SyntaxError, TypeError, RangeError],
    maxLen: 16384,
    setup: loadParser,
    run(input, rng) {
      const cfg = parseConfig(dec.decode(input), { format: rng.chance(0.8) ? "yaml" : "json", warn: () => {} });
      validateConfig(cfg);
    },
  },
];

/**
 * Two targets that check the harness itself, present only with
 * `DOST_FUZZ_SELFTEST=1`: one crashes on some inputs, one never returns.
 */
export const SELFTEST_TARGETS: readonly Target[] = [
  {
    name: "selftest-crash",
    about: "harness check: a TypeError on inputs starting with 0x00",
    allowed: [SyntaxError],
    run(input) {
      if (input[0] === 0) (undefined as unknown as { x: number }).x;
    },
  },
  {
    name: "selftest-hang",
    about: "harness check: a loop that never ends on 7-byte inputs starting with 0x42",
    allowed: [],
    run(input) {
      while (input.length === 7 && input[0] === 0x42) input[1]++;
    },
  },
];

/** The in-process targets, with the self-test ones when `DOST_FUZZ_SELFTEST=1`. */
export function allTargets(): readonly Target[] {
  let selftest = false;
  try {
    selftest = Deno.env.get("DOST_FUZZ_SELFTEST") === "1";
  } catch { /* no env permission */ }
  return selftest ? [...TARGETS, ...SELFTEST_TARGETS] : TARGETS;
}
