/**
 * A strict, bounded HTTP/1.1 head parser for proxy work on raw conns
 * (Deno.serve cannot see CONNECT bodies or keep bytes that follow a head).
 *
 * @module
 */
import type { BufferedConn } from "../_io/buffered_conn.ts";

/** Longest request/response head accepted (Go's default is 1 MiB; proxies need far less). */
export const MAX_HEAD_SIZE = 64 * 1024;

const CRLFCRLF = new Uint8Array([13, 10, 13, 10]);
const decoder = new TextDecoder("latin1");
const encoder = new TextEncoder();

/** Ordered header fields with case-insensitive lookup; original spelling is kept. */
export class HeaderList {
  readonly entries: [string, string][] = [];

  get(name: string): string | undefined {
    const n = name.toLowerCase();
    return this.entries.find(([k]) => k.toLowerCase() === n)?.[1];
  }
  has(name: string): boolean {
    return this.get(name) !== undefined;
  }
  add(name: string, value: string): void {
    this.entries.push([name, value]);
  }
  set(name: string, value: string): void {
    this.delete(name);
    this.add(name, value);
  }
  delete(name: string): void {
    const n = name.toLowerCase();
    for (let i = this.entries.length - 1; i >= 0; i--) {
      if (this.entries[i][0].toLowerCase() === n) this.entries.splice(i, 1);
    }
  }
  /** True when a comma-separated header contains `token` (case-insensitive). */
  hasToken(name: string, token: string): boolean {
    const t = token.toLowerCase();
    const n = name.toLowerCase();
    return this.entries.some(([k, v]) =>
      k.toLowerCase() === n && v.split(",").some((x) => x.trim().toLowerCase() === t)
    );
  }
  toString(): string {
    return this.entries.map(([k, v]) => `${k}: ${v}\r\n`).join("");
  }
}

export interface RequestHead {
  method: string;
  /** The request target as sent (absolute URI, authority, or origin-form path). */
  target: string;
  /** e.g. "HTTP/1.1". */
  version: string;
  headers: HeaderList;
}

export interface ResponseHead {
  version: string;
  status: number;
  reason: string;
  headers: HeaderList;
}

/** Raised for malformed HTTP heads; callers answer 400 and close. */
export class HttpParseError extends SyntaxError {
  constructor(message: string) {
    super(message);
    this.name = "HttpParseError";
  }
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function parseHeaderLines(lines: string[]): HeaderList {
  const h = new HeaderList();
  for (const line of lines) {
    if (line === "") continue;
    if (line[0] === " " || line[0] === "\t") throw new HttpParseError("Obsolete header line folding is not allowed");
    const i = line.indexOf(":");
    if (i <= 0) throw new HttpParseError(`Malformed header line "${line.slice(0, 64)}"`);
    const name = line.slice(0, i);
    if (!TOKEN.test(name)) throw new HttpParseError(`Invalid header name "${name.slice(0, 64)}"`);
    h.add(name, line.slice(i + 1).trim());
  }
  return h;
}

function splitHead(raw: Uint8Array): string[] {
  const text = decoder.decode(raw.subarray(0, raw.length - 4));
  // Bare LF line ends are tolerated as Go does.
  return text.split(/\r?\n/);
}

/** Parses a request head (bytes up to and including CRLFCRLF). */
export function parseRequestHead(raw: Uint8Array): RequestHead {
  const lines = splitHead(raw);
  const m = /^([A-Za-z]+) (\S+) (HTTP\/1\.[01])$/.exec(lines[0]);
  if (!m) throw new HttpParseError(`Malformed request line "${lines[0].slice(0, 64)}"`);
  return { method: m[1], target: m[2], version: m[3], headers: parseHeaderLines(lines.slice(1)) };
}

/** Parses a response head (bytes up to and including CRLFCRLF). */
export function parseResponseHead(raw: Uint8Array): ResponseHead {
  const lines = splitHead(raw);
  const m = /^(HTTP\/1\.[01]) (\d{3})(?: (.*))?$/.exec(lines[0]);
  if (!m) throw new HttpParseError(`Malformed status line "${lines[0].slice(0, 64)}"`);
  return { version: m[1], status: Number(m[2]), reason: m[3] ?? "", headers: parseHeaderLines(lines.slice(1)) };
}

/** Reads one request head from `conn`; null on a clean end of stream before any byte. */
export async function readRequestHead(conn: BufferedConn, max = MAX_HEAD_SIZE): Promise<RequestHead | null> {
  const raw = await readHead(conn, max);
  return raw && parseRequestHead(raw);
}

/** Reads one response head from `conn`. */
export async function readResponseHead(conn: BufferedConn, max = MAX_HEAD_SIZE): Promise<ResponseHead> {
  const raw = await readHead(conn, max);
  if (!raw) throw new HttpParseError("Connection closed before the response head");
  return parseResponseHead(raw);
}

async function readHead(conn: BufferedConn, max: number): Promise<Uint8Array | null> {
  try {
    return await conn.readUntil(CRLFCRLF, max);
  } catch (err) {
    if (err instanceof RangeError) throw new HttpParseError(`HTTP head exceeds ${max} bytes`);
    throw err;
  }
}

export function serializeRequestHead(h: RequestHead): Uint8Array {
  return encoder.encode(`${h.method} ${h.target} ${h.version}\r\n${h.headers}\r\n`);
}

export function serializeResponseHead(h: ResponseHead): Uint8Array {
  return encoder.encode(`${h.version} ${h.status} ${h.reason}\r\n${h.headers}\r\n`);
}
