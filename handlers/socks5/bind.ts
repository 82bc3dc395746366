/**
 * SOCKS5 BIND (`0x02`), GOST MBIND (`0xF2`) and GOST UDP-TUN (`0xF3`) on the
 * server side (`socks5.md` §2.4, §2.5, §2.7, §5).
 *
 * @module
 */
import { isIPv4, isIPv6, joinHostPort, listenHost, splitHostPort } from "../../transports/addr.ts";
import { pipe } from "../../transports/_io/pipe.ts";
import { closeQuietly, writeAll } from "../../transports/_io/write_all.ts";
import type { MuxConfig } from "../../transports/_mux/mod.ts";
import { serveMuxBind } from "../../transports/rtcp/mux.ts";
import { serveUdpTunnel } from "../../transports/rudp/tunnel.ts";
import { TcpListener } from "../../transports/tcp/listener.ts";
import { SocketPacketConn } from "../../transports/udp/packet.ts";
import type { Logger } from "../../transports/log.ts";
import type { Addr, Conn } from "../../transports/types.ts";
import { type HandleResult, ProxyError } from "../types.ts";
import { encodeHostPort, encodeNetAddr, encodeReply, REP_FAILURE, REP_SUCCEEDED } from "./protocol.ts";

export interface Socks5BindOptions {
  mux: Partial<MuxConfig>;
  /** `publicAddr`: the host reported in the first reply instead of the local IP. */
  publicAddr?: string;
  /** `comp`: MBIND streams carry no leading reply (GOST v2 compatibility). */
  compatibilityMode: boolean;
  signal: AbortSignal;
  log: Logger;
}

function hostPort(a: Addr): string {
  return "hostname" in a ? joinHostPort(a.hostname, a.port) : "";
}

/** The success reply for a bound port: the control connection's local IP (or `publicAddr`) and that port. */
export function boundReply(control: Conn, port: number, publicAddr?: string): Uint8Array {
  if (publicAddr) {
    let host = publicAddr;
    try {
      host = splitHostPort(publicAddr).host || host;
    } catch {
      // a bare host
    }
    return encodeReply(REP_SUCCEEDED, encodeHostPort(host, port));
  }
  const local = control.localAddr;
  const ip = "hostname" in local && (isIPv4(local.hostname) || isIPv6(local.hostname)) ? local.hostname : "0.0.0.0";
  return encodeReply(REP_SUCCEEDED, encodeNetAddr({ transport: "tcp", hostname: ip, port }));
}

/** `05 00 00 ATYP peer`: the second BIND reply and the per-stream MBIND header. */
export function peerReply(peer: Addr): Uint8Array {
  return encodeReply(REP_SUCCEEDED, encodeNetAddr(peer));
}

function listenTcp(addr: string): TcpListener {
  const { host, port } = splitHostPort(addr);
  return TcpListener.listen(joinHostPort(listenHost(host), port));
}

async function failBind(client: Conn, what: string, err: unknown): Promise<never> {
  await writeAll(client, encodeReply(REP_FAILURE)).catch(() => {});
  throw new ProxyError(`SOCKS5 ${what} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

/** MBIND: listen, reply, then carry every inbound connection as an smux stream (this side is the smux client). */
export async function serveMbind(
  client: Conn,
  addr: string,
  opts: Socks5BindOptions,
  result: HandleResult,
): Promise<void> {
  let ln: TcpListener;
  try {
    ln = listenTcp(addr);
  } catch (err) {
    return await failBind(client, `MBIND ${addr}`, err);
  }
  const port = (ln.addr as Deno.NetAddr).port;
  result.target = hostPort(ln.addr);
  try {
    await writeAll(client, boundReply(client, port, opts.publicAddr));
  } catch (err) {
    ln.close();
    throw err;
  }
  opts.log.info(`socks5 mbind: listening on ${hostPort(ln.addr)}/tcp for ${hostPort(client.remoteAddr)}`);
  const stats = await serveMuxBind(client, ln, {
    mux: opts.mux,
    header: opts.compatibilityMode ? () => null : peerReply,
    signal: opts.signal,
  });
  opts.log.info(`socks5 mbind: closed ${hostPort(ln.addr)}/tcp after ${stats.conns} connection(s)`);
  result.inBytes = stats.inBytes;
  result.outBytes = stats.outBytes;
  result.fields = { ...result.fields, conns: stats.conns };
}

/**
 * Plain BIND: listen, reply, wait for one inbound connection (the listener
 * then closes), send the second reply naming the peer, relay over the
 * control connection. A client that leaves (or sends) first ends the wait.
 */
export async function serveBind(
  client: Conn,
  addr: string,
  opts: Socks5BindOptions,
  result: HandleResult,
): Promise<void> {
  let ln: TcpListener;
  try {
    ln = listenTcp(addr);
  } catch (err) {
    return await failBind(client, `BIND ${addr}`, err);
  }
  const port = (ln.addr as Deno.NetAddr).port;
  result.target = hostPort(ln.addr);
  let peer: Conn | undefined;
  // A read on the control connection notices a client that leaves while we wait; whatever it
  // reads after the peer arrived is handed to the relay first (PendingReadConn).
  const first = new Uint8Array(1);
  let watching: Promise<number | null> | undefined;
  const onAbort = () => ln.close();
  opts.signal.addEventListener("abort", onAbort, { once: true });
  try {
    await writeAll(client, boundReply(client, port, opts.publicAddr));
    watching = client.read(first).catch(() => null);
    let clientFirst = false;
    peer = await Promise.race([ln.accept(), watching.then(() => (clientFirst = true, undefined))]);
    if (clientFirst || !peer) throw new ProxyError(`SOCKS5 BIND ${hostPort(ln.addr)}: client went on before a peer`);
    await writeAll(client, peerReply(peer.remoteAddr));
  } catch (err) {
    closeQuietly(peer);
    closeQuietly(client);
    await watching;
    throw err;
  } finally {
    opts.signal.removeEventListener("abort", onAbort);
    ln.close();
  }
  const r = await pipe(new PendingReadConn(client, watching, first), peer, opts.signal);
  result.inBytes = r.aToB;
  result.outBytes = r.bToA;
  if (r.error !== undefined) result.error = r.error;
}

/** A conn whose first read is the result of a read already pending on it. */
class PendingReadConn implements Conn {
  readonly #inner: Conn;
  #pending: Promise<number | null> | null;
  readonly #buf: Uint8Array;

  constructor(inner: Conn, pending: Promise<number | null>, buf: Uint8Array) {
    this.#inner = inner;
    this.#pending = pending;
    this.#buf = buf;
  }
  get localAddr(): Addr {
    return this.#inner.localAddr;
  }
  get remoteAddr(): Addr {
    return this.#inner.remoteAddr;
  }
  async read(p: Uint8Array): Promise<number | null> {
    const pending = this.#pending;
    if (pending === null) return await this.#inner.read(p);
    this.#pending = null;
    const n = await pending;
    if (n === null) return null;
    p.set(this.#buf.subarray(0, n));
    return n;
  }
  write(p: Uint8Array): Promise<number> {
    return this.#inner.write(p);
  }
  closeWrite(): Promise<void> {
    return this.#inner.closeWrite();
  }
  close(): void {
    closeQuietly(this.#inner);
  }
}

/**
 * UDP-TUN: bind a UDP socket (port 0: an association on any port), reply
 * with its address, then run the UDP-tunnel framing until the client ends.
 */
export async function serveUdpTun(
  client: Conn,
  addr: string,
  opts: Socks5BindOptions,
  result: HandleResult,
): Promise<void> {
  let sock: SocketPacketConn;
  try {
    const { host, port } = splitHostPort(addr);
    sock = SocketPacketConn.listen(listenHost(port === 0 ? "" : host), port);
  } catch (err) {
    return await failBind(client, `UDP-TUN ${addr}`, err);
  }
  const local = sock.localAddr as Deno.NetAddr;
  result.target = hostPort(local);
  try {
    await writeAll(client, encodeReply(REP_SUCCEEDED, encodeNetAddr(local)));
  } catch (err) {
    sock.close();
    throw err;
  }
  opts.log.debug(`socks5 udp-tun: ${hostPort(local)}/udp for ${hostPort(client.remoteAddr)}`);
  const stats = await serveUdpTunnel(client, sock, opts.signal);
  result.inBytes = stats.inBytes;
  result.outBytes = stats.outBytes;
  if (stats.error !== undefined) result.error = stats.error;
}
