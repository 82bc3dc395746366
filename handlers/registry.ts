import { Registry } from "../transports/registry.ts";
import type { ConnectorFactory, HandlerFactory } from "./types.ts";

export const handlerRegistry: Registry<HandlerFactory> = new Registry<HandlerFactory>("handler");
export const connectorRegistry: Registry<ConnectorFactory> = new Registry<ConnectorFactory>("connector");
