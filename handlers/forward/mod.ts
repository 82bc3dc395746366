export { ForwardHandler, forwardHandler, PLACEHOLDER_TARGET, udpForwardHandler } from "./handler.ts";
export { ForwardConnector, forwardConnector } from "./connector.ts";
export { HostSelector, type HostTarget, isHostSelector, normalizeFilter } from "./host_selector.ts";
export { MAX_SNIFF_HEAD, sniff, type Sniffed } from "./sniff.ts";
