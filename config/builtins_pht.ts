/**
 * Registration of the pht components (owned by the pht work; see config/builtins.ts).
 *
 * @module
 */

/** Registers this area's listeners, dialers, handlers and connectors. */
export function registerPht(): void {
  // filled in by the pht work
}
