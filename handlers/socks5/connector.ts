/**
 * The SOCKS5 connector (GOST `connector/socks/v5`): offers GOST's TLS methods
 * unless `notls`, obeys the method the server picks, then CONNECTs.
 *
 * @module
 */
import { closeQuietly, writeAll } from "../../transports/_io/write_all.ts";
import { tlsClient } from "../../transports/tls/mod.ts";
import { type Conn, type DialOptions, HandshakeError } from "../../transports/types.ts";
import type { Auth, Connector, ConnectorOptions } from "../types.ts";
import { AuthError, ProxyError } from "../types.ts";
import { type ConnectorMetadata, parseConnectorMetadata } from "./metadata.ts";
import {
  AUTH_SUCCESS,
  AUTH_VERSION,
  CMD_CONNECT,
  encodeGreeting,
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

class Socks5Connector implements Connector {
  readonly #opts: ConnectorOptions;
  readonly #md: ConnectorMetadata;
  readonly #auth?: Auth;

  constructor(opts: ConnectorOptions) {
    this.#opts = opts;
    this.#md = parseConnectorMetadata(opts.metadata);
    this.#auth = opts.auth;
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
    if (network.startsWith("udp")) throw new ProxyError(`UDP through a SOCKS5 node is not supported yet (${addr})`);
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

/** Creates a SOCKS5 connector (GOST names `socks5`, `socks`). */
export function socks5Connector(opts: ConnectorOptions): Connector {
  return new Socks5Connector(opts);
}
