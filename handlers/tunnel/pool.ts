/**
 * The tunnel server's registry: every tunnel id maps to the connectors
 * (registered client connections, each an smux session) that serve it
 * (x v0.8.1 `handler/tunnel/tunnel.go`). A visitor gets a stream on one of
 * them, chosen by smooth weighted round robin; a connector with weight 255
 * shuts out every lighter one while it lives, as in gost. TCP visitors only
 * get TCP connectors and UDP visitors UDP ones (gost hands out a lone
 * connector whatever its network). A dead session leaves the pool at once.
 *
 * @module
 */
import type { Session } from "../../transports/_mux/mod.ts";
import type { Stream } from "../../transports/_mux/stream.ts";

/** Weight that makes a connector exclusive. */
export const MAX_WEIGHT = 255;
/** Most connectors one tunnel may have; a registration beyond is refused. */
export const MAX_CONNECTORS_PER_TUNNEL = 64;

/** One registered client connection. */
export class TunnelConnector {
  /** Smooth weighted round robin state. */
  current = 0;

  constructor(
    /** The connector id (20 bytes) sent back to the client. */
    readonly id: Uint8Array,
    /** The tunnel id (canonical UUID). */
    readonly tunnel: string,
    readonly udp: boolean,
    /** 1..255; gost's 0 counts as 1. */
    readonly weight: number,
    readonly session: Session,
  ) {}

  get closed(): boolean {
    return this.session.closed;
  }

  /** A new stream to the client; rejects when the session is dead. */
  open(): Promise<Stream> {
    return this.session.open();
  }
}

/** Tunnel id → connectors. */
export class TunnelPool {
  readonly #tunnels = new Map<string, TunnelConnector[]>();

  /** Adds `c`; false when its tunnel already has {@linkcode MAX_CONNECTORS_PER_TUNNEL} live connectors. */
  add(c: TunnelConnector): boolean {
    const list = (this.#tunnels.get(c.tunnel) ?? []).filter((x) => !x.closed);
    if (list.length >= MAX_CONNECTORS_PER_TUNNEL) return false;
    list.push(c);
    this.#tunnels.set(c.tunnel, list);
    return true;
  }

  remove(c: TunnelConnector): void {
    const list = this.#tunnels.get(c.tunnel);
    if (!list) return;
    const rest = list.filter((x) => x !== c && !x.closed);
    if (rest.length) this.#tunnels.set(c.tunnel, rest);
    else this.#tunnels.delete(c.tunnel);
  }

  /** Live connectors of `tunnel` (all networks). */
  count(tunnel: string): number {
    return (this.#tunnels.get(tunnel) ?? []).filter((c) => !c.closed).length;
  }

  /** Tunnel ids with at least one live connector. */
  tunnels(): string[] {
    return [...this.#tunnels.keys()].filter((t) => this.count(t) > 0);
  }

  /** The next connector of `tunnel` for `network` ("tcp" or "udp"), or undefined. */
  next(tunnel: string, network: string): TunnelConnector | undefined {
    const udp = network.startsWith("udp");
    let live = (this.#tunnels.get(tunnel) ?? []).filter((c) => !c.closed && c.udp === udp);
    if (live.length === 0) return undefined;
    if (live.some((c) => c.weight === MAX_WEIGHT)) live = live.filter((c) => c.weight === MAX_WEIGHT);
    if (live.length === 1) return live[0];
    let total = 0;
    let best: TunnelConnector | undefined;
    for (const c of live) {
      c.current += c.weight;
      total += c.weight;
      if (!best || c.current > best.current) best = c;
    }
    best!.current -= total;
    return best;
  }
}
