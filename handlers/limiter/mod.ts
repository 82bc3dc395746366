/**
 * Limiters: how fast and how many. Traffic limiters (`limiters`) throttle a
 * conn's bytes, connection limiters (`climiters`) cap open connections, and
 * request-rate limiters (`rlimiters`) cap handler invocations per second,
 * each per service, per connection or per client IP. They are wrappers:
 * {@linkcode limitListener} around a service's listener and
 * {@linkcode limitHandler} around its handler, so protocol code never asks
 * whether a limit is set.
 *
 * @module
 */
export { parseBase2Bytes } from "./units.ts";
export { TokenBucket } from "./token_bucket.ts";
export {
  parseTrafficLimits,
  TrafficLimiter,
  type TrafficLimiterOptions,
  type TrafficLimits,
  type TrafficRate,
} from "./traffic.ts";
export { ConnLimiter, type ConnLimits, parseConnLimits } from "./conn.ts";
export { parseRateLimits, RateLimiter, type RateLimiterOptions, type RateLimits } from "./rate.ts";
export { limitGate, limitListener, type LimitListenerOptions } from "./listener.ts";
export { limitHandler, RateLimitError } from "./handler.ts";
export type { LimitTable } from "./_table.ts";
