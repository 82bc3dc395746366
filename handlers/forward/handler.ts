/**
 * Local port forwarding (GOST `handler/forward/local`, registered as `tcp`,
 * `forward`, and `rtcp`'s per-connection side): every accepted conn is piped
 * raw to a forwarder target, dialled through the handler's chain. The `udp`
 * and `rudp` handlers are the same with UDP targets: each pseudo-connection
 * of the UDP listener is relayed datagram by datagram.
 *
 * @module
 */
import { withDefaultPort } from "../../transports/addr.ts";
import { pipe } from "../../transports/_io/pipe.ts";
import { pipeDatagrams } from "../../transports/udp/pipe.ts";
import { closeQuietly } from "../../transports/_io/write_all.ts";
import type { Conn } from "../../transports/types.ts";
import { ForbiddenError, type Handler, type HandleResult, type HandlerOptions, type Target } from "../types.ts";

/** Address dialled when a service has no target (only a forward connector makes sense then). */
export const PLACEHOLDER_TARGET = ":0";

export class ForwardHandler implements Handler {
  /** @param network the targets' network unless a target names its own ("tcp" or "udp") */
  constructor(readonly opts: HandlerOptions, readonly network: "tcp" | "udp" = "tcp") {}

  async handle(conn: Conn, signal: AbortSignal): Promise<HandleResult> {
    const fwd = this.opts.forwarder;
    let upstream: Conn | undefined;
    let target = PLACEHOLDER_TARGET;
    let network: string = this.network;
    let lastErr: unknown;
    // Try each target at most once; failed ones are skipped for failTimeout.
    const attempts = Math.max(1, fwd?.size ?? 1);
    for (let i = 0; i < attempts && !upstream; i++) {
      const t: Target | undefined = fwd?.select();
      target = t ? withDefaultPort(t.addr, 0) : PLACEHOLDER_TARGET;
      try {
        network = t?.network || this.network;
        upstream = await this.opts.router.dial(network, target, { signal });
        if (t) fwd!.markOk(t);
      } catch (err) {
        lastErr = err;
        // A bypassed target is refused, not broken: try the next without marking it.
        if (t && !(err instanceof ForbiddenError)) fwd!.markFailed(t);
      }
    }
    if (!upstream) {
      closeQuietly(conn);
      return { target, error: lastErr };
    }
    const r = network.startsWith("udp")
      ? await pipeDatagrams(conn, upstream, signal)
      : await pipe(conn, upstream, signal);
    return { target, inBytes: r.aToB, outBytes: r.bToA, error: r.error };
  }
}

export function forwardHandler(opts: HandlerOptions): Handler {
  return new ForwardHandler(opts);
}

/** The `udp` / `rudp` handler: forwarding with UDP targets. */
export function udpForwardHandler(opts: HandlerOptions): Handler {
  return new ForwardHandler(opts, "udp");
}
