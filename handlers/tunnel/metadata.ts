/**
 * Typed options of the tunnel handler and connector, from gost's metadata
 * keys (x v0.8.1 `handler/tunnel/metadata.go`, `connector/tunnel/metadata.go`).
 * Both ends' smux sessions default to version 2 with a 1 MiB stream window,
 * as gost's tunnel does (relay BIND uses version 1).
 *
 * @module
 */
import type { Metadata } from "../../transports/metadata.ts";
import { type MuxConfig, parseMuxMetadata } from "../../transports/_mux/mod.ts";
import { type IngressRule, parseUuid } from "../ingress/mod.ts";

/** Time a client has to send its request, and an entrypoint client its first bytes. @default 15000 */
export const DEFAULT_READ_TIMEOUT = 15_000;
/** gost's tunnel smux defaults. */
export const TUNNEL_MUX_DEFAULTS: Partial<MuxConfig> = { version: 2, maxStreamBuffer: 1_048_576 };

/** One entrypoint: a TCP address and the ingress that routes what comes in. */
export interface EntrypointSpec {
  addr: string;
  /** Name of an `ingresses:` object; absent: the handler's own ingress. */
  ingress?: string;
}

export interface TunnelHandlerMetadata {
  /** @default 15000 */
  readTimeout: number;
  /** `entrypoint` and `entrypoints[]`, in that order. */
  entrypoints: EntrypointSpec[];
  /** `entrypoint.id`: visitors with this tunnel id are routed by the ingress (an external entrypoint). */
  entrypointId?: Uint8Array;
  /** Time an entrypoint client has to send its request head or ClientHello (`entrypoint.readTimeout`). @default 15000 */
  entrypointReadTimeout: number;
  /** `ingress`: the name of an `ingresses:` object. */
  ingress?: string;
  /** `tunnel=host:id,...`: inline rules, used when `ingress` is not set. */
  rules: IngressRule[];
  /** `tunnel.direct`: a visitor's own tunnel id routes it when no rule does. */
  direct: boolean;
  mux: MuxConfig;
}

export function parseHandlerMetadata(md: Metadata): TunnelHandlerMetadata {
  const rt = md.duration("readTimeout") ?? 0;
  const ert = md.duration("entrypoint.readTimeout") ?? 0;
  md.duration("tunnel.ttl"); // dost drops a dead connector at once; gost sweeps every ttl
  const entrypoints: EntrypointSpec[] = [];
  const ep = md.string("entrypoint");
  if (ep) entrypoints.push({ addr: ep });
  const list = md.get("entrypoints");
  if (list !== undefined) {
    if (!Array.isArray(list)) throw new TypeError(`Invalid entrypoints: want a list of {addr, ingress}`);
    for (const [i, item] of list.entries()) {
      if (item === null || typeof item !== "object") {
        throw new TypeError(`Invalid entrypoints[${i}]: want {addr, ingress}`);
      }
      const o = item as Record<string, unknown>;
      const addr = o.addr ?? o.Addr;
      const ingress = o.ingress ?? o.Ingress;
      if (addr === undefined || addr === "") continue; // as gost
      if (typeof addr !== "string") throw new TypeError(`Invalid entrypoints[${i}].addr: want a string`);
      if (ingress !== undefined && typeof ingress !== "string") {
        throw new TypeError(`Invalid entrypoints[${i}].ingress: want a name`);
      }
      entrypoints.push({ addr, ingress: ingress || undefined });
    }
  }
  const idText = md.string("entrypoint.id");
  const rules: IngressRule[] = [];
  for (const item of (md.string("tunnel") ?? "").split(",")) {
    const s = item.trim();
    if (s === "") continue;
    const i = s.indexOf(":");
    if (i <= 0 || i === s.length - 1) throw new TypeError(`Invalid tunnel rule "${s}": want hostname:tunnel-id`);
    rules.push({ hostname: s.slice(0, i), endpoint: s.slice(i + 1) });
  }
  return {
    readTimeout: rt > 0 ? rt : DEFAULT_READ_TIMEOUT,
    entrypoints,
    entrypointId: idText ? parseUuid(idText) : undefined,
    entrypointReadTimeout: ert > 0 ? ert : DEFAULT_READ_TIMEOUT,
    ingress: md.string("ingress") || undefined,
    rules,
    direct: md.bool("tunnel.direct") ?? false,
    mux: parseMuxMetadata(md, TUNNEL_MUX_DEFAULTS),
  };
}

export interface TunnelConnectorMetadata {
  /** `tunnel.id` / `tunnelID`; a random one when absent (as gost). */
  tunnelId: Uint8Array;
  /** True when the id was generated. */
  generated: boolean;
  /** `tunnel.weight`, 1..255. @default 0 (gost: counts as 1) */
  weight: number;
  /** Handshake deadline (`connectTimeout`), 0 = none. */
  connectTimeout: number;
  mux: MuxConfig;
}

export function parseConnectorMetadata(md: Metadata): TunnelConnectorMetadata {
  const s = md.string("tunnel.id", "tunnelID");
  const weight = md.int("tunnel.weight") ?? 0;
  if (weight < 0 || weight > 255) throw new RangeError(`Invalid tunnel.weight "${weight}": must be 1..255`);
  const id = s ? parseUuid(s) : undefined;
  if (id && id.every((b) => b === 0)) throw new TypeError(`Invalid tunnel.id "${s}": the zero UUID names no tunnel`);
  const ct = md.duration("connectTimeout") ?? 0;
  return {
    tunnelId: id ??
      crypto.getRandomValues(new Uint8Array(16)).map((b, i) =>
        i === 6 ? (b & 0x0f) | 0x40 : i === 8 ? (b & 0x3f) | 0x80 : b
      ),
    generated: !id,
    weight,
    connectTimeout: ct > 0 ? ct : 0,
    mux: parseMuxMetadata(md, TUNNEL_MUX_DEFAULTS),
  };
}
