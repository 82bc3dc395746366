import type { Conn } from "../../transports/types.ts";
import { addrIP } from "../matcher/ip.ts";
import type { Handler, HandleResult } from "../types.ts";
import type { Metrics } from "./metrics.ts";

/**
 * Wraps a service's handler with the per-request metrics of gost's service
 * loop (go-gost/x v0.8.1 `service/service.go`): `gost_service_requests_in_flight`
 * +1 while `handle()` runs, `gost_service_request_duration_seconds` observed
 * when it ends (the whole connection's life), and
 * `gost_service_handler_errors_total` +1 when the result carries an error.
 *
 * Every error counts, a benign close (EOF, reset) included, as gost counts
 * whatever its handler returns. Relays already drop benign closes from their
 * result (`pipe()`), as gost's handlers ignore the relay's error, so what
 * remains is the handshake, auth, bypass, rate-limit and dial failures gost
 * counts. Apply it outside the request-rate limiter, whose refusals gost
 * counts as handler errors. Without `m` (metrics off) the handler is
 * returned as it is.
 */
export function metricsHandler(h: Handler, m: Metrics | undefined, service: string): Handler {
  if (!m) return h;
  return {
    async handle(conn: Conn, signal: AbortSignal): Promise<HandleResult> {
      const done = m.requestStarted(service, addrIP(conn.remoteAddr));
      let failed = true;
      try {
        const r = await h.handle(conn, signal);
        failed = r.error !== undefined && r.error !== null;
        return r;
      } finally {
        done(failed);
      }
    },
  };
}
