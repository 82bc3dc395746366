/**
 * Options of the `grpc` listener and dialer, parsed from GOST metadata with
 * GOST's key spellings (`grpcInsecure` / `grpc.insecure` / `insecure`,
 * `path` / `grpc.path`, `keepalive` / `grpc.keepalive` / `keepAlive`, and
 * the `keepalive.*` keys, each also `grpc.`-prefixed).
 *
 * Accepted and ignored: `mptcp`, the listener's TCP `keepalive.idle`/
 * `keepalive.interval`/`keepalive.count` keys (HEAD).
 *
 * @module
 */
import type { Metadata } from "../metadata.ts";
import { methodPath } from "./_proto.ts";

/** Calls waiting for `accept()`; beyond it a new call ends at once with status OK. @default 128 */
export const DEFAULT_BACKLOG = 128;
/** Server keepalive: ping a connection idle this long (only with `keepalive=true`). @default 60 s */
export const DEFAULT_SERVER_KEEPALIVE_TIME = 60_000;
/** Client keepalive: ping after this much silence (only with `keepalive=true`). @default 30 s */
export const DEFAULT_CLIENT_KEEPALIVE_TIME = 30_000;
/** Keepalive ping timeout. @default 30 s */
export const DEFAULT_KEEPALIVE_TIMEOUT = 30_000;
/** Server keepalive enforcement with `keepalive=true`: minimum ping interval. @default 30 s */
export const DEFAULT_KEEPALIVE_MIN_TIME = 30_000;
/** grpc-go's built-in enforcement without `keepalive=true`: pings at most every 5 minutes. */
export const DEFAULT_ENFORCEMENT_MIN_TIME = 5 * 60_000;
/** Time to build a connection (grpc-go's `MinConnectTimeout`). @default 30 s */
export const DEFAULT_MIN_CONNECT_TIMEOUT = 30_000;

/** Options of the grpc listener. */
export interface GrpcListenerOptions {
  /** Plaintext HTTP/2 (h2c prior knowledge) instead of TLS. @default false */
  insecure: boolean;
  /** The one method served, e.g. `/GostTunel/Tunnel`. */
  methodPath: string;
  /** @default 128 */
  backlog: number;
  /** Server keepalive on (pings, idle limit, the `minTime` policy). @default false */
  keepalive: boolean;
  /** @default 60000 */
  keepaliveTime: number;
  /** @default 30000 */
  keepaliveTimeout: number;
  /** Minimum client ping interval; 5 minutes without `keepalive`. @default 30000 */
  minTime: number;
  /** Allow client pings without an active call. @default false */
  permitWithoutStream: boolean;
  /** Close a connection without calls after this long; 0 = never. @default 0 */
  maxConnectionIdle: number;
}

/** Options of the grpc dialer. */
export interface GrpcDialerOptions {
  /** Plaintext HTTP/2 (h2c prior knowledge) instead of TLS. @default false */
  insecure: boolean;
  /** `:authority` (a port is stripped); defaults to the node host. */
  authority?: string;
  /** The method called, e.g. `/GostTunel/Tunnel`. */
  methodPath: string;
  /** Client keepalive pings. @default false */
  keepalive: boolean;
  /** @default 30000 */
  keepaliveTime: number;
  /** @default 30000 */
  keepaliveTimeout: number;
  /** Ping while no call is active. @default false */
  permitWithoutStream: boolean;
  /** Time to build a connection. @default 30000 */
  minConnectTimeout: number;
}

function positive(v: number | undefined, fallback: number): number {
  return v !== undefined && v > 0 ? v : fallback;
}

function insecure(md: Metadata): boolean {
  return md.bool("grpcInsecure", "grpc.insecure", "insecure") ?? false;
}

function keepaliveOn(md: Metadata): boolean {
  return md.bool("grpc.keepalive", "keepalive", "keepAlive") ?? false;
}

/** Keys: `grpcInsecure`, `path`, `backlog`, `keepalive`, `keepalive.{time,timeout,minTime,permitWithoutStream,maxConnectionIdle}`. */
export function parseListenerMetadata(md: Metadata): GrpcListenerOptions {
  const keepalive = keepaliveOn(md);
  return {
    insecure: insecure(md),
    methodPath: methodPath(md.string("grpc.path", "path")),
    backlog: positive(md.int("grpc.backlog", "backlog"), DEFAULT_BACKLOG),
    keepalive,
    keepaliveTime: positive(md.duration("grpc.keepalive.time", "keepalive.time"), DEFAULT_SERVER_KEEPALIVE_TIME),
    keepaliveTimeout: positive(md.duration("grpc.keepalive.timeout", "keepalive.timeout"), DEFAULT_KEEPALIVE_TIMEOUT),
    minTime: keepalive
      ? positive(md.duration("grpc.keepalive.minTime", "keepalive.minTime"), DEFAULT_KEEPALIVE_MIN_TIME)
      : DEFAULT_ENFORCEMENT_MIN_TIME,
    permitWithoutStream: keepalive &&
      (md.bool("grpc.keepalive.permitWithoutStream", "keepalive.permitWithoutStream") ?? false),
    maxConnectionIdle: keepalive
      ? md.duration("grpc.keepalive.maxConnectionIdle", "keepalive.maxConnectionIdle") ?? 0
      : 0,
  };
}

/** Keys: `grpcInsecure`, `host` / `grpc.authority` / `grpc.host`, `path`, `keepalive`, `keepalive.*`, `minConnectTimeout`. */
export function parseDialerMetadata(md: Metadata): GrpcDialerOptions {
  return {
    insecure: insecure(md),
    authority: md.string("grpc.authority", "grpc.host", "host") || undefined,
    methodPath: methodPath(md.string("grpc.path", "path")),
    keepalive: keepaliveOn(md),
    keepaliveTime: positive(md.duration("grpc.keepalive.time", "keepalive.time"), DEFAULT_CLIENT_KEEPALIVE_TIME),
    keepaliveTimeout: positive(md.duration("grpc.keepalive.timeout", "keepalive.timeout"), DEFAULT_KEEPALIVE_TIMEOUT),
    permitWithoutStream: md.bool("grpc.keepalive.permitWithoutStream", "keepalive.permitWithoutStream") ?? false,
    minConnectTimeout: positive(
      md.duration("grpc.minConnectTimeout", "minConnectTimeout"),
      DEFAULT_MIN_CONNECT_TIMEOUT,
    ),
  };
}
