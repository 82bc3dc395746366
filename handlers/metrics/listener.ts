import { hasHttp2RequestBrand } from "../../transports/http2/brand.ts";
import { keepExtras } from "../../transports/_io/keep_extras.ts";
import { closeQuietly } from "../../transports/_io/write_all.ts";
import type { Addr, Conn, Listener } from "../../transports/types.ts";
import { type ConnGate, gatedListener } from "../gate.ts";
import { addrIP } from "../matcher/ip.ts";
import type { Metrics, TransferCounters } from "./metrics.ts";
import type { Counter } from "./registry.ts";

/** A conn whose reads and writes are counted (go-gost/x v0.8.1 `metrics/wrapper/conn.go`). */
export class MetricsConn implements Conn {
  readonly #inner: Conn;
  readonly #input: Counter;
  readonly #output: Counter;

  constructor(inner: Conn, counters: TransferCounters) {
    this.#inner = inner;
    this.#input = counters.input;
    this.#output = counters.output;
  }

  get localAddr(): Addr {
    return this.#inner.localAddr;
  }

  get remoteAddr(): Addr {
    return this.#inner.remoteAddr;
  }

  async read(p: Uint8Array): Promise<number | null> {
    const n = await this.#inner.read(p);
    if (n) this.#input.inc(n);
    return n;
  }

  readReady(p: Uint8Array): number {
    const n = this.#inner.readReady?.(p) ?? 0;
    if (n) this.#input.inc(n);
    return n;
  }

  async write(p: Uint8Array): Promise<number> {
    const n = await this.#inner.write(p);
    this.#output.inc(n);
    return n;
  }

  closeWrite(): Promise<void> {
    return this.#inner.closeWrite();
  }

  close(): void {
    closeQuietly(this.#inner);
  }
}

/**
 * Wraps a service's listener with the per-conn metrics: each accepted conn
 * counts one `gost_service_requests_total` and its reads and writes count
 * `gost_service_transfer_{input,output}_bytes_total`, labelled with the
 * client IP (no port). Apply it outermost, after the admission and limiter
 * wrappers, so refused clients are not counted (gost counts requests after
 * service-level admission; a refused client has sent and received nothing).
 *
 * The bytes are those of the conns this listener hands out: for tcp and
 * udp the socket's, for tls/ws/mux transports the decoded stream's (gost
 * counts the raw socket below TLS and WebSocket framing). Without
 * `m` (metrics off) the listener is returned as it is.
 */
export function metricsListener(ln: Listener, m: Metrics | undefined, service: string): Listener {
  return gatedListener(ln, metricsGate(m, service));
}

/** The same counting as a per-conn gate (it never refuses); `undefined` when metrics are off. */
export function metricsGate(m: Metrics | undefined, service: string): ConnGate | undefined {
  if (!m) return undefined;
  return (conn) => {
    const counters = m.accepted(service, addrIP(conn.remoteAddr));
    const counted = new MetricsConn(conn, counters);
    return hasHttp2RequestBrand(conn) ? keepExtras(conn, counted) : counted;
  };
}
