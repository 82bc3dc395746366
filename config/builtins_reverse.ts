/**
 * Registration of the reverse components (owned by the reverse work; see config/builtins.ts).
 *
 * @module
 */

/** Registers this area's listeners, dialers, handlers and connectors. */
export function registerReverse(): void {
  // filled in by the reverse work
}
