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
import { BufferedConn } from "../../transports/_io/buffered_conn.ts";
import { writeAll } from "../../transports/_io/write_all.ts";
import { malformedRequestResponse } from "../../transports/_ws/http_head.ts";
import {
  ForbiddenError,
  type Handler,
  type HandleResult,
  type HandlerOptions,
  ProxyError,
  type Target,
} from "../types.ts";
import { isHostSelector } from "./host_selector.ts";
import { sniff } from "./sniff.ts";

/** Time a sniffing forwarder waits for the bytes that name the host. @default 15000 */
export const DEFAULT_SNIFF_TIMEOUT = 15_000;

function gatewayError(status: number, why: string): string {
  const text = status === 403 ? "Forbidden" : status === 502 ? "Bad Gateway" : "Service Unavailable";
  const body = `${status} ${text}: ${why}\n`;
  return `HTTP/1.1 ${status} ${text}\r\nContent-Type: text/plain; charset=utf-8\r\n` +
    `Content-Length: ${new TextEncoder().encode(body).length}\r\nConnection: close\r\n\r\n${body}`;
}

async function answer(conn: Conn, text: string): Promise<void> {
  try {
    await writeAll(conn, new TextEncoder().encode(text));
  } catch {
    // the client left
  }
}

/** Address dialled when a service has no target (only a forward connector makes sense then). */
export const PLACEHOLDER_TARGET = ":0";

export class ForwardHandler implements Handler {
  /** @param network the targets' network unless a target names its own ("tcp" or "udp") */
  constructor(readonly opts: HandlerOptions, readonly network: "tcp" | "udp" = "tcp") {
    this.#sniffing = network === "tcp" && (opts.metadata.bool("sniffing") ?? false);
    const t = opts.metadata.duration("sniffing.timeout") ?? 0;
    this.#sniffTimeout = t > 0 ? t : DEFAULT_SNIFF_TIMEOUT;
  }

  /**
   * The sniffing forwarder (x v0.8.1 `handler/forward/local` with
   * `sniffing=true`): the host of the first HTTP request or of the TLS
   * ClientHello picks the target among the forwarder's nodes by their host
   * filters (`host`, `filter.host`); without a forwarder the host itself is
   * dialled through the chain (gost's external-entrypoint form). Nothing is
   * terminated: the bytes read go first, then the rest of the stream.
   */
  async #sniffed(conn: Conn, signal: AbortSignal): Promise<HandleResult> {
    const bc = new BufferedConn(conn);
    let upstream: Conn | undefined;
    try {
      const s = await sniff(bc, conn, this.#sniffTimeout, signal);
      // Neither HTTP nor TLS: forwarded as without sniffing (bytes peeked, not consumed).
      if (!s.proto) return await this.#plain(bc, signal);
      if (s.status) {
        await answer(conn, malformedRequestResponse(s.status));
        return { error: new ProxyError(`Sniffed HTTP request refused with ${s.status}`) };
      }
      const fwd = this.opts.forwarder;
      let t: Target | undefined;
      if (s.host && isHostSelector(fwd)) t = fwd.selectFor(s.host);
      else if (fwd) t = fwd.select();
      const port = s.proto === "tls" ? 443 : s.proto === "http" ? 80 : 0;
      const target = t ? withDefaultPort(t.addr, port) : s.host ?? PLACEHOLDER_TARGET;
      if (!t && (fwd?.size || !s.host)) {
        if (s.proto === "http") await answer(conn, gatewayError(502, `no target for host "${s.host ?? ""}"`));
        return { target: s.host, error: new ProxyError(`No forward target for host "${s.host ?? ""}"`) };
      }
      try {
        upstream = await this.opts.router.dial(t?.network || "tcp", target, { signal });
        if (t) fwd!.markOk(t);
      } catch (err) {
        if (t && !(err instanceof ForbiddenError)) fwd!.markFailed(t);
        if (s.proto === "http") {
          const code = err instanceof ForbiddenError ? 403 : 503;
          await answer(conn, gatewayError(code, `cannot reach ${target}`));
        }
        return { target, error: err };
      }
      if (s.head.length) await writeAll(upstream, s.head);
      const r = await pipe(bc, upstream, signal);
      return { target, inBytes: s.head.length + r.aToB, outBytes: r.bToA, error: r.error, fields: { host: s.host } };
    } catch (err) {
      closeQuietly(upstream);
      return { error: err };
    } finally {
      closeQuietly(conn);
    }
  }

  /** `sniffing`: pick the target by the HTTP Host or TLS SNI the client sends (TCP only). */
  readonly #sniffing: boolean;
  /** `sniffing.timeout`: time for the bytes that name the host. */
  readonly #sniffTimeout: number;

  async handle(conn: Conn, signal: AbortSignal): Promise<HandleResult> {
    if (this.#sniffing) return await this.#sniffed(conn, signal);
    return await this.#plain(conn, signal);
  }

  async #plain(conn: Conn, signal: AbortSignal): Promise<HandleResult> {
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
