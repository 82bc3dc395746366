/**
 * SOCKS5 wire codec (RFC 1928, RFC 1929, and GOST's extra methods and
 * commands): constants, address encoding, and exact-length readers that never
 * consume a byte past the message they parse, so whatever follows (a TLS
 * ClientHello after method 0x80, tunnel data after a reply) stays in the stream.
 *
 * @module
 */
import { formatIPv6, isIPv4, joinHostPort, parseIPv6, splitHostPort } from "../../transports/addr.ts";
import { concat } from "../../transports/_io/write_all.ts";
import { HandshakeError } from "../../transports/types.ts";
import type { Addr, Conn } from "../../transports/types.ts";

/** Protocol version byte. */
export const VERSION = 0x05;
/** RFC 1929 sub-negotiation version byte. */
export const AUTH_VERSION = 0x01;

/** Authentication methods. */
export const METHOD_NO_AUTH = 0x00;
export const METHOD_USER_PASS = 0x02;
/** GOST: TLS, then the request inside it. */
export const METHOD_TLS = 0x80;
/** GOST: TLS, then RFC 1929 inside it. */
export const METHOD_TLS_AUTH = 0x82;
/** GOST mux method (defined by GOST, used by neither side). */
export const METHOD_MUX = 0x88;
export const METHOD_NO_ACCEPTABLE = 0xff;

/** Commands. */
export const CMD_CONNECT = 0x01;
export const CMD_BIND = 0x02;
export const CMD_UDP = 0x03;
/** Tor RESOLVE / RESOLVE_PTR (GOST HEAD with `tor=true`). */
export const CMD_TOR_RESOLVE = 0xf0;
export const CMD_TOR_RESOLVE_PTR = 0xf1;
/** GOST: BIND whose accepted conns are multiplexed over smux. */
export const CMD_MBIND = 0xf2;
/** GOST: UDP datagrams carried over the TCP connection. */
export const CMD_UDP_TUN = 0xf3;

/** Address types. */
export const ATYP_IPV4 = 0x01;
export const ATYP_DOMAIN = 0x03;
export const ATYP_IPV6 = 0x04;

/** Reply codes. */
export const REP_SUCCEEDED = 0x00;
export const REP_FAILURE = 0x01;
export const REP_NOT_ALLOWED = 0x02;
export const REP_NET_UNREACHABLE = 0x03;
export const REP_HOST_UNREACHABLE = 0x04;
export const REP_CONN_REFUSED = 0x05;
export const REP_TTL_EXPIRED = 0x06;
export const REP_CMD_UNSUPPORTED = 0x07;
export const REP_ADDR_UNSUPPORTED = 0x08;

/** RFC 1929 status bytes. */
export const AUTH_SUCCESS = 0x00;
export const AUTH_FAILURE = 0x01;

/** Human names for reply codes, for error messages. */
export const REPLY_TEXT: Readonly<Record<number, string>> = {
  [REP_SUCCEEDED]: "succeeded",
  [REP_FAILURE]: "general failure",
  [REP_NOT_ALLOWED]: "connection not allowed by ruleset",
  [REP_NET_UNREACHABLE]: "network unreachable",
  [REP_HOST_UNREACHABLE]: "host unreachable",
  [REP_CONN_REFUSED]: "connection refused",
  [REP_TTL_EXPIRED]: "TTL expired",
  [REP_CMD_UNSUPPORTED]: "command not supported",
  [REP_ADDR_UNSUPPORTED]: "address type not supported",
};

/** Raised when a request carries an ATYP this codec does not know (reply `08`). */
export class AddressTypeError extends HandshakeError {
  constructor(readonly atyp: number) {
    super(`Unsupported SOCKS5 address type 0x${hex(atyp)}`);
    this.name = "AddressTypeError";
  }
}

/** A SOCKS5 request (or reply: `code` is CMD or REP). */
export interface Message {
  code: number;
  /** `host:port`; IPv6 hosts bracketed. */
  addr: string;
  atyp: number;
}

/** Reads exactly `n` bytes; throws `UnexpectedEof` when the stream ends first. */
export async function readFull(r: Pick<Conn, "read">, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let off = 0;
  while (off < n) {
    const got = await r.read(out.subarray(off));
    if (got === null) {
      throw new Deno.errors.UnexpectedEof(`Unexpected end of stream: wanted ${n} bytes, got ${off}`);
    }
    off += got;
  }
  return out;
}

/** Encodes `host:port` as `ATYP ADDR PORT`. A host-less `:port` becomes 127.0.0.1 (Go dials "" locally). */
export function encodeAddr(addr: string): Uint8Array {
  const { host, port } = splitHostPort(addr);
  return encodeHostPort(host === "" ? "127.0.0.1" : host, port);
}

/** Encodes a host (IPv4, IPv6 or domain) and port as `ATYP ADDR PORT`. */
export function encodeHostPort(host: string, port: number): Uint8Array {
  let head: Uint8Array;
  if (isIPv4(host)) {
    head = new Uint8Array([ATYP_IPV4, ...host.split(".").map(Number)]);
  } else {
    const v6 = host.includes(":") ? parseIPv6(host) : null;
    if (v6) {
      head = new Uint8Array(17);
      head[0] = ATYP_IPV6;
      head.set(v6, 1);
    } else {
      const name = new TextEncoder().encode(host);
      if (name.length > 255) throw new RangeError(`Host name "${host.slice(0, 40)}…" is longer than 255 bytes`);
      head = new Uint8Array(2 + name.length);
      head[0] = ATYP_DOMAIN;
      head[1] = name.length;
      head.set(name, 2);
    }
  }
  return concat(head, new Uint8Array([port >> 8, port & 0xff]));
}

/** The all-zero IPv4 address GOST sends when a reply carries no address. */
const ZERO_ADDR = new Uint8Array([ATYP_IPV4, 0, 0, 0, 0, 0, 0]);

/** Encodes the address part of a reply from a Deno address; zeros when it has no IP. */
export function encodeNetAddr(a: Addr | undefined): Uint8Array {
  if (a && (a.transport === "tcp" || a.transport === "udp")) {
    const host = a.hostname.startsWith("::ffff:") && isIPv4(a.hostname.slice(7)) ? a.hostname.slice(7) : a.hostname;
    if (isIPv4(host) || parseIPv6(host)) return encodeHostPort(host, a.port);
  }
  return ZERO_ADDR;
}

/** `05 NMETHODS METHODS…` */
export function encodeGreeting(methods: number[]): Uint8Array {
  return new Uint8Array([VERSION, methods.length, ...methods]);
}

/** `05 CMD 00 ATYP ADDR PORT` */
export function encodeRequest(cmd: number, addr: string): Uint8Array {
  return concat(new Uint8Array([VERSION, cmd, 0x00]), encodeAddr(addr));
}

/** `05 REP 00 ATYP ADDR PORT`; without an address GOST's `05 REP 00 01 00 00 00 00 00 00`. */
export function encodeReply(rep: number, addr?: Uint8Array): Uint8Array {
  return concat(new Uint8Array([VERSION, rep, 0x00]), addr ?? ZERO_ADDR);
}

/** `01 ULEN UNAME PLEN PASSWD` */
export function encodeUserPass(username: string, password: string): Uint8Array {
  const enc = new TextEncoder();
  const u = enc.encode(username);
  const p = enc.encode(password);
  if (u.length > 255 || p.length > 255) throw new RangeError("SOCKS5 user name and password must be at most 255 bytes");
  return concat(new Uint8Array([AUTH_VERSION, u.length]), u, new Uint8Array([p.length]), p);
}

/**
 * Reads the greeting `05 NMETHODS METHODS…` and returns the methods.
 * A wrong version or NMETHODS = 0 is a `HandshakeError` (the caller closes).
 */
export async function readGreeting(r: Pick<Conn, "read">): Promise<Uint8Array> {
  const [ver, n] = await readFull(r, 2);
  if (ver !== VERSION) throw new HandshakeError(`Bad SOCKS version 0x${hex(ver)} in greeting`);
  if (n === 0) throw new HandshakeError("SOCKS5 greeting offers no methods (NMETHODS = 0)");
  return await readFull(r, n);
}

/** Reads `01 ULEN UNAME PLEN PASSWD`. */
export async function readUserPass(r: Pick<Conn, "read">): Promise<{ username: string; password: string }> {
  const [ver, ulen] = await readFull(r, 2);
  if (ver !== AUTH_VERSION) throw new HandshakeError(`Bad username/password auth version 0x${hex(ver)}`);
  const rest = await readFull(r, ulen + 1);
  const password = await readFull(r, rest[ulen]);
  const dec = new TextDecoder();
  return { username: dec.decode(rest.subarray(0, ulen)), password: dec.decode(password) };
}

/**
 * Reads a request or reply: `05 CODE RSV ATYP ADDR PORT`, taking exactly its
 * bytes. Throws `HandshakeError` on a bad version, `AddressTypeError` on an
 * unknown ATYP (the code has been read and is on the error), `UnexpectedEof`
 * when truncated.
 */
export async function readMessage(r: Pick<Conn, "read">): Promise<Message> {
  const [ver, code, , atyp] = await readFull(r, 4);
  if (ver !== VERSION) throw new HandshakeError(`Bad SOCKS version 0x${hex(ver)} in request`);
  let host: string;
  switch (atyp) {
    case ATYP_IPV4:
      host = Array.from(await readFull(r, 4)).join(".");
      break;
    case ATYP_IPV6:
      host = formatIPv6(await readFull(r, 16));
      break;
    case ATYP_DOMAIN: {
      const [len] = await readFull(r, 1);
      host = new TextDecoder().decode(await readFull(r, len));
      break;
    }
    default:
      throw new AddressTypeError(atyp);
  }
  const p = await readFull(r, 2);
  return { code, atyp, addr: joinHostPort(host, (p[0] << 8) | p[1]) };
}

export function hex(b: number): string {
  return b.toString(16).padStart(2, "0");
}
