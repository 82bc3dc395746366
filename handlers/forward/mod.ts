export { ForwardHandler, forwardHandler, PLACEHOLDER_TARGET, udpForwardHandler } from "./handler.ts";
export { ForwardConnector, forwardConnector } from "./connector.ts";
