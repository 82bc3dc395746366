/**
 * Log outputs as gost names them (`log.output`): `stderr` (or empty),
 * `stdout`, `none`/`null`, or a file path. A file is opened for append with
 * its folders created; with `rotation` it is rotated by size like gost's
 * lumberjack: the full file is renamed `name-<time>.ext` (UTC unless
 * `localTime`), optionally gzipped, and old backups beyond `maxBackups` or
 * `maxAge` days are removed.
 *
 * @module
 */
import { type LogSink, stderrSink } from "./log.ts";

export interface LogRotation {
  /** Megabytes before a file is rotated. @default 100 */
  maxSize?: number;
  /** Days a backup is kept; 0 keeps them. @default 0 */
  maxAge?: number;
  /** Backups kept; 0 keeps them all. @default 0 */
  maxBackups?: number;
  /** Backup names use local time instead of UTC. @default false */
  localTime?: boolean;
  /** Gzip the backups. @default false */
  compress?: boolean;
}

export interface LogOutput {
  sink: LogSink;
  /** Closes a file output; idempotent. */
  close(): void;
  /** Resolves when background work (gzip of rotated files) is done. */
  flushed?(): Promise<void>;
}

const encoder = new TextEncoder();
const stdoutSink: LogSink = (line) => {
  try {
    Deno.stdout.writeSync(encoder.encode(line + "\n"));
  } catch {
    // stdout gone
  }
};

/**
 * Opens `output`. A file that cannot be opened is an error (gost warns and
 * falls back to stderr; dost says so at start instead).
 *
 * @throws {Error} naming the path
 */
export function openLogOutput(output: string | undefined, rotation?: LogRotation): LogOutput {
  const o = (output ?? "").trim();
  if (o === "" || o === "stderr") return { sink: stderrSink, close: () => {} };
  if (o === "stdout") return { sink: stdoutSink, close: () => {} };
  if (o === "none" || o === "null") return { sink: () => {}, close: () => {} };
  return new FileOutput(o, rotation);
}

class FileOutput implements LogOutput {
  #file: Deno.FsFile;
  #size: number;
  readonly #max: number;
  #closed = false;
  #pending: Promise<void> = Promise.resolve();

  constructor(readonly path: string, readonly rotation?: LogRotation) {
    const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "";
    try {
      if (dir) Deno.mkdirSync(dir, { recursive: true, mode: 0o755 });
      this.#file = Deno.openSync(path, { append: true, create: true, mode: 0o666 });
      this.#size = this.#file.statSync().size;
    } catch (err) {
      throw new Error(`Cannot open log file "${path}": ${(err as Error).message}`, { cause: err });
    }
    this.#max = rotation ? (rotation.maxSize && rotation.maxSize > 0 ? rotation.maxSize : 100) * 1024 * 1024 : Infinity;
  }

  sink = (line: string): void => {
    if (this.#closed) return;
    const bytes = encoder.encode(line + "\n");
    try {
      if (this.#size > 0 && this.#size + bytes.length > this.#max) this.#rotate();
      let off = 0;
      while (off < bytes.length) off += this.#file.writeSync(bytes.subarray(off));
      this.#size += bytes.length;
    } catch (err) {
      stderrSink(JSON.stringify({ level: "error", msg: `log file "${this.path}": ${(err as Error).message}` }));
    }
  };

  #rotate(): void {
    this.#file.close();
    const backup = backupName(this.path, new Date(), this.rotation?.localTime ?? false);
    Deno.renameSync(this.path, backup);
    this.#file = Deno.openSync(this.path, { append: true, create: true, mode: 0o666 });
    this.#size = 0;
    if (this.rotation?.compress) {
      // Compressed off the logging path (as lumberjack does, in the background), then pruned.
      this.#pending = this.#pending.then(() => gzipFile(backup)).catch((err) =>
        stderrSink(JSON.stringify({ level: "error", msg: `log file "${backup}": ${(err as Error).message}` }))
      ).then(() => this.#prune());
    } else this.#prune();
  }

  /** Resolves once every backup compression started so far has finished. */
  flushed(): Promise<void> {
    return this.#pending;
  }

  /** Removes backups past `maxBackups` (oldest first) and older than `maxAge` days. */
  #prune(): void {
    const { maxBackups = 0, maxAge = 0 } = this.rotation ?? {};
    if (maxBackups <= 0 && maxAge <= 0) return;
    const slash = this.path.lastIndexOf("/");
    const dir = slash < 0 ? "." : this.path.slice(0, slash) || "/";
    const base = this.path.slice(slash + 1);
    const dot = base.lastIndexOf(".");
    const [stem, ext] = dot > 0 ? [base.slice(0, dot), base.slice(dot)] : [base, ""];
    const backups: { path: string; mtime: number }[] = [];
    for (const e of Deno.readDirSync(dir)) {
      if (!e.isFile || !e.name.startsWith(stem + "-")) continue;
      if (!(e.name.endsWith(ext) || e.name.endsWith(ext + ".gz")) || e.name === base) continue;
      const p = `${dir}/${e.name}`;
      backups.push({ path: p, mtime: Deno.statSync(p).mtime?.getTime() ?? 0 });
    }
    backups.sort((a, b) => b.mtime - a.mtime);
    const cutoff = Date.now() - maxAge * 86_400_000;
    backups.forEach((b, i) => {
      if ((maxBackups > 0 && i >= maxBackups) || (maxAge > 0 && b.mtime < cutoff)) {
        try {
          Deno.removeSync(b.path);
        } catch { /* already gone */ }
      }
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#file.close();
  }
}

/** Gzips `path` to `path.gz` and removes `path` (web CompressionStream: no zlib import at start-up). */
async function gzipFile(path: string): Promise<void> {
  const src = await Deno.open(path, { read: true });
  const dst = await Deno.open(path + ".gz", { write: true, create: true, truncate: true });
  await src.readable.pipeThrough(new CompressionStream("gzip")).pipeTo(dst.writable);
  await Deno.remove(path);
}

/** lumberjack's backup name: `dir/name-2006-01-02T15-04-05.000.ext`. */
export function backupName(path: string, at: Date, localTime: boolean): string {
  const slash = path.lastIndexOf("/");
  const base = path.slice(slash + 1);
  const dot = base.lastIndexOf(".");
  const [stem, ext] = dot > 0 ? [base.slice(0, dot), base.slice(dot)] : [base, ""];
  const d = localTime ? new Date(at.getTime() - at.getTimezoneOffset() * 60_000) : at;
  const stamp = d.toISOString().replace("Z", "").replaceAll(":", "-");
  return `${path.slice(0, slash + 1)}${stem}-${stamp}${ext}`;
}
