/**
 * Registration of the pht components (owned by the pht work; see config/builtins.ts).
 *
 * @module
 */
import { dialerRegistry, listenerRegistry } from "../transports/registry.ts";
import { listenPht, listenPhts, phtDialer, phtsDialer } from "../transports/pht/mod.ts";

/** Registers the `pht` and `phts` listeners and dialers. */
export function registerPht(): void {
  listenerRegistry.register("pht", listenPht);
  listenerRegistry.register("phts", listenPhts);
  dialerRegistry.register("pht", phtDialer);
  dialerRegistry.register("phts", phtsDialer);
}
