/**
 * The RFC 6455 opening handshake over any `Conn`, written to match what GOST
 * (gorilla/websocket on Go's net/http) sends and checks, byte for byte where
 * the spec shows bytes.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { BufferedConn } from "../_io/buffered_conn.ts";
import { closeQuietly, writeAll } from "../_io/write_all.ts";
import { type Conn, HandshakeError } from "../types.ts";
import {
  DEFAULT_MAX_HEAD_BYTES,
  hasControlChar,
  httpErrorResponse,
  HttpParseError,
  type HttpRequestHead,
  isTokenChar,
  malformedRequestResponse,
  readRequestHead,
  readResponseHead,
} from "./http_head.ts";

/** The GUID RFC 6455 appends to the key before hashing. */
export const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** @default "/ws" (GOST's default path for ws and mws) */
export const DEFAULT_PATH = "/ws";

/**
 * Handshake timeout when the caller gives none (GOST sets none by default;
 * dost bounds every handshake). `0` disables it.
 * @default 10000
 */
export const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;

/** Go's default client User-Agent, which GOST sends. */
export const DEFAULT_USER_AGENT = "Go-http-client/1.1";

/** Limit of a 101 response head the client accepts. */
const MAX_RESPONSE_HEAD_BYTES = 64 * 1024;

const encoder = new TextEncoder();

function base64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/**
 * `base64(SHA-1(key + GUID))`, the `Sec-WebSocket-Accept` value for `key`.
 * Hashed synchronously: WebCrypto's digest is an async op round trip that
 * cost ~30 µs per connection on each side of a ws hop.
 */
export function computeAcceptKey(key: string): string {
  return createHash("sha1").update(key + WEBSOCKET_GUID).digest("base64");
}

/** A fresh `Sec-WebSocket-Key`: 16 random bytes, base64. */
export function generateKey(): string {
  return base64(crypto.getRandomValues(new Uint8Array(16)));
}

/**
 * Go's `textproto.CanonicalMIMEHeaderKey`: `x-custom-header` →
 * `X-Custom-Header`. Keys with bytes outside the token set stay as they are.
 */
export function canonicalHeaderKey(key: string): string {
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c === 0x20 || !isTokenChar(c)) return key;
  }
  let upper = true;
  let out = "";
  for (const ch of key) {
    out += upper ? ch.toUpperCase() : ch.toLowerCase();
    upper = ch === "-";
  }
  return out;
}

function skipSpace(s: string, i: number): number {
  while (i < s.length && (s[i] === " " || s[i] === "\t")) i++;
  return i;
}

/**
 * gorilla's `tokenListContainsValue`: whether any value of the header is a
 * comma-separated token list holding `token` (case-insensitive). Parsing of a
 * value stops at its first malformed element, as gorilla's does.
 */
export function tokenListContains(values: string[], token: string): boolean {
  const want = token.toLowerCase();
  for (const v of values) {
    let i = 0;
    for (;;) {
      i = skipSpace(v, i);
      const start = i;
      while (i < v.length && isTokenChar(v.charCodeAt(i))) i++;
      if (i === start) break;
      const t = v.slice(start, i);
      i = skipSpace(v, i);
      if (i < v.length && v[i] !== ",") break;
      if (t.toLowerCase() === want) return true;
      if (i >= v.length) break;
      i++;
    }
  }
  return false;
}

const PATH_SAFE = /[A-Za-z0-9\-_.~$&+,/:;=@]/;

/**
 * The request-target Go derives from `url.URL{Path: path}`: a leading `/` is
 * added, and every byte outside the unreserved set and `$&+,/:;=@` is
 * percent-encoded (so `?` becomes `%3F`, as GOST sends it).
 */
export function escapePath(path: string): string {
  if (path === "") return "/";
  if (!path.startsWith("/")) path = "/" + path;
  let out = "";
  for (const ch of path) {
    if (ch.length === 1 && PATH_SAFE.test(ch)) {
      out += ch;
      continue;
    }
    for (const b of encoder.encode(ch)) out += "%" + b.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

/** Headers gorilla refuses in the dialer's request header. */
const CLIENT_RESERVED = new Set([
  "Upgrade",
  "Connection",
  "Sec-Websocket-Key",
  "Sec-Websocket-Version",
  "Sec-Websocket-Extensions",
]);
/** Headers Go's `Request.Write` leaves out of the header block. */
const CLIENT_EXCLUDED = new Set(["Content-Length", "Transfer-Encoding", "Trailer"]);

function checkHeaderName(name: string): void {
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) throw new TypeError(`Invalid header name "${name}"`);
}

/** Go writes header values with CR/LF turned into spaces and surrounding blanks trimmed. */
function cleanValue(v: string): string {
  return v.replace(/[\r\n]/g, " ").replace(/^[ \t]+|[ \t]+$/g, "");
}

/** Options of the client handshake. */
export interface WsClientHandshakeOptions {
  /** The `Host` header, e.g. `example.com:443` (GOST: option `host`, else the node address with its port). */
  host: string;
  /** Request path. @default "/ws" */
  path?: string;
  /** Extra request headers (GOST's `header` map). `Host` and `User-Agent` entries override the defaults. */
  header?: Record<string, string>;
  /** Milliseconds for the whole handshake; `0` for none. @default 10000 */
  timeout?: number;
  signal?: AbortSignal;
}

/**
 * The upgrade request exactly as GOST's dialer (Go's `Request.Write`) puts it
 * on the wire: request line, `Host`, `User-Agent`, then every other header
 * sorted by name, then a blank line.
 */
export function buildUpgradeRequest(opts: WsClientHandshakeOptions, key: string): string {
  let host = opts.host;
  let userAgent = DEFAULT_USER_AGENT;
  const fields = new Map<string, string>([
    ["Connection", "Upgrade"],
    ["Sec-WebSocket-Key", key],
    ["Sec-WebSocket-Version", "13"],
    ["Upgrade", "websocket"],
  ]);
  for (const [rawName, value] of Object.entries(opts.header ?? {})) {
    checkHeaderName(rawName);
    const name = canonicalHeaderKey(rawName);
    if (name === "Host") host = value;
    else if (name === "User-Agent") userAgent = value;
    else if (CLIENT_RESERVED.has(name)) {
      throw new TypeError(`Header "${rawName}" is not allowed: the handshake sets it`);
    } else if (CLIENT_EXCLUDED.has(name)) continue;
    else if (name === "Sec-Websocket-Protocol") fields.set("Sec-WebSocket-Protocol", value);
    else fields.set(name, value);
  }
  // Go drops an IPv6 zone from the Host header.
  host = host.replace(/^(\[[^\]%]*)%[^\]]*\]/, "$1]");
  if (host === "" || hasControlChar(host, true) || /[/\\?#@]/.test(host)) {
    throw new TypeError(`Invalid Host header "${host}"`);
  }
  let req = `GET ${escapePath(opts.path ?? DEFAULT_PATH)} HTTP/1.1\r\nHost: ${host}\r\n`;
  if (userAgent !== "") req += `User-Agent: ${cleanValue(userAgent)}\r\n`;
  for (const name of [...fields.keys()].sort()) req += `${name}: ${cleanValue(fields.get(name)!)}\r\n`;
  return req + "\r\n";
}

/**
 * Runs `fn` with a deadline: on timeout or abort the conn is closed (which
 * fails pending reads) and the returned promise rejects at once.
 */
async function withDeadline<T>(
  conn: Conn,
  timeout: number,
  signal: AbortSignal | undefined,
  what: string,
  fn: () => Promise<T>,
): Promise<T> {
  let stop!: (err: Error) => void;
  const stopped = new Promise<never>((_, reject) => (stop = reject));
  stopped.catch(() => {});
  let reason: Error | undefined;
  const abort = (err: Error) => {
    reason ??= err;
    closeQuietly(conn);
    stop(err);
  };
  const timer = timeout > 0
    ? setTimeout(() => abort(new Deno.errors.TimedOut(`${what} timed out after ${timeout} ms`)), timeout)
    : undefined;
  const onAbort = () => abort(signal?.reason instanceof Error ? signal.reason : new Error(`${what} aborted`));
  if (signal?.aborted) onAbort();
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const work = fn();
    work.catch(() => {});
    return await Promise.race([work, stopped]);
  } catch (err) {
    throw reason ?? err;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}

/**
 * Runs the client side of the opening handshake over `conn` and resolves to
 * the stream positioned after the 101 response (bytes the server sent right
 * behind the 101 are kept). Rejects with `HandshakeError` (quoting the status
 * line when there is one), or `TypeError` for bad options, and closes `conn`
 * on any failure.
 */
export async function wsClientHandshake(conn: Conn, opts: WsClientHandshakeOptions): Promise<Conn> {
  const key = generateKey();
  let request: string;
  try {
    request = buildUpgradeRequest(opts, key);
  } catch (err) {
    closeQuietly(conn);
    throw err;
  }
  const expected = computeAcceptKey(key);
  const target = `${opts.host}${escapePath(opts.path ?? DEFAULT_PATH)}`;
  try {
    return await withDeadline(
      conn,
      opts.timeout ?? DEFAULT_HANDSHAKE_TIMEOUT,
      opts.signal,
      "WebSocket handshake",
      async () => {
        await writeAll(conn, encoder.encode(request));
        const bc = new BufferedConn(conn);
        const res = await readResponseHead(bc, MAX_RESPONSE_HEAD_BYTES);
        const h = res.headers;
        const quoted = JSON.stringify(res.statusLine);
        if (res.status !== 101) throw new HandshakeError(`WebSocket handshake to "${target}" rejected: ${quoted}`);
        if (!tokenListContains(h.values("Upgrade"), "websocket")) {
          throw new HandshakeError(`WebSocket handshake to "${target}" failed: ${quoted} without "Upgrade: websocket"`);
        }
        if (!tokenListContains(h.values("Connection"), "upgrade")) {
          throw new HandshakeError(
            `WebSocket handshake to "${target}" failed: ${quoted} without "Connection: upgrade"`,
          );
        }
        const accept = h.get("Sec-WebSocket-Accept");
        if (accept !== expected) {
          throw new HandshakeError(
            `WebSocket handshake to "${target}" failed: ${quoted} with bad Sec-WebSocket-Accept "${accept ?? ""}"`,
          );
        }
        return bc.unwrap();
      },
    );
  } catch (err) {
    closeQuietly(conn);
    if (err instanceof HandshakeError) throw err;
    if (err instanceof HttpParseError) {
      throw new HandshakeError(`WebSocket handshake to "${target}" failed: ${err.message}`, { cause: err });
    }
    const msg = err instanceof Deno.errors.UnexpectedEof
      ? "connection closed before the 101 response"
      : err instanceof Error
      ? err.message
      : String(err);
    throw new HandshakeError(`WebSocket handshake to "${target}" failed: ${msg}`, { cause: err });
  }
}

/** Options of the server handshake. */
export interface WsServerHandshakeOptions {
  /**
   * The path served, matched as Go's `ServeMux` does: exactly, ignoring the
   * query; a pattern ending in `/` matches its whole subtree.
   * @default "/ws"
   */
  path?: string;
  /** Extra response headers on the 101 (GOST's listener `header` map). */
  header?: Record<string, string>;
  /** Milliseconds to read the request and write the response; `0` for none. @default 10000 */
  timeout?: number;
  /** Largest request head accepted (larger: 431). @default 8192 */
  maxHeadBytes?: number;
  signal?: AbortSignal;
}

/** How a server handshake ended. On rejection the conn has been closed. */
export type WsServerHandshakeResult<R = HttpRequestHead> =
  | { rejected?: undefined; conn: Conn; request: R }
  | {
    rejected: true;
    /** The HTTP status sent, or 0 when the conn was closed without a response. */
    status: number;
    /** Why, for the log line. */
    reason: string;
    request?: R;
  };

/** Whether request `path` is routed to `pattern` (Go `ServeMux` rules, without its redirects). */
export function matchPath(pattern: string, path: string): boolean {
  return pattern.endsWith("/") ? path.startsWith(pattern) : path === pattern;
}

/** gorilla's `isValidChallengeKey`: base64 (padded) of exactly 16 bytes. */
export function isValidChallengeKey(key: string | undefined): boolean {
  return key !== undefined && /^[A-Za-z0-9+/]{22}==$/.test(key);
}

async function reject<R>(
  conn: Conn,
  status: number,
  reason: string,
  response: string | undefined,
  request?: R,
): Promise<WsServerHandshakeResult<R>> {
  try {
    if (response !== undefined) await writeAll(conn, encoder.encode(response));
  } catch {
    // the client is gone; nothing to tell it
  } finally {
    closeQuietly(conn);
  }
  return { rejected: true, status, reason, request };
}

/** Custom 101 header lines as gorilla writes them (canonical names, control bytes as spaces). */
function responseHeaderLines(header: Record<string, string> | undefined): { lines: string; protocol?: string } {
  let lines = "";
  let protocol: string | undefined;
  const byName = new Map<string, string>();
  for (const [rawName, value] of Object.entries(header ?? {})) {
    checkHeaderName(rawName);
    byName.set(canonicalHeaderKey(rawName), value);
  }
  for (const name of [...byName.keys()].sort()) {
    const value = [...byName.get(name)!].map((ch) => (ch.charCodeAt(0) <= 31 ? " " : ch)).join("");
    if (name === "Sec-Websocket-Protocol") protocol = value;
    else lines += `${name}: ${value}\r\n`;
  }
  return { lines, protocol };
}

function findHeader(header: Record<string, string> | undefined, name: string): boolean {
  return Object.keys(header ?? {}).some((k) => canonicalHeaderKey(k) === name);
}

/**
 * What `wsUpgrade` needs of a parsed request: the method and the header
 * fields in order. `HttpRequestHead` (here) and `_http1`'s `RequestHead` both fit.
 */
export interface UpgradeRequest {
  method: string;
  headers: { readonly entries: readonly (readonly [string, string])[] };
}

/** Every value of header `name` (case-insensitive), in order. */
function headerValues(headers: UpgradeRequest["headers"], name: string): string[] {
  const n = name.toLowerCase();
  const out: string[] = [];
  for (const [k, v] of headers.entries) if (k.toLowerCase() === n) out.push(v);
  return out;
}

/**
 * The upgrade step on an already-read request head (for a shared HTTP/1.1
 * server that routes by path itself): gorilla's checks in gorilla's order,
 * each failure answered as gorilla answers it; then the 101. `conn` must be
 * the BufferedConn the head was read from. Never rejects.
 */
export async function wsUpgrade<R extends UpgradeRequest>(
  conn: BufferedConn,
  request: R,
  opts: Pick<WsServerHandshakeOptions, "header" | "timeout" | "signal"> = {},
): Promise<WsServerHandshakeResult<R>> {
  const h = request.headers;
  const isHead = request.method === "HEAD";
  const fail = (status: number, reason: string, extra: Record<string, string> = { "Sec-Websocket-Version": "13" }) => {
    const text = { 400: "Bad Request", 405: "Method Not Allowed", 500: "Internal Server Error" }[status] ?? "Error";
    return reject(
      conn,
      status,
      reason,
      httpErrorResponse(status, text, { extraHeaders: extra, head: isHead }),
      request,
    );
  };
  const notWs = "the client is not using the websocket protocol: ";
  if (!tokenListContains(headerValues(h, "Connection"), "upgrade")) {
    return fail(400, notWs + "'upgrade' token not found in 'Connection' header");
  }
  if (!tokenListContains(headerValues(h, "Upgrade"), "websocket")) {
    return fail(400, notWs + "'websocket' token not found in 'Upgrade' header");
  }
  if (request.method !== "GET") return fail(405, notWs + "request method is not GET");
  if (!tokenListContains(headerValues(h, "Sec-Websocket-Version"), "13")) {
    return fail(400, "unsupported version: 13 not found in 'Sec-Websocket-Version' header");
  }
  if (findHeader(opts.header, "Sec-Websocket-Extensions")) {
    return fail(500, "application specific 'Sec-WebSocket-Extensions' headers are unsupported");
  }
  const key = headerValues(h, "Sec-Websocket-Key")[0];
  if (!isValidChallengeKey(key)) {
    return fail(
      400,
      "not a websocket handshake: 'Sec-WebSocket-Key' header must be Base64 encoded value of 16-byte in length",
    );
  }
  if (conn.buffered > 0) {
    // gorilla closes without a word when the client did not wait for the 101.
    return reject(conn, 0, "client sent data before handshake is complete", undefined, request);
  }
  let extra: { lines: string; protocol?: string };
  try {
    extra = responseHeaderLines(opts.header);
  } catch (err) {
    return fail(500, (err as Error).message, {});
  }
  const { lines, protocol } = extra;
  let response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    `Sec-WebSocket-Accept: ${computeAcceptKey(key!)}\r\n`;
  if (protocol) response += `Sec-WebSocket-Protocol: ${protocol}\r\n`;
  response += lines + "\r\n";
  try {
    await withDeadline(
      conn,
      opts.timeout ?? DEFAULT_HANDSHAKE_TIMEOUT,
      opts.signal,
      "WebSocket handshake",
      () => writeAll(conn, encoder.encode(response)),
    );
  } catch (err) {
    closeQuietly(conn);
    return { rejected: true, status: 0, reason: `writing the 101 failed: ${(err as Error)?.message ?? err}`, request };
  }
  return { conn: conn.unwrap(), request };
}

/**
 * Runs the server side of the opening handshake over `conn`: reads the
 * request head (size-limited), routes `path` as GOST's listener does (other
 * paths: `404 page not found`), then `wsUpgrade`. Never rejects; on
 * rejection the conn is closed and the result says why.
 */
export async function wsServerHandshake(
  conn: Conn,
  opts: WsServerHandshakeOptions = {},
): Promise<WsServerHandshakeResult> {
  const bc = conn instanceof BufferedConn ? conn : new BufferedConn(conn);
  const timeout = opts.timeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
  const start = Date.now();
  let request: HttpRequestHead | null;
  try {
    request = await withDeadline(
      bc,
      timeout,
      opts.signal,
      "Reading the WebSocket request",
      () => readRequestHead(bc, opts.maxHeadBytes ?? DEFAULT_MAX_HEAD_BYTES),
    );
  } catch (err) {
    if (err instanceof HttpParseError) {
      return reject(bc, err.status, err.message, malformedRequestResponse(err.status));
    }
    const msg = err instanceof Deno.errors.UnexpectedEof ? "connection closed inside the request head" : String(
      (err as Error)?.message ?? err,
    );
    return reject(bc, 0, msg, undefined);
  }
  if (request === null) return reject(bc, 0, "connection closed before a request", undefined);
  if (!matchPath(opts.path ?? DEFAULT_PATH, request.path)) {
    const response = httpErrorResponse(404, "404 page not found", { head: request.method === "HEAD" });
    return reject(bc, 404, `path "${request.path}" not found`, response, request);
  }
  const left = timeout > 0 ? Math.max(1, timeout - (Date.now() - start)) : 0;
  return wsUpgrade(bc, request, { header: opts.header, timeout: left, signal: opts.signal });
}
