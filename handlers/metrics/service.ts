import type { Metrics } from "./metrics.ts";

/**
 * Counts a service in `gost_services` when its accept loop starts; call the
 * returned function when the loop ends. Unlike gost, services started at
 * boot are counted too (gost enables metrics after their loops start).
 * Without `m` (metrics off) nothing is counted.
 */
export function serviceStarted(m: Metrics | undefined): () => void {
  return m ? m.serviceUp() : () => {};
}
