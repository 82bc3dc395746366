/**
 * Registration of the h2 components (owned by the h2 work; see config/builtins.ts).
 *
 * @module
 */

/** Registers this area's listeners, dialers, handlers and connectors. */
export function registerH2(): void {
  // filled in by the h2 work
}
