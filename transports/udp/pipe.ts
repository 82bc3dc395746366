/**
 * A relay between two datagram-preserving Conns (UDP sockets, UDP
 * pseudo-connections, length-prefixed relay streams, UDP-tunnel streams):
 * each read is one datagram and is written as one. Datagrams have no
 * half-close, so the relay ends as soon as either side ends.
 *
 * @module
 */
import { closeQuietly } from "../_io/write_all.ts";
import { isBenignClose, type PipeResult } from "../_io/pipe.ts";
import type { Conn } from "../types.ts";
import { MAX_DATAGRAM } from "./packet.ts";

async function copyDatagrams(src: Conn, dst: Conn, count: (n: number) => void): Promise<void> {
  const buf = new Uint8Array(MAX_DATAGRAM);
  for (;;) {
    const n = await src.read(buf);
    if (n === null) return;
    await dst.write(buf.subarray(0, n));
    count(n);
  }
}

/** Relays datagrams both ways until either side ends or fails; closes both. Never rejects. */
export async function pipeDatagrams(a: Conn, b: Conn, signal?: AbortSignal): Promise<PipeResult> {
  const result: PipeResult = { aToB: 0, bToA: 0 };
  const end = (err?: unknown) => {
    if (err !== undefined) result.error ??= err;
    closeQuietly(a);
    closeQuietly(b);
  };
  const onAbort = () => end(signal?.reason ?? new Error("Relay aborted"));
  signal?.addEventListener("abort", onAbort, { once: true });
  if (signal?.aborted) onAbort();
  try {
    await Promise.all([
      copyDatagrams(a, b, (n) => (result.aToB += n)).then(() => end(), end),
      copyDatagrams(b, a, (n) => (result.bToA += n)).then(() => end(), end),
    ]);
  } finally {
    signal?.removeEventListener("abort", onAbort);
    end();
  }
  if (isBenignClose(result.error)) delete result.error;
  return result;
}
