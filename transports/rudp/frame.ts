/**
 * The UDP-tunnel framing GOST shares between SOCKS5 UDP-TUN, relay UDP
 * BIND/association and HTTP `X-Gost-Protocol: udp` (`socks5.md` §5): a SOCKS5
 * UDP header whose RSV field holds the data length and whose FRAG is 0xFF.
 *
 * ```
 * LEN(2, BE) FRAG(1)=0xFF ATYP(1) ADDR PORT(2, BE) DATA(LEN)
 * ```
 *
 * @module
 */
import { formatIPv6, isIPv4, joinHostPort, parseIPv6 } from "../addr.ts";
import { HandshakeError } from "../types.ts";
import type { Conn } from "../types.ts";

/** FRAG byte GOST writes. */
export const FRAG = 0xff;
export const ATYP_IPV4 = 0x01;
export const ATYP_DOMAIN = 0x03;
export const ATYP_IPV6 = 0x04;
/** Largest datagram a frame carries. */
export const MAX_FRAME_DATA = 0xffff;
/** Largest header: LEN, FRAG, ATYP, a 255-byte name with its length byte, PORT. */
const MAX_HEADER = 2 + 1 + 1 + 1 + 255 + 2;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A host (IP literal or name) and port. */
export interface HostPort {
  hostname: string;
  port: number;
}

/** Encodes `ATYP ADDR PORT` for a host (IPv4, IPv6 or name) and port. */
export function encodeSocksAddr(a: HostPort): Uint8Array {
  let host = a.hostname;
  if (host.startsWith("::ffff:") && isIPv4(host.slice(7))) host = host.slice(7);
  let out: Uint8Array;
  let off: number;
  if (isIPv4(host)) {
    out = new Uint8Array(7);
    out[0] = ATYP_IPV4;
    out.set(host.split(".").map(Number), 1);
    off = 5;
  } else {
    const v6 = host.includes(":") ? parseIPv6(host) : null;
    if (v6) {
      out = new Uint8Array(19);
      out[0] = ATYP_IPV6;
      out.set(v6, 1);
      off = 17;
    } else {
      const name = encoder.encode(host);
      if (name.length > 255) throw new RangeError(`Host name "${host.slice(0, 40)}…" is longer than 255 bytes`);
      out = new Uint8Array(4 + name.length);
      out[0] = ATYP_DOMAIN;
      out[1] = name.length;
      out.set(name, 2);
      off = 2 + name.length;
    }
  }
  out[off] = a.port >> 8;
  out[off + 1] = a.port & 0xff;
  return out;
}

/** Encodes one frame (one write on the stream). Throws RangeError for an empty or oversized datagram. */
export function encodeFrame(addr: HostPort, data: Uint8Array): Uint8Array {
  if (data.length === 0) throw new RangeError("Cannot frame an empty datagram: LEN 0 means something else to GOST");
  if (data.length > MAX_FRAME_DATA) {
    throw new RangeError(`Datagram of ${data.length} bytes exceeds the UDP-tunnel maximum of ${MAX_FRAME_DATA}`);
  }
  const a = encodeSocksAddr(addr);
  const out = new Uint8Array(3 + a.length + data.length);
  out[0] = data.length >> 8;
  out[1] = data.length & 0xff;
  out[2] = FRAG;
  out.set(a, 3);
  out.set(data, 3 + a.length);
  return out;
}

/** One decoded frame; `data` is valid until the next `read`. */
export interface Frame {
  addr: HostPort;
  data: Uint8Array;
}

/**
 * Reads frames off a stream through one reused buffer. Malformed input
 * (LEN 0, an unknown ATYP, a truncated frame) throws; the caller closes the
 * stream.
 */
export class FrameReader {
  readonly #conn: Pick<Conn, "read">;
  readonly #buf = new Uint8Array(MAX_HEADER + MAX_FRAME_DATA + 64 * 1024);
  #start = 0;
  #end = 0;

  constructor(conn: Pick<Conn, "read">) {
    this.#conn = conn;
  }

  /** Ensures `n` bytes are buffered from `start`; false on a clean EOF before the frame's first byte. */
  async #need(n: number, first: boolean): Promise<boolean> {
    while (this.#end - this.#start < n) {
      if (this.#buf.length - this.#start < n) {
        this.#buf.copyWithin(0, this.#start, this.#end);
        this.#end -= this.#start;
        this.#start = 0;
      }
      const got = await this.#conn.read(this.#buf.subarray(this.#end));
      if (got === null) {
        if (first && this.#end === this.#start) return false;
        throw new Deno.errors.UnexpectedEof(
          `Truncated UDP-tunnel frame: ${this.#end - this.#start} of at least ${n} bytes`,
        );
      }
      this.#end += got;
    }
    return true;
  }

  /** The next frame, or null at a clean end of stream. */
  async read(): Promise<Frame | null> {
    if (!(await this.#need(4, true))) return null;
    const b = this.#buf;
    const s = this.#start;
    const len = (b[s] << 8) | b[s + 1];
    if (len === 0) throw new HandshakeError("UDP-tunnel frame with LEN 0");
    const atyp = b[s + 3];
    let alen: number;
    switch (atyp) {
      case ATYP_IPV4:
        alen = 4;
        break;
      case ATYP_IPV6:
        alen = 16;
        break;
      case ATYP_DOMAIN:
        await this.#need(5, false);
        alen = 1 + this.#buf[this.#start + 4];
        break;
      default:
        throw new HandshakeError(`UDP-tunnel frame with unknown address type 0x${atyp.toString(16).padStart(2, "0")}`);
    }
    const head = 4 + alen + 2;
    await this.#need(head + len, false);
    const p = this.#start;
    const buf = this.#buf;
    let hostname: string;
    if (atyp === ATYP_IPV4) hostname = `${buf[p + 4]}.${buf[p + 5]}.${buf[p + 6]}.${buf[p + 7]}`;
    else if (atyp === ATYP_IPV6) hostname = formatIPv6(buf.subarray(p + 4, p + 20));
    else hostname = decoder.decode(buf.subarray(p + 5, p + 4 + alen));
    const port = (buf[p + head - 2] << 8) | buf[p + head - 1];
    const data = buf.subarray(p + head, p + head + len);
    this.#start = p + head + len;
    if (this.#start === this.#end) this.#start = this.#end = 0;
    return { addr: { hostname, port }, data };
  }
}

/** `host:port` of a frame address (IPv6 bracketed). */
export function frameAddrString(a: HostPort): string {
  return joinHostPort(a.hostname, a.port);
}
