/**
 * dost's own RFC 6455 implementation, usable over any `Conn` (a ws hop inside
 * another tunnel has no socket of its own, so Deno's WebSocket cannot serve).
 *
 * - `wsClientHandshake` / `wsServerHandshake` / `wsUpgrade`: the opening
 *   handshake as GOST (gorilla/websocket) does it.
 * - `WsConn`: the framed stream (one binary message per write, payloads of
 *   all data messages concatenated on read).
 * - `dialWebSocket` / `acceptWebSocket`: both steps in one call.
 *
 * Deliberate choices (GOST/gorilla behaviour, see shared/spec/websocket.md §1–§3):
 * - A client that sends bytes after its request head before the 101 arrived
 *   has its conn closed without a response, as gorilla does ("client sent
 *   data before handshake is complete"): spec-exact rather than lenient.
 * - Every gorilla upgrade error carries `Sec-Websocket-Version: 13` (gorilla's
 *   `returnError` sets it on all of them, not only on version errors).
 * - Error responses end with `Connection: close` and a close (Go would keep
 *   the conn alive after a 404); oversized heads get 431, as Go answers.
 * - No close frame is sent when a tunnel ends (`closeWrite`/`close`); a peer's
 *   close frame is echoed with its status code and ends the stream.
 *
 * Throughput (`deno run --allow-all transports/_ws/_bench.ts 512 256`):
 * 512 MiB in 256 KiB writes over TCP loopback, server and client in separate
 * processes, MiB/s, median of 5 interleaved rounds, on the shared 2-core dev
 * machine (runs vary by ±30%; raw Deno TCP on the same run: 3710 up, 3346 down):
 *
 * | server side                  | client          | client→server | server→client |
 * | ---------------------------- | --------------- | ------------- | ------------- |
 * | dost `WsConn`                | dost `WsConn`   | 2872          | 5670          |
 * | dost `WsConn`                | Deno WebSocket  | 3131          | 2487          |
 * | Deno.serve+upgradeWebSocket | dost `WsConn`   | 1817          | 3103          |
 * | Deno.serve+upgradeWebSocket | Deno WebSocket  | 1896          | 2140          |
 *
 * dost's own server side is faster than Deno.upgradeWebSocket in every
 * pairing (receiving ~1.6×), and it also gives gorilla's exact responses and
 * works over non-socket conns, so the listener should use it.
 *
 * @module
 */
import { BufferedConn } from "../_io/buffered_conn.ts";
import type { Conn } from "../types.ts";
import {
  wsClientHandshake,
  type WsClientHandshakeOptions,
  wsServerHandshake,
  type WsServerHandshakeOptions,
} from "./handshake.ts";
import type { HttpRequestHead } from "./http_head.ts";
import { WsConn, type WsConnOptions } from "./ws_conn.ts";

export {
  buildUpgradeRequest,
  canonicalHeaderKey,
  computeAcceptKey,
  DEFAULT_HANDSHAKE_TIMEOUT,
  DEFAULT_PATH,
  DEFAULT_USER_AGENT,
  escapePath,
  isValidChallengeKey,
  matchPath,
  tokenListContains,
  type UpgradeRequest,
  WEBSOCKET_GUID,
  wsClientHandshake,
  type WsClientHandshakeOptions,
  wsServerHandshake,
  type WsServerHandshakeOptions,
  type WsServerHandshakeResult,
  wsUpgrade,
} from "./handshake.ts";
export {
  DEFAULT_MAX_HEAD_BYTES,
  HeaderList,
  HttpParseError,
  type HttpRequestHead,
  type HttpResponseHead,
  readRequestHead,
  readResponseHead,
} from "./http_head.ts";
export {
  CloseCode,
  closePayload,
  encodeFrame,
  type FrameHeader,
  maskBytes,
  MAX_FRAME_SIZE,
  Opcode,
  parseHeader,
  ProtocolError,
} from "./frame.ts";
export { DEFAULT_KEEPALIVE_TTL, WsConn, type WsConnOptions } from "./ws_conn.ts";

/** Moves bytes a handshake read ahead into the WsConn, so reads go straight to the socket. */
async function framed(conn: Conn, opts: WsConnOptions): Promise<WsConn> {
  if (conn instanceof BufferedConn && conn.buffered > 0) {
    const head = await conn.readExact(conn.buffered);
    return new WsConn(conn.inner, { ...opts, head });
  }
  return new WsConn(conn, opts);
}

/** Options of `dialWebSocket`. */
export type DialWebSocketOptions = WsClientHandshakeOptions & Omit<WsConnOptions, "role" | "head">;

/** Client handshake over `conn`, then a client `WsConn` on it. Rejects with `HandshakeError`. */
export async function dialWebSocket(conn: Conn, opts: DialWebSocketOptions): Promise<WsConn> {
  const raw = await wsClientHandshake(conn, opts);
  return await framed(raw, {
    role: "client",
    keepalive: opts.keepalive,
    ttl: opts.ttl,
    maxFrameSize: opts.maxFrameSize,
  });
}

/** Options of `acceptWebSocket`. */
export type AcceptWebSocketOptions = WsServerHandshakeOptions & Pick<WsConnOptions, "maxFrameSize">;

/** Server handshake over `conn`, then a server `WsConn` on it. Never rejects; see `WsServerHandshakeResult`. */
export async function acceptWebSocket(
  conn: Conn,
  opts: AcceptWebSocketOptions = {},
): Promise<
  { rejected?: undefined; conn: WsConn; request: HttpRequestHead } | {
    rejected: true;
    status: number;
    reason: string;
    request?: HttpRequestHead;
  }
> {
  const res = await wsServerHandshake(conn, opts);
  if (res.rejected) return res;
  return { conn: await framed(res.conn, { role: "server", maxFrameSize: opts.maxFrameSize }), request: res.request };
}
