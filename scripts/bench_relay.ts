/**
 * A minimal TCP port forward with no dost code in it, to find the ceiling
 * Deno itself puts on a relay on this machine and compare copy strategies
 * (used when profiling `deno task bench`; see docs/benchmarks.md):
 *
 * ```sh
 * deno run --allow-net scripts/bench_relay.ts --listen 9000 --to 5201 --mode loop --buf 262144
 * iperf3 -c 127.0.0.1 -p 9000 -t 10
 * ```
 *
 * Modes: `loop` (read/write with one reused buffer of `--buf` bytes),
 * `pipeTo` (web streams), `grow` (dost's copy: 16 KiB, growing to
 * `--buf` on the first full read). `--nodelay` sets TCP_NODELAY on both
 * sides, as dost does.
 *
 * @module
 */
import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    listen: { type: "string" },
    to: { type: "string" },
    mode: { type: "string", default: "loop" },
    buf: { type: "string", default: String(256 * 1024) },
    nodelay: { type: "boolean", default: false },
  },
});
const size = Number(values.buf);
const mode = values.mode!;
if (!["loop", "pipeTo", "grow"].includes(mode) || !(size > 0) || !values.listen || !values.to) {
  console.error("Usage: bench_relay.ts --listen PORT --to PORT [--mode loop|pipeTo|grow] [--buf BYTES] [--nodelay]");
  Deno.exit(2);
}

async function copy(src: Deno.Conn, dst: Deno.Conn): Promise<void> {
  if (mode === "pipeTo") {
    await src.readable.pipeTo(dst.writable, { preventClose: true });
  } else {
    let buf = new Uint8Array(mode === "grow" ? Math.min(16 * 1024, size) : size);
    for (;;) {
      const n = await src.read(buf);
      if (n === null) break;
      let off = 0;
      while (off < n) off += await dst.write(buf.subarray(off, n));
      if (mode === "grow" && n === buf.length && buf.length < size) buf = new Uint8Array(size);
    }
  }
  await dst.closeWrite().catch(() => {});
}

const ln = Deno.listen({ hostname: "127.0.0.1", port: Number(values.listen) });
console.log(`relay ${mode} buf=${size} nodelay=${values.nodelay} listening on ${values.listen}`);
for await (const a of ln) {
  (async () => {
    const b = await Deno.connect({ hostname: "127.0.0.1", port: Number(values.to) });
    if (values.nodelay) {
      a.setNoDelay(true);
      b.setNoDelay(true);
    }
    await Promise.all([copy(a, b), copy(b, a)]).catch(() => {});
    for (const c of [a, b]) {
      try {
        c.close();
      } catch {
        // closed
      }
    }
  })();
}
