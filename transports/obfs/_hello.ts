/**
 * The fake TLS 1.2 handshake of obfs-tls, byte for byte as gost 3.2.6
 * builds it with go-gost/tls-dissector v0.1.1: a ClientHello whose
 * SessionTicket extension carries the client's first bytes, and a fixed
 * ServerHello plus ChangeCipherSpec. Nothing is encrypted.
 *
 * @module
 */
import { HandshakeError } from "../types.ts";

export const RECORD_HEADER_LEN = 5;
/** Largest payload gost puts in one record (TLS's 2^14 plaintext limit). */
export const MAX_DATA_LEN = 16384;

export const CHANGE_CIPHER_SPEC = 0x14;
export const ALERT = 0x15;
export const HANDSHAKE = 0x16;
export const APP_DATA = 0x17;

const EXT_SERVER_NAME = 0x0000;
const EXT_SESSION_TICKET = 0x0023;

// gost's ClientHello offer (x v0.8.1 dialer/obfs/tls/conn.go), kept so dost's hello has gost's fingerprint.
const CIPHER_SUITES = [
  0xc02c,
  0xc030,
  0x009f,
  0xcca9,
  0xcca8,
  0xccaa,
  0xc02b,
  0xc02f,
  0x009e,
  0xc024,
  0xc028,
  0x006b,
  0xc023,
  0xc027,
  0x0067,
  0xc00a,
  0xc014,
  0x0039,
  0xc009,
  0xc013,
  0x0033,
  0x009d,
  0x009c,
  0x003d,
  0x003c,
  0x0035,
  0x002f,
  0x00ff,
];
const SIGNATURE_ALGORITHMS = [
  0x0601,
  0x0602,
  0x0603,
  0x0501,
  0x0502,
  0x0503,
  0x0401,
  0x0402,
  0x0403,
  0x0301,
  0x0302,
  0x0303,
  0x0201,
  0x0202,
  0x0203,
];
const SUPPORTED_GROUPS = [0x001d, 0x0017, 0x0019, 0x0018];

const encoder = new TextEncoder();

/** A growable byte writer for the hello messages. */
class Out {
  buf = new Uint8Array(512);
  len = 0;
  #room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const b = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
  }
  u8(v: number): void {
    this.#room(1);
    this.buf[this.len++] = v;
  }
  u16(v: number): void {
    this.u8(v >> 8 & 0xff);
    this.u8(v & 0xff);
  }
  bytes(b: Uint8Array): void {
    this.#room(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  /** Writes `body` with a big-endian length prefix of `size` bytes. */
  prefixed(size: 1 | 2 | 3, body: (o: Out) => void): void {
    const at = this.len;
    for (let i = 0; i < size; i++) this.u8(0);
    body(this);
    let n = this.len - at - size;
    for (let i = size - 1; i >= 0; i--, n >>= 8) this.buf[at + i] = n & 0xff;
  }
  done(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
}

/** One record: header (`type`, `version`, length) and payload. */
export function record(type: number, version: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(RECORD_HEADER_LEN + payload.length);
  out[0] = type;
  out[1] = version >> 8;
  out[2] = version & 0xff;
  out[3] = payload.length >> 8;
  out[4] = payload.length & 0xff;
  out.set(payload, RECORD_HEADER_LEN);
  return out;
}

/** gmt_unix_time (4 bytes) and 28 random bytes, as the dissector's `Random`. */
function random(o: Out): void {
  const r = crypto.getRandomValues(new Uint8Array(32));
  const t = Math.floor(Date.now() / 1000);
  r[0] = t >>> 24 & 0xff;
  r[1] = t >>> 16 & 0xff;
  r[2] = t >>> 8 & 0xff;
  r[3] = t & 0xff;
  o.bytes(r);
}

function extension(o: Out, type: number, body: (o: Out) => void): void {
  o.u16(type);
  o.prefixed(2, body);
}

/** The ClientHello record gost's otls client sends, with `ticket` as the SessionTicket data. */
export function clientHello(serverName: string, ticket: Uint8Array): Uint8Array {
  const o = new Out();
  o.u8(0x01); // client_hello
  o.prefixed(3, (o) => {
    o.u16(0x0303);
    random(o);
    o.prefixed(1, (o) => o.bytes(crypto.getRandomValues(new Uint8Array(32))));
    o.prefixed(2, (o) => CIPHER_SUITES.forEach((c) => o.u16(c)));
    o.prefixed(1, (o) => o.u8(0x00));
    o.prefixed(2, (o) => {
      extension(o, EXT_SESSION_TICKET, (o) => o.bytes(ticket));
      const name = encoder.encode(serverName);
      extension(o, EXT_SERVER_NAME, (o) =>
        o.prefixed(2, (o) => {
          o.u8(0); // host_name
          o.prefixed(2, (o) => o.bytes(name));
        }));
      extension(o, 0x000b, (o) => o.prefixed(1, (o) => o.bytes(new Uint8Array([0x01, 0x00, 0x02]))));
      extension(o, 0x000a, (o) => o.prefixed(2, (o) => SUPPORTED_GROUPS.forEach((g) => o.u16(g))));
      extension(o, 0x000d, (o) => o.prefixed(2, (o) => SIGNATURE_ALGORITHMS.forEach((a) => o.u16(a))));
      extension(o, 0x0016, () => {}); // encrypt_then_mac
      extension(o, 0x0017, () => {}); // extended_master_secret
    });
  });
  return record(HANDSHAKE, 0x0301, o.done());
}

/** Size of a ClientHello record for `serverName` with an empty ticket. */
export function clientHelloOverhead(serverName: string): number {
  return clientHello(serverName, new Uint8Array(0)).length;
}

/**
 * The ServerHello and ChangeCipherSpec records gost's otls server answers
 * with; `sessionId` echoes the client's (32 bytes from gost, which makes the
 * ServerHello the 91 bytes gost's client skips without reading its length).
 */
export function serverHello(sessionId: Uint8Array): Uint8Array {
  const o = new Out();
  o.u8(0x02); // server_hello
  o.prefixed(3, (o) => {
    o.u16(0x0303);
    random(o);
    o.prefixed(1, (o) => o.bytes(sessionId));
    o.u16(0xcca8);
    o.u8(0x00);
    o.prefixed(2, (o) => {
      extension(o, 0xff01, (o) => o.u8(0)); // renegotiation_info, empty
      extension(o, 0x0017, () => {}); // extended_master_secret
      extension(o, 0x000b, (o) => o.prefixed(1, (o) => o.u8(0x00)));
    });
  });
  const hello = record(HANDSHAKE, 0x0301, o.done());
  const ccs = record(CHANGE_CIPHER_SPEC, 0x0303, new Uint8Array([0x01]));
  const out = new Uint8Array(hello.length + ccs.length);
  out.set(hello);
  out.set(ccs, hello.length);
  return out;
}

/** What a server needs from a ClientHello. */
export interface ParsedClientHello {
  sessionId: Uint8Array;
  /** SessionTicket data: the client's first bytes (empty when absent). */
  ticket: Uint8Array;
  serverName?: string;
}

function bad(what: string): never {
  throw new HandshakeError(`otls: malformed ClientHello: ${what}`);
}

/** Parses the payload of a ClientHello record (the checks tls-dissector makes, bounds-checked). */
export function parseClientHello(msg: Uint8Array): ParsedClientHello {
  if (msg.length < 4) bad(`${msg.length} bytes`);
  if (msg[0] !== 0x01) bad(`handshake type ${msg[0]} is not client_hello (1)`);
  const len = msg[1] << 16 | msg[2] << 8 | msg[3];
  if (len < 34) bad(`body of ${len} bytes, need at least 34`);
  if (len > msg.length - 4) bad(`body of ${len} bytes in a record of ${msg.length}`);
  const b = msg.subarray(4, 4 + len);
  const version = b[0] << 8 | b[1];
  if (version < 0x0301 || version > 0x0304) bad(`version 0x${version.toString(16)}`);
  let pos = 34;
  const need = (n: number, what: string) => {
    if (pos + n > b.length) bad(`truncated ${what}`);
  };
  need(1, "session id");
  const sidLen = b[pos++];
  need(sidLen, "session id");
  const sessionId = b.slice(pos, pos + sidLen);
  pos += sidLen;
  need(2, "cipher suites");
  const csLen = b[pos] << 8 | b[pos + 1];
  pos += 2;
  need(csLen, "cipher suites");
  pos += csLen;
  need(1, "compression methods");
  const cmLen = b[pos++];
  need(cmLen, "compression methods");
  pos += cmLen;
  need(2, "extensions");
  const extLen = b[pos] << 8 | b[pos + 1];
  pos += 2;
  need(extLen, "extensions");
  const end = pos + extLen;
  let ticket: Uint8Array | undefined;
  let serverName: string | undefined;
  while (pos < end) {
    if (pos + 4 > end) bad("truncated extension header");
    const type = b[pos] << 8 | b[pos + 1];
    const n = b[pos + 2] << 8 | b[pos + 3];
    pos += 4;
    if (pos + n > end) bad(`extension 0x${type.toString(16)} of ${n} bytes overruns the extensions`);
    const data = b.subarray(pos, pos + n);
    if (type === EXT_SESSION_TICKET && !ticket) ticket = data.slice();
    if (type === EXT_SERVER_NAME && data.length >= 5) {
      serverName = new TextDecoder().decode(data.subarray(5, 5 + (data[3] << 8 | data[4])));
    }
    pos += n;
  }
  return { sessionId, ticket: ticket ?? new Uint8Array(0), serverName };
}
