/**
 * Typed SOCKS4 handler and connector options from GOST metadata keys
 * (`handler/socks/v4/metadata.go`, `connector/socks/v4/metadata.go`).
 *
 * @module
 */
import type { Metadata } from "../../transports/metadata.ts";

/** Time a client gets to send its request. */
export const DEFAULT_READ_TIMEOUT = 15_000;

export interface HandlerMetadata {
  /** Deadline (ms) for the request. @default 15000 */
  readTimeout: number;
}

export function parseHandlerMetadata(md: Metadata): HandlerMetadata {
  const readTimeout = md.duration("readTimeout") ?? 0;
  return { readTimeout: readTimeout > 0 ? readTimeout : DEFAULT_READ_TIMEOUT };
}

export interface ConnectorMetadata {
  /** Deadline (ms) for the request and reply; 0 = none. @default 0 */
  timeout: number;
  /** Resolve names locally and send plain SOCKS4 instead of 4a. @default false */
  disable4a: boolean;
}

export function parseConnectorMetadata(md: Metadata): ConnectorMetadata {
  return {
    timeout: Math.max(md.duration("timeout") ?? 0, 0),
    disable4a: md.bool("disable4a") ?? false,
  };
}
