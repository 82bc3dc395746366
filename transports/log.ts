/**
 * JSON-lines logger with GOST's field names (`level`, `msg`, `service`,
 * `listener`, `handler`, `local`, `remote`, `duration`, …). Credentials must
 * never be passed in fields; `redact` helps for URLs.
 *
 * @module
 */

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal";

const ORDER: Record<LogLevel, number> = { trace: 0, debug: 1, info: 2, warn: 3, error: 4, fatal: 5 };

/** Where log lines go; replaceable in tests. */
export type LogSink = (line: string) => void;

const encoder = new TextEncoder();
const stderrSink: LogSink = (line) => {
  try {
    Deno.stderr.writeSync(encoder.encode(line + "\n"));
  } catch {
    // stderr gone: nothing sensible to do
  }
};

interface LoggerState {
  level: LogLevel;
  sink: LogSink;
}

export class Logger {
  readonly #state: LoggerState;
  readonly #fields: Record<string, unknown>;

  constructor(fields: Record<string, unknown> = {}, state?: LoggerState) {
    this.#fields = fields;
    this.#state = state ?? { level: "info", sink: stderrSink };
  }

  /** A logger that adds `fields` to every line and shares level and sink. */
  with(fields: Record<string, unknown>): Logger {
    return new Logger({ ...this.#fields, ...fields }, this.#state);
  }

  set level(l: LogLevel) {
    this.#state.level = l;
  }
  get level(): LogLevel {
    return this.#state.level;
  }
  set sink(s: LogSink) {
    this.#state.sink = s;
  }

  enabled(l: LogLevel): boolean {
    return ORDER[l] >= ORDER[this.#state.level];
  }

  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
    if (!this.enabled(level)) return;
    const rec: Record<string, unknown> = { time: new Date().toISOString(), level, msg, ...this.#fields, ...fields };
    for (const [k, v] of Object.entries(rec)) {
      if (v instanceof Error) rec[k] = v.message;
      else if (v === undefined) delete rec[k];
    }
    this.#state.sink(JSON.stringify(rec));
  }

  trace(msg: string, f?: Record<string, unknown>): void {
    this.log("trace", msg, f);
  }
  debug(msg: string, f?: Record<string, unknown>): void {
    this.log("debug", msg, f);
  }
  info(msg: string, f?: Record<string, unknown>): void {
    this.log("info", msg, f);
  }
  warn(msg: string, f?: Record<string, unknown>): void {
    this.log("warn", msg, f);
  }
  error(msg: string, f?: Record<string, unknown>): void {
    this.log("error", msg, f);
  }
}

/** The process-wide root logger. */
export const rootLogger: Logger = new Logger();

/** Formats a Deno address as GOST prints it (`host:port`). */
export function formatAddr(a: Deno.Addr | undefined): string {
  if (!a) return "";
  if ("hostname" in a) return a.hostname.includes(":") ? `[${a.hostname}]:${a.port}` : `${a.hostname}:${a.port}`;
  if ("path" in a) return a.path ?? "";
  return "";
}
