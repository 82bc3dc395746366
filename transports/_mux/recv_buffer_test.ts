import { assertEquals } from "../../tests/assert.ts";
import { pattern } from "../_testing.ts";
import { RecvBuffer } from "./recv_buffer.ts";

Deno.test("RecvBuffer: pieces across blocks come back in order, in reads of any size", () => {
  const b = new RecvBuffer();
  const data = pattern(300_001, 4);
  const out = new Uint8Array(data.length);
  let pushed = 0;
  let drained = 0;
  // Pushes and drains interleaved, with sizes that cross the 64 KiB blocks unevenly.
  for (let i = 1; drained < data.length; i++) {
    if (pushed < data.length) {
      const n = Math.min(data.length - pushed, (i * 7919) % 70_000 + 1);
      b.push(data.subarray(pushed, pushed + n));
      pushed += n;
    }
    assertEquals(b.size, pushed - drained);
    const want = i % 3 === 0 ? 1 : (i * 104_729) % 90_000 + 1;
    drained += b.drainInto(out.subarray(drained, Math.min(data.length, drained + want)));
  }
  assertEquals(out, data);
  assertEquals(b.size, 0);
  assertEquals(b.drainInto(new Uint8Array(10)), 0);
});

Deno.test("RecvBuffer: clear drops everything; the buffer is usable again", () => {
  const b = new RecvBuffer();
  b.push(pattern(200_000, 1));
  b.clear();
  assertEquals(b.size, 0);
  b.push(new Uint8Array([1, 2, 3]));
  const p = new Uint8Array(8);
  assertEquals(b.drainInto(p), 3);
  assertEquals(p.subarray(0, 3), new Uint8Array([1, 2, 3]));
});
