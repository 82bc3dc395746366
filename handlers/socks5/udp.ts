/**
 * Standard SOCKS5 UDP ASSOCIATE (`socks5.md` §2.6, RFC 1928 §7): a UDP relay
 * socket on the control connection's local IP; datagrams from the client
 * carry `RSV(2) FRAG(1) ATYP ADDR PORT DATA`. Each destination is reached
 * through the handler's router (directly, or through the chain: relay UDP,
 * SOCKS5 UDP-TUN), and its answers come back with the same header naming it.
 * The association ends with the TCP connection.
 *
 * @module
 */
import { formatIPv6, isIPv4, isIPv6, joinHostPort } from "../../transports/addr.ts";
import { closeQuietly, writeAll } from "../../transports/_io/write_all.ts";
import { encodeSocksAddr } from "../../transports/rudp/frame.ts";
import { MAX_DATAGRAM, SocketPacketConn } from "../../transports/udp/packet.ts";
import type { Logger } from "../../transports/log.ts";
import type { Conn } from "../../transports/types.ts";
import type { HandleResult, Router } from "../types.ts";
import {
  ATYP_DOMAIN,
  ATYP_IPV4,
  ATYP_IPV6,
  encodeHostPort,
  encodeNetAddr,
  encodeReply,
  REP_FAILURE,
  REP_SUCCEEDED,
} from "./protocol.ts";

/** Destinations one association may talk to at once; the oldest is dropped beyond this. */
export const MAX_ASSOCIATION_TARGETS = 256;

/** A parsed UDP request header and where its data starts. */
export interface UdpHeader {
  frag: number;
  hostname: string;
  port: number;
  /** Offset of DATA in the datagram. */
  offset: number;
}

/** Parses `RSV(2) FRAG(1) ATYP ADDR PORT`; null when the datagram is too short or the ATYP unknown. */
export function parseUdpHeader(b: Uint8Array): UdpHeader | null {
  if (b.length < 4) return null;
  const atyp = b[3];
  let hostname: string;
  let off: number;
  if (atyp === ATYP_IPV4) {
    if (b.length < 10) return null;
    hostname = `${b[4]}.${b[5]}.${b[6]}.${b[7]}`;
    off = 8;
  } else if (atyp === ATYP_IPV6) {
    if (b.length < 22) return null;
    hostname = formatIPv6(b.subarray(4, 20));
    off = 20;
  } else if (atyp === ATYP_DOMAIN) {
    if (b.length < 5 || b.length < 5 + b[4] + 2) return null;
    hostname = new TextDecoder().decode(b.subarray(5, 5 + b[4]));
    off = 5 + b[4];
  } else {
    return null;
  }
  return { frag: b[2], hostname, port: (b[off] << 8) | b[off + 1], offset: off + 2 };
}

export interface UdpAssociateOptions {
  router: Router;
  /** `publicAddr`: reported instead of the local IP when it is an IP. */
  publicAddr?: string;
  /** Largest datagram read (`udp.bufferSize`). */
  bufferSize: number;
  signal: AbortSignal;
  log: Logger;
}

const unmap = (h: string) => (h.startsWith("::ffff:") && isIPv4(h.slice(7)) ? h.slice(7) : h);

/** Serves one UDP ASSOCIATE until the control connection ends. */
export async function serveUdpAssociate(client: Conn, opts: UdpAssociateOptions, result: HandleResult): Promise<void> {
  const local = client.localAddr as Deno.NetAddr;
  const localIP = "hostname" in local && (isIPv4(unmap(local.hostname)) || isIPv6(local.hostname))
    ? unmap(local.hostname)
    : "0.0.0.0";
  let sock: SocketPacketConn;
  try {
    sock = SocketPacketConn.listen(localIP, 0);
  } catch (err) {
    await writeAll(client, encodeReply(REP_FAILURE)).catch(() => {});
    throw err;
  }
  const bound = sock.localAddr as Deno.NetAddr;
  const pub = opts.publicAddr && (isIPv4(opts.publicAddr) || isIPv6(opts.publicAddr)) ? opts.publicAddr : undefined;
  result.target = joinHostPort(bound.hostname, bound.port);
  try {
    await writeAll(
      client,
      encodeReply(REP_SUCCEEDED, pub ? encodeHostPort(pub, bound.port) : encodeNetAddr(bound)),
    );
  } catch (err) {
    sock.close();
    throw err;
  }

  const clientIP = unmap((client.remoteAddr as Deno.NetAddr).hostname ?? "");
  let replyTo: Deno.NetAddr | undefined;
  const targets = new Map<string, Promise<Conn | null>>();
  const readers = new Set<Promise<void>>();
  let closed = false;
  const end = () => {
    closed = true;
    sock.close();
    closeQuietly(client);
    for (const t of targets.values()) t.then(closeQuietly, () => {});
  };
  const onAbort = () => end();
  opts.signal.addEventListener("abort", onAbort, { once: true });

  /** Answers from one destination go back to the client with that destination in the header. */
  const pump = async (conn: Conn, key: string, head: Uint8Array) => {
    const buf = new Uint8Array(MAX_DATAGRAM);
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null || closed) break;
        if (!replyTo) continue;
        const out = new Uint8Array(3 + head.length + n);
        out.set(head, 3);
        out.set(buf.subarray(0, n), 3 + head.length);
        await sock.writeTo(out, replyTo);
        result.outBytes = (result.outBytes ?? 0) + n;
      }
    } catch {
      // that destination is done
    } finally {
      closeQuietly(conn);
      targets.delete(key);
    }
  };

  const target = (hostname: string, port: number): Promise<Conn | null> => {
    const key = joinHostPort(hostname, port);
    let t = targets.get(key);
    if (t) return t;
    if (targets.size >= MAX_ASSOCIATION_TARGETS) {
      const [oldest, conn] = targets.entries().next().value!;
      targets.delete(oldest);
      conn.then(closeQuietly, () => {});
    }
    t = opts.router.dial("udp", key, { signal: opts.signal }).then((conn) => {
      if (closed) {
        closeQuietly(conn);
        return null;
      }
      const p = pump(conn, key, encodeSocksAddr({ hostname, port }));
      readers.add(p);
      p.finally(() => readers.delete(p));
      return conn;
    }, (err) => {
      opts.log.debug(`socks5 udp: dial ${key} failed: ${err instanceof Error ? err.message : err}`);
      targets.delete(key);
      return null;
    });
    targets.set(key, t);
    return t;
  };

  const relay = (async () => {
    const buf = new Uint8Array(Math.min(Math.max(opts.bufferSize, 512), MAX_DATAGRAM));
    for (;;) {
      const d = await sock.readFrom(buf);
      if (d === null) return;
      // Only the client's own IP may use the relay (GOST HEAD).
      if (clientIP && unmap(d.addr.hostname) !== clientIP) continue;
      const h = parseUdpHeader(buf.subarray(0, d.n));
      if (!h || h.frag !== 0 || h.port === 0) continue; // fragments are not supported (RFC 1928 allows dropping)
      replyTo = d.addr;
      const conn = await target(h.hostname, h.port);
      if (!conn) continue;
      try {
        await conn.write(buf.subarray(h.offset, d.n));
        result.inBytes = (result.inBytes ?? 0) + d.n - h.offset;
      } catch {
        // a failed destination loses this datagram, as UDP would
      }
    }
  })().catch(() => {}).finally(end);

  // The association lives as long as the TCP connection.
  const watch = (async () => {
    const b = new Uint8Array(512);
    try {
      while ((await client.read(b)) !== null) {
        // RFC 1928: nothing is expected here; ignore it
      }
    } catch {
      // gone
    }
  })().finally(end);

  await Promise.all([relay, watch]);
  opts.signal.removeEventListener("abort", onAbort);
  await Promise.all([...targets.values()]);
  while (readers.size) await Promise.all([...readers]);
}
