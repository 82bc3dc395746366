/**
 * Typed registries of components by GOST scheme name. Registration is
 * explicit (`registerBuiltins()`), never an import side effect.
 *
 * @module
 */
import type { DialerFactory, ListenerFactory } from "./types.ts";

/** A name → factory map for one kind of component. */
export class Registry<T> {
  readonly #items = new Map<string, T>();
  constructor(readonly kind: string) {}

  register(name: string, item: T): void {
    this.#items.set(name.toLowerCase(), item);
  }
  get(name: string): T | undefined {
    return this.#items.get(name.toLowerCase());
  }
  has(name: string): boolean {
    return this.#items.has(name.toLowerCase());
  }
  names(): string[] {
    return [...this.#items.keys()].sort();
  }
}

export const listenerRegistry: Registry<ListenerFactory> = new Registry<ListenerFactory>("listener");
export const dialerRegistry: Registry<DialerFactory> = new Registry<DialerFactory>("dialer");
