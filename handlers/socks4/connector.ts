/**
 * The SOCKS4/4a connector (GOST `connector/socks/v4`, names `socks4`,
 * `socks4a`): CONNECT with the node's user name as user id. Names go to the
 * server as SOCKS4a unless `disable4a`, which resolves them locally.
 *
 * @module
 */
import { lookup } from "node:dns/promises";
import { closeQuietly, writeAll } from "../../transports/_io/write_all.ts";
import { isIPv4, splitHostPort } from "../../transports/addr.ts";
import type { Conn, DialOptions } from "../../transports/types.ts";
import type { Connector, ConnectorOptions } from "../types.ts";
import { ProxyError } from "../types.ts";
import { hex, Watchdog } from "../socks5/mod.ts";
import { type ConnectorMetadata, parseConnectorMetadata } from "./metadata.ts";
import { CMD_CONNECT, encodeRequest, readReply, REP_GRANTED, REPLY_TEXT } from "./protocol.ts";

class Socks4Connector implements Connector {
  readonly #opts: ConnectorOptions;
  readonly #md: ConnectorMetadata;

  constructor(opts: ConnectorOptions) {
    this.#opts = opts;
    this.#md = parseConnectorMetadata(opts.metadata);
  }

  async connect(conn: Conn, network: string, addr: string, opts: DialOptions = {}): Promise<Conn> {
    if (!network.startsWith("tcp")) throw new TypeError(`Network "${network}" is not supported by SOCKS4`);
    const { host: rawHost, port } = splitHostPort(addr);
    let host = rawHost === "" ? "127.0.0.1" : rawHost;
    if (host.includes(":")) throw new ProxyError(`SOCKS4 cannot carry the IPv6 address in "${addr}"`);
    const watchdog = new Watchdog(this.#md.timeout, "SOCKS4 CONNECT", () => closeQuietly(conn), opts.signal);
    try {
      if (!isIPv4(host) && this.#md.disable4a) host = (await lookup(host, { family: 4 })).address;
      watchdog.check();
      await writeAll(conn, encodeRequest(CMD_CONNECT, host, port, this.#opts.auth?.username ?? ""));
      const code = await readReply(conn);
      if (code !== REP_GRANTED) {
        throw new ProxyError(
          `SOCKS4 CONNECT to ${addr} failed: ${REPLY_TEXT[code] ?? "unknown reply"} (0x${hex(code)})`,
        );
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

/** Creates a SOCKS4/4a connector (GOST names `socks4`, `socks4a`). */
export function socks4Connector(opts: ConnectorOptions): Connector {
  return new Socks4Connector(opts);
}
