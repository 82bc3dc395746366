export { ForwardHandler, forwardHandler, PLACEHOLDER_TARGET } from "./handler.ts";
export { ForwardConnector, forwardConnector } from "./connector.ts";
