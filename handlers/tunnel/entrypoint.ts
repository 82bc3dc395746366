/**
 * A tunnel entrypoint (x v0.8.1 `handler/tunnel/entrypoint.go`): public
 * traffic routed to a tunnel by what it carries, read but never terminated.
 * The first byte decides:
 *
 * - `0x01`: a relay CONNECT naming a tunnel id (an external entrypoint or a
 *   visitor), relayed to that tunnel as is;
 * - `0x16`: TLS; the ClientHello's SNI picks the ingress rule;
 * - an HTTP method: HTTP/1.x; the request's Host picks the rule;
 * - anything else: plain TCP, sent to the tunnel of the ingress's `*` rule
 *   (a dost extension; without one it is read as HTTP and refused).
 *
 * A name no rule matches (or a private rule) gets `502 Bad Gateway`, a tunnel
 * without a live connector `503 Service Unavailable`, as gost answers; TLS is
 * closed then. Unlike gost, which proxies request by request, dost routes a
 * connection by its first request and then carries it whole (so WebSocket and
 * other upgrades pass through unchanged).
 *
 * @module
 */
import { joinHostPort } from "../../transports/addr.ts";
import { BufferedConn } from "../../transports/_io/buffered_conn.ts";
import { pipe } from "../../transports/_io/pipe.ts";
import { closeQuietly, writeAll } from "../../transports/_io/write_all.ts";
import type { Stream } from "../../transports/_mux/stream.ts";
import type { Logger } from "../../transports/log.ts";
import { parseClientHello } from "../../transports/obfs/_hello.ts";
import { HttpParseError, malformedRequestResponse, readRequestHead } from "../../transports/_ws/http_head.ts";
import type { Addr, Conn } from "../../transports/types.ts";
import { formatUuid, type Ingress, stripPort } from "../ingress/mod.ts";
import {
  addrString,
  networkName,
  readRequest,
  STATUS_BAD_REQUEST,
  STATUS_OK,
  STATUS_SERVICE_UNAVAILABLE,
  STATUS_UNAUTHORIZED,
  statusResponse,
} from "../relay/protocol.ts";
import { type Authenticator, AuthError, type HandleResult, ProxyError } from "../types.ts";
import { streamHeader as header, within } from "./_wire.ts";
import { bytesConn } from "../../transports/_io/bytes_conn.ts";

/** Largest HTTP request head an entrypoint reads; a bigger one gets 431. */
export const MAX_HEAD_BYTES = 32 * 1024;
/** Largest TLS record accepted for a ClientHello (RFC 8446: 2^14 plus expansion). */
const MAX_RECORD = 16384 + 2048;

export interface EntrypointOptions {
  ingress?: Ingress;
  /** The tunnel service's auther: a relay request on an entrypoint must pass it too (gost asks nothing there). */
  auther?: Authenticator;
  /** Opens a stream to `tunnel` with `header` written (the tunnel handler's dialTunnel). */
  dial(tunnel: string, network: string, header: Uint8Array): Promise<Stream>;
  /** Time for the request head or ClientHello. */
  readTimeout: number;
  /** Time for a relay request. */
  relayTimeout: number;
  signal: AbortSignal;
  log: Logger;
}

const CRLFCRLF = new Uint8Array([13, 10, 13, 10]);

/** Serves one entrypoint connection; the caller closes `conn`. */
export async function serveEntrypoint(conn: Conn, opts: EntrypointOptions, result: HandleResult): Promise<void> {
  const bc = new BufferedConn(conn);
  const first = await within(conn, opts.readTimeout, opts.signal, bc.peek(1));
  if (first.length === 0) throw new Deno.errors.UnexpectedEof("Client closed the connection before sending anything");
  if (first[0] === 0x01) return await relay(bc, conn, opts, result);
  if (first[0] === 0x16) return await tls(bc, conn, opts, result);
  // What the first read brought (without waiting for more: a short first message must not stall).
  const start = new TextDecoder().decode(await bc.peek(Math.min(bc.buffered, 8)));
  if (opts.ingress?.default && !looksLikeHttp(start)) return await plain(bc, conn, opts, result);
  return await http(bc, conn, opts, result);
}

/** First bytes of the HTTP methods gost's sniffer knows. */
const METHODS = ["GET ", "POST ", "PUT ", "HEAD ", "DELETE ", "OPTIONS ", "PATCH ", "CONNECT ", "TRACE ", "PRI "];

function looksLikeHttp(s: string): boolean {
  return METHODS.some((m) => s.startsWith(m) || (s.length < m.length && m.startsWith(s)));
}

/** Plain TCP (neither relay, TLS nor HTTP): the ingress's `*` rule, if it has one, names the tunnel. */
async function plain(bc: BufferedConn, conn: Conn, opts: EntrypointOptions, result: HandleResult): Promise<void> {
  const rule = opts.ingress!.default!;
  if (rule.private) throw new ProxyError("The default tunnel is private");
  const tunnel = formatUuid(rule.id);
  const local = addrText(conn.localAddr);
  result.target = local;
  result.fields = { ...result.fields, tunnel };
  const stream = await opts.dial(tunnel, "tcp", header(addrText(conn.remoteAddr), local));
  await carry(bc, stream, opts, result, 0);
}

async function relay(bc: BufferedConn, conn: Conn, opts: EntrypointOptions, result: HandleResult): Promise<void> {
  const req = await within(conn, opts.relayTimeout, opts.signal, readRequest(bc));
  if (req === null) throw new Deno.errors.UnexpectedEof("Client closed the connection before its request");
  let src = "";
  let dst = "";
  let addrs = 0;
  let network = "tcp";
  let tunnel: Uint8Array | undefined;
  let user = "";
  let pass = "";
  for (const f of req.features) {
    if (f.kind === "userAuth") [user, pass] = [f.username, f.password];
    else if (f.kind === "addr") {
      if (addrs++ === 0) src = addrString(f);
      else dst = addrString(f);
    } else if (f.kind === "tunnel") tunnel = f.id;
    else if (f.kind === "network") network = networkName(f.network);
  }
  if (req.cmd & 0x80) network = "udp";
  if (!tunnel || tunnel.subarray(0, 16).every((b) => b === 0)) {
    await writeAll(conn, statusResponse(STATUS_BAD_REQUEST)).catch(() => {});
    throw new ProxyError("Entrypoint relay request without a tunnel id");
  }
  if (opts.auther && !opts.auther.authenticate(user, pass)) {
    await writeAll(conn, statusResponse(STATUS_UNAUTHORIZED)).catch(() => {});
    throw new AuthError(`Entrypoint relay authentication failed for user "${user}"`);
  }
  const id = formatUuid(tunnel);
  result.target = dst || undefined;
  result.fields = { ...result.fields, tunnel: id };
  let stream: Stream;
  try {
    stream = await opts.dial(id, network, header(src, dst));
  } catch (err) {
    await writeAll(conn, statusResponse(STATUS_SERVICE_UNAVAILABLE)).catch(() => {});
    throw err;
  }
  try {
    await writeAll(conn, statusResponse(STATUS_OK));
  } catch (err) {
    closeQuietly(stream);
    throw err;
  }
  await carry(bc, stream, opts, result, 0);
}

async function tls(bc: BufferedConn, conn: Conn, opts: EntrypointOptions, result: HandleResult): Promise<void> {
  const head = await within(conn, opts.readTimeout, opts.signal, bc.peek(5));
  if (head.length < 5) throw new Deno.errors.UnexpectedEof("Truncated TLS record header");
  const len = head[3] << 8 | head[4];
  if (len > MAX_RECORD) throw new ProxyError(`TLS record of ${len} bytes is too long for a ClientHello`);
  const record = await within(conn, opts.readTimeout, opts.signal, bc.readExact(5 + len));
  const hello = parseClientHello(record.subarray(5));
  const name = hello.serverName ?? "";
  if (name === "") throw new ProxyError("TLS ClientHello without a server name (SNI): nothing to route by");
  const host = joinHostPort(name, 443);
  result.target = host;
  const rule = opts.ingress?.getRule(name);
  if (!rule || rule.private) {
    throw new ProxyError(rule ? `Tunnel for "${name}" is private` : `No ingress rule for "${name}"`);
  }
  const tunnel = formatUuid(rule.id);
  result.fields = { ...result.fields, tunnel, host };
  const stream = await opts.dial(tunnel, "tcp", header(addrText(conn.remoteAddr), host));
  try {
    await writeAll(stream, record);
  } catch (err) {
    closeQuietly(stream);
    throw err;
  }
  await carry(bc, stream, opts, result, record.length);
}

async function http(bc: BufferedConn, conn: Conn, opts: EntrypointOptions, result: HandleResult): Promise<void> {
  let raw: Uint8Array | null;
  try {
    raw = await within(conn, opts.readTimeout, opts.signal, bc.readUntil(CRLFCRLF, MAX_HEAD_BYTES));
  } catch (err) {
    if (err instanceof RangeError) {
      await answer(conn, malformedRequestResponse(431));
      throw new ProxyError(`Request head larger than ${MAX_HEAD_BYTES} bytes`);
    }
    throw err;
  }
  if (raw === null) throw new Deno.errors.UnexpectedEof("Client closed the connection before its request");
  let hostHeader: string | undefined;
  try {
    const req = await readRequestHead(new BufferedConn(bytesConn(raw, conn)), MAX_HEAD_BYTES);
    if (!req) throw new HttpParseError("Empty request");
    hostHeader = req.headers.get("Host");
    result.fields = { ...result.fields, method: req.method };
  } catch (err) {
    if (err instanceof HttpParseError) {
      await answer(conn, malformedRequestResponse(err.status));
      throw new ProxyError(`Malformed HTTP request: ${err.message}`);
    }
    throw err;
  }
  const name = stripPort(hostHeader ?? "");
  const host = hostHeader && hostHeader.includes(":") && !hostHeader.endsWith("]")
    ? hostHeader
    : joinHostPort(name, 80);
  result.target = host;
  const rule = name ? opts.ingress?.getRule(name) : undefined;
  if (!rule || rule.private) {
    const why = rule ? `the tunnel for host "${name}" is private` : `no tunnel for host "${name}"`;
    await answer(conn, errorResponse(502, "Bad Gateway", why));
    throw new ProxyError(`Entrypoint: ${why}`);
  }
  const tunnel = formatUuid(rule.id);
  result.fields = { ...result.fields, tunnel, host };
  let stream: Stream;
  try {
    stream = await opts.dial(tunnel, "tcp", header(addrText(conn.remoteAddr), host));
  } catch (err) {
    await answer(conn, errorResponse(503, "Service Unavailable", `tunnel for host "${name}" is not available`));
    throw err;
  }
  try {
    await writeAll(stream, raw);
  } catch (err) {
    closeQuietly(stream);
    throw err;
  }
  await carry(bc, stream, opts, result, raw.length);
}

/** Relays the client (with what is still buffered) and the tunnel stream until both directions end. */
async function carry(
  bc: BufferedConn,
  stream: Stream,
  opts: EntrypointOptions,
  result: HandleResult,
  sent: number,
): Promise<void> {
  const r = await pipe(bc, stream, opts.signal);
  result.inBytes = sent + r.aToB;
  result.outBytes = r.bToA;
  if (r.error !== undefined) result.error = r.error;
}

function errorResponse(status: number, text: string, why: string): string {
  const body = `${status} ${text}: ${why}\n`;
  return `HTTP/1.1 ${status} ${text}\r\nContent-Type: text/plain; charset=utf-8\r\n` +
    `Content-Length: ${new TextEncoder().encode(body).length}\r\nConnection: close\r\n\r\n${body}`;
}

async function answer(conn: Conn, text: string): Promise<void> {
  try {
    await writeAll(conn, new TextEncoder().encode(text));
  } catch {
    // the client left
  }
}

function addrText(a: Addr): string {
  return "hostname" in a ? joinHostPort(a.hostname, a.port) : "";
}
