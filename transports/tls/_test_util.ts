/** Helpers shared by the tls tests (not part of the transport). */
import { Logger } from "../log.ts";
import { ClosedError, type Conn } from "../types.ts";
import { writeAll } from "../_io/write_all.ts";
export { readAll } from "../_testing.ts";

/** A logger that drops everything, or records lines into `lines`. */
export function quietLogger(lines?: string[]): Logger {
  return new Logger({}, { level: "debug", sink: (l) => lines?.push(l) });
}

const memAddr: Deno.NetAddr = { transport: "tcp", hostname: "memory", port: 0 };

/** One direction of an in-memory stream, with a byte limit for backpressure. */
class Pipe {
  chunks: Uint8Array[] = [];
  size = 0;
  ended = false;
  broken = false;
  waiters: (() => void)[] = [];
  constructor(readonly limit: number) {}
  wake() {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }
  wait(): Promise<void> {
    return new Promise((r) => this.waiters.push(r));
  }
}

/** An in-memory Conn end: not a socket, so TLS must go through the generic path. */
export class MemoryConn implements Conn {
  readonly localAddr: Deno.Addr = memAddr;
  readonly remoteAddr: Deno.Addr = memAddr;
  #closed = false;
  constructor(readonly rx: Pipe, readonly tx: Pipe) {}

  async read(p: Uint8Array): Promise<number | null> {
    for (;;) {
      if (this.#closed) throw new ClosedError();
      const head = this.rx.chunks[0];
      if (head) {
        const n = Math.min(head.length, p.length);
        p.set(head.subarray(0, n));
        if (n === head.length) this.rx.chunks.shift();
        else this.rx.chunks[0] = head.subarray(n);
        this.rx.size -= n;
        this.rx.wake();
        return n;
      }
      if (this.rx.broken) throw new Deno.errors.ConnectionReset("peer closed");
      if (this.rx.ended) return null;
      await this.rx.wait();
    }
  }

  async write(p: Uint8Array): Promise<number> {
    for (;;) {
      if (this.#closed) throw new ClosedError();
      if (this.tx.ended || this.tx.broken) throw new Deno.errors.BrokenPipe("write after end");
      if (this.tx.size < this.tx.limit) break;
      await this.tx.wait();
    }
    this.tx.chunks.push(p.slice());
    this.tx.size += p.length;
    this.tx.wake();
    return p.length;
  }

  closeWrite(): Promise<void> {
    this.tx.ended = true;
    this.tx.wake();
    return Promise.resolve();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.tx.ended = true;
    this.rx.broken = true;
    this.tx.broken = true;
    this.rx.wake();
    this.tx.wake();
  }
}

/** Two connected in-memory Conns. */
export function memoryPair(limit = 256 * 1024): [MemoryConn, MemoryConn] {
  const ab = new Pipe(limit);
  const ba = new Pipe(limit);
  return [new MemoryConn(ba, ab), new MemoryConn(ab, ba)];
}

/** Reads until end of stream; returns only the count and a running checksum. */
export async function drain(conn: Conn): Promise<{ bytes: number; sum: number }> {
  const buf = new Uint8Array(256 * 1024);
  let bytes = 0;
  let sum = 0;
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    for (let i = 0; i < n; i++) sum = (sum + buf[i] * ((bytes + i) % 251 + 1)) % 1_000_000_007;
    bytes += n;
  }
  return { bytes, sum };
}

/** Deterministic test data of `size` bytes, written in 256 KiB pieces, then a half-close. */
export async function sendPattern(conn: Conn, size: number, seed: number): Promise<{ bytes: number; sum: number }> {
  const chunk = new Uint8Array(256 * 1024);
  let bytes = 0;
  let sum = 0;
  while (bytes < size) {
    const n = Math.min(chunk.length, size - bytes);
    for (let i = 0; i < n; i++) {
      chunk[i] = (bytes + i) * seed % 256;
      sum = (sum + chunk[i] * ((bytes + i) % 251 + 1)) % 1_000_000_007;
    }
    await writeAll(conn, chunk.subarray(0, n));
    bytes += n;
  }
  await conn.closeWrite();
  return { bytes, sum };
}

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

/** True when `cmd` runs (e.g. `openssl`, `curl`). */
export async function have(cmd: string): Promise<boolean> {
  try {
    await new Deno.Command(cmd, { args: ["version"], stdout: "null", stderr: "null" }).output();
    return true;
  } catch {
    return false;
  }
}
