import { isHttp2RequestConn } from "../../transports/http2/mod.ts";
import type { Addr, Conn, Listener } from "../../transports/types.ts";
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

  async write(p: Uint8Array): Promise<number> {
    const n = await this.#inner.write(p);
    this.#output.inc(n);
    return n;
  }

  closeWrite(): Promise<void> {
    return this.#inner.closeWrite();
  }

  close(): void {
    this.#inner.close();
  }
}

/**
 * Counts reads and writes of a conn that carries more than the Conn
 * interface (the `http2` listener's request conns, which the `http2` handler
 * answers through `respond()`): every other member reaches the conn itself.
 */
function countingProxy(conn: Conn, { input, output }: TransferCounters): Conn {
  const read = async (p: Uint8Array) => {
    const n = await conn.read(p);
    if (n) input.inc(n);
    return n;
  };
  const write = async (p: Uint8Array) => {
    const n = await conn.write(p);
    output.inc(n);
    return n;
  };
  return new Proxy(conn, {
    get(target, key) {
      if (key === "read") return read;
      if (key === "write") return write;
      const v = Reflect.get(target, key, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
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
  if (!m) return ln;
  return {
    get addr() {
      return ln.addr;
    },
    close: () => ln.close(),
    async accept(): Promise<Conn> {
      const conn = await ln.accept();
      const counters = m.accepted(service, addrIP(conn.remoteAddr));
      return isHttp2RequestConn(conn) ? countingProxy(conn, counters) : new MetricsConn(conn, counters);
    },
  };
}
