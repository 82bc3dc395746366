/**
 * Local port forwarding (GOST `handler/forward/local`, registered as `tcp`,
 * `forward`, and `rtcp`'s per-connection side): every accepted conn is piped
 * raw to a forwarder target, dialled through the handler's chain.
 *
 * @module
 */
import { withDefaultPort } from "../../transports/addr.ts";
import { pipe } from "../../transports/_io/pipe.ts";
import { closeQuietly } from "../../transports/_io/write_all.ts";
import type { Conn } from "../../transports/types.ts";
import type { Handler, HandleResult, HandlerOptions, Target } from "../types.ts";

/** Address dialled when a service has no target (only a forward connector makes sense then). */
export const PLACEHOLDER_TARGET = ":0";

export class ForwardHandler implements Handler {
  constructor(readonly opts: HandlerOptions) {}

  async handle(conn: Conn, signal: AbortSignal): Promise<HandleResult> {
    const fwd = this.opts.forwarder;
    let upstream: Conn | undefined;
    let target = PLACEHOLDER_TARGET;
    let lastErr: unknown;
    // Try each target at most once; failed ones are skipped for failTimeout.
    const attempts = Math.max(1, fwd?.size ?? 1);
    for (let i = 0; i < attempts && !upstream; i++) {
      const t: Target | undefined = fwd?.select();
      target = t ? withDefaultPort(t.addr, 0) : PLACEHOLDER_TARGET;
      try {
        upstream = await this.opts.router.dial(t?.network || "tcp", target, { signal });
        if (t) fwd!.markOk(t);
      } catch (err) {
        lastErr = err;
        if (t) fwd!.markFailed(t);
      }
    }
    if (!upstream) {
      closeQuietly(conn);
      return { target, error: lastErr };
    }
    const r = await pipe(conn, upstream, signal);
    return { target, inBytes: r.aToB, outBytes: r.bToA, error: r.error };
  }
}

export function forwardHandler(opts: HandlerOptions): Handler {
  return new ForwardHandler(opts);
}
