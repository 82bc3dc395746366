/**
 * Just enough HTTP/1.1 to run a WebSocket handshake: reading a request or
 * response head with a size limit, header lookup with Go's semantics, and the
 * plain error responses Go's `net/http` writes.
 *
 * @module
 */
import type { BufferedConn } from "../_io/buffered_conn.ts";

/** Default limit of a request head (request line, headers, blank line). */
export const DEFAULT_MAX_HEAD_BYTES = 8 * 1024;

/** A malformed or oversized head; `status` is the HTTP status to answer with. */
export class HttpParseError extends Error {
  readonly status: number;
  constructor(message: string, status = 400) {
    super(message);
    this.name = "HttpParseError";
    this.status = status;
  }
}

/** Header fields in arrival order; lookups ignore case. */
export class HeaderList {
  readonly entries: [name: string, value: string][] = [];

  constructor(init?: Iterable<[string, string]>) {
    if (init) { for (const [k, v] of init) this.entries.push([k, v]); }
  }

  add(name: string, value: string): void {
    this.entries.push([name, value]);
  }

  /** The first value of `name` (Go's `Header.Get`), or undefined. */
  get(name: string): string | undefined {
    const n = name.toLowerCase();
    for (const [k, v] of this.entries) if (k.toLowerCase() === n) return v;
    return undefined;
  }

  /** Every value of `name`, in order. */
  values(name: string): string[] {
    const n = name.toLowerCase();
    return this.entries.filter(([k]) => k.toLowerCase() === n).map(([, v]) => v);
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }
}

/** A parsed request head. */
export interface HttpRequestHead {
  method: string;
  /** The request-target as sent. */
  target: string;
  /** The decoded path without query (Go's `r.URL.Path`). */
  path: string;
  /** The raw query, without `?`. */
  query: string;
  /** `HTTP/1.1` or `HTTP/1.0`. */
  proto: string;
  headers: HeaderList;
}

/** A parsed response head. */
export interface HttpResponseHead {
  /** The status line without CRLF, e.g. `HTTP/1.1 101 Switching Protocols`. */
  statusLine: string;
  proto: string;
  status: number;
  headers: HeaderList;
}

const LF = new Uint8Array([0x0a]);

/** True for RFC 7230 `tchar`. */
export function isTokenChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) ||
    "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c));
}

/** True when `s` holds an ASCII control byte (0x00–0x1f, 0x7f), or a space when `space` is set. */
export function hasControlChar(s: string, space = false): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || (space && c === 0x20)) return true;
  }
  return false;
}

/** True when `s` is a non-empty RFC 7230 token. */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!isTokenChar(s.charCodeAt(i))) return false;
  return true;
}

/**
 * Reads head lines up to the blank line. Accepts CRLF or bare LF endings (as
 * Go does). Returns null on a clean end of stream before any byte. Throws
 * `HttpParseError` (431) past `maxBytes`, `Deno.errors.UnexpectedEof` when
 * the stream ends inside the head.
 */
async function readHeadLines(conn: BufferedConn, maxBytes: number): Promise<string[] | null> {
  const lines: string[] = [];
  let used = 0;
  for (;;) {
    let raw: Uint8Array | null;
    try {
      raw = await conn.readUntil(LF, maxBytes - used);
    } catch (err) {
      if (err instanceof RangeError) throw new HttpParseError(`Head exceeds ${maxBytes} bytes`, 431);
      throw err;
    }
    if (raw === null) {
      if (used === 0) return null;
      throw new Deno.errors.UnexpectedEof("Unexpected end of stream inside HTTP head");
    }
    used += raw.length;
    let end = raw.length - 1;
    if (end > 0 && raw[end - 1] === 0x0d) end--;
    if (end === 0) return lines;
    // latin1: one char per byte, so every byte survives for validation.
    let line = "";
    for (let i = 0; i < end; i++) line += String.fromCharCode(raw[i]);
    lines.push(line);
  }
}

function parseHeaderLines(lines: string[]): HeaderList {
  const headers = new HeaderList();
  for (const line of lines) {
    if (line[0] === " " || line[0] === "\t") throw new HttpParseError(`Malformed header line "${line}": line folding`);
    const colon = line.indexOf(":");
    if (colon <= 0) throw new HttpParseError(`Malformed header line "${line}"`);
    const name = line.slice(0, colon);
    if (!isToken(name)) throw new HttpParseError(`Invalid header name "${name}"`);
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if ((c < 0x20 && c !== 0x09) || c === 0x7f) throw new HttpParseError(`Invalid value of header "${name}"`);
    }
    headers.add(name, value);
  }
  return headers;
}

function parseProto(s: string): string {
  const m = /^HTTP\/(\d)\.(\d)$/.exec(s);
  if (!m) throw new HttpParseError(`Malformed HTTP version "${s}"`);
  if (m[1] !== "1") throw new HttpParseError(`Unsupported HTTP version "${s}"`, 505);
  return s;
}

/** Percent-decodes a path the way Go's `url.PathUnescape` does (bytes, then UTF-8). */
function unescapePath(s: string): string {
  if (!s.includes("%")) return s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25) {
      const hex = s.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new HttpParseError(`Invalid escape in path "${s}"`);
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(c);
    }
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

/** Splits a request-target into decoded path and raw query. */
function splitTarget(target: string, method: string): { path: string; query: string } {
  let rest: string;
  if (target.startsWith("/")) {
    rest = target;
  } else if (target === "*" && method === "OPTIONS") {
    return { path: "*", query: "" };
  } else {
    const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/.exec(target);
    if (!m) throw new HttpParseError(`Invalid request target "${target}"`);
    rest = target.slice(m[0].length);
  }
  const hash = rest.indexOf("#");
  if (hash >= 0) rest = rest.slice(0, hash);
  const q = rest.indexOf("?");
  const rawPath = q >= 0 ? rest.slice(0, q) : rest;
  return { path: unescapePath(rawPath), query: q >= 0 ? rest.slice(q + 1) : "" };
}

/**
 * Reads and parses a request head of at most `maxBytes`. Returns null when
 * the stream ends cleanly before the first byte. Throws `HttpParseError` with
 * the status Go would answer (400, 431, 505), or the stream's own errors.
 */
export async function readRequestHead(
  conn: BufferedConn,
  maxBytes: number = DEFAULT_MAX_HEAD_BYTES,
): Promise<HttpRequestHead | null> {
  const lines = await readHeadLines(conn, maxBytes);
  if (lines === null) return null;
  if (lines.length === 0) throw new HttpParseError("Empty request line");
  const requestLine = lines[0];
  const sp1 = requestLine.indexOf(" ");
  const sp2 = requestLine.indexOf(" ", sp1 + 1);
  if (sp1 < 0 || sp2 < 0) throw new HttpParseError(`Malformed request line "${requestLine}"`);
  const method = requestLine.slice(0, sp1);
  const target = requestLine.slice(sp1 + 1, sp2);
  const proto = parseProto(requestLine.slice(sp2 + 1));
  if (!isToken(method)) throw new HttpParseError(`Invalid method "${method}"`);
  if (target === "" || hasControlChar(target, true)) throw new HttpParseError(`Invalid request target "${target}"`);
  const { path, query } = splitTarget(target, method);
  const headers = parseHeaderLines(lines.slice(1));
  const hosts = headers.values("Host");
  if (hosts.length > 1) throw new HttpParseError("Too many Host headers");
  if (proto === "HTTP/1.1" && hosts.length === 0) throw new HttpParseError("Missing required Host header");
  return { method, target, path, query, proto, headers };
}

/**
 * Reads and parses a response head of at most `maxBytes`. Throws
 * `HttpParseError` when malformed, `Deno.errors.UnexpectedEof` when the
 * stream ends first.
 */
export async function readResponseHead(conn: BufferedConn, maxBytes: number): Promise<HttpResponseHead> {
  const lines = await readHeadLines(conn, maxBytes);
  if (lines === null) throw new Deno.errors.UnexpectedEof("Connection closed before the response");
  if (lines.length === 0) throw new HttpParseError("Empty status line");
  const statusLine = lines[0];
  const m = /^(HTTP\/\d\.\d) (\d{3})(?: (.*))?$/.exec(statusLine);
  if (!m) throw new HttpParseError(`Malformed status line "${statusLine}"`);
  return { statusLine, proto: m[1], status: Number(m[2]), headers: parseHeaderLines(lines.slice(1)) };
}

const TEXT_PLAIN = "text/plain; charset=utf-8";

/** Go's `http.StatusText` for the statuses dost answers with. */
export const STATUS_TEXT: Record<number, string> = {
  101: "Switching Protocols",
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  505: "HTTP Version Not Supported",
};

/**
 * The response Go's `net/http` server writes for a request it cannot parse
 * (then it closes): `HTTP/1.1 400 Bad Request` with a plain-text body that
 * repeats the status.
 */
export function malformedRequestResponse(status: number): string {
  const publicErr = `${status} ${STATUS_TEXT[status] ?? "Bad Request"}`;
  return `HTTP/1.1 ${publicErr}\r\nContent-Type: ${TEXT_PLAIN}\r\nConnection: close\r\n\r\n${publicErr}`;
}

/**
 * What Go's `http.Error(w, body, status)` puts on the wire, followed by a
 * connection close: handler headers sorted by name, then `Connection`,
 * `Date` and `Content-Length` as the server adds them. No body for HEAD.
 */
export function httpErrorResponse(
  status: number,
  body: string,
  opts: { extraHeaders?: Record<string, string>; head?: boolean; date?: Date } = {},
): string {
  const fields: Record<string, string> = {
    "Content-Type": TEXT_PLAIN,
    "X-Content-Type-Options": "nosniff",
    ...opts.extraHeaders,
  };
  const bodyBytes = new TextEncoder().encode(body + "\n");
  let out = `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? "Error"}\r\n`;
  for (const k of Object.keys(fields).sort()) out += `${k}: ${fields[k]}\r\n`;
  out += "Connection: close\r\n";
  out += `Date: ${(opts.date ?? new Date()).toUTCString()}\r\n`;
  out += `Content-Length: ${bodyBytes.length}\r\n\r\n`;
  if (!opts.head) out += body + "\n";
  return out;
}
