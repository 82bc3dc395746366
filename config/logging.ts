/**
 * The `log` section and named `loggers`: level, format (json, text) and
 * output (stderr, stdout, none, a file with optional rotation). A service
 * with `logger`/`loggers` writes to those (each line gets `logger: <name>`),
 * others to the global log.
 *
 * @module
 */
import { isLogLevel, type LogTarget } from "../transports/log.ts";
import { openLogOutput } from "../transports/log_file.ts";
import { errorAt } from "./origin.ts";
import type { Config, LogConfig } from "./schema.ts";

/**
 * Checks levels and formats (gost turns a typo into `info` or JSON; dost
 * says so at start).
 *
 * @throws {ConfigError}
 */
export function checkLogging(cfg: Config): void {
  const one = (log: LogConfig | undefined) => {
    if (!log) return;
    if (log.level && !isLogLevel(log.level)) {
      throw errorAt(log, "level", `unknown level "${log.level}" (trace, debug, info, warn, error, fatal)`);
    }
    if (log.format && log.format !== "json" && log.format !== "text") {
      throw errorAt(log, "format", `unknown format "${log.format}" (json, text)`);
    }
  };
  one(cfg.log);
  const names = new Set<string>();
  (cfg.loggers ?? []).forEach((l, i) => {
    if (!l.name) throw errorAt(l, "name", "missing", `loggers[${i}]`);
    if (names.has(l.name)) throw errorAt(l, "name", `duplicate name "${l.name}" in loggers`);
    names.add(l.name);
    one(l.log);
  });
}

/** Open log outputs; `close()` releases their files. */
export interface Logging {
  /** The global log's target (level from `-D`/`-DD` is applied by the caller). */
  root: LogTarget;
  named: Map<string, LogTarget>;
  close(): void;
}

/**
 * Opens every output. Files are opened here, before any port.
 *
 * @throws {ConfigError} when a file cannot be opened
 */
export function openLogging(cfg: Config): Logging {
  const closers: (() => void)[] = [];
  const target = (log: LogConfig | undefined, obj: object, fields?: Record<string, unknown>): LogTarget => {
    let out;
    try {
      out = openLogOutput(log?.output, log?.rotation);
    } catch (err) {
      for (const c of closers) c();
      throw errorAt(obj, "output", (err as Error).message);
    }
    closers.push(() => out.close());
    const level = log?.level && isLogLevel(log.level) ? log.level : "info";
    return { level, format: log?.format === "text" ? "text" : "json", sink: out.sink, fields };
  };
  const root = target(cfg.log, cfg.log ?? {});
  const named = new Map<string, LogTarget>();
  for (const l of cfg.loggers ?? []) named.set(l.name!, target(l.log, l.log ?? l, { logger: l.name }));
  return {
    root,
    named,
    close() {
      for (const c of closers.splice(0)) c();
    },
  };
}
