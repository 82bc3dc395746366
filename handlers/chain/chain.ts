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
import { closeQuietly } from "../../transports/_io/write_all.ts";
import type { Binder, Conn, DialOptions } from "../../transports/types.ts";
import type { Router } from "../types.ts";
import type { Hop } from "./hop.ts";
import type { Node } from "./node.ts";

/** Upper bound for building a whole route (every dial and handshake on it). */
export const ROUTE_TIMEOUT = 30_000;

export class Chain {
  constructor(readonly name: string, readonly hops: Hop[]) {}

  /** Picks one node per hop and connects to `addr` through them. */
  async dial(network: string, addr: string, opts: DialOptions = {}): Promise<Conn> {
    const nodes = this.hops.map((h) => h.select());
    const timeout = AbortSignal.timeout(ROUTE_TIMEOUT);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    return await this.#connectThrough(nodes, nodes.length, network, addr, { ...opts, signal });
  }

  /** The transport conn to `nodes[i]`, handshaken by its connector. */
  async #transport(nodes: Node[], i: number, opts: DialOptions): Promise<Conn> {
    const node = nodes[i];
    const hop = this.hops[i];
    const raw = i === 0 ? netDial : (a: string, o?: DialOptions) => this.#connectThrough(nodes, i, "tcp", a, o ?? opts);
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
    return conn;
  }

  /** Goes through `nodes[0..k-1]` and asks `nodes[k-1]` to connect to `addr`. */
  async #connectThrough(nodes: Node[], k: number, network: string, addr: string, opts: DialOptions): Promise<Conn> {
    const conn = await this.#transport(nodes, k - 1, opts);
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

/** Dials through a chain, or directly when there is none. */
export class ChainRouter implements Router {
  /** Set once reverse tunnels exist: binds on the chain's far end. */
  bind?: Binder;

  constructor(readonly chain?: Chain) {}

  get hasChain(): boolean {
    return this.chain !== undefined && this.chain.hops.length > 0;
  }

  dial(network: string, addr: string, opts: DialOptions = {}): Promise<Conn> {
    if (network !== "tcp") {
      return Promise.reject(new TypeError(`Network "${network}" is not supported yet`));
    }
    if (this.hasChain) return this.chain!.dial(network, addr, opts);
    return netDial(addr, opts);
  }
}
