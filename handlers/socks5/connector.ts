/**
 * The SOCKS5 connector (GOST `connector/socks/v5`): offers GOST's TLS methods
 * unless `notls`, obeys the method the server picks, then CONNECTs (UDP via
 * GOST's UDP-TUN), or binds for `rtcp` (MBIND) and `rudp` (UDP-TUN).
 *
 * @module
 */
import { splitHostPort } from "../../transports/addr.ts";
import { closeQuietly, concat, writeAll } from "../../transports/_io/write_all.ts";
import { type MuxConfig, parseMuxMetadata } from "../../transports/_mux/mod.ts";
import { type BindOptions, MuxBindListener } from "../../transports/rtcp/mod.ts";
import { TunnelConn, TunnelPacketConn } from "../../transports/rudp/tunnel.ts";
import { tlsClient } from "../../transports/tls/mod.ts";
import { PacketListener } from "../../transports/udp/listener.ts";
import { type Addr, type Conn, type DialOptions, HandshakeError, type Listener } from "../../transports/types.ts";
import type { BindConnector } from "../chain/binder.ts";
import type { Auth, ConnectorOptions } from "../types.ts";
import { AuthError, ProxyError } from "../types.ts";
import { type ConnectorMetadata, parseConnectorMetadata } from "./metadata.ts";
import {
  AUTH_SUCCESS,
  AUTH_VERSION,
  CMD_CONNECT,
  CMD_MBIND,
  CMD_UDP_TUN,
  encodeGreeting,
  encodeHostPort,
  encodeRequest,
  encodeUserPass,
  hex,
  METHOD_NO_ACCEPTABLE,
  METHOD_NO_AUTH,
  METHOD_TLS,
  METHOD_TLS_AUTH,
  METHOD_USER_PASS,
  readFull,
  readMessage,
  REP_SUCCEEDED,
  REPLY_TEXT,
  VERSION,
} from "./protocol.ts";
import { Watchdog } from "./watchdog.ts";

/** The methods a GOST client offers, in GOST's order (spec §3.1). */
export function offeredMethods(hasAuth: boolean, noTLS: boolean): number[] {
  const methods = [METHOD_NO_AUTH];
  if (hasAuth) methods.push(METHOD_USER_PASS);
  if (!noTLS) methods.push(METHOD_TLS);
  if (hasAuth && !noTLS) methods.push(METHOD_TLS_AUTH);
  return methods;
}

class Socks5Connector implements BindConnector {
  readonly #opts: ConnectorOptions;
  readonly #md: ConnectorMetadata;
  readonly #auth?: Auth;
  /** smux options of MBIND sessions (`mux.*`). */
  readonly #mux: MuxConfig;

  constructor(opts: ConnectorOptions) {
    this.#opts = opts;
    this.#md = parseConnectorMetadata(opts.metadata);
    this.#auth = opts.auth;
    this.#mux = parseMuxMetadata(opts.metadata);
  }

  /** Sends `05 CMD 00 ADDR` and reads the reply (exact length); resolves to the address it carries. */
  async #request(conn: Conn, cmd: number, addr: Uint8Array, what: string, signal?: AbortSignal): Promise<string> {
    const watchdog = new Watchdog(this.#md.timeout, `SOCKS5 ${what}`, () => closeQuietly(conn), signal);
    try {
      await writeAll(conn, concat(new Uint8Array([VERSION, cmd, 0x00]), addr));
      const reply = await readMessage(conn);
      if (reply.code !== REP_SUCCEEDED) {
        const why = REPLY_TEXT[reply.code] ?? "unknown reply";
        throw new ProxyError(`SOCKS5 ${what} failed: ${why} (0x${hex(reply.code)})`);
      }
      watchdog.check();
      return reply.addr;
    } catch (err) {
      throw watchdog.error(err);
    } finally {
      watchdog.stop();
    }
  }

  /**
   * rtcp: MBIND (`0xF2`), then this side is the smux server and every stream
   * starts with a SOCKS5 reply naming the peer. rudp: UDP-TUN (`0xF3`) with
   * the bind address, then the UDP-tunnel framing. A host-less address is
   * sent as 0.0.0.0 (`:2222` → `05 f2 00 01 00 00 00 00 08 ae`).
   */
  async bind(conn: Conn, network: string, addr: string, opts: BindOptions = {}): Promise<Listener> {
    const udp = network.startsWith("udp");
    if (!udp && !network.startsWith("tcp")) throw new TypeError(`Network "${network}" cannot be bound through SOCKS5`);
    const { host, port } = splitHostPort(addr);
    const cmd = udp ? CMD_UDP_TUN : CMD_MBIND;
    const boundText = await this.#request(
      conn,
      cmd,
      encodeHostPort(host || "0.0.0.0", port),
      `${udp ? "UDP-TUN" : "MBIND"} ${addr}`,
      opts.signal,
    );
    const b = splitHostPort(boundText);
    const bound: Deno.NetAddr = { transport: udp ? "udp" : "tcp", hostname: b.host, port: b.port };
    if (udp) return new PacketListener(new TunnelPacketConn(conn), opts.udp, bound);
    return new MuxBindListener(conn, this.#mux, readStreamHeader, bound);
  }

  /** Method negotiation; resolves to the conn the request goes over (TLS for 0x80/0x82). */
  async handshake(conn: Conn, opts: DialOptions = {}): Promise<Conn> {
    let current = conn;
    const watchdog = new Watchdog(this.#md.timeout, "SOCKS5 handshake", () => {
      closeQuietly(current);
      closeQuietly(conn);
    }, opts.signal);
    try {
      const offered = offeredMethods(this.#auth !== undefined, this.#md.noTLS);
      await writeAll(conn, encodeGreeting(offered));
      const [ver, method] = await readFull(conn, 2);
      if (ver !== VERSION) throw new HandshakeError(`Bad SOCKS version 0x${hex(ver)} in method reply`);
      switch (method) {
        case METHOD_NO_AUTH:
        case METHOD_USER_PASS:
        case METHOD_TLS:
        case METHOD_TLS_AUTH:
          break;
        case METHOD_NO_ACCEPTABLE:
          throw new AuthError(
            `SOCKS5 server accepted none of the offered methods [${offered.map(hex).join(" ")}]`,
          );
        default:
          throw new HandshakeError(`SOCKS5 server chose unknown method 0x${hex(method)}`);
      }
      if (method === METHOD_TLS || method === METHOD_TLS_AUTH) {
        current = await tlsClient(conn, this.#opts.tls, { signal: opts.signal });
      }
      if (method === METHOD_USER_PASS || method === METHOD_TLS_AUTH) {
        if (!this.#auth) throw new AuthError("SOCKS5 server requires a user name and password; the node has none");
        await writeAll(current, encodeUserPass(this.#auth.username, this.#auth.password));
        const [aver, status] = await readFull(current, 2);
        if (aver !== AUTH_VERSION) throw new HandshakeError(`Bad username/password auth version 0x${hex(aver)}`);
        if (status !== AUTH_SUCCESS) throw new AuthError(`SOCKS5 server rejected user "${this.#auth.username}"`);
      }
      watchdog.check();
      return current;
    } catch (err) {
      if (current !== conn) closeQuietly(current);
      throw watchdog.error(err);
    } finally {
      watchdog.stop();
    }
  }

  /** Sends CONNECT and waits for the reply; the returned conn carries the tunnel. */
  async connect(conn: Conn, network: string, addr: string, opts: DialOptions = {}): Promise<Conn> {
    if (network.startsWith("udp")) {
      // GOST's default: UDP-TUN without an address, then the real destination in every frame.
      const { host, port } = splitHostPort(addr);
      await this.#request(conn, CMD_UDP_TUN, encodeHostPort("0.0.0.0", 0), `UDP-TUN for ${addr}`, opts.signal);
      return new TunnelConn(conn, { hostname: host || "127.0.0.1", port });
    }
    if (!network.startsWith("tcp")) throw new TypeError(`Network "${network}" is not supported by SOCKS5`);
    const req = encodeRequest(CMD_CONNECT, addr);
    const watchdog = new Watchdog(this.#md.timeout, "SOCKS5 CONNECT", () => closeQuietly(conn), opts.signal);
    try {
      await writeAll(conn, req);
      // Exact-length read: bytes the server sends right after the reply stay in `conn`.
      const reply = await readMessage(conn);
      if (reply.code !== REP_SUCCEEDED) {
        const why = REPLY_TEXT[reply.code] ?? "unknown reply";
        throw new ProxyError(`SOCKS5 CONNECT to ${addr} failed: ${why} (0x${hex(reply.code)})`);
      }
      watchdog.check();
      return conn;
    } catch (err) {
      throw watchdog.error(err);
    } finally {
      watchdog.stop();
    }
  }
}

/** Strips the SOCKS5 reply that starts every MBIND stream; resolves to the peer it names. */
async function readStreamHeader(stream: Conn): Promise<Addr> {
  const reply = await readMessage(stream);
  if (reply.code !== REP_SUCCEEDED) throw new HandshakeError(`MBIND stream header has reply 0x${hex(reply.code)}`);
  const { host, port } = splitHostPort(reply.addr);
  return { transport: "tcp", hostname: host, port };
}

/** Creates a SOCKS5 connector (GOST names `socks5`, `socks`). */
export function socks5Connector(opts: ConnectorOptions): BindConnector {
  return new Socks5Connector(opts);
}
