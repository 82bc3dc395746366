import type { Metadata } from "../../transports/metadata.ts";

/** `Proxy-Agent` value GOST sends. */
export const DEFAULT_PROXY_AGENT = "gost/3.0";
/** Realm of the 407 challenge. */
export const DEFAULT_REALM = "gost";
/** How long a client may take to send its request head. */
export const DEFAULT_READ_TIMEOUT = 15_000;

export interface HttpHandlerOptions {
  /** @default "gost/3.0" */
  proxyAgent: string;
  /** @default "gost" */
  realm: string;
  /** Extra response headers (YAML `header` map). */
  header: Record<string, string>;
  /** Allow UDP-over-HTTP (`X-Gost-Protocol: udp`). @default false */
  udp: boolean;
  /** Probe resistance `type:value` (only `code` is honoured yet). */
  probeResist?: { type: string; value: string };
  knock?: string;
  /** @default 15000 */
  readTimeout: number;
}

export function parseHandlerMetadata(md: Metadata): HttpHandlerOptions {
  const pr = md.string("probeResist", "probe_resist");
  let probeResist: HttpHandlerOptions["probeResist"];
  if (pr) {
    const i = pr.indexOf(":");
    probeResist = i < 0 ? { type: pr, value: "" } : { type: pr.slice(0, i), value: pr.slice(i + 1) };
  }
  return {
    proxyAgent: md.string("http.proxyAgent", "proxyAgent") ?? DEFAULT_PROXY_AGENT,
    realm: md.string("authBasicRealm") ?? DEFAULT_REALM,
    header: md.map("http.header", "header") ?? {},
    udp: md.bool("udp") ?? false,
    probeResist,
    knock: md.string("knock"),
    readTimeout: md.duration("readTimeout") ?? DEFAULT_READ_TIMEOUT,
  };
}

export interface HttpConnectorOptions {
  header: Record<string, string>;
  /** Deadline for the CONNECT exchange, ms (0 = none). */
  timeout: number;
}

export function parseConnectorMetadata(md: Metadata): HttpConnectorOptions {
  return { header: md.map("header") ?? {}, timeout: md.duration("timeout") ?? 0 };
}
