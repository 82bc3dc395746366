/**
 * dost: GOST v3-compatible proxy and tunnel. Flags → config → services;
 * SIGINT/SIGTERM stop accepting, drain open connections, and exit 0.
 *
 * @module
 */
import { BuildError, buildRuntime, type Runtime } from "./config/build.ts";
import { reloadRuntime } from "./config/reload.ts";
import { ConfigError } from "./config/origin.ts";
import { checkLogging, type Logging, openLogging } from "./config/logging.ts";
import type { APIConfig, Config, MetricsConfig } from "./config/schema.ts";
import type { ApiState } from "./ops/api/server.ts";
import type { Metrics } from "./handlers/metrics/mod.ts";
import { joinHostPort, splitHostPort } from "./transports/addr.ts";
import type { Logger } from "./transports/log.ts";
import type { Authenticator } from "./handlers/types.ts";
import { registerBuiltins } from "./config/builtins.ts";
import { CLIError, parseArgs, USAGE } from "./config/cli.ts";
import { loadConfig, validateConfig } from "./config/load.ts";
import { rootLogger } from "./transports/log.ts";
import { parseDuration } from "./transports/metadata.ts";
import { DEFAULT_GRACE_PERIOD } from "./handlers/service.ts";
import { VERSION } from "./version.ts";

const encoder = new TextEncoder();

/** Runs dost with `argv`; resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs(argv);
  } catch (err) {
    if (err instanceof CLIError) {
      console.error(`dost: ${err.message}\n${USAGE}`);
      return 2;
    }
    throw err;
  }
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  if (args.V) {
    console.log(`dost ${VERSION} (deno ${Deno.version.deno} ${Deno.build.os}/${Deno.build.arch})`);
    return 0;
  }

  if (args.O !== undefined && args.O !== "yaml" && args.O !== "json") {
    console.error(`dost: -O "${args.O}": expected yaml or json`);
    return 2;
  }
  const refused = args.rest.length ? `arguments after the flags ("${args.rest.join(" ")}", gost's -- worker mode)` : "";
  if (refused) {
    console.error(`dost: ${refused}: not supported by dost yet`);
    return 2;
  }

  registerBuiltins();
  const log = rootLogger;
  // Warnings (unknown keys, replaced schemes) go out before anything else, once.
  const warn = (message: string) => log.warn(message);
  let cfg: Config;
  try {
    cfg = await loadConfig(args, { warn });
  } catch (err) {
    console.error(`dost: ${(err as Error).message}`);
    return 1;
  }
  if (args.O) {
    const { formatConfig } = await import("./config/output.ts");
    await Deno.stdout.write(encoder.encode(formatConfig(cfg, args.O === "json" ? "json" : "yaml")));
    return 0;
  }

  // The log section takes over from the start-up logger (JSON, info, stderr) before anything is built.
  let logging: Logging;
  try {
    checkLogging(cfg);
    logging = openLogging(cfg);
  } catch (err) {
    console.error(`dost: ${(err as Error).message}`);
    return 1;
  }
  log.sink = logging.root.sink;
  log.format = logging.root.format ?? "json";
  log.level = args.DD ? "trace" : args.D ? "debug" : logging.root.level;

  // Metrics and the API are imported only when a config asks for them.
  const metrics = cfg.metrics?.addr ? new (await import("./handlers/metrics/mod.ts")).Metrics() : undefined;
  // The dashboard shows bytes of open connections as they move.
  const liveStats = Boolean(cfg.api?.addr);
  let runtime: Runtime;
  let metricsServer: { close(): Promise<void> } | undefined;
  try {
    runtime = await buildRuntime(cfg, log, { loggers: logging.named, metrics, liveStats });
    if (metrics) {
      try {
        metricsServer = await startMetrics(cfg.metrics!, metrics, () => runtime, log);
      } catch (err) {
        await runtime.shutdown(0);
        throw err;
      }
    }
  } catch (err) {
    logging.close();
    // An unexpected failure would otherwise show only its message.
    const known = err instanceof ConfigError || err instanceof BuildError;
    console.error(`dost: ${known ? (err as Error).message : String((err as Error).stack ?? err)}`);
    return 1;
  }
  if (runtime.services.length === 0) {
    console.error("dost: no services to run (give -L or a config with services)");
    return 1;
  }

  const grace = parseDuration(Deno.env.get("DOST_SHUTDOWN_GRACE") ?? "") ?? DEFAULT_GRACE_PERIOD;
  const stopped = new Promise<string>((resolve) => {
    for (const sig of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(sig, () => resolve(sig));
  });
  runtime.serve();

  // Changes (SIGHUP, -R, the API) run one at a time; a config that fails any check is rejected whole.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(f: () => Promise<T>): Promise<T> => {
    const p = queue.then(f);
    queue = p.catch(() => {});
    return p;
  };
  const apply = (next: typeof cfg, why: string) =>
    serial(async () => {
      validateConfig(next);
      checkLogging(next);
      const nextLogging = openLogging(next);
      let result;
      try {
        result = await reloadRuntime(runtime, next, log, { loggers: nextLogging.named, metrics, grace, liveStats });
      } catch (err) {
        nextLogging.close();
        throw err;
      }
      runtime = result.runtime;
      cfg = next;
      const previous = logging;
      logging = nextLogging;
      log.sink = logging.root.sink;
      log.format = logging.root.format ?? "json";
      if (!args.D && !args.DD) log.level = logging.root.level;
      Deno.unrefTimer(setTimeout(() => previous.close(), grace));
      log.info("config reloaded", { reason: why, ...result.summary });
    });
  const reloadFromSources = async (why: string) => apply(await loadConfig(args, { warn }), why);
  const reload = (why: string) => {
    reloadFromSources(why).catch((err) =>
      log.error(`config reload (${why}) failed, the running config is kept: ${(err as Error).message}`)
    );
  };
  let apiServer: { close(): Promise<void> } | undefined;
  if (cfg.api?.addr) {
    try {
      apiServer = await startApi(cfg.api, () => runtime, log, {
        config: () => cfg,
        apply: (next) => apply(next, "api"),
        reload: () => reloadFromSources("api"),
        services: () =>
          runtime.records.map((r) => ({
            name: r.service.name,
            addr: r.plan.addr,
            handler: r.plan.types.handler,
            listener: r.plan.types.listener,
            state: r.service.state,
            stats: r.service.stats,
          })),
      });
    } catch (err) {
      console.error(`dost: api: ${(err as Error).message}`);
      await runtime.shutdown(0);
      await metricsServer?.close();
      logging.close();
      return 1;
    }
  }
  const onHup = () => reload("SIGHUP");
  Deno.addSignalListener("SIGHUP", onHup);
  const every = args.R && args.R > 0 ? setInterval(() => reload("-R"), Math.max(args.R, 1000)) : undefined;

  const sig = await stopped;
  Deno.removeSignalListener("SIGHUP", onHup);
  clearInterval(every);
  await queue;
  log.info(`${sig} received: closing listeners, draining connections for up to ${grace / 1000}s`);
  // A second signal during the drain exits at once.
  for (const s of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(s, () => Deno.exit(1));
  await runtime.shutdown(grace);
  await metricsServer?.close();
  await apiServer?.close();
  log.info("stopped");
  logging.close();
  return 0;
}

/** An auther looked up by name on every check, so a reload's new user table applies at once. */
function liveAuther(name: string | undefined, current: () => Runtime): Authenticator | undefined {
  if (!name) return undefined;
  return { authenticate: (u, p) => current().policies.authers.get(name)?.authenticate(u, p) ?? false };
}

/** The Web API (`api:` / `-api`); an address without a host listens on loopback only. */
async function startApi(cfg: APIConfig, current: () => Runtime, log: Logger, state: ApiState) {
  const auther = liveAuther(cfg.auther, current);
  const auth = cfg.auth?.username ? { username: cfg.auth.username, password: cfg.auth.password } : undefined;
  const { serveApi } = await import("./ops/api/server.ts");
  return serveApi({ addr: cfg.addr!, pathPrefix: cfg.pathPrefix, accesslog: cfg.accesslog, auth, auther, state, log });
}

/**
 * The Prometheus endpoint (`metrics:` / `-metrics`): gost's path and auth
 * (`auther` replaces `auth`); an address without a host listens on loopback
 * only, where gost listens on every interface.
 */
async function startMetrics(cfg: MetricsConfig, metrics: Metrics, current: () => Runtime, log: Logger) {
  const { host, port } = splitHostPort(cfg.addr!);
  const addr = joinHostPort(host || "127.0.0.1", port);
  const auther = liveAuther(cfg.auther, current);
  const auth = cfg.auth?.username ? { username: cfg.auth.username, password: cfg.auth.password } : undefined;
  const { serveMetrics } = await import("./ops/metrics_server.ts");
  return await serveMetrics({ addr, path: cfg.path, auth, auther, metrics, log: log.with({ kind: "metrics" }) });
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
