import type { Conn } from "../types.ts";
import { setImmediate } from "node:timers";
import { closeQuietly, writeAll } from "./write_all.ts";

/** A bulk copy lets reads of less than this collect for one event-loop turn before writing them. */
const COALESCE = 64 * 1024;

/**
 * Buffer size a copy starts with: an idle tunnel holds one per direction and
 * hop for as long as it waits, so this is most of what it costs.
 */
export const FIRST_BUFFER = 4 * 1024;
/** Buffer size a copy moves to once a read fills {@linkcode FIRST_BUFFER}. */
export const SMALL_BUFFER = 16 * 1024;
/** Ring size a copy grows to once a read fills the small buffer (bulk transfer). */
export const LARGE_BUFFER = 256 * 1024;
/**
 * Ring size for a sustained bulk copy: once it has moved {@linkcode GROW_AFTER}
 * bytes and a read still fills all the room it was given, the ring grows to
 * this. Fewer, larger reads and writes moved 15–20% more through a TCP
 * forward on loopback (docs/benchmarks.md); short transfers never pay for it.
 */
export const BULK_BUFFER = 1024 * 1024;
/** Bytes a bulk copy moves before its ring may grow to {@linkcode BULK_BUFFER}. */
export const GROW_AFTER = 4 * 1024 * 1024;

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
 * Resolves to the byte count; rejects on a read or write error (the caller
 * closes both conns then, which also ends a read still in flight).
 *
 * A plain read-then-write loop, its buffer growing from
 * {@linkcode FIRST_BUFFER} to {@linkcode SMALL_BUFFER} when a read fills it,
 * until a read fills the small buffer; then {@linkcode ringCopy}.
 */
export async function copy(src: Conn, dst: Conn, progress?: (n: number) => void): Promise<number> {
  let buf = new Uint8Array(FIRST_BUFFER);
  let total = 0;
  for (;;) {
    let n = await src.read(buf);
    if (n === null) break;
    // Pieces that are already here go out in one write: a fresh target behind a full accept queue (SYN cookies)
    // resets a connection whose second segment arrives before the first (see readReady in types.ts).
    if (n < buf.length && src.readReady) n += src.readReady(buf.subarray(n));
    await writeAll(dst, n === buf.length ? buf : buf.subarray(0, n));
    total += n;
    progress?.(n);
    if (n === buf.length) {
      if (buf.length < SMALL_BUFFER) {
        buf = new Uint8Array(SMALL_BUFFER);
        continue;
      }
      total += await ringCopy(src, dst, progress);
      break;
    }
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
 * Bulk copy through a ring buffer, reading and writing at once: a read is
 * kept in flight while the previous bytes are written, and every write takes
 * all that arrived meanwhile. Sources that return little per read (a TLS
 * conn gives one 16 KiB record per read) are thus written in large pieces,
 * which saves most of the write calls and the peer's wake-ups. Stops at end
 * of stream (the ring drained) or on the first error; backpressure is the
 * ring: reading waits while it is full.
 */
async function ringCopy(src: Conn, dst: Conn, progress?: (n: number) => void): Promise<number> {
  let ring = new Uint8Array(LARGE_BUFFER);
  let size = ring.length;
  // Absolute byte counts; `filled - written` bytes wait in the ring, byte `x` at `(x - base) % size`.
  let filled = 0;
  let written = 0;
  let base = 0;
  let ended = false;
  let failed = false;
  let yielded = false;
  let wakeReader: (() => void) | null = null;
  let wakeWriter: (() => void) | null = null;
  const wakeUpWriter = () => {
    const w = wakeWriter;
    wakeWriter = null;
    w?.();
  };
  const wakeUpReader = () => {
    const r = wakeReader;
    wakeReader = null;
    r?.();
  };

  // The reader never rejects: a promise that rejected while the writer is busy would be an unhandled rejection
  // (fatal in Deno) until the writer got to await it. Its error is thrown once the ring is drained.
  let readError: unknown = null;
  const reading = (async () => {
    try {
      while (!failed) {
        if (filled - written === size) {
          await new Promise<void>((r) => (wakeReader = r));
          continue;
        }
        const at = (filled - base) % size;
        const room = Math.min(size - at, size - (filled - written));
        const n = await src.read(ring.subarray(at, at + room));
        if (n === null) break;
        filled += n;
        if (n === room && size < BULK_BUFFER && filled >= GROW_AFTER && filled - written === n) {
          // Reads keep filling the ring, and only this read's bytes wait (no write is out): they move to the
          // start of a bigger ring.
          const bigger = new Uint8Array(BULK_BUFFER);
          bigger.set(ring.subarray(at, at + n));
          ring = bigger;
          size = bigger.length;
          base = written;
        }
        wakeUpWriter();
      }
    } catch (err) {
      readError = err;
    } finally {
      ended = true;
      wakeUpWriter();
    }
  })();

  try {
    for (;;) {
      if (filled === written) {
        if (ended) break;
        await new Promise<void>((r) => (wakeWriter = r));
        continue;
      }
      if (filled - written < COALESCE && !ended && !yielded) {
        // Let reads that are already possible land first (one event-loop turn), so the write takes them too.
        yielded = true;
        await new Promise<void>((r) => setImmediate(r));
        continue;
      }
      yielded = false;
      const at = (written - base) % size;
      const n = Math.min(size - at, filled - written);
      await writeAll(dst, ring.subarray(at, at + n));
      written += n;
      progress?.(n);
      wakeUpReader();
    }
  } catch (err) {
    failed = true;
    wakeUpReader();
    throw err;
  }
  await reading;
  // Bytes read before a read error were passed on first.
  if (readError !== null) throw readError;
  return written;
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
