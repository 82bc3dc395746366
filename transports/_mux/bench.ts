/**
 * smux throughput over an in-process loopback TCP pair.
 *
 * `deno run --allow-net transports/_mux/bench.ts [MiB=512]`
 *
 * For each case a writer pushes MiB bytes (256 KiB writes from one reused
 * buffer) one way and a reader drains them into a reused 256 KiB buffer; the
 * time is from the first write until the reader has every byte. Raw TCP is
 * the baseline.
 *
 * @module
 */
import { writeAll } from "../_io/write_all.ts";
import type { Conn } from "../types.ts";
import { sessionPair, tcpPair } from "./test_util.ts";

const MiB = 1024 * 1024;
const CHUNK = 256 * 1024;

async function pump(src: Conn, dst: Conn, bytes: number): Promise<void> {
  const out = new Uint8Array(CHUNK).fill(0x5a);
  const inBuf = new Uint8Array(CHUNK);
  const write = async () => {
    for (let left = bytes; left > 0; left -= CHUNK) {
      await writeAll(src, left >= CHUNK ? out : out.subarray(0, left));
    }
  };
  const read = async () => {
    let got = 0;
    while (got < bytes) {
      const n = await dst.read(inBuf);
      if (n === null) throw new Error(`EOF after ${got} bytes`);
      got += n;
    }
  };
  await Promise.all([write(), read()]);
}

function report(name: string, bytes: number, ms: number) {
  console.log(
    `${name.padEnd(34)} ${(bytes / MiB).toFixed(0).padStart(5)} MiB  ${ms.toFixed(0).padStart(6)} ms  ${
      (bytes / 1e6 / (ms / 1000)).toFixed(0).padStart(5)
    } MB/s`,
  );
}

export async function bench(totalMiB = 512): Promise<void> {
  const total = totalMiB * MiB;
  {
    const [a, b] = await tcpPair();
    const t0 = performance.now();
    await pump(a, b, total);
    report("raw TCP", total, performance.now() - t0);
    a.close();
    b.close();
  }
  for (const version of [1, 2]) {
    for (const streams of [1, 8]) {
      const p = await sessionPair({ version });
      const pairs: [Conn, Conn][] = [];
      for (let i = 0; i < streams; i++) pairs.push([await p.client.open(), await p.server.accept()]);
      const per = Math.floor(total / streams);
      const t0 = performance.now();
      await Promise.all(pairs.map(([c, s]) => pump(c, s, per)));
      report(`smux v${version}, ${streams} stream${streams > 1 ? "s" : ""}`, per * streams, performance.now() - t0);
      for (const [c, s] of pairs) {
        c.close();
        s.close();
      }
      await p.close();
    }
  }
}

if (import.meta.main) await bench(Number(Deno.args[0] ?? 512));
