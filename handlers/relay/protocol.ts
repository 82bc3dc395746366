/**
 * The GOST relay wire format (`go-gost/relay`): request, response and the
 * feature TLVs (UserAuth, Addr, Tunnel, Network). All integers are big-endian.
 *
 * ```
 * request:  VER(1) CMD/FLAGS(1) FEALEN(2) FEATURES(FEALEN)
 * response: VER(1) STATUS(1)    FEALEN(2) FEATURES(FEALEN)
 * feature:  TYPE(1) LEN(2) DATA(LEN)
 * ```
 *
 * Decoding follows relay v0.5.0 (gost v3.2.6) byte for byte, except that
 * unknown feature types are kept as opaque features instead of rejecting the
 * request (relay HEAD behaviour); our encoder only ever emits types 1–4, so
 * v3.2.6 servers accept what we send.
 *
 * @module
 */
import { formatIPv6, isIPv4, joinHostPort, parseIPv6 } from "../../transports/addr.ts";
import { HandshakeError } from "../../transports/types.ts";
import type { Conn } from "../../transports/types.ts";

/** The only protocol version. */
export const VERSION = 0x01;

/** Commands (low nibble of the CMD/FLAGS byte). `0` is treated as CONNECT. */
export const CMD_CONNECT = 0x01;
export const CMD_BIND = 0x02;
export const CMD_ASSOCIATE = 0x03;
export const CMD_MASK = 0x0f;
/** Flag: the request is UDP-oriented (deprecated by the Network feature, still sent by GOST). */
export const FLAG_UDP = 0x80;

/** Response status codes. */
export const STATUS_OK = 0x00;
export const STATUS_BAD_REQUEST = 0x01;
export const STATUS_UNAUTHORIZED = 0x02;
export const STATUS_FORBIDDEN = 0x03;
export const STATUS_TIMEOUT = 0x04;
export const STATUS_SERVICE_UNAVAILABLE = 0x05;
export const STATUS_HOST_UNREACHABLE = 0x06;
export const STATUS_NETWORK_UNREACHABLE = 0x07;
export const STATUS_INTERNAL_SERVER_ERROR = 0x08;

const STATUS_NAMES: Record<number, string> = {
  [STATUS_OK]: "OK",
  [STATUS_BAD_REQUEST]: "Bad Request",
  [STATUS_UNAUTHORIZED]: "Unauthorized",
  [STATUS_FORBIDDEN]: "Forbidden",
  [STATUS_TIMEOUT]: "Timeout",
  [STATUS_SERVICE_UNAVAILABLE]: "Service Unavailable",
  [STATUS_HOST_UNREACHABLE]: "Host Unreachable",
  [STATUS_NETWORK_UNREACHABLE]: "Network Unreachable",
  [STATUS_INTERNAL_SERVER_ERROR]: "Internal Server Error",
};

/** `7 Network Unreachable`, as GOST reports a status. */
export function statusText(status: number): string {
  return `${status} ${STATUS_NAMES[status] ?? "Unknown Status"}`;
}

/** Feature types. */
export const FEATURE_USER_AUTH = 0x01;
export const FEATURE_ADDR = 0x02;
export const FEATURE_TUNNEL = 0x03;
export const FEATURE_NETWORK = 0x04;

/** Addr feature address types (SOCKS5 numbering). */
export const ATYP_IPV4 = 0x01;
export const ATYP_DOMAIN = 0x03;
export const ATYP_IPV6 = 0x04;

/** Network feature ids. */
export const NETWORK_TCP = 0x0000;
export const NETWORK_UDP = 0x0001;
export const NETWORK_IP = 0x0002;
export const NETWORK_UNIX = 0x0010;
export const NETWORK_SERIAL = 0x0011;

const NETWORK_NAMES: Record<number, string> = {
  [NETWORK_TCP]: "tcp",
  [NETWORK_UDP]: "udp",
  [NETWORK_IP]: "ip",
  [NETWORK_UNIX]: "unix",
  [NETWORK_SERIAL]: "serial",
};

/** The name of a Network feature id; unknown ids read as `tcp` (as in GOST). */
export function networkName(id: number): string {
  return NETWORK_NAMES[id] ?? "tcp";
}

/** The Network feature id of a network name (`tcp4` ⇒ tcp, …), or undefined. */
export function networkId(name: string): number | undefined {
  switch (name) {
    case "tcp":
    case "tcp4":
    case "tcp6":
      return NETWORK_TCP;
    case "udp":
    case "udp4":
    case "udp6":
      return NETWORK_UDP;
    case "ip":
      return NETWORK_IP;
    case "unix":
      return NETWORK_UNIX;
    case "serial":
      return NETWORK_SERIAL;
  }
  return undefined;
}

/** Credentials (`ULEN USER PLEN PASS`); each string at most 255 bytes. */
export interface UserAuthFeature {
  kind: "userAuth";
  username: string;
  password: string;
}

/** A target or bound address (`ATYP ADDR PORT`). */
export interface AddrFeature {
  kind: "addr";
  atyp: number;
  /** IP literal or domain name; may be empty (zero-length domain). */
  host: string;
  port: number;
}

/** A tunnel id (requests) or connector id (responses): 16-byte id, then FLAG, RSV, WEIGHT. */
export interface TunnelFeature {
  kind: "tunnel";
  /** The raw feature data (at least 16 bytes; GOST HEAD sends 20). */
  id: Uint8Array;
}

/** The request's network (`u16` id, see `NETWORK_*`). */
export interface NetworkFeature {
  kind: "network";
  network: number;
}

/** A feature of a type this codec does not know; kept as raw data and ignored. */
export interface OpaqueFeature {
  kind: "opaque";
  type: number;
  data: Uint8Array;
}

export type Feature = UserAuthFeature | AddrFeature | TunnelFeature | NetworkFeature | OpaqueFeature;

export interface Request {
  /** @default VERSION */
  version?: number;
  /** Command in the low nibble, flags (`FLAG_UDP`) in the high bits. */
  cmd: number;
  features: Feature[];
}

export interface Response {
  /** @default VERSION */
  version?: number;
  status: number;
  features: Feature[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Maximum FEALEN and feature LEN. */
const MAX_U16 = 0xffff;

// ---------------------------------------------------------------- encoding

function encodeFeatureData(f: Feature): Uint8Array {
  switch (f.kind) {
    case "userAuth": {
      const u = encoder.encode(f.username);
      const p = encoder.encode(f.password);
      if (u.length > 0xff) throw new RangeError(`Relay user name is ${u.length} bytes long: at most 255 allowed`);
      if (p.length > 0xff) throw new RangeError(`Relay password is ${p.length} bytes long: at most 255 allowed`);
      const out = new Uint8Array(2 + u.length + p.length);
      out[0] = u.length;
      out.set(u, 1);
      out[1 + u.length] = p.length;
      out.set(p, 2 + u.length);
      return out;
    }
    case "addr":
      return encodeAddr(f);
    case "tunnel":
      return f.id;
    case "network":
      return new Uint8Array([(f.network >> 8) & 0xff, f.network & 0xff]);
    case "opaque":
      return f.data;
  }
}

function featureType(f: Feature): number {
  switch (f.kind) {
    case "userAuth":
      return FEATURE_USER_AUTH;
    case "addr":
      return FEATURE_ADDR;
    case "tunnel":
      return FEATURE_TUNNEL;
    case "network":
      return FEATURE_NETWORK;
    case "opaque":
      return f.type;
  }
}

function encodeAddr(f: AddrFeature): Uint8Array {
  let body: Uint8Array;
  switch (f.atyp) {
    case ATYP_IPV4: {
      body = new Uint8Array(1 + 4);
      if (isIPv4(f.host)) body.set(f.host.split(".").map(Number), 1);
      else {
        const v6 = parseIPv6(f.host);
        if (v6 && isV4Mapped(v6)) body.set(v6.subarray(12), 1);
      }
      break;
    }
    case ATYP_IPV6: {
      body = new Uint8Array(1 + 16);
      const v6 = isIPv4(f.host) ? v4Mapped(f.host) : parseIPv6(f.host);
      if (v6) body.set(v6, 1);
      break;
    }
    case ATYP_DOMAIN: {
      const h = encoder.encode(f.host);
      if (h.length > 0xff) throw new RangeError(`Relay address host "${f.host}" is longer than 255 bytes`);
      body = new Uint8Array(2 + h.length);
      body[1] = h.length;
      body.set(h, 2);
      break;
    }
    default:
      throw new RangeError(`Unknown relay address type ${f.atyp}`);
  }
  body[0] = f.atyp;
  const out = new Uint8Array(body.length + 2);
  out.set(body);
  out[body.length] = (f.port >> 8) & 0xff;
  out[body.length + 1] = f.port & 0xff;
  return out;
}

/** Encodes a feature list (without the FEALEN prefix). */
export function encodeFeatures(features: Feature[]): Uint8Array {
  const parts = features.map((f) => [featureType(f), encodeFeatureData(f)] as const);
  let n = 0;
  for (const [, d] of parts) {
    if (d.length > MAX_U16) throw new RangeError(`Relay feature is ${d.length} bytes long: at most 65535 allowed`);
    n += 3 + d.length;
  }
  const out = new Uint8Array(n);
  let off = 0;
  for (const [t, d] of parts) {
    out[off] = t;
    out[off + 1] = d.length >> 8;
    out[off + 2] = d.length & 0xff;
    out.set(d, off + 3);
    off += 3 + d.length;
  }
  return out;
}

function encodeMessage(version: number, code: number, features: Feature[]): Uint8Array {
  const fs = encodeFeatures(features);
  if (fs.length > MAX_U16) throw new RangeError(`Relay features are ${fs.length} bytes long: at most 65535 allowed`);
  const out = new Uint8Array(4 + fs.length);
  out[0] = version;
  out[1] = code;
  out[2] = fs.length >> 8;
  out[3] = fs.length & 0xff;
  out.set(fs, 4);
  return out;
}

/** Encodes a request; throws RangeError when a field does not fit. */
export function encodeRequest(req: Request): Uint8Array {
  return encodeMessage(req.version ?? VERSION, req.cmd, req.features);
}

/** Encodes a response; throws RangeError when a field does not fit. */
export function encodeResponse(resp: Response): Uint8Array {
  return encodeMessage(resp.version ?? VERSION, resp.status, resp.features);
}

/** The 4-byte response with `status` and no features (`01 SS 00 00`). */
export function statusResponse(status: number): Uint8Array {
  return new Uint8Array([VERSION, status, 0, 0]);
}

// ---------------------------------------------------------------- decoding

/** Raised for a relay message that does not parse. */
function malformed(what: string): HandshakeError {
  return new HandshakeError(`Malformed relay features: ${what}`);
}

function decodeFeature(type: number, b: Uint8Array): Feature {
  switch (type) {
    case FEATURE_USER_AUTH: {
      if (b.length < 2) throw malformed(`user auth feature is ${b.length} bytes long`);
      const ulen = b[0];
      if (b.length < 1 + ulen + 1) throw malformed(`user name length ${ulen} overflows the feature`);
      const plen = b[1 + ulen];
      if (b.length < 2 + ulen + plen) throw malformed(`password length ${plen} overflows the feature`);
      return {
        kind: "userAuth",
        username: decoder.decode(b.subarray(1, 1 + ulen)),
        password: decoder.decode(b.subarray(2 + ulen, 2 + ulen + plen)),
      };
    }
    case FEATURE_ADDR:
      return decodeAddr(b);
    case FEATURE_TUNNEL:
      if (b.length < 16) throw malformed(`tunnel feature is ${b.length} bytes long`);
      return { kind: "tunnel", id: b.slice() };
    case FEATURE_NETWORK:
      if (b.length < 2) throw malformed(`network feature is ${b.length} bytes long`);
      return { kind: "network", network: (b[0] << 8) | b[1] };
    default:
      // relay v0.5.0 (gost v3.2.6) rejects unknown types; HEAD keeps them
      // opaque and the handler ignores them. We follow HEAD.
      return { kind: "opaque", type, data: b.slice() };
  }
}

function decodeAddr(b: Uint8Array): AddrFeature {
  if (b.length < 4) throw malformed(`address feature is ${b.length} bytes long`);
  const atyp = b[0];
  let host: string;
  let pos: number;
  switch (atyp) {
    case ATYP_IPV4:
      if (b.length < 7) throw malformed(`IPv4 address feature is ${b.length} bytes long`);
      host = Array.from(b.subarray(1, 5)).join(".");
      pos = 5;
      break;
    case ATYP_IPV6:
      if (b.length < 19) throw malformed(`IPv6 address feature is ${b.length} bytes long`);
      host = formatIP16(b.subarray(1, 17));
      pos = 17;
      break;
    case ATYP_DOMAIN: {
      const alen = b[1];
      if (b.length < 4 + alen) throw malformed(`domain length ${alen} overflows the address feature`);
      host = decoder.decode(b.subarray(2, 2 + alen));
      pos = 2 + alen;
      break;
    }
    default:
      throw malformed(`unknown address type ${atyp}`);
  }
  // Bytes after the port are ignored, as in GOST.
  return { kind: "addr", atyp, host, port: (b[pos] << 8) | b[pos + 1] };
}

/** Decodes a feature list; throws HandshakeError when it is malformed. */
export function decodeFeatures(b: Uint8Array): Feature[] {
  const out: Feature[] = [];
  let off = 0;
  while (off < b.length) {
    if (b.length - off < 3) throw malformed(`${b.length - off} stray bytes after the last feature`);
    const type = b[off];
    const len = (b[off + 1] << 8) | b[off + 2];
    off += 3;
    if (off + len > b.length) {
      throw malformed(`feature type ${type} claims ${len} bytes, only ${b.length - off} left`);
    }
    out.push(decodeFeature(type, b.subarray(off, off + len)));
    off += len;
  }
  return out;
}

/** A decoded 4-byte message head. */
export interface MessageHead {
  version: number;
  /** CMD/FLAGS of a request, STATUS of a response. */
  code: number;
  /** FEALEN. */
  length: number;
}

/** Parses a 4-byte request or response head. */
export function decodeHead(b: Uint8Array): MessageHead {
  if (b.length < 4) throw new HandshakeError(`Relay header is ${b.length} bytes long: need 4`);
  return { version: b[0], code: b[1], length: (b[2] << 8) | b[3] };
}

/**
 * Reads exactly `p.length` bytes. Returns false on a clean end of stream
 * before the first byte; throws UnexpectedEof on a truncated read.
 */
export async function readFull(conn: Pick<Conn, "read">, p: Uint8Array, what: string): Promise<boolean> {
  let off = 0;
  while (off < p.length) {
    const n = await conn.read(off === 0 ? p : p.subarray(off));
    if (n === null) {
      if (off === 0) return false;
      throw new Deno.errors.UnexpectedEof(`Truncated relay ${what}: got ${off} of ${p.length} bytes`);
    }
    off += n;
  }
  return true;
}

/**
 * Reads one message (request or response) with exact-size reads, so nothing
 * behind it is consumed. Resolves to null on a clean end of stream before the
 * first byte; throws HandshakeError on a bad version or malformed features and
 * UnexpectedEof on a truncated message.
 */
async function readMessage(
  conn: Pick<Conn, "read">,
  what: "request" | "response",
): Promise<{ code: number; features: Feature[] } | null> {
  const head = new Uint8Array(4);
  if (!(await readFull(conn, head, what))) return null;
  const h = decodeHead(head);
  if (h.version !== VERSION) throw new HandshakeError(`Unsupported relay version ${h.version} in ${what}`);
  if (h.length === 0) return { code: h.code, features: [] };
  const body = new Uint8Array(h.length);
  if (!(await readFull(conn, body, what))) {
    throw new Deno.errors.UnexpectedEof(`Truncated relay ${what}: got 4 of ${4 + h.length} bytes`);
  }
  return { code: h.code, features: decodeFeatures(body) };
}

/** Reads a request (see `readMessage` for the errors); null on immediate end of stream. */
export async function readRequest(conn: Pick<Conn, "read">): Promise<Request | null> {
  const m = await readMessage(conn, "request");
  return m && { version: VERSION, cmd: m.code, features: m.features };
}

/** Reads a response (see `readMessage` for the errors); null on immediate end of stream. */
export async function readResponse(conn: Pick<Conn, "read">): Promise<Response | null> {
  const m = await readMessage(conn, "response");
  return m && { version: VERSION, status: m.code, features: m.features };
}

// ---------------------------------------------------------------- addresses

/**
 * The Addr feature GOST's client sends for `address`: split like Go's
 * `net.SplitHostPort` (an unsplittable string is all host, port 0; a bad
 * port is 0); an IP literal becomes IPv4/IPv6 (IPv4-mapped IPv6 as IPv4, as
 * Go's `To4` does), anything else a domain — so `:0` and `:port` become a
 * zero-length domain.
 */
export function addrFeature(address: string): AddrFeature {
  const { host, port } = splitLoose(address);
  if (isIPv4(host)) return { kind: "addr", atyp: ATYP_IPV4, host, port };
  if (!host.includes("%")) {
    const v6 = parseIPv6(host);
    if (v6) {
      return isV4Mapped(v6)
        ? { kind: "addr", atyp: ATYP_IPV4, host: Array.from(v6.subarray(12)).join("."), port }
        : { kind: "addr", atyp: ATYP_IPV6, host, port };
    }
  }
  return { kind: "addr", atyp: ATYP_DOMAIN, host, port };
}

/** `host:port` of an Addr feature (IPv6 bracketed), as GOST's handler builds it. */
export function addrString(f: AddrFeature): string {
  return joinHostPort(f.host, f.port);
}

function splitLoose(address: string): { host: string; port: number } {
  let host: string;
  let portStr: string;
  if (address.startsWith("[")) {
    const end = address.indexOf("]");
    if (end < 0 || (end + 1 < address.length && address[end + 1] !== ":") || end + 1 === address.length) {
      return { host: address, port: 0 };
    }
    host = address.slice(1, end);
    portStr = address.slice(end + 2);
  } else {
    const i = address.lastIndexOf(":");
    if (i < 0) return { host: address, port: 0 };
    host = address.slice(0, i);
    if (host.includes(":")) return { host: address, port: 0 };
    portStr = address.slice(i + 1);
  }
  const port = /^[+-]?\d+$/.test(portStr) ? Number(portStr) & 0xffff : 0;
  return { host, port };
}

function isV4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

function v4Mapped(host: string): Uint8Array {
  const out = new Uint8Array(16);
  out[10] = out[11] = 0xff;
  out.set(host.split(".").map(Number), 12);
  return out;
}

/** Formats 16 address bytes as Go's `net.IP.String` does (IPv4-mapped ⇒ dotted quad). */
function formatIP16(b: Uint8Array): string {
  return isV4Mapped(b) ? Array.from(b.subarray(12)).join(".") : formatIPv6(b);
}
