import type { Conn } from "../types.ts";

/** Writes every byte of `p` to `conn`, looping over partial writes. */
export async function writeAll(conn: Pick<Conn, "write">, p: Uint8Array): Promise<void> {
  let off = 0;
  while (off < p.length) {
    off += await conn.write(off === 0 ? p : p.subarray(off));
  }
}

/** Conns already closed through {@linkcode closeQuietly}. */
const closed = new WeakSet<object>();

/**
 * Closes `conn`, swallowing "already closed" errors. A conn closed here
 * once is not closed again: the relay, the handler and the service each
 * close what they hold, and a second `close()` of a Deno conn throws
 * BadResource, whose stack trace cost ~15 µs per connection.
 */
export function closeQuietly(conn: { close(): void } | undefined | null): void {
  if (!conn || closed.has(conn)) return;
  closed.add(conn);
  try {
    conn.close();
  } catch {
    // already closed
  }
}

/** Concatenates byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
