/**
 * Relay BIND on the server side (`relay.md` §2.2, `forward.md` §3.2): listen
 * on the requested address, answer OK + Addr(bound), then either carry every
 * inbound TCP connection as an smux stream (this server is the smux client)
 * or run the UDP-tunnel framing for a UDP port.
 *
 * @module
 */
import { joinHostPort, listenHost, splitHostPort } from "../../transports/addr.ts";
import { writeAll } from "../../transports/_io/write_all.ts";
import type { MuxConfig } from "../../transports/_mux/mod.ts";
import { serveMuxBind } from "../../transports/rtcp/mux.ts";
import { serveUdpTunnel } from "../../transports/rudp/tunnel.ts";
import { TcpListener } from "../../transports/tcp/listener.ts";
import { SocketPacketConn } from "../../transports/udp/packet.ts";
import type { Logger } from "../../transports/log.ts";
import type { Addr, Conn } from "../../transports/types.ts";
import { type HandleResult, ProxyError } from "../types.ts";
import { addrFeature, encodeResponse, STATUS_OK, STATUS_SERVICE_UNAVAILABLE, statusResponse } from "./protocol.ts";

/** `host:port` of a Deno address (IPv6 bracketed). */
function hostPort(a: Addr): string {
  return "hostname" in a ? joinHostPort(a.hostname, a.port) : "";
}

/** OK + Addr(`addr`): the bind reply and the per-stream header. */
export function okWithAddr(addr: Addr): Uint8Array {
  return encodeResponse({ status: STATUS_OK, features: [addrFeature(hostPort(addr))] });
}

export interface RelayBindOptions {
  mux: Partial<MuxConfig>;
  signal: AbortSignal;
  log: Logger;
}

/** The address to listen on: a missing Addr feature means any port. */
function bindAddress(address: string): { hostname: string; port: number } {
  const { host, port } = splitHostPort(address || ":0");
  return { hostname: listenHost(host), port };
}

/** Serves a TCP BIND until its smux session ends. */
export async function serveRelayTcpBind(
  conn: Conn,
  address: string,
  opts: RelayBindOptions,
  result: HandleResult,
): Promise<void> {
  let ln: TcpListener;
  try {
    const { hostname, port } = bindAddress(address);
    ln = TcpListener.listen(joinHostPort(hostname, port));
  } catch (err) {
    await writeAll(conn, statusResponse(STATUS_SERVICE_UNAVAILABLE)).catch(() => {});
    throw new ProxyError(`Relay BIND ${address || ":0"}/tcp failed: ${errText(err)}`, { cause: err });
  }
  const bound = hostPort(ln.addr);
  result.target = bound;
  try {
    await writeAll(conn, okWithAddr(ln.addr));
  } catch (err) {
    ln.close();
    throw err;
  }
  opts.log.info(`relay bind: listening on ${bound}/tcp for ${hostPort(conn.remoteAddr)}`);
  const stats = await serveMuxBind(conn, ln, {
    mux: opts.mux,
    header: okWithAddr,
    signal: opts.signal,
    onConn: (peer, r) =>
      opts.log.debug(`relay bind ${bound}: ${hostPort(peer)} done`, { inputBytes: r.outBytes, outputBytes: r.inBytes }),
  });
  opts.log.info(`relay bind: closed ${bound}/tcp after ${stats.conns} connection(s)`);
  result.inBytes = stats.inBytes;
  result.outBytes = stats.outBytes;
  result.fields = { ...result.fields, conns: stats.conns };
}

/** Serves a UDP BIND (UDP-tunnel framing) until the client stream ends. */
export async function serveRelayUdpBind(
  conn: Conn,
  address: string,
  opts: RelayBindOptions,
  result: HandleResult,
): Promise<void> {
  let sock: SocketPacketConn;
  try {
    const { hostname, port } = bindAddress(address);
    sock = SocketPacketConn.listen(hostname, port);
  } catch (err) {
    // GOST closes the connection without a response here.
    throw new ProxyError(`Relay BIND ${address || ":0"}/udp failed: ${errText(err)}`, { cause: err });
  }
  const bound = hostPort(sock.localAddr);
  result.target = bound;
  try {
    await writeAll(conn, okWithAddr(sock.localAddr));
  } catch (err) {
    sock.close();
    throw err;
  }
  opts.log.info(`relay bind: listening on ${bound}/udp for ${hostPort(conn.remoteAddr)}`);
  const stats = await serveUdpTunnel(conn, sock, opts.signal);
  result.inBytes = stats.inBytes;
  result.outBytes = stats.outBytes;
  if (stats.error !== undefined) result.error = stats.error;
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
