/**
 * A chain of hops and the route through it (GOST `chain/route.go`):
 * node 1 is dialled directly; every later node's transport rides inside a
 * CONNECT made by the node before it; the last node's connector connects to
 * the target. Multiplexing dialers call the raw dial only to build a session,
 * so the nodes before them carry just that session.
 *
 * @module
 */
import { netDial } from "../../transports/tcp/dial.ts";
import { TcpListener } from "../../transports/tcp/listener.ts";
import { closeQuietly } from "../../transports/_io/write_all.ts";
import { splitHostPort } from "../../transports/addr.ts";
import { dialUdp } from "../../transports/udp/dial.ts";
import { PacketListener } from "../../transports/udp/listener.ts";
import { SocketPacketConn } from "../../transports/udp/packet.ts";
import type { Conn, DialOptions, Listener, RawDial, RawDialOptions } from "../../transports/types.ts";
import type { ChainMetrics } from "../metrics/mod.ts";
import type { Router } from "../types.ts";
import { type BindOptions, canBind } from "./binder.ts";
import type { Hop } from "./hop.ts";
import type { Node } from "./node.ts";

/** Upper bound for building a whole route (every dial and handshake on it). */
export const ROUTE_TIMEOUT = 30_000;

export class Chain {
  /**
   * @param metrics reports connect failures and the first node's connect
   * time (gost `chain/route.go`); absent when metrics are off
   */
  constructor(readonly name: string, readonly hops: Hop[], readonly metrics?: ChainMetrics) {}

  /** Picks one node per hop and connects to `addr` through them. */
  async dial(network: string, addr: string, opts: DialOptions = {}): Promise<Conn> {
    const nodes = this.route(addr);
    if (nodes.length === 0) return network === "udp" ? dialUdp(addr, opts) : netDial(addr, opts);
    const timeout = AbortSignal.timeout(ROUTE_TIMEOUT);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    return await this.#connectThrough(nodes, nodes.length, network, addr, { ...opts, signal });
  }

  /**
   * One node per hop for a request to `addr`. A hop that bypasses `addr`
   * ends the route before it (gost `chain.Route`): with hop 0 bypassed the
   * target is dialled directly, as a bypass asks.
   */
  route(addr: string): Node[] {
    const nodes: Node[] = [];
    for (const h of this.hops) {
      const n = h.select(addr);
      if (!n) break;
      nodes.push(n);
    }
    return nodes;
  }

  /**
   * Binds `addr` on the far end of the chain (GOST `route.Bind`): connects
   * through every hop but the last, then asks the last node's connector to
   * bind (relay BIND, SOCKS5 MBIND/UDP-TUN). The route timeout covers only
   * the set-up; the listener lives until it is closed or its tunnel dies.
   */
  async bind(network: string, addr: string, opts: BindOptions = {}): Promise<Listener> {
    if (this.hops.length === 0) throw new ChainError(`Chain "${this.name}" has no hops to bind through`);
    const nodes = this.route(addr);
    if (nodes.length < this.hops.length) throw new ChainError(`Bind ${addr}/${network}: empty route (bypassed)`);
    const last = nodes.length - 1;
    const node = nodes[last];
    if (!canBind(node.connector)) {
      throw new ChainError(`Bind ${addr}/${network} via ${node.name} (${node.addr}) failed: its connector cannot bind`);
    }
    const timeout = AbortSignal.timeout(ROUTE_TIMEOUT);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    const conn = await this.#connect(nodes, last, { signal });
    try {
      const ln = await node.connector.bind(conn, network, addr, { ...opts, signal });
      this.hops[last].markOk(node);
      return ln;
    } catch (err) {
      closeQuietly(conn);
      throw new ChainError(`Bind ${addr}/${network} via ${node.name} (${node.addr}) failed: ${errMessage(err)}`, {
        cause: err,
      });
    }
  }

  /**
   * The route's connect phase (gost `route.connect`): the transport conn to
   * the last node, `nodes[last]`. A failure anywhere on the way counts as a
   * chain error of the route's first node.
   */
  async #connect(nodes: Node[], last: number, opts: DialOptions): Promise<Conn> {
    if (!this.metrics) return await this.#transport(nodes, last, opts);
    try {
      return await this.#transport(nodes, last, opts);
    } catch (err) {
      this.metrics.connectError(this.name, nodes[0].name);
      throw err;
    }
  }

  /** The transport conn to `nodes[i]`, handshaken by its connector. */
  async #transport(nodes: Node[], i: number, opts: DialOptions): Promise<Conn> {
    const node = nodes[i];
    // gost times the first node's dial and handshake (here its name resolution, done inside the dial, too).
    const start = i === 0 && this.metrics ? performance.now() : undefined;
    const hop = this.hops[i];
    const via: RawDial = i === 0
      ? directDial
      // `network` is for the last connect only: the hops before it are dialled as usual.
      : (a: string, o?: RawDialOptions) =>
        this.#connectThrough(nodes, i, o?.network ?? "tcp", a, { ...opts, signal: o?.signal ?? opts.signal });
    const resolve = node.resolve;
    // Not `direct`: a dialer that would connect on its own must go through `raw` to honour the node's resolver.
    const raw: RawDial = resolve
      ? async (a: string, o?: RawDialOptions) => via(await resolve(a, (o ?? opts).signal), o)
      : via;
    let conn: Conn;
    try {
      conn = await node.dialer.dial(node.addr, raw, opts);
    } catch (err) {
      hop.markFailed(node);
      throw new ChainError(`Dial ${node.name} (${node.addr}) failed: ${errMessage(err)}`, { cause: err });
    }
    if (node.connector.handshake) {
      try {
        conn = await node.connector.handshake(conn, opts);
      } catch (err) {
        closeQuietly(conn);
        hop.markFailed(node);
        throw new ChainError(`Handshake with ${node.name} (${node.addr}) failed: ${errMessage(err)}`, { cause: err });
      }
    }
    if (start !== undefined) this.metrics!.nodeConnected(this.name, node.name, (performance.now() - start) / 1000);
    return conn;
  }

  /**
   * Goes through `nodes[0..k-1]` and asks `nodes[k-1]` to connect to `addr`.
   * With `k` = the whole route this is a dial (connect phase, then the target);
   * a smaller `k` is a raw dial for a later node, inside the connect phase.
   */
  async #connectThrough(nodes: Node[], k: number, network: string, addr: string, opts: DialOptions): Promise<Conn> {
    const conn = k === nodes.length
      ? await this.#connect(nodes, k - 1, opts)
      : await this.#transport(nodes, k - 1, opts);
    const node = nodes[k - 1];
    try {
      const out = await node.connector.connect(conn, network, addr, opts);
      this.hops[k - 1].markOk(node);
      return out;
    } catch (err) {
      closeQuietly(conn);
      throw new ChainError(`Connect to ${addr} via ${node.name} (${node.addr}) failed: ${errMessage(err)}`, {
        cause: err,
      });
    }
  }
}

/** The first hop's raw dial: a TCP connect, or a UDP socket when asked for datagrams. */
const directDial: RawDial = Object.assign(
  (addr: string, o?: RawDialOptions): Promise<Conn> => o?.network === "udp" ? dialUdp(addr, o) : netDial(addr, o),
  { direct: true },
);

/** Raised when a chain cannot reach a node or its target. */
export class ChainError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ChainError";
  }
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Dials (and binds) through a chain, or directly when there is none. */
export class ChainRouter implements Router {
  constructor(readonly chain?: Chain) {}

  get hasChain(): boolean {
    return this.chain !== undefined && this.chain.hops.length > 0;
  }

  /**
   * Connects to `addr` over "tcp" or "udp". A direct UDP dial is a socket
   * that talks to `addr` only; through a chain the last connector carries
   * the datagrams (relay UDP, SOCKS5 UDP-TUN).
   */
  dial(network: string, addr: string, opts: DialOptions = {}): Promise<Conn> {
    const net = baseNetwork(network);
    if (net === undefined) return Promise.reject(new TypeError(`Network "${network}" is not supported`));
    if (this.hasChain) return this.chain!.dial(net, addr, opts);
    return net === "udp" ? dialUdp(addr, opts) : netDial(addr, opts);
  }

  /**
   * Binds `addr` on the chain's far end; without a chain, listens locally
   * (a TCP listener, or a UDP pseudo-connection listener), as GOST's
   * `rtcp`/`rudp` do without `-F`.
   */
  bind(network: string, addr: string, opts: BindOptions = {}): Promise<Listener> {
    const net = baseNetwork(network);
    if (net === undefined) return Promise.reject(new TypeError(`Network "${network}" cannot be bound`));
    if (this.hasChain) return this.chain!.bind(net, addr, opts);
    try {
      if (net === "tcp") return Promise.resolve(TcpListener.listen(addr));
      const { host, port } = splitHostPort(addr);
      return Promise.resolve(new PacketListener(SocketPacketConn.listen(host || "0.0.0.0", port), opts.udp));
    } catch (err) {
      return Promise.reject(err);
    }
  }
}

/** "tcp" or "udp" for a Go network name (`tcp4`, `udp6`, …); undefined otherwise. */
function baseNetwork(network: string): "tcp" | "udp" | undefined {
  if (network === "tcp" || network === "tcp4" || network === "tcp6") return "tcp";
  if (network === "udp" || network === "udp4" || network === "udp6") return "udp";
  return undefined;
}
