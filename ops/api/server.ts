/**
 * gost's Web API (`-api`, `api:`; go-gost/x v0.8.1 `api/`): the running
 * config read and changed object by object, saved, and reloaded, with gost's
 * routes, bodies, status codes and error codes (spec operations.md §2), plus
 * dost's live dashboard at the prefix root and its `/stats` feed.
 *
 * Every change builds the whole new config and applies it the way a reload
 * does: checked in full first (a bad object is refused with its reason and
 * nothing changes), other services keep their listeners and connections.
 *
 * @module
 */
import { stringify } from "yaml";
import { joinHostPort } from "../../transports/addr.ts";
import type { Logger } from "../../transports/log.ts";
import type { Authenticator } from "../../handlers/types.ts";
import type { ServiceStats } from "../../handlers/stats.ts";
import { loadParser, parseConfig } from "../../config/load.ts";
import { toOutput } from "../../config/output.ts";
import type { Config } from "../../config/schema.ts";
import { DASHBOARD_HTML } from "../dashboard/page.ts";
import { parseBasicAuth } from "../metrics_server.ts";
import { type Kind, KINDS } from "./kinds.ts";
import { SWAGGER_YAML } from "./swagger.ts";

/** Largest request body accepted. */
export const MAX_BODY = 1 << 20;

/** A running service as the API reports it. */
export interface ServiceView {
  name: string;
  addr: string;
  handler: string;
  listener: string;
  state: string;
  stats: ServiceStats;
}

/** What the API works on: the running config and the ways to change it. */
export interface ApiState {
  config(): Config;
  /** Applies a whole new config (checked in full first). */
  apply(next: Config): Promise<void>;
  /** Re-reads the config sources (as SIGHUP). */
  reload(): Promise<void>;
  services(): ServiceView[];
}

export interface ApiOptions {
  addr: string;
  pathPrefix?: string;
  accesslog?: boolean;
  /** `auth` and `auther` are OR-ed, as in gost. */
  auth?: { username: string; password?: string };
  auther?: Authenticator;
  state: ApiState;
  log: Logger;
  /** Working directory for `POST /config` without `path`. @default Deno.cwd() */
  cwd?: string;
}

const CORS: Record<string, string> = {
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "GET,POST,PUT,DELETE,OPTIONS",
  "access-control-allow-headers": "*",
  "access-control-allow-private-network": "true",
};

class ApiError extends Error {
  constructor(readonly status: number, readonly code: number, message: string) {
    super(message);
  }
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { ...CORS, "content-type": "application/json; charset=utf-8" },
  });
const ok = () => json(200, { msg: "OK" });
const notFound = () =>
  new Response("404 page not found", { status: 404, headers: { ...CORS, "content-type": "text/plain" } });

export async function serveApi(opts: ApiOptions): Promise<{ addr: Deno.NetAddr; close(): Promise<void> }> {
  const prefix = (opts.pathPrefix ?? "").replace(/\/+$/, "");
  const log = opts.log;
  const [hostname, port] = splitAddr(opts.addr);
  const ac = new AbortController();
  let listening!: Deno.NetAddr;
  const ready = Promise.withResolvers<void>();
  const server = Deno.serve({
    hostname,
    port,
    signal: ac.signal,
    onListen: (a) => {
      listening = a as Deno.NetAddr;
      ready.resolve();
    },
    onError: (err) => json(500, { code: 500, msg: (err as Error).message }),
  }, async (req, info) => {
    const t0 = performance.now();
    const res = await route(req, prefix, opts).catch((err) =>
      err instanceof ApiError ? json(err.status, { code: err.code, msg: err.message }) : json(500, {
        code: 500,
        msg: (err as Error).message,
      })
    );
    if (opts.accesslog) {
      const u = new URL(req.url);
      log.info(`| ${res.status} | ${((performance.now() - t0) / 1000).toFixed(6)}s | ${req.method} ${u.pathname}`, {
        method: req.method,
        uri: u.pathname + u.search,
        code: res.status,
        client: (info.remoteAddr as Deno.NetAddr).hostname,
        duration: Math.round((performance.now() - t0) * 1e6),
      });
    }
    return res;
  });
  server.finished.catch(() => {});
  await Promise.race([ready.promise, server.finished.then(() => ready.promise)]);
  log.info(`listening on ${joinHostPort(listening.hostname, listening.port)}`, { service: "@api" });
  return {
    addr: listening,
    async close() {
      ac.abort();
      await server.finished;
    },
  };
}

/** `host:port` with an empty host meaning loopback (gost: every interface). */
function splitAddr(addr: string): [string, number] {
  const i = addr.lastIndexOf(":");
  const host = addr.slice(0, i).replace(/^\[|\]$/g, "");
  return [host || "127.0.0.1", Number(addr.slice(i + 1))];
}

function authorized(req: Request, opts: ApiOptions): boolean {
  if (!opts.auth?.username && !opts.auther) return true;
  // Missing or malformed credentials are checked as empty ones, as Go does.
  const [user, pass] = parseBasicAuth(req.headers.get("authorization")) ?? ["", ""];
  if (opts.auth?.username && user === opts.auth.username && pass === (opts.auth.password ?? "")) return true;
  return opts.auther?.authenticate(user, pass) ?? false;
}

async function route(req: Request, prefix: string, opts: ApiOptions): Promise<Response> {
  const url = new URL(req.url);
  if (req.method === "OPTIONS") return new Response(null, { status: 204, headers: CORS });
  if (prefix && !(url.pathname === prefix || url.pathname.startsWith(prefix + "/"))) return notFound();
  const path = url.pathname.slice(prefix.length) || "/";

  if (path === "/docs/swagger.yaml" && req.method === "GET") {
    return new Response(SWAGGER_YAML, { headers: { ...CORS, "content-type": "application/x-yaml" } });
  }
  if ((path === "/docs" || path === "/docs/") && req.method === "GET") {
    return new Response('<pre><a href="swagger.yaml">swagger.yaml</a>\n</pre>\n', {
      headers: { ...CORS, "content-type": "text/html; charset=utf-8" },
    });
  }
  const dashboard = path === "/" && req.method === "GET";
  const guarded = dashboard || path === "/stats" || path === "/config" || path.startsWith("/config/");
  if (!guarded) return notFound();
  if (!authorized(req, opts)) {
    return new Response(JSON.stringify({ code: 401, msg: "Unauthorized" }), {
      status: 401,
      headers: { ...CORS, "content-type": "application/json; charset=utf-8", "www-authenticate": "Basic" },
    });
  }
  // The dashboard too: with auth set, the browser asks for the API user before the page loads.
  if (dashboard) return new Response(DASHBOARD_HTML, { headers: { "content-type": "text/html; charset=utf-8" } });
  const st = opts.state;
  if (path === "/stats" && req.method === "GET") return json(200, stats(st));
  if (path === "/config") {
    if (req.method === "GET") return getConfig(st, url.searchParams.get("format"));
    if (req.method === "POST") return await saveConfig(st, url, opts.cwd ?? Deno.cwd());
    return notFound();
  }
  if (path === "/config/reload" && req.method === "POST") {
    try {
      await st.reload();
    } catch (err) {
      throw new ApiError(400, 40001, (err as Error).message);
    }
    return ok();
  }
  const m = /^\/config\/([a-z]+)(?:\/([^/]+))?$/.exec(path);
  if (!m || !(KINDS as readonly string[]).includes(m[1])) return notFound();
  const kind = m[1] as Kind;
  const name = m[2] === undefined ? undefined : decodeURIComponent(m[2]);
  const list = () => ((st.config()[kind] ?? []) as { name?: string }[]);
  if (req.method === "GET") {
    if (name === undefined) {
      const items = list().map((o) => output(kind, o));
      return json(200, { data: { count: items.length, list: items.length ? items : null } });
    }
    const found = list().find((o) => o.name === name);
    return json(200, { data: found ? output(kind, found) : null });
  }
  if (req.method === "POST" && name === undefined) {
    const obj = await readObject(req, kind);
    if (!obj.name) throw new ApiError(400, 40001, "object name is required");
    if (list().some((o) => o.name === obj.name)) throw new ApiError(400, 40002, `object ${obj.name} duplicated`);
    await change(st, kind, [...list(), obj], `create ${kind.replace(/s$/, "")} ${obj.name} failed`);
    return ok();
  }
  if (req.method === "PUT" && name !== undefined) {
    const obj = await readObject(req, kind, name);
    const i = list().findIndex((o) => o.name === name);
    if (i < 0) throw new ApiError(400, 40004, `object ${name} not found`);
    const next = [...list()];
    next[i] = obj;
    await change(st, kind, next, `update ${kind.replace(/s$/, "")} ${name} failed`);
    return ok();
  }
  if (req.method === "DELETE" && name !== undefined) {
    if (!list().some((o) => o.name === name)) throw new ApiError(400, 40004, `object ${name} not found`);
    await change(st, kind, list().filter((o) => o.name !== name), `delete ${kind.replace(/s$/, "")} ${name} failed`);
    return ok();
  }
  return notFound();
}

/** Applies the config with `kind` replaced; a refusal is gost's 500 40003 with the reason. */
async function change(st: ApiState, kind: Kind, items: unknown[], what: string): Promise<void> {
  const next: Config = { ...st.config(), [kind]: items.length ? items : undefined };
  try {
    await st.apply(next);
  } catch (err) {
    throw new ApiError(500, 40003, `${what}: ${(err as Error).message}`);
  }
}

/** The body as one object of `kind`, through the same loader as a config file (case-insensitive keys, types checked). */
async function readObject(req: Request, kind: Kind, name?: string): Promise<{ name?: string }> {
  const text = await readBody(req);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new ApiError(400, 40001, `invalid JSON body: ${(err as Error).message}`);
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new ApiError(400, 40001, "the body must be a JSON object");
  }
  if (name !== undefined) {
    const key = Object.keys(body).find((k) => k.toLowerCase() === "name") ?? "name";
    (body as Record<string, unknown>)[key] = name;
  }
  let cfg: Config;
  await loadParser();
  try {
    cfg = parseConfig(JSON.stringify({ [kind]: [body] }), { file: "<api>", format: "json" });
  } catch (err) {
    throw new ApiError(400, 40001, (err as Error).message);
  }
  return ((cfg[kind] ?? [])[0] ?? {}) as { name?: string };
}

async function readBody(req: Request): Promise<string> {
  if (Number(req.headers.get("content-length") ?? 0) > MAX_BODY) throw new ApiError(413, 413, "request body too large");
  const reader = req.body?.getReader();
  if (!reader) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > MAX_BODY) {
      await reader.cancel();
      throw new ApiError(413, 413, "request body too large");
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) all.set(c, (off += c.length) - c.length);
  return new TextDecoder().decode(all);
}

function output(kind: Kind, obj: unknown): unknown {
  return (toOutput({ [kind]: [obj] } as Config) as Record<string, unknown[]>)[kind]?.[0] ?? obj;
}

/** The running config with each service's `status` (gost's read-only field). */
function withStatus(st: ApiState): Record<string, unknown> {
  const out = toOutput(st.config());
  const views = new Map(st.services().map((v) => [v.name, v]));
  for (const s of (out.services ?? []) as Record<string, unknown>[]) {
    const v = views.get(s.name as string);
    if (!v) continue;
    s.status = {
      createTime: v.stats.createTime,
      state: v.state,
      events: v.stats.events.length ? v.stats.events : null,
      stats: v.stats.toJSON(),
    };
  }
  return out;
}

function getConfig(st: ApiState, format: string | null): Response {
  const out = withStatus(st);
  if (format === "yaml") {
    return new Response(stringify(out, { indentSeq: false, lineWidth: 0 }), {
      headers: { ...CORS, "content-type": "text/x-yaml" },
    });
  }
  return new Response(JSON.stringify(out, null, 2), {
    headers: { ...CORS, "content-type": "application/json; charset=utf-8" },
  });
}

/** `POST /config`: the running config to `path`, else gost.json / gost.yaml in the working directory. */
async function saveConfig(st: ApiState, url: URL, cwd: string): Promise<Response> {
  const format = url.searchParams.get("format") === "json" ? "json" : "yaml";
  const path = url.searchParams.get("path") || (format === "json" ? "gost.json" : "gost.yaml");
  const out = toOutput(st.config());
  const text = format === "json"
    ? JSON.stringify(out, null, 2) + "\n"
    : stringify(out, { indentSeq: false, lineWidth: 0 });
  try {
    await Deno.writeTextFile(path.startsWith("/") ? path : `${cwd}/${path}`, text);
  } catch (err) {
    throw new ApiError(500, 40005, `save config failed: ${(err as Error).message}`);
  }
  return ok();
}

function stats(st: ApiState): unknown {
  return {
    time: Date.now(),
    services: st.services().map((v) => ({
      name: v.name,
      addr: v.addr,
      handler: v.handler,
      listener: v.listener,
      state: v.state === "ready" ? "running" : v.state,
      createTime: v.stats.createTime,
      stats: v.stats.toJSON(),
      events: v.stats.events,
    })),
  };
}
