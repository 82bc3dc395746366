import type { Conn } from "../types.ts";
import { closeQuietly, writeAll } from "./write_all.ts";

/** Buffer size a copy starts with; small so idle conns cost little. */
export const SMALL_BUFFER = 16 * 1024;
/** Buffer size a copy grows to once a read fills the small one (bulk transfer). */
export const LARGE_BUFFER = 256 * 1024;

/** What a finished relay moved. */
export interface PipeResult {
  /** Bytes from `a` to `b` (client → target when `a` is the client). */
  aToB: number;
  /** Bytes from `b` to `a`. */
  bToA: number;
  /** The first error either direction hit, if any. */
  error?: unknown;
}

/**
 * Copies `src` into `dst` until end of stream, then half-closes `dst`.
 * Resolves to the byte count; rejects on a read or write error.
 */
export async function copy(src: Conn, dst: Conn, progress?: (n: number) => void): Promise<number> {
  let buf = new Uint8Array(SMALL_BUFFER);
  let total = 0;
  for (;;) {
    const n = await src.read(buf);
    if (n === null) break;
    await writeAll(dst, n === buf.length ? buf : buf.subarray(0, n));
    total += n;
    progress?.(n);
    if (n === buf.length && buf.length < LARGE_BUFFER) buf = new Uint8Array(LARGE_BUFFER);
  }
  try {
    await dst.closeWrite();
  } catch {
    // The transport has no half-close (or is gone): end it entirely.
    closeQuietly(dst);
  }
  return total;
}

/**
 * Relays bytes both ways between `a` and `b`, honouring half-close: when one
 * side ends, the other is half-closed and the reverse direction goes on.
 * Both conns are closed when both directions finish or either fails.
 * Never rejects.
 */
export async function pipe(a: Conn, b: Conn, signal?: AbortSignal): Promise<PipeResult> {
  const result: PipeResult = { aToB: 0, bToA: 0 };
  const fail = (err: unknown) => {
    result.error ??= err;
    closeQuietly(a);
    closeQuietly(b);
  };
  const onAbort = () => fail(signal?.reason ?? new Error("Relay aborted"));
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    await Promise.all([
      // Counts are kept as bytes move, so a relay cut by an error still reports them.
      copy(a, b, (n) => (result.aToB += n)).catch(fail),
      copy(b, a, (n) => (result.bToA += n)).catch(fail),
    ]);
  } finally {
    signal?.removeEventListener("abort", onAbort);
    closeQuietly(a);
    closeQuietly(b);
  }
  if (isBenignClose(result.error)) delete result.error;
  return result;
}

/** Errors that only mean "the other side went away" and need no log line. */
export function isBenignClose(err: unknown): boolean {
  return err instanceof Deno.errors.BadResource ||
    err instanceof Deno.errors.Interrupted ||
    err instanceof Deno.errors.ConnectionReset ||
    err instanceof Deno.errors.BrokenPipe ||
    (err instanceof Error && err.name === "ClosedError");
}
