/**
 * The relay connector (GOST `connector/relay`): asks a relay server to
 * connect to an address (`relay.md` §3.1).
 *
 * By default it is lazy in both directions, like GOST's client: nothing is
 * sent during `connect`; the request is glued to the first write, and the
 * first read consumes and checks the response before returning data. With
 * `nodelay=true` the request is written and the response read during
 * `connect`, which server-speaks-first protocols need.
 *
 * @module
 */
import { closeQuietly, concat, writeAll } from "../../transports/_io/write_all.ts";
import { type MuxConfig, parseMuxMetadata } from "../../transports/_mux/mod.ts";
import { type BindOptions, MuxBindListener } from "../../transports/rtcp/mod.ts";
import { TunnelPacketConn } from "../../transports/rudp/tunnel.ts";
import { PacketListener } from "../../transports/udp/listener.ts";
import { HandshakeError } from "../../transports/types.ts";
import type { Addr, Conn, DialOptions, Listener } from "../../transports/types.ts";
import type { BindConnector } from "../chain/binder.ts";
import { AuthError, type ConnectorOptions, ProxyError } from "../types.ts";
import { parseConnectorMetadata, type RelayConnectorMetadata } from "./metadata.ts";
import {
  type AddrFeature,
  addrFeature,
  ATYP_DOMAIN,
  ATYP_IPV4,
  CMD_BIND,
  CMD_CONNECT,
  encodeRequest,
  type Feature,
  FLAG_UDP,
  NETWORK_IP,
  NETWORK_SERIAL,
  NETWORK_TCP,
  NETWORK_UDP,
  NETWORK_UNIX,
  networkId,
  readFull,
  readResponse,
  STATUS_OK,
  STATUS_UNAUTHORIZED,
  statusText,
} from "./protocol.ts";

/** Largest datagram a UDP relay stream can carry (2-byte length prefix). */
export const MAX_DATAGRAM = 0xffff;

/** Creates a relay connector. Throws TypeError on bad metadata. */
export function relayConnector(opts: ConnectorOptions): BindConnector {
  return new RelayConnector(opts);
}

class RelayConnector implements BindConnector {
  readonly #opts: ConnectorOptions;
  readonly #md: RelayConnectorMetadata;
  /** smux options of BIND sessions (`mux.*`). */
  readonly #mux: MuxConfig;

  constructor(opts: ConnectorOptions) {
    this.#opts = opts;
    this.#md = parseConnectorMetadata(opts.metadata);
    this.#mux = parseMuxMetadata(opts.metadata);
  }

  /**
   * Relay BIND (`relay.md` §3.2): asks the server to listen on `addr` and
   * reads its answer synchronously. TCP: the conn becomes an smux session
   * with this side as the smux server, each accepted stream starting with a
   * relay response that names the peer. UDP (`0x82`): the conn carries the
   * UDP-tunnel framing, one pseudo-connection per remote sender.
   */
  async bind(conn: Conn, network: string, addr: string, opts: BindOptions = {}): Promise<Listener> {
    const id = networkId(network);
    if (id !== NETWORK_TCP && id !== NETWORK_UDP) {
      throw new TypeError(`Network "${network}" cannot be bound through a relay node`);
    }
    const udp = id === NETWORK_UDP;
    const features: Feature[] = [];
    const auth = this.#opts.auth;
    if (auth) features.push({ kind: "userAuth", username: auth.username, password: auth.password });
    features.push({ kind: "network", network: id });
    features.push(bindAddrFeature(addr));
    const request = encodeRequest({ cmd: udp ? CMD_BIND | FLAG_UDP : CMD_BIND, features });
    const transport = udp ? "udp" : "tcp";
    let bound: Deno.NetAddr = { transport, hostname: "0.0.0.0", port: 0 };
    await withDeadline(conn, this.#md.connectTimeout, opts.signal, async () => {
      await writeAll(conn, request);
      const resp = await readResponse(conn);
      if (resp === null) throw new Deno.errors.UnexpectedEof("Relay server closed the connection without a response");
      if (resp.status === STATUS_UNAUTHORIZED) throw new AuthError(`Relay server answered ${statusText(resp.status)}`);
      if (resp.status !== STATUS_OK) {
        throw new ProxyError(`Relay BIND ${addr}: server answered ${statusText(resp.status)}`);
      }
      const a = firstAddr(resp.features);
      if (a) bound = { transport, hostname: a.host, port: a.port };
    });
    if (udp) return new PacketListener(new TunnelPacketConn(conn), opts.udp, bound);
    return new MuxBindListener(conn, this.#mux, readStreamHeader, bound);
  }

  async connect(conn: Conn, network: string, addr: string, opts: DialOptions = {}): Promise<Conn> {
    const request = this.#request(network, addr);
    const udp = networkId(network) === NETWORK_UDP;
    if (!this.#md.nodelay) return udp ? new RelayUdpConn(conn, request) : new RelayTcpConn(conn, request);

    await withDeadline(conn, this.#md.connectTimeout, opts.signal, async () => {
      await writeAll(conn, request);
      if (!(await checkResponse(conn))) {
        throw new Deno.errors.UnexpectedEof("Relay server closed the connection without a response");
      }
    });
    return udp ? new RelayUdpConn(conn, null) : conn;
  }

  /** The encoded CONNECT request, features in GOST's order. */
  #request(network: string, addr: string): Uint8Array {
    const id = networkId(network);
    if (id === undefined || id === NETWORK_IP) {
      throw new TypeError(`Network "${network}" is not supported by the relay connector`);
    }
    let cmd = CMD_CONNECT;
    const features: Feature[] = [];
    if (id === NETWORK_UDP) {
      if (addr === "") {
        // TODO(udp): UDP association (BIND 0x82 + UDP-tunnel framing, relay.md §3.1).
        throw new TypeError("UDP association through a relay node is not supported yet");
      }
      cmd |= FLAG_UDP;
      features.push({ kind: "network", network: NETWORK_UDP });
    } else if (id === NETWORK_UNIX || id === NETWORK_SERIAL) {
      features.push({ kind: "network", network: id });
    }
    const auth = this.#opts.auth;
    if (auth) features.push({ kind: "userAuth", username: auth.username, password: auth.password });
    if (addr !== "") features.push(addrFeature(addr));
    return encodeRequest({ cmd, features });
  }
}

/**
 * The Addr feature of a bind address, as GOST HEAD encodes it: an empty host
 * becomes `0.0.0.0` (`:2222` → `01 00 00 00 00 08 ae`).
 */
export function bindAddrFeature(addr: string): AddrFeature {
  const f = addrFeature(addr);
  if (f.atyp === ATYP_DOMAIN && f.host === "") return { kind: "addr", atyp: ATYP_IPV4, host: "0.0.0.0", port: f.port };
  return f;
}

function firstAddr(features: Feature[]): AddrFeature | undefined {
  for (const f of features) if (f.kind === "addr") return f;
  return undefined;
}

/** Strips the relay response that starts every BIND stream; resolves to the peer it names. */
async function readStreamHeader(stream: Conn): Promise<Addr> {
  const resp = await readResponse(stream);
  if (resp === null) throw new Deno.errors.UnexpectedEof("BIND stream ended before its header");
  if (resp.status !== STATUS_OK) throw new HandshakeError(`BIND stream header has status ${statusText(resp.status)}`);
  const a = firstAddr(resp.features);
  return { transport: "tcp", hostname: a?.host ?? "0.0.0.0", port: a?.port ?? 0 };
}

/**
 * Reads the response head and features and checks VER and STATUS. Resolves
 * false when the stream ends before the first byte (a GOST server that
 * deferred its OK and whose target closed without data sends nothing).
 */
async function checkResponse(conn: Conn): Promise<boolean> {
  const resp = await readResponse(conn);
  if (resp === null) return false;
  if (resp.status === STATUS_UNAUTHORIZED) throw new AuthError(`Relay server answered ${statusText(resp.status)}`);
  if (resp.status !== STATUS_OK) throw new ProxyError(`Relay server answered ${statusText(resp.status)}`);
  return true;
}

/** Runs `op` on `conn`, closing `conn` when `ms` (0 = none) pass or `signal` aborts first. */
async function withDeadline(
  conn: Conn,
  ms: number,
  signal: AbortSignal | undefined,
  op: () => Promise<void>,
): Promise<void> {
  signal?.throwIfAborted();
  let timedOut = false;
  const timer = ms > 0
    ? setTimeout(() => {
      timedOut = true;
      closeQuietly(conn);
    }, ms)
    : undefined;
  const onAbort = () => closeQuietly(conn);
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    await op();
  } catch (err) {
    if (timedOut) throw new Deno.errors.TimedOut(`Relay handshake timed out after ${ms} ms`);
    if (signal?.aborted) throw signal.reason;
    throw err;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
  if (timedOut) throw new Deno.errors.TimedOut(`Relay handshake timed out after ${ms} ms`);
}

/**
 * A lazy TCP relay stream. The first write sends request ‖ data in one write
 * (a half-close before any write still sends the request); the first read
 * consumes and checks the response. After that, `read` and `write` are the
 * inner conn's own bound methods: no copies, no per-call checks.
 */
class RelayTcpConn implements Conn {
  read: (p: Uint8Array) => Promise<number | null>;
  write: (p: Uint8Array) => Promise<number>;
  readonly close: () => void;
  readonly #inner: Conn;
  #request: Uint8Array | null;
  #response?: Promise<boolean>;

  constructor(inner: Conn, request: Uint8Array) {
    this.#inner = inner;
    this.#request = request;
    this.read = this.#firstRead;
    this.write = this.#firstWrite;
    this.close = inner.close.bind(inner);
  }

  get localAddr(): Addr {
    return this.#inner.localAddr;
  }
  get remoteAddr(): Addr {
    return this.#inner.remoteAddr;
  }

  #takeRequest(): Uint8Array | null {
    const req = this.#request;
    this.#request = null;
    this.write = this.#inner.write.bind(this.#inner);
    return req;
  }

  #firstWrite = async (p: Uint8Array): Promise<number> => {
    const req = this.#takeRequest();
    if (req === null) return await this.write(p);
    await writeAll(this.#inner, concat(req, p));
    return p.length;
  };

  #firstRead = async (p: Uint8Array): Promise<number | null> => {
    // Concurrent first reads share one response read; a failure is rethrown on every read.
    this.#response ??= checkResponse(this.#inner);
    if (!(await this.#response)) return null;
    this.read = this.#inner.read.bind(this.#inner);
    return await this.read(p);
  };

  async closeWrite(): Promise<void> {
    const req = this.#takeRequest();
    if (req !== null) await writeAll(this.#inner, req);
    await this.#inner.closeWrite();
  }
}

/**
 * A UDP relay stream: each write is one datagram sent as `LEN(2) ‖ DATA`
 * (the first directly behind the request, in one write); each read returns one
 * datagram, truncated to the buffer like a UDP socket read.
 */
class RelayUdpConn implements Conn {
  readonly #inner: Conn;
  #request: Uint8Array | null;
  #response?: Promise<boolean>;
  #eof = false;

  constructor(inner: Conn, request: Uint8Array | null) {
    this.#inner = inner;
    this.#request = request;
    // With nodelay the response was already checked in connect.
    if (request === null) this.#response = Promise.resolve(true);
  }

  get localAddr(): Addr {
    return this.#inner.localAddr;
  }
  get remoteAddr(): Addr {
    return this.#inner.remoteAddr;
  }

  async write(p: Uint8Array): Promise<number> {
    if (p.length > MAX_DATAGRAM) {
      throw new RangeError(`Datagram of ${p.length} bytes exceeds the relay maximum of ${MAX_DATAGRAM}`);
    }
    const req = this.#request ?? new Uint8Array(0);
    this.#request = null;
    const frame = new Uint8Array(req.length + 2 + p.length);
    frame.set(req);
    frame[req.length] = p.length >> 8;
    frame[req.length + 1] = p.length & 0xff;
    frame.set(p, req.length + 2);
    await writeAll(this.#inner, frame);
    return p.length;
  }

  async read(p: Uint8Array): Promise<number | null> {
    this.#response ??= checkResponse(this.#inner);
    if (!(await this.#response) || this.#eof) return null;
    const len = new Uint8Array(2);
    if (!(await readFull(this.#inner, len, "datagram length"))) {
      this.#eof = true;
      return null;
    }
    const n = (len[0] << 8) | len[1];
    const fits = n <= p.length;
    const dst = fits ? p.subarray(0, n) : new Uint8Array(n);
    if (n > 0 && !(await readFull(this.#inner, dst, "datagram"))) {
      throw new Deno.errors.UnexpectedEof(`Truncated relay datagram: wanted ${n} bytes, got 0`);
    }
    if (fits) return n;
    p.set(dst.subarray(0, p.length));
    return p.length;
  }

  async closeWrite(): Promise<void> {
    const req = this.#request;
    this.#request = null;
    if (req !== null) await writeAll(this.#inner, req);
    await this.#inner.closeWrite();
  }

  close(): void {
    closeQuietly(this.#inner);
  }
}
