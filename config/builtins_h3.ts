/**
 * Registration of the h3 components (owned by the h3 work; see config/builtins.ts).
 *
 * @module
 */

/** Registers this area's listeners, dialers, handlers and connectors. */
export function registerH3(): void {
  // filled in by the h3 work
}
