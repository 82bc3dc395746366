/**
 * The DNS wire format (RFC 1035, EDNS0 of RFC 6891, client subnet of RFC
 * 7871), as much as a stub resolver needs: build one query, decode any reply.
 *
 * Decoding never trusts the packet: every length is bounds-checked, name
 * compression pointers must point strictly backwards (so a pointer loop is an
 * error, not a hang), and any flaw is a `SyntaxError`.
 *
 * @module
 */
import { formatIPv6, isIPv4, parseIPv6 } from "../../transports/addr.ts";

/** Record type A (an IPv4 address). */
export const TYPE_A = 1;
/** Record type CNAME (an alias). */
export const TYPE_CNAME = 5;
/** Record type AAAA (an IPv6 address). */
export const TYPE_AAAA = 28;
/** Pseudo record type OPT (EDNS0). */
export const TYPE_OPT = 41;
/** Class IN (the Internet). */
export const CLASS_IN = 1;

/** Response code: no error. */
export const RCODE_NOERROR = 0;
/** Response code: the name does not exist. */
export const RCODE_NXDOMAIN = 3;

/** EDNS0 option code of client subnet (RFC 7871). */
export const EDNS0_SUBNET = 8;
/** UDP payload size advertised in the OPT record (the DNS flag day 2020 value). @default 1232 */
export const EDNS0_UDP_SIZE = 1232;

const HEADER_SIZE = 12;
const MAX_NAME_WIRE = 255;
const MAX_LABEL = 63;
const FLAG_QR = 0x8000;
const FLAG_TC = 0x0200;
const FLAG_RD = 0x0100;

const RCODE_NAMES: Record<number, string> = {
  0: "NOERROR",
  1: "FORMERR",
  2: "SERVFAIL",
  3: "NXDOMAIN",
  4: "NOTIMP",
  5: "REFUSED",
};

/** The name of a response code as DNS tools print it (`SERVFAIL`, `RCODE9`). */
export function rcodeName(rcode: number): string {
  return RCODE_NAMES[rcode] ?? `RCODE${rcode}`;
}

/** One entry of the question section. */
export interface Question {
  /** Owner name without the trailing dot (`""` is the root), letters as sent. */
  name: string;
  type: number;
  class: number;
}

/** One resource record. */
export interface ResourceRecord {
  /** Owner name without the trailing dot. */
  name: string;
  type: number;
  class: number;
  /** Seconds. */
  ttl: number;
  /** The raw RDATA (compressed names inside it are not expanded here). */
  data: Uint8Array;
  /** For A and AAAA: the address as text. */
  address?: string;
  /** For CNAME: the canonical name, decompressed, without the trailing dot. */
  target?: string;
}

/** A decoded DNS message. */
export interface Message {
  id: number;
  /** The 16 flag bits of the header, rcode included. */
  flags: number;
  /** Response code (low 4 bits of the flags; extended rcodes are not combined). */
  rcode: number;
  /** The QR bit: this is a response. */
  response: boolean;
  /** The TC bit: the reply was cut to fit a datagram. */
  truncated: boolean;
  questions: Question[];
  answers: ResourceRecord[];
  authorities: ResourceRecord[];
  additionals: ResourceRecord[];
}

/** EDNS0 client subnet: the client network the answer should suit. */
export interface ClientSubnet {
  /** 1 = IPv4, 2 = IPv6 (address family numbers). */
  family: 1 | 2;
  /** Source prefix length in bits. */
  prefix: number;
  /** The full address (4 or 16 bytes); only the prefix goes on the wire. */
  address: Uint8Array;
}

/** Options for {@linkcode encodeQuery}. */
export interface QueryOptions {
  /** Adds an OPT record with a client subnet option; without it the query has no OPT record. */
  clientSubnet?: ClientSubnet;
}

/**
 * The client subnet GOST sends for `clientIP`: /24 for IPv4, /128 for IPv6.
 * Throws a `TypeError` for anything that is not an IP literal.
 */
export function clientSubnetOf(ip: string): ClientSubnet {
  if (isIPv4(ip)) return { family: 1, prefix: 24, address: new Uint8Array(ip.split(".").map(Number)) };
  const v6 = ip.includes(":") ? parseIPv6(ip) : null;
  if (v6) return { family: 2, prefix: 128, address: v6 };
  throw new TypeError(`Invalid client IP "${ip}": not an IP address`);
}

const encoder = new TextEncoder();

/** The wire form of a name (labels, then the root). Throws a `TypeError` for names DNS cannot carry. */
export function encodeName(name: string): Uint8Array {
  const trimmed = name.endsWith(".") ? name.slice(0, -1) : name;
  const parts: Uint8Array[] = [];
  let size = 1;
  if (trimmed !== "") {
    for (const label of trimmed.split(".")) {
      const bytes = encoder.encode(label);
      if (bytes.length === 0) throw new TypeError(`Invalid DNS name "${name}": empty label`);
      if (bytes.length > MAX_LABEL) throw new TypeError(`Invalid DNS name "${name}": label longer than 63 bytes`);
      parts.push(bytes);
      size += 1 + bytes.length;
    }
  }
  if (size > MAX_NAME_WIRE) throw new TypeError(`Invalid DNS name "${name}": longer than 255 bytes`);
  const out = new Uint8Array(size);
  let off = 0;
  for (const p of parts) {
    out[off++] = p.length;
    out.set(p, off);
    off += p.length;
  }
  return out; // the last byte stays 0: the root label
}

/** Builds a recursive query (RD set) for `name`/`type` in class IN. */
export function encodeQuery(id: number, name: string, type: number, opts: QueryOptions = {}): Uint8Array {
  const qname = encodeName(name);
  const opt = opts.clientSubnet ? encodeSubnetOpt(opts.clientSubnet) : undefined;
  const out = new Uint8Array(HEADER_SIZE + qname.length + 4 + (opt?.length ?? 0));
  const v = new DataView(out.buffer);
  v.setUint16(0, id & 0xffff);
  v.setUint16(2, FLAG_RD);
  v.setUint16(4, 1); // QDCOUNT
  v.setUint16(10, opt ? 1 : 0); // ARCOUNT
  out.set(qname, HEADER_SIZE);
  let off = HEADER_SIZE + qname.length;
  v.setUint16(off, type);
  v.setUint16(off + 2, CLASS_IN);
  off += 4;
  if (opt) out.set(opt, off);
  return out;
}

/** An OPT pseudo-record carrying one client subnet option. */
function encodeSubnetOpt(s: ClientSubnet): Uint8Array {
  const addrLen = Math.ceil(s.prefix / 8);
  const optLen = 4 + addrLen;
  const out = new Uint8Array(11 + 4 + optLen);
  const v = new DataView(out.buffer);
  // out[0] = 0: the root name
  v.setUint16(1, TYPE_OPT);
  v.setUint16(3, EDNS0_UDP_SIZE); // the class field carries the payload size
  // TTL (extended rcode, version, flags) stays 0
  v.setUint16(9, 4 + optLen); // RDLENGTH
  v.setUint16(11, EDNS0_SUBNET);
  v.setUint16(13, optLen);
  v.setUint16(15, s.family);
  out[17] = s.prefix;
  out[18] = 0; // scope prefix: always 0 in a query
  const addr = s.address.slice(0, addrLen);
  // RFC 7871 §6: bits past the prefix must be zero.
  if (s.prefix % 8 && addrLen > 0) addr[addrLen - 1] &= 0xff << (8 - (s.prefix % 8));
  out.set(addr, 19);
  return out;
}

/** A position-tracking reader over one message; every read is bounds-checked. */
class Reader {
  readonly #buf: Uint8Array;
  readonly #view: DataView;
  off = 0;

  constructor(buf: Uint8Array) {
    this.#buf = buf;
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  need(n: number, what: string): void {
    if (this.off + n > this.#buf.length) {
      throw new SyntaxError(`Malformed DNS message: truncated ${what} at offset ${this.off}`);
    }
  }

  u16(what: string): number {
    this.need(2, what);
    const x = this.#view.getUint16(this.off);
    this.off += 2;
    return x;
  }

  u32(what: string): number {
    this.need(4, what);
    const x = this.#view.getUint32(this.off);
    this.off += 4;
    return x;
  }

  bytes(n: number, what: string): Uint8Array {
    this.need(n, what);
    const b = this.#buf.subarray(this.off, this.off + n);
    this.off += n;
    return b;
  }

  name(): string {
    const { name, next } = readName(this.#buf, this.off);
    this.off = next;
    return name;
  }
}

/**
 * Reads the (possibly compressed) name at `off` in `buf`. Returns it in text
 * form (no trailing dot; bytes outside printable ASCII, dots and backslashes
 * inside a label as `\DDD`) and the offset just past it in the original stream.
 */
export function readName(buf: Uint8Array, off: number): { name: string; next: number } {
  const labels: string[] = [];
  let pos = off;
  let next = -1;
  let wire = 1;
  // Each pointer must land before the lowest position read so far, so
  // positions strictly decrease across jumps and decoding always ends.
  let lowest = off;
  for (;;) {
    if (pos >= buf.length) throw new SyntaxError(`Malformed DNS message: truncated name at offset ${off}`);
    const len = buf[pos];
    if (len === 0) {
      if (next < 0) next = pos + 1;
      break;
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= buf.length) throw new SyntaxError(`Malformed DNS message: truncated name at offset ${off}`);
      const target = ((len & 0x3f) << 8) | buf[pos + 1];
      if (next < 0) next = pos + 2;
      if (target >= lowest) {
        throw new SyntaxError(`Malformed DNS message: name pointer at offset ${pos} to ${target} does not point back`);
      }
      lowest = target;
      pos = target;
      continue;
    }
    if (kind !== 0) throw new SyntaxError(`Malformed DNS message: unknown label type 0x${len.toString(16)} at ${pos}`);
    if (pos + 1 + len > buf.length) throw new SyntaxError(`Malformed DNS message: truncated name at offset ${off}`);
    wire += 1 + len;
    if (wire > MAX_NAME_WIRE) throw new SyntaxError(`Malformed DNS message: name at offset ${off} over 255 bytes`);
    labels.push(labelText(buf.subarray(pos + 1, pos + 1 + len)));
    pos += 1 + len;
  }
  return { name: labels.join("."), next };
}

function labelText(b: Uint8Array): string {
  let s = "";
  for (const c of b) {
    if (c > 0x20 && c < 0x7f && c !== 0x2e && c !== 0x5c) s += String.fromCharCode(c);
    else s += "\\" + c.toString().padStart(3, "0");
  }
  return s;
}

/** DNS names compare case-insensitively, ASCII letters only (RFC 4343). */
export function sameName(a: string, b: string): boolean {
  return canonicalName(a) === canonicalName(b);
}

/** The lower-case form of a name without the trailing dot. */
export function canonicalName(name: string): string {
  const trimmed = name.endsWith(".") ? name.slice(0, -1) : name;
  return trimmed.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

function readQuestion(r: Reader): Question {
  const name = r.name();
  const type = r.u16("question");
  return { name, type, class: r.u16("question") };
}

function readRecord(r: Reader, buf: Uint8Array): ResourceRecord {
  const name = r.name();
  const type = r.u16("record");
  const cls = r.u16("record");
  const ttl = r.u32("record");
  const rdlen = r.u16("record");
  const start = r.off;
  const data = r.bytes(rdlen, "record data");
  const rr: ResourceRecord = { name, type, class: cls, ttl, data };
  if (type === TYPE_A && cls === CLASS_IN) {
    if (rdlen !== 4) throw new SyntaxError(`Malformed DNS message: A record of ${rdlen} bytes at offset ${start}`);
    rr.address = data.join(".");
  } else if (type === TYPE_AAAA && cls === CLASS_IN) {
    if (rdlen !== 16) throw new SyntaxError(`Malformed DNS message: AAAA record of ${rdlen} bytes at offset ${start}`);
    rr.address = formatIPv6(data);
  } else if (type === TYPE_CNAME) {
    // The name may point anywhere earlier in the message, but must end inside the RDATA.
    const { name: target, next } = readName(buf, start);
    if (next !== start + rdlen) throw new SyntaxError(`Malformed DNS message: CNAME data at offset ${start} overruns`);
    rr.target = target;
  }
  return rr;
}

/** Decodes a whole message; any flaw (truncation, bad pointer, bad RDATA) throws a `SyntaxError`. */
export function decodeMessage(buf: Uint8Array): Message {
  const r = new Reader(buf);
  const id = r.u16("header");
  const flags = r.u16("header");
  const qd = r.u16("header");
  const an = r.u16("header");
  const ns = r.u16("header");
  const ar = r.u16("header");
  const questions: Question[] = [];
  for (let i = 0; i < qd; i++) questions.push(readQuestion(r));
  const section = (n: number) => {
    const out: ResourceRecord[] = [];
    for (let i = 0; i < n; i++) out.push(readRecord(r, buf));
    return out;
  };
  const answers = section(an);
  const authorities = section(ns);
  const additionals = section(ar);
  return {
    id,
    flags,
    rcode: flags & 0x0f,
    response: (flags & FLAG_QR) !== 0,
    truncated: (flags & FLAG_TC) !== 0,
    questions,
    answers,
    authorities,
    additionals,
  };
}

/** Header id and first question of a packet, or `null` when it has none or they do not parse. */
function headOf(buf: Uint8Array): { id: number; flags: number; q: Question } | null {
  try {
    const r = new Reader(buf);
    const id = r.u16("header");
    const flags = r.u16("header");
    if (r.u16("header") !== 1) return null;
    r.off = HEADER_SIZE;
    return { id, flags, q: readQuestion(r) };
  } catch {
    return null;
  }
}

/**
 * True when `reply` answers `query`: same id, QR set, and the same single
 * question (name compared case-insensitively). Never throws; garbage is false.
 */
export function isReplyTo(query: Uint8Array, reply: Uint8Array): boolean {
  const q = headOf(query);
  const a = headOf(reply);
  if (!q || !a) return false;
  return a.id === q.id && (a.flags & FLAG_QR) !== 0 && a.q.type === q.q.type && a.q.class === q.q.class &&
    sameName(a.q.name, q.q.name);
}

/**
 * The addresses of type `type` (A or AAAA) that answer `name`, following
 * CNAME chains inside the answer section (in any order, loops ignored).
 */
export function addressesOf(msg: Message, name: string, type: number): string[] {
  const names = new Set([canonicalName(name)]);
  // Each pass adds at least one alias or stops, so this ends within answers.length passes.
  for (let grew = true; grew;) {
    grew = false;
    for (const rr of msg.answers) {
      if (rr.type !== TYPE_CNAME || rr.target === undefined || !names.has(canonicalName(rr.name))) continue;
      const t = canonicalName(rr.target);
      if (!names.has(t)) {
        names.add(t);
        grew = true;
      }
    }
  }
  const out: string[] = [];
  for (const rr of msg.answers) {
    if (rr.type === type && rr.address !== undefined && names.has(canonicalName(rr.name))) out.push(rr.address);
  }
  return out;
}
