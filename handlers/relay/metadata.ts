/**
 * Typed options of the relay handler and connector, parsed from GOST's
 * metadata keys (`handler/relay/metadata.go`, `connector/relay/metadata.go`).
 *
 * @module
 */
import type { Metadata } from "../../transports/metadata.ts";

/** Time a client has to send its request. @default 15000 */
export const DEFAULT_READ_TIMEOUT = 15_000;

/** Relay handler options. */
export interface RelayHandlerMetadata {
  /** Deadline for reading the request, in ms (`readTimeout`; ≤ 0 means the default). @default 15000 */
  readTimeout: number;
  /** Allow BIND (`bind`). @default false */
  bind: boolean;
  /** Send the OK response at once instead of gluing it to the first target bytes (`nodelay`). @default false */
  nodelay: boolean;
}

/** Relay connector options. */
export interface RelayConnectorMetadata {
  /** Write the request and read the response during connect (`nodelay`). @default false */
  nodelay: boolean;
  /**
   * Deadline in ms for the handshake done during connect (`connectTimeout`);
   * 0 means none. Only `nodelay` connects do I/O during connect. @default 0
   */
  connectTimeout: number;
}

export function parseHandlerMetadata(md: Metadata): RelayHandlerMetadata {
  const readTimeout = md.duration("readTimeout") ?? 0;
  return {
    readTimeout: readTimeout > 0 ? readTimeout : DEFAULT_READ_TIMEOUT,
    bind: md.bool("bind") ?? false,
    nodelay: md.bool("nodelay") ?? false,
  };
}

export function parseConnectorMetadata(md: Metadata): RelayConnectorMetadata {
  const connectTimeout = md.duration("connectTimeout") ?? 0;
  return {
    nodelay: md.bool("nodelay") ?? false,
    connectTimeout: connectTimeout > 0 ? connectTimeout : 0,
  };
}
