export { AutoHandler, autoHandler } from "./handler.ts";
