export { Chain, ChainError, ChainRouter } from "./chain.ts";
export { Hop } from "./hop.ts";
export type { Node } from "./node.ts";
export { type Selectable, Selector, type SelectorOptions, STRATEGIES } from "./selector.ts";
export { type BindConnector, type BindOptions, canBind } from "./binder.ts";
export { type NameResolver, PolicyRouter, resolveAddr, type RouterPolicy } from "./policy_router.ts";
export type { HopOptions } from "./hop.ts";
