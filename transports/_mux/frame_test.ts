import { assertEquals } from "../../tests/assert.ts";
import { CMD_FIN, CMD_NOP, CMD_PSH, CMD_SYN, CMD_UPD, decodeHeader, encodeFrame, encodeUpd, getU32 } from "./frame.ts";

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(" ");

// The byte examples of spec websocket.md §5.1.
const cases: [string, Uint8Array, string][] = [
  ["SYN", encodeFrame(1, CMD_SYN, 3), "01 00 00 00 03 00 00 00"],
  [
    "PSH hello",
    encodeFrame(1, CMD_PSH, 3, new TextEncoder().encode("hello")),
    "01 02 05 00 03 00 00 00 68 65 6c 6c 6f",
  ],
  ["FIN", encodeFrame(1, CMD_FIN, 3), "01 01 00 00 03 00 00 00"],
  ["NOP", encodeFrame(1, CMD_NOP, 0), "01 03 00 00 00 00 00 00"],
  ["UPD", encodeUpd(2, 3, 100, 65536), "02 04 08 00 03 00 00 00 64 00 00 00 00 00 01 00"],
];

for (const [name, bytes, want] of cases) {
  Deno.test(`smux frame: encode ${name}`, () => {
    assertEquals(hex(bytes), want);
  });
}

Deno.test("smux frame: decode header and UPD payload", () => {
  const upd = encodeUpd(2, 3, 100, 65536);
  assertEquals(decodeHeader(upd), { version: 2, cmd: CMD_UPD, length: 8, sid: 3 });
  assertEquals([getU32(upd, 8), getU32(upd, 12)], [100, 65536]);
  const psh = encodeFrame(1, CMD_PSH, 0xfffffffe, new Uint8Array(0xffff));
  assertEquals(decodeHeader(psh), { version: 1, cmd: CMD_PSH, length: 0xffff, sid: 0xfffffffe });
  assertEquals(psh.length, 8 + 0xffff);
});

Deno.test("smux frame: u32 fields wrap like Go", () => {
  const upd = encodeUpd(2, 7, 2 ** 32 + 5, -1);
  assertEquals([getU32(upd, 8), getU32(upd, 12)], [5, 0xffffffff]);
});
