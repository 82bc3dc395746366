import { assert, assertEquals } from "../../tests/assert.ts";
import { delay, pattern, readAll, sha256, tcpPair, writeChunked } from "../_testing.ts";
import { ClosedError, type Conn } from "../types.ts";
import { BULK_BUFFER, FIRST_BUFFER, GROW_AFTER, LARGE_BUFFER, pipe, SMALL_BUFFER } from "./pipe.ts";

/** Bytes of the plain reads that lead to the bulk copy: a full first buffer, then a full small one. */
const LEAD = FIRST_BUFFER + SMALL_BUFFER;
/** The lead as the pieces that fill those buffers. */
const lead = (data: Uint8Array) => [data.subarray(0, FIRST_BUFFER), data.subarray(FIRST_BUFFER, LEAD)];
import { closeQuietly } from "./write_all.ts";

const addr: Deno.Addr = { transport: "tcp", hostname: "127.0.0.1", port: 0 };

/**
 * A scripted Conn: reads return the queued pieces one per call (waiting
 * when none is queued); writes are recorded and can be held or failed.
 */
class ScriptedConn implements Conn {
  readonly localAddr = addr;
  readonly remoteAddr = addr;
  readonly pieces: Uint8Array[] = [];
  readonly writes: Uint8Array[] = [];
  /** Bytes handed out by read(). */
  given = 0;
  /** The largest single read. */
  largestRead = 0;
  ended = false;
  /** Set: reads fail with it once the queued pieces are gone. */
  readError: Error | null = null;
  writeEnded = false;
  closed = false;
  /** Writes after the first `holdFrom` wait until {@linkcode release}. */
  holdFrom = Infinity;
  #held: (() => void)[] = [];
  failWrites = false;
  #wake: (() => void) | null = null;

  feed(...pieces: Uint8Array[]): void {
    this.pieces.push(...pieces);
    this.#wake?.();
  }
  end(): void {
    this.ended = true;
    this.#wake?.();
  }
  fail(err: Error): void {
    this.readError = err;
    this.#wake?.();
  }

  async read(p: Uint8Array): Promise<number | null> {
    for (;;) {
      if (this.closed) throw new ClosedError("closed");
      const piece = this.pieces[0];
      if (piece) {
        const n = Math.min(piece.length, p.length);
        p.set(piece.subarray(0, n));
        if (n === piece.length) this.pieces.shift();
        else this.pieces[0] = piece.subarray(n);
        this.given += n;
        this.largestRead = Math.max(this.largestRead, n);
        return n;
      }
      if (this.readError) throw this.readError;
      if (this.ended) return null;
      await new Promise<void>((r) => (this.#wake = r));
    }
  }

  release(): void {
    this.holdFrom = Infinity;
    for (const f of this.#held.splice(0)) f();
  }

  async write(p: Uint8Array): Promise<number> {
    if (this.writes.length >= this.holdFrom) await new Promise<void>((r) => this.#held.push(r));
    if (this.closed) throw new ClosedError("closed");
    if (this.failWrites) throw new Error("scripted write failure");
    this.writes.push(p.slice());
    return p.length;
  }

  closeWrite(): Promise<void> {
    this.writeEnded = true;
    return Promise.resolve();
  }

  close(): void {
    this.closed = true;
    this.#wake?.();
  }

  written(): Uint8Array {
    const out = new Uint8Array(this.writes.reduce((n, w) => n + w.length, 0));
    let at = 0;
    for (const w of this.writes) {
      out.set(w, at);
      at += w.length;
    }
    return out;
  }
}

/** `data` cut into pieces of `size` bytes. */
function cut(data: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < data.length; i += size) out.push(data.subarray(i, i + size));
  return out;
}

Deno.test("pipe: 32 MiB each way over TCP, intact, with half-close in both orders", async () => {
  const [a, b] = await tcpPair();
  const [c, d] = await tcpPair();
  const relay = pipe(b, c);
  const up = pattern(32 << 20, 1);
  const down = pattern(32 << 20, 2);
  const [gotDown, gotUp] = await Promise.all([
    (async () => {
      await writeChunked(a, up);
      await a.closeWrite();
      return await readAll(a);
    })(),
    (async () => {
      const got = await readAll(d);
      await writeChunked(d, down);
      await d.closeWrite();
      return got;
    })(),
  ]);
  const result = await relay;
  a.close();
  d.close();
  assertEquals(await sha256(gotUp), await sha256(up));
  assertEquals(await sha256(gotDown), await sha256(down));
  assertEquals([result.aToB, result.bToA, result.error], [up.length, down.length, undefined]);
});

Deno.test("pipe: a bulk copy gathers small reads that arrive while a write is out into one write", async () => {
  const src = new ScriptedConn();
  const dst = new ScriptedConn();
  dst.end();
  // Full first- and small-buffer reads switch to the bulk copy; then 1000-byte pieces (as TLS gives records).
  const data = pattern(LEAD + 200 * 1000, 3);
  src.feed(...lead(data), ...cut(data.subarray(LEAD), 1000));
  src.end();
  const result = await pipe(src, dst);
  assertEquals(await sha256(dst.written()), await sha256(data));
  assert(dst.writeEnded && src.writeEnded, "end of stream is passed on both ways");
  // Without gathering this is 202 writes, one per read.
  assert(dst.writes.length <= 5, `${dst.writes.length} writes`);
  assertEquals([result.aToB, result.bToA], [data.length, 0]);
});

Deno.test("pipe: a bulk copy stops reading once its ring is full of bytes the writer cannot pass on", async () => {
  const src = new ScriptedConn();
  const dst = new ScriptedConn();
  dst.end();
  dst.holdFrom = 2; // the first and small buffers' writes pass, then the writer is stuck
  const data = pattern(4 << 20, 4);
  src.feed(...cut(data, 64 * 1024));
  const relay = pipe(src, dst);
  await delay(50);
  assert(src.given >= LEAD + LARGE_BUFFER / 2, `only ${src.given} bytes read ahead`);
  assert(src.given <= LEAD + LARGE_BUFFER, `${src.given} bytes read ahead of a stuck writer`);
  src.end();
  dst.release();
  await relay;
  assertEquals(await sha256(dst.written()), await sha256(data));
});

Deno.test("pipe: a write error in a bulk copy ends the relay, closes both conns and reports the error", async () => {
  const src = new ScriptedConn();
  const dst = new ScriptedConn();
  dst.end();
  src.feed(...lead(pattern(LEAD, 5)));
  const relay = pipe(src, dst);
  await delay(10);
  dst.failWrites = true;
  src.feed(pattern(100_000, 6)); // the source stays open: only the write error can end this
  const result = await relay;
  assertEquals((result.error as Error)?.message, "scripted write failure");
  assert(src.closed && dst.closed);
});

Deno.test("pipe: a read error while a bulk write is out passes on the bytes read before it, then reports it", async () => {
  const src = new ScriptedConn();
  const dst = new ScriptedConn();
  dst.end();
  dst.holdFrom = 2;
  const data = pattern(LEAD + 50_000, 7);
  src.feed(...lead(data), data.subarray(LEAD));
  const relay = pipe(src, dst);
  await delay(10);
  src.fail(new Error("scripted read failure")); // rejects while the writer is held: must not be an unhandled rejection
  await delay(10);
  dst.release();
  const result = await relay;
  assertEquals((result.error as Error)?.message, "scripted read failure");
  assertEquals(await sha256(dst.written()), await sha256(data));
});

Deno.test("pipe: a sustained bulk copy whose reads fill the ring grows it; a short one does not", async () => {
  // A source a little slower than the sink: each piece arrives once the previous one is written.
  const run = async (size: number) => {
    const src = new ScriptedConn();
    const dst = new ScriptedConn();
    dst.end();
    const data = pattern(size, 8);
    const relay = pipe(src, dst);
    let fed = 0;
    for (const piece of [...lead(data), ...cut(data.subarray(LEAD), BULK_BUFFER)]) {
      src.feed(piece);
      fed += piece.length;
      while (dst.writes.reduce((n, w) => n + w.length, 0) < fed) await delay(1);
    }
    src.end();
    await relay;
    assertEquals(await sha256(dst.written()), await sha256(data));
    return src.largestRead;
  };
  assertEquals(await run(LEAD + GROW_AFTER - 1), LARGE_BUFFER, "under 4 MiB: the 256 KiB ring");
  assert(await run(LEAD + GROW_AFTER + 4 * BULK_BUFFER) > LARGE_BUFFER, "past 4 MiB: reads get more room");
});

Deno.test("closeQuietly closes a conn once, however often it is asked (a second Deno close would throw)", () => {
  let closes = 0;
  const conn = {
    close() {
      closes++;
      if (closes > 1) throw new Deno.errors.BadResource("closed");
    },
  };
  closeQuietly(conn);
  closeQuietly(conn);
  closeQuietly(undefined);
  assertEquals(closes, 1);
});
