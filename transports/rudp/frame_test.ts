import { assertEquals, assertRejects, assertThrows } from "../../tests/assert.ts";
import { HandshakeError } from "../types.ts";
import { encodeFrame, FrameReader } from "./frame.ts";

const hex = (s: string) => new Uint8Array(s.trim().split(/\s+/).map((h) => parseInt(h, 16)));

/** A reader that hands out `chunks` one read at a time. */
function chunked(...chunks: Uint8Array[]) {
  return {
    read(p: Uint8Array): Promise<number | null> {
      const c = chunks.shift();
      if (!c) return Promise.resolve(null);
      if (c.length > p.length) {
        p.set(c.subarray(0, p.length));
        chunks.unshift(c.subarray(p.length));
        return Promise.resolve(p.length);
      }
      p.set(c);
      return Promise.resolve(c.length);
    },
  };
}

Deno.test("UDP-tunnel frame: socks5.md §5 example (2 bytes to 8.8.8.8:53), IPv6 and names", () => {
  assertEquals(
    encodeFrame({ hostname: "8.8.8.8", port: 53 }, hex("12 34")),
    hex("00 02 ff 01 08 08 08 08 00 35 12 34"),
  );
  assertEquals(
    encodeFrame({ hostname: "::1", port: 53 }, hex("aa")),
    hex("00 01 ff 04 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01 00 35 aa"),
  );
  assertEquals(
    encodeFrame({ hostname: "::ffff:127.0.0.1", port: 1 }, hex("aa")),
    hex("00 01 ff 01 7f 00 00 01 00 01 aa"),
  );
  assertEquals(encodeFrame({ hostname: "a.b", port: 80 }, hex("aa")), hex("00 01 ff 03 03 61 2e 62 00 50 aa"));
  assertThrows(() => encodeFrame({ hostname: "1.2.3.4", port: 1 }, new Uint8Array(0)), RangeError);
  assertThrows(() => encodeFrame({ hostname: "1.2.3.4", port: 1 }, new Uint8Array(65536)), RangeError);
});

Deno.test("UDP-tunnel frame reader: split reads, back-to-back frames, clean EOF", async () => {
  const two = hex("00 02 ff 01 08 08 08 08 00 35 12 34 00 01 ff 03 03 61 2e 62 00 50 ff");
  const r = new FrameReader(chunked(two.subarray(0, 1), two.subarray(1, 7), two.subarray(7)));
  const f1 = await r.read();
  assertEquals([f1!.addr, Array.from(f1!.data)], [{ hostname: "8.8.8.8", port: 53 }, [0x12, 0x34]]);
  const f2 = await r.read();
  assertEquals([f2!.addr, Array.from(f2!.data)], [{ hostname: "a.b", port: 80 }, [0xff]]);
  assertEquals(await r.read(), null);
  const big = new Uint8Array(65535).fill(7);
  const f3 = await new FrameReader(chunked(encodeFrame({ hostname: "::2", port: 9 }, big))).read();
  assertEquals([f3!.addr.hostname, f3!.data.length], ["::2", 65535]);
});

Deno.test("UDP-tunnel frame reader: LEN 0, unknown ATYP and truncation are errors", async () => {
  await assertRejects(() => new FrameReader(chunked(hex("00 00 ff 01 00 00 00 00 00 00"))).read(), HandshakeError);
  await assertRejects(() => new FrameReader(chunked(hex("00 01 ff 07 00 00"))).read(), HandshakeError, "0x07");
  await assertRejects(
    () => new FrameReader(chunked(hex("00 05 ff 01 01 02 03 04 00 35 aa"))).read(),
    Deno.errors.UnexpectedEof,
  );
});
