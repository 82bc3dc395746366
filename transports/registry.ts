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
  readonly #lazy = new Map<string, () => Promise<T>>();
  constructor(readonly kind: string) {}

  register(name: string, item: T): void {
    this.#items.set(name.toLowerCase(), item);
  }
  /**
   * Registers a component whose code is imported only when a config uses it
   * (`load()`), so that start-up pays only for what runs.
   */
  registerLazy(name: string, load: () => Promise<T>): void {
    this.#lazy.set(name.toLowerCase(), load);
  }
  /** Imports a lazily registered component; resolves to whether `name` is known. */
  async load(name: string): Promise<boolean> {
    const key = name.toLowerCase();
    if (this.#items.has(key)) return true;
    const load = this.#lazy.get(key);
    if (!load) return false;
    this.#items.set(key, await load());
    return true;
  }
  /** The factory, once registered or loaded. */
  get(name: string): T | undefined {
    return this.#items.get(name.toLowerCase());
  }
  has(name: string): boolean {
    return this.#items.has(name.toLowerCase()) || this.#lazy.has(name.toLowerCase());
  }
  names(): string[] {
    return [...new Set([...this.#items.keys(), ...this.#lazy.keys()])].sort();
  }
}

export const listenerRegistry: Registry<ListenerFactory> = new Registry<ListenerFactory>("listener");
export const dialerRegistry: Registry<DialerFactory> = new Registry<DialerFactory>("dialer");
