/**
 * JSON-lines (or gost's text) logger with GOST's field names (`level`, `msg`, `service`,
 * `listener`, `handler`, `local`, `remote`, `duration`, …). Credentials must
 * never be passed in fields; `redact` helps for URLs.
 *
 * @module
 */

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal";

/** `json` (one object per line) or gost's `text` (logrus text: `time=… level=… msg=… key=value`). */
export type LogFormat = "json" | "text";

const ORDER: Record<LogLevel, number> = { trace: 0, debug: 1, info: 2, warn: 3, error: 4, fatal: 5 };

/** True for gost's level names. */
export function isLogLevel(s: string): s is LogLevel {
  return s in ORDER;
}

/** Where log lines go; replaceable in tests. */
export type LogSink = (line: string) => void;

const encoder = new TextEncoder();
/** Standard error, one line per write. */
export const stderrSink: LogSink = (line) => {
  try {
    Deno.stderr.writeSync(encoder.encode(line + "\n"));
  } catch {
    // stderr gone: nothing sensible to do
  }
};

/** Where one logger writes: its level, format and sink; `fields` are added to its lines only. */
export interface LogTarget {
  level: LogLevel;
  sink: LogSink;
  /** @default "json" */
  format?: LogFormat;
  /** Added to every line of this target (a named logger's `logger: <name>`). */
  fields?: Record<string, unknown>;
}

interface LoggerState extends LogTarget {
  /** Several targets at once (a service with `loggers: [a, b]`); each filters by its own level. */
  fanout?: LogTarget[];
}

export class Logger {
  readonly #state: LoggerState;
  readonly #fields: Record<string, unknown>;

  constructor(fields: Record<string, unknown> = {}, state?: LoggerState) {
    this.#fields = fields;
    this.#state = state ?? { level: "info", sink: stderrSink };
  }

  /** A logger writing to every target in `targets` (gost's `loggers: [...]`). */
  static fanout(targets: LogTarget[], fields: Record<string, unknown> = {}): Logger {
    const level = targets.reduce<LogLevel>((lo, t) => (ORDER[t.level] < ORDER[lo] ? t.level : lo), "fatal");
    return new Logger(fields, { level, sink: () => {}, fanout: targets });
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
  set format(f: LogFormat) {
    this.#state.format = f;
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
    for (const t of this.#state.fanout ?? [this.#state]) {
      if (ORDER[level] < ORDER[t.level]) continue;
      const r = t.fields ? { ...rec, ...t.fields } : rec;
      t.sink(t.format === "text" ? textLine(r) : JSON.stringify(r));
    }
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

/**
 * logrus's text format as gost prints it: `time="…" level=info msg="…"`,
 * then the other fields sorted by key; values quoted when they hold
 * anything but letters, digits and `-._/@^+`.
 */
export function textLine(rec: Record<string, unknown>): string {
  const { time, level, msg, ...rest } = rec;
  const t = typeof time === "string" ? time.replace(/\.\d+Z$/, "Z") : time;
  const parts = [`time=${quote(t)}`, `level=${quote(level)}`, `msg=${quote(msg)}`];
  for (const k of Object.keys(rest).sort()) parts.push(`${k}=${quote(rest[k])}`);
  return parts.join(" ");
}

function quote(v: unknown): string {
  const s = typeof v === "string" ? v : typeof v === "object" && v !== null ? JSON.stringify(v) : String(v);
  return /^[A-Za-z0-9\-._\/@^+]*$/.test(s) ? s : JSON.stringify(s);
}

/** Formats a Deno address as GOST prints it (`host:port`). */
export function formatAddr(a: Deno.Addr | undefined): string {
  if (!a) return "";
  if ("hostname" in a) return a.hostname.includes(":") ? `[${a.hostname}]:${a.port}` : `${a.hostname}:${a.port}`;
  if ("path" in a) return a.path ?? "";
  return "";
}
