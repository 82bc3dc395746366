/**
 * SOCKS4 / SOCKS4a wire codec.
 *
 * Request: `04 CD DSTPORT(2) DSTIP(4) USERID 00`, and for 4a (DSTIP =
 * 0.0.0.x, x ≠ 0) the host name follows: `HOST 00`.
 * Reply: `00 CD DSTPORT(2) DSTIP(4)`.
 *
 * @module
 */
import type { BufferedConn } from "../../transports/_io/buffered_conn.ts";
import { concat } from "../../transports/_io/write_all.ts";
import { isIPv4 } from "../../transports/addr.ts";
import { type Conn, HandshakeError } from "../../transports/types.ts";
import { hex, readFull } from "../socks5/mod.ts";

export const VERSION = 0x04;
/** Replies carry version 0. */
export const REPLY_VERSION = 0x00;

export const CMD_CONNECT = 0x01;
export const CMD_BIND = 0x02;

/** Request granted. */
export const REP_GRANTED = 0x5a;
/** Request rejected or failed. */
export const REP_FAILED = 0x5b;
/** Rejected: cannot reach the client's identd. */
export const REP_REJECTED = 0x5c;
/** Rejected: the user id is not accepted. */
export const REP_REJECTED_USERID = 0x5d;

export const REPLY_TEXT: Readonly<Record<number, string>> = {
  [REP_GRANTED]: "granted",
  [REP_FAILED]: "request rejected or failed",
  [REP_REJECTED]: "rejected: identd unreachable",
  [REP_REJECTED_USERID]: "rejected: user id not accepted",
};

/** Longest user id / host name accepted (GOST's limit). */
export const MAX_FIELD = 255;

export interface Request {
  cmd: number;
  /** `host:port`. */
  addr: string;
  userid: string;
  /** True when the host came as a 4a name. */
  is4a: boolean;
}

/** Reads one request through `br`, taking exactly its bytes. */
export async function readRequest(br: BufferedConn): Promise<Request> {
  const hdr = await br.readExact(8);
  if (hdr[0] !== VERSION) throw new HandshakeError(`Bad SOCKS version 0x${hex(hdr[0])} in SOCKS4 request`);
  const port = (hdr[2] << 8) | hdr[3];
  const is4a = hdr[4] === 0 && hdr[5] === 0 && hdr[6] === 0 && hdr[7] !== 0;
  const userid = await readCString(br, "user id");
  const host = is4a ? await readCString(br, "host name") : Array.from(hdr.subarray(4, 8)).join(".");
  return { cmd: hdr[1], addr: `${host}:${port}`, userid, is4a };
}

async function readCString(br: BufferedConn, what: string): Promise<string> {
  let raw: Uint8Array | null;
  try {
    raw = await br.readUntil(new Uint8Array([0]), MAX_FIELD + 1);
  } catch (err) {
    if (err instanceof RangeError) throw new HandshakeError(`SOCKS4 ${what} is longer than ${MAX_FIELD} bytes`);
    throw err;
  }
  if (raw === null) throw new Deno.errors.UnexpectedEof(`Unexpected end of stream in SOCKS4 ${what}`);
  return new TextDecoder().decode(raw.subarray(0, raw.length - 1));
}

/**
 * Encodes a request. `host` is an IPv4 literal (SOCKS4) or a name (SOCKS4a,
 * sent after the user id with DSTIP 0.0.0.1).
 */
export function encodeRequest(cmd: number, host: string, port: number, userid = ""): Uint8Array {
  const enc = new TextEncoder();
  const user = enc.encode(userid);
  if (user.length > MAX_FIELD) throw new RangeError(`SOCKS4 user id is longer than ${MAX_FIELD} bytes`);
  const ip = isIPv4(host) ? host.split(".").map(Number) : [0, 0, 0, 1];
  const head = new Uint8Array([VERSION, cmd, port >> 8, port & 0xff, ...ip]);
  if (isIPv4(host)) return concat(head, user, new Uint8Array([0]));
  const name = enc.encode(host);
  if (name.length === 0 || name.length > MAX_FIELD) throw new RangeError(`Invalid SOCKS4a host name "${host}"`);
  return concat(head, user, new Uint8Array([0]), name, new Uint8Array([0]));
}

/** `00 CD 00 00 00 00 00 00` — GOST's replies carry no address. */
export function encodeReply(code: number): Uint8Array {
  return new Uint8Array([REPLY_VERSION, code, 0, 0, 0, 0, 0, 0]);
}

/** Reads the 8-byte reply and returns its code. */
export async function readReply(r: Pick<Conn, "read">): Promise<number> {
  const b = await readFull(r, 8);
  if (b[0] !== REPLY_VERSION) throw new HandshakeError(`Bad SOCKS4 reply version 0x${hex(b[0])}`);
  return b[1];
}
