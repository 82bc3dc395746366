import type { Logger } from "../../transports/log.ts";
import { closeQuietly } from "../../transports/_io/write_all.ts";
import { keepExtras } from "../../transports/_io/keep_extras.ts";
import { hasHttp2RequestBrand } from "../../transports/http2/brand.ts";
import type { Listener } from "../../transports/types.ts";
import { type ConnGate, gatedListener } from "../gate.ts";
import { addrIP } from "../matcher/ip.ts";
import { onClose } from "./_on_close.ts";
import type { ConnLimiter } from "./conn.ts";
import type { TrafficLimiter } from "./traffic.ts";

/** The limiters of one service's listener. */
export interface LimitListenerOptions {
  /** The service's `climiter`. */
  conn?: ConnLimiter;
  /** The service's `limiter`. */
  traffic?: TrafficLimiter;
  /** Where refusals are logged (debug). */
  log?: Logger;
}

/**
 * Wraps a service's listener with its connection and traffic limiters
 * (go-gost/x v0.8.1 `limiter/conn/wrapper/listener.go`,
 * `limiter/traffic/wrapper/listener.go`): a client over its connection
 * limit is closed at once, before any byte is read or written, and the next
 * connection is accepted; an admitted conn is counted until it is closed,
 * and its reads and writes are throttled by the traffic limiter.
 */
export function limitListener(ln: Listener, opts: LimitListenerOptions): Listener {
  return gatedListener(ln, limitGate(opts));
}

/** The same limits as a per-conn gate; `undefined` when neither limiter is set. */
export function limitGate(opts: LimitListenerOptions): ConnGate | undefined {
  const { conn: climiter, traffic, log } = opts;
  if (!climiter && !traffic) return undefined;
  return (raw) => {
    let conn = raw;
    if (climiter) {
      const ip = addrIP(conn.remoteAddr);
      const release = climiter.acquire(ip);
      if (!release) {
        log?.debug(`climiter: ${ip || "client"} over the connection limit, closed`);
        closeQuietly(conn);
        return undefined;
      }
      conn = onClose(conn, release);
    }
    if (traffic) conn = traffic.wrap(conn);
    return hasHttp2RequestBrand(raw) ? keepExtras(raw, conn) : conn;
  };
}
