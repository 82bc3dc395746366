import { closeQuietly } from "../../transports/_io/write_all.ts";
import type { Conn } from "../../transports/types.ts";
import type { Handler, HandleResult } from "../types.ts";
import { addrIP } from "../matcher/ip.ts";
import type { RateLimiter } from "./rate.ts";

/** Raised (as a {@linkcode HandleResult} error) when a request-rate limiter refuses a client. */
export class RateLimitError extends Error {
  constructor() {
    // gost's wording, which its log lines show.
    super("rate limit");
    this.name = "RateLimitError";
  }
}

/**
 * Wraps a handler with a service's request-rate limiter: each `handle()`
 * (each accepted connection, or each stream of a multiplexed one) takes one
 * token keyed by the client IP; a refused client is closed without a byte
 * and the result carries {@linkcode RateLimitError} (gost: handlers'
 * `checkRateLimit`).
 */
export function limitHandler(h: Handler, rate: RateLimiter): Handler {
  return {
    handle(conn: Conn, signal: AbortSignal): Promise<HandleResult> {
      if (rate.allow(addrIP(conn.remoteAddr))) return h.handle(conn, signal);
      closeQuietly(conn);
      return Promise.resolve({ error: new RateLimitError() });
    },
  };
}
