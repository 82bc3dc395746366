export { Chain, ChainError, ChainRouter } from "./chain.ts";
export { Hop } from "./hop.ts";
export type { Node } from "./node.ts";
export { Selector, type SelectorOptions } from "./selector.ts";
export { type BindConnector, type BindOptions, canBind } from "./binder.ts";
