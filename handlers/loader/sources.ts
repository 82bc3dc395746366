/**
 * Fetching loader items from a file, a Redis key or an HTTP URL
 * (x: `internal/loader/*.go`).
 *
 * @module
 */
import { concat } from "../../transports/_io/write_all.ts";
import { parseLines, type TextFormat } from "./lines.ts";
import { RedisClient, RedisError } from "./redis.ts";
import { DEFAULT_REDIS_KEY, type LoaderSpec, REDIS_TYPES, type RedisType, validateLoaderSpec } from "./spec.ts";

/** Largest file or HTTP body read. @default 16 MiB */
export const MAX_BODY_SIZE = 16 * 1024 * 1024;

export interface LoadOptions {
  /** How a file or HTTP body is split into items. */
  format: TextFormat;
  /** The Redis type read when `spec.redis.type` is empty. */
  redisType: RedisType;
  /** Aborting fails the load and releases its sockets and files. */
  signal?: AbortSignal;
}

/** The items of each configured source; a source not configured is absent. */
export interface LoadedSources {
  file?: string[];
  redis?: string[];
  http?: string[];
}

type SourceName = keyof LoadedSources;

/**
 * Loads every configured source (concurrently) and returns their items in
 * GOST's order of precedence: file, redis, http (later overrides earlier for
 * keyed data). When a source fails, throws an `Error` whose message names it
 * (`file "/x": ...`, `redis 127.0.0.1:6379 key "gost": ...`,
 * `http "http://...": status 404`), with the original as `cause`; when
 * several fail, an `AggregateError` of those.
 */
export async function loadSources(spec: LoaderSpec, opts: LoadOptions): Promise<LoadedSources> {
  const jobs: { name: SourceName; label: string; run: () => Promise<string[]> }[] = [];
  if (spec.file) {
    const file = spec.file;
    jobs.push({ name: "file", label: `file ${JSON.stringify(file.path)}`, run: () => loadFile(file.path, opts) });
  }
  if (spec.redis) {
    const redis = spec.redis;
    const label = `redis ${redis.addr} key ${JSON.stringify(redis.key || DEFAULT_REDIS_KEY)}`;
    jobs.push({ name: "redis", label, run: () => loadRedis(redis, opts) });
  }
  if (spec.http) {
    const http = spec.http;
    jobs.push({ name: "http", label: `http ${JSON.stringify(http.url)}`, run: () => loadHttp(http, opts) });
  }
  const settled = await Promise.allSettled(jobs.map((j) => j.run()));
  const out: LoadedSources = {};
  const errors: Error[] = [];
  settled.forEach((r, i) => {
    const { name, label } = jobs[i];
    if (r.status === "fulfilled") out[name] = r.value;
    else errors.push(new Error(`${label}: ${messageOf(r.reason)}`, { cause: r.reason }));
  });
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, errors.map((e) => e.message).join("; "));
  return out;
}

/** Reads a file (at most {@linkcode MAX_BODY_SIZE} bytes) and splits it per `opts.format`. */
export async function loadFile(path: string, opts: LoadOptions): Promise<string[]> {
  validateLoaderSpec({ file: { path } });
  opts.signal?.throwIfAborted();
  const file = await Deno.open(path, { read: true });
  return parseLines(await readText(file.readable, "File", opts.signal), opts.format);
}

/** Reads one Redis key per its type (`redis.type`, else `opts.redisType`). */
export async function loadRedis(redis: NonNullable<LoaderSpec["redis"]>, opts: LoadOptions): Promise<string[]> {
  validateLoaderSpec({ redis });
  const type = (redis.type || opts.redisType) as RedisType;
  if (!REDIS_TYPES.includes(type)) throw new TypeError(`Invalid redis loader type "${type}"`);
  const key = redis.key || DEFAULT_REDIS_KEY;
  const client = await RedisClient.connect(redis.addr, {
    username: redis.username,
    password: redis.password,
    db: redis.db,
    signal: opts.signal,
  });
  try {
    return await readKey(client, key, type);
  } catch (e) {
    if (e instanceof RedisError && e.code === "WRONGTYPE") {
      const actual = await client.command("TYPE", key).catch(() => null);
      const holds = typeof actual === "string" ? `the key holds a ${actual}` : "the key holds another type";
      throw new RedisError(`${holds}, expected a ${type} (${e.message})`, e.code);
    }
    throw e;
  } finally {
    client.close();
  }
}

async function readKey(client: RedisClient, key: string, type: RedisType): Promise<string[]> {
  switch (type) {
    case "set":
      return strings(await client.command("SMEMBERS", key), "SMEMBERS");
    case "list":
      return strings(await client.command("LRANGE", key, "0", "-1"), "LRANGE");
    case "hash": {
      const flat = strings(await client.command("HGETALL", key), "HGETALL");
      if (flat.length % 2 !== 0) throw new TypeError(`Unexpected reply to HGETALL: odd number of elements`);
      const items: string[] = [];
      for (let i = 0; i < flat.length; i += 2) items.push(`${flat[i]} ${flat[i + 1]}`);
      return items;
    }
    case "string": {
      const v = await client.command("GET", key);
      if (v === null) return [];
      if (typeof v !== "string") throw new TypeError(`Unexpected reply to GET: ${describe(v)}`);
      return [v];
    }
  }
}

function strings(v: unknown, command: string): string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) {
    throw new TypeError(`Unexpected reply to ${command}: ${describe(v)}`);
  }
  return v;
}

function describe(v: unknown): string {
  return Array.isArray(v) ? "an array of other values" : v === null ? "null" : typeof v;
}

/**
 * GETs a URL; status must be 200; the body (at most
 * {@linkcode MAX_BODY_SIZE} bytes) is split per `opts.format`. The timeout
 * covers the whole exchange, body included. One connection per load.
 */
export async function loadHttp(http: NonNullable<LoaderSpec["http"]>, opts: LoadOptions): Promise<string[]> {
  validateLoaderSpec({ http });
  const timeout = http.timeout ?? 0;
  const deadline = timeout > 0 ? AbortSignal.timeout(timeout) : undefined;
  const signals = [opts.signal, deadline].filter((s): s is AbortSignal => s !== undefined);
  const signal = signals.length ? AbortSignal.any(signals) : undefined;
  const client = Deno.createHttpClient({});
  try {
    const res = await fetch(http.url, { client, signal });
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new Error(`status ${res.status}`);
    }
    const length = Number(res.headers.get("content-length") ?? 0);
    if (length > MAX_BODY_SIZE) {
      await res.body?.cancel();
      throw new RangeError(`Body larger than ${MAX_BODY_SIZE} bytes (content-length ${length})`);
    }
    return parseLines(res.body ? await readText(res.body, "Body", signal) : "", opts.format);
  } catch (e) {
    if (deadline?.aborted && !opts.signal?.aborted) {
      throw new Deno.errors.TimedOut(`No complete response within ${timeout} ms`);
    }
    throw e;
  } finally {
    client.close();
  }
}

/** Reads a byte stream as UTF-8, at most {@linkcode MAX_BODY_SIZE} bytes; cancels it on failure. */
async function readText(stream: ReadableStream<Uint8Array>, what: string, signal?: AbortSignal): Promise<string> {
  const reader = stream.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      signal?.throwIfAborted();
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > MAX_BODY_SIZE) throw new RangeError(`${what} larger than ${MAX_BODY_SIZE} bytes`);
      parts.push(value);
    }
  } catch (e) {
    await reader.cancel().catch(() => {});
    throw e;
  } finally {
    reader.releaseLock();
  }
  return new TextDecoder().decode(concat(...parts));
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
