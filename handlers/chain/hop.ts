import type { Node } from "./node.ts";
import { Selector, type SelectorOptions } from "./selector.ts";

/** One hop of a chain: several interchangeable nodes, load-balanced. */
export class Hop {
  readonly #selector: Selector<Node>;

  constructor(readonly name: string, nodes: Node[], selector?: SelectorOptions) {
    if (nodes.length === 0) throw new TypeError(`Hop "${name}" has no nodes`);
    this.#selector = new Selector(nodes, selector);
  }

  get nodes(): readonly Node[] {
    return this.#selector.items;
  }

  select(): Node {
    return this.#selector.select()!;
  }
  markFailed(n: Node): void {
    this.#selector.markFailed(n);
  }
  markOk(n: Node): void {
    this.#selector.markOk(n);
  }
}
