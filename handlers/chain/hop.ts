import type { BypassMatcher } from "../bypass/mod.ts";
import type { Node } from "./node.ts";
import { Selector, type SelectorOptions } from "./selector.ts";

export interface HopOptions {
  /** Targets for which the chain stops before this hop (hop-level `bypass`). */
  bypass?: BypassMatcher;
}

/** One hop of a chain: several interchangeable nodes, load-balanced. */
export class Hop {
  readonly #selector: Selector<Node>;
  readonly #bypass?: BypassMatcher;

  constructor(readonly name: string, nodes: Node[], selector?: SelectorOptions, opts: HopOptions = {}) {
    if (nodes.length === 0) throw new TypeError(`Hop "${name}" has no nodes`);
    this.#selector = new Selector(nodes, selector);
    this.#bypass = opts.bypass;
  }

  get nodes(): readonly Node[] {
    return this.#selector.items;
  }

  /**
   * A node for a request to `addr`, or `undefined` when the hop or every node
   * bypasses it (gost then ends the route before this hop). Failed nodes are
   * avoided but never make a hop empty: dost does not dial around a proxy.
   */
  select(addr?: string): Node | undefined {
    if (addr !== undefined && this.#bypass?.contains(addr)) return undefined;
    const filter = addr === undefined ? undefined : (n: Node) => !n.bypass?.contains(addr);
    return this.#selector.select(filter);
  }
  markFailed(n: Node): void {
    this.#selector.markFailed(n);
  }
  markOk(n: Node): void {
    this.#selector.markOk(n);
  }
}
