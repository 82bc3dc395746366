export { HttpHandler, httpHandler } from "./handler.ts";
export { HttpConnector, httpConnector } from "./connector.ts";
