/**
 * smux (xtaci/smux v1.5.31 wire format, versions 1 and 2): many streams over
 * one Conn. Used by mws/mwss, mtls/mtcp, relay BIND / SOCKS5 MBIND reverse
 * tunnels and the tunnel handler.
 *
 * ```ts
 * const session = new Session(conn, { client: true, ...parseMuxMetadata(md) });
 * const stream = await session.open(); // a Conn
 * ```
 *
 * @module
 */
export { DEFAULT_MUX_CONFIG, type MuxConfig, parseMuxMetadata, resolveMuxConfig, verifyMuxConfig } from "./config.ts";
export { ACCEPT_BACKLOG, MuxProtocolError, Session, type SessionOptions } from "./session.ts";
export { Stream } from "./stream.ts";
