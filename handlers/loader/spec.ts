/**
 * Where a loader's data comes from (`file`, `redis`, `http` in GOST's config)
 * and the start-up check of those settings.
 *
 * @module
 */
import { splitHostPort } from "../../transports/addr.ts";

/** Redis key read when the spec names none. @default "gost" */
export const DEFAULT_REDIS_KEY = "gost";

/**
 * How a Redis key is read: `"set"` (SMEMBERS), `"list"` (LRANGE 0 -1),
 * `"hash"` (HGETALL; each field/value pair becomes one item `"field value"`),
 * `"string"` (GET; one item, the whole value).
 */
export type RedisType = "set" | "list" | "hash" | "string";

/** The Redis types a spec may name. */
export const REDIS_TYPES: readonly RedisType[] = ["set", "list", "hash", "string"];

/** GOST's `file`, `redis` and `http` loader settings (durations already in ms). */
export interface LoaderSpec {
  file?: { path: string };
  redis?: {
    /** `host:port`. */
    addr: string;
    /** @default 0 */
    db?: number;
    username?: string;
    password?: string;
    /** @default "gost" */
    key?: string;
    /** One of {@linkcode REDIS_TYPES}; empty = the object's default. */
    type?: string;
  };
  http?: {
    url: string;
    /** Deadline in ms for the whole request; 0 = none, as in GOST. @default 0 */
    timeout?: number;
  };
}

/**
 * Checks a spec at start-up: the file path is non-empty, the Redis address is
 * `host:port`, db a non-negative integer, type one of {@linkcode REDIS_TYPES}
 * when given, the HTTP URL parses as http(s) and the timeout is >= 0.
 * Throws `TypeError` quoting the bad value.
 */
export function validateLoaderSpec(spec: LoaderSpec): void {
  if (spec.file && !spec.file.path) throw new TypeError(`Invalid file loader path ${quote(spec.file.path)}`);
  const redis = spec.redis;
  if (redis) {
    let port: number;
    try {
      port = splitHostPort(redis.addr ?? "").port;
    } catch (e) {
      throw new TypeError(`Invalid redis loader address ${quote(redis.addr)}: want host:port`, { cause: e });
    }
    if (port === 0) throw new TypeError(`Invalid redis loader address ${quote(redis.addr)}: port 0`);
    if (redis.db !== undefined && !(Number.isInteger(redis.db) && redis.db >= 0)) {
      throw new TypeError(`Invalid redis loader db ${quote(redis.db)}: want an integer >= 0`);
    }
    if (redis.type && !(REDIS_TYPES as readonly string[]).includes(redis.type)) {
      throw new TypeError(`Invalid redis loader type "${redis.type}": want one of ${REDIS_TYPES.join(", ")}`);
    }
  }
  const http = spec.http;
  if (http) {
    let url: URL;
    try {
      url = new URL(http.url);
    } catch (e) {
      throw new TypeError(`Invalid http loader URL ${quote(http.url)}`, { cause: e });
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new TypeError(`Invalid http loader URL "${http.url}": scheme must be http or https`);
    }
    if (http.timeout !== undefined && !(http.timeout >= 0)) {
      throw new TypeError(`Invalid http loader timeout ${quote(http.timeout)}: want >= 0`);
    }
  }
}

function quote(v: unknown): string {
  return typeof v === "string" ? JSON.stringify(v) : String(v);
}
