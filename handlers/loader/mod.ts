/**
 * Loaders: the `file`, `redis` and `http` data sources shared by authers,
 * admissions, bypasses, hosts, limiters and hops, with GOST's text formats
 * and a periodic reloader that keeps the last good data
 * (`access-control.md` §2, §3.3).
 *
 * @module
 */
export { parseLines, splitAuthItem, type TextFormat } from "./lines.ts";
export { DEFAULT_REDIS_KEY, type LoaderSpec, REDIS_TYPES, type RedisType, validateLoaderSpec } from "./spec.ts";
export { type LoadedSources, type LoadOptions, loadSources, MAX_BODY_SIZE } from "./sources.ts";
export { MIN_RELOAD_PERIOD, Reloader, type ReloaderOptions } from "./reloader.ts";
export { DEFAULT_REDIS_TIMEOUT, RedisClient, type RedisConnectOptions, RedisError } from "./redis.ts";
export { RedisErrorReply, RedisProtocolError, type RedisValue } from "./resp.ts";
