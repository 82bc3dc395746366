/**
 * Direct UDP "dialing": a socket on an ephemeral port that sends every write
 * to one target and reads only that target's datagrams (Go's connected UDP).
 *
 * @module
 */
import { isIPv4, isIPv6, splitHostPort } from "../addr.ts";
import { closeQuietly } from "../_io/write_all.ts";
import { type Addr, ClosedError, type Conn, type Dialer, type DialOptions, type RawDial } from "../types.ts";
import { peerKey } from "./packet.ts";

/** Resolves a host name to its first address (A first, then AAAA); IP literals pass through. */
export async function resolveHost(host: string, signal?: AbortSignal): Promise<string> {
  if (host === "") return "127.0.0.1";
  if (host === "localhost") return "127.0.0.1";
  if (isIPv4(host) || isIPv6(host)) return host;
  for (const type of ["A", "AAAA"] as const) {
    try {
      const got = await Deno.resolveDns(host, type, { signal });
      if (got.length) return got[0];
    } catch (err) {
      if (signal?.aborted) throw err;
    }
  }
  throw new Deno.errors.NotFound(`Cannot resolve host "${host}"`);
}

/** A UDP socket bound to an ephemeral port that talks to one peer. */
export class UdpConn implements Conn {
  readonly #sock: Deno.DatagramConn;
  readonly #peer: Deno.NetAddr;
  readonly #key: string;
  #closed = false;

  constructor(sock: Deno.DatagramConn, peer: Deno.NetAddr) {
    this.#sock = sock;
    this.#peer = peer;
    this.#key = peerKey(peer);
  }

  get localAddr(): Addr {
    return this.#sock.addr;
  }
  get remoteAddr(): Addr {
    return this.#peer;
  }

  /** Reads the next datagram from the peer (others are dropped); null once closed. */
  async read(p: Uint8Array): Promise<number | null> {
    for (;;) {
      if (this.#closed) return null;
      try {
        const [data, from] = await this.#sock.receive(p);
        if (peerKey(from as Deno.NetAddr) === this.#key) return data.length;
      } catch (err) {
        if (this.#closed || err instanceof Deno.errors.BadResource || err instanceof Deno.errors.Interrupted) {
          return null;
        }
        if (err instanceof Deno.errors.ConnectionRefused) continue; // ICMP port unreachable from an earlier send
        throw err;
      }
    }
  }

  async write(p: Uint8Array): Promise<number> {
    if (this.#closed) throw new ClosedError("UDP connection closed");
    return await this.#sock.send(p, this.#peer);
  }

  closeWrite(): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeQuietly(this.#sock);
  }
}

/** Opens a UDP "connection" to `addr` (`host:port`; an empty host is the local host). */
export async function dialUdp(addr: string, opts: DialOptions = {}): Promise<UdpConn> {
  const { host, port } = splitHostPort(addr);
  if (port === 0) throw new TypeError(`Cannot dial UDP address "${addr}": port 0`);
  const ip = await resolveHost(host, opts.signal);
  opts.signal?.throwIfAborted();
  const sock = Deno.listenDatagram({ hostname: ip.includes(":") ? "::" : "0.0.0.0", port: 0, transport: "udp" });
  return new UdpConn(sock, { transport: "udp", hostname: ip, port });
}

/** The `udp` dialer: a datagram "connection" straight to the node (only sensible as the first hop). */
export class UdpDialer implements Dialer {
  dial(addr: string, _raw: RawDial, opts?: DialOptions): Promise<Conn> {
    return dialUdp(addr, opts);
  }
}

export function udpDialer(): Dialer {
  return new UdpDialer();
}
