import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import {
  decodeSettings,
  decodeSingleVarint,
  encodeFrame,
  encodeFrameHeader,
  encodeGoaway,
  encodeSettings,
  encodeVarint,
  ErrorCode,
  FrameType,
  H3Error,
  readFrameHeader,
  readVarint,
  varintLength,
  writeVarint,
} from "./frames.ts";

const hex = (s: string) => Uint8Array.from(s.replace(/\s/g, "").match(/../g)!.map((b) => parseInt(b, 16)));
const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

Deno.test("varint: RFC 9000 Appendix A.1 examples decode", () => {
  assertEquals(readVarint(hex("c2197c5eff14e88c")), { value: 151288809941952652, length: 8 });
  assertEquals(readVarint(hex("9d7f3e7d")), { value: 494878333, length: 4 });
  assertEquals(readVarint(hex("7bbd")), { value: 15293, length: 2 });
  assertEquals(readVarint(hex("25")), { value: 37, length: 1 });
  // The same value in a longer encoding is still valid.
  assertEquals(readVarint(hex("4025")), { value: 37, length: 2 });
});

Deno.test("varint: encodes RFC 9000 examples with the shortest form", () => {
  assertEquals(toHex(encodeVarint(494878333)), "9d7f3e7d");
  assertEquals(toHex(encodeVarint(15293)), "7bbd");
  assertEquals(toHex(encodeVarint(37)), "25");
  assertEquals(toHex(encodeVarint(Number.MAX_SAFE_INTEGER)), "c01fffffffffffff");
});

Deno.test("varint: boundaries round-trip and length classes", () => {
  const cases: [number, number][] = [
    [0, 1],
    [63, 1],
    [64, 2],
    [16383, 2],
    [16384, 4],
    [2 ** 30 - 1, 4],
    [2 ** 30, 8],
    [Number.MAX_SAFE_INTEGER, 8],
  ];
  for (const [v, n] of cases) {
    assertEquals(varintLength(v), n, `length of ${v}`);
    const b = encodeVarint(v);
    assertEquals(b.length, n);
    assertEquals(readVarint(b), { value: v, length: n });
  }
  assertThrows(() => encodeVarint(-1), RangeError);
  assertThrows(() => encodeVarint(1.5), RangeError);
  assertThrows(() => writeVarint(new Uint8Array(1), 0, 300), RangeError);
});

Deno.test("varint: truncated input is incomplete, not an error", () => {
  assertEquals(readVarint(new Uint8Array(0)), null);
  assertEquals(readVarint(hex("40")), null);
  assertEquals(readVarint(hex("c2197c5eff14e8")), null);
  assertEquals(readVarint(hex("0025"), 1), { value: 37, length: 1 });
});

Deno.test("frames: header and whole-frame encoding", () => {
  assertEquals(toHex(encodeFrameHeader(FrameType.DATA, 5)), "0005");
  assertEquals(toHex(encodeFrameHeader(0x21, 300)), "21412c");
  const f = encodeFrame(FrameType.HEADERS, hex("0000d1"));
  assertEquals(toHex(f), "01030000d1");
  assertEquals(readFrameHeader(f), { type: 1, length: 3, size: 2 });
  assertEquals(readFrameHeader(hex("01")), null);
  // A greased frame type (0x1f * N + 0x21) with an 8-byte type varint.
  const grease = encodeFrameHeader(0x1f * 1_000_000_000 + 0x21, 0);
  assertEquals(readFrameHeader(grease)?.type, 0x1f * 1_000_000_000 + 0x21);
});

Deno.test("SETTINGS: encode/decode, unknown ids kept", () => {
  const f = encodeSettings([[0x01, 0], [0x06, 65536], [0x2a, 7]]);
  const h = readFrameHeader(f)!;
  assertEquals(h.type, FrameType.SETTINGS);
  const m = decodeSettings(f.subarray(h.size));
  assertEquals([...m], [[1, 0], [6, 65536], [0x2a, 7]]);
  assertEquals(decodeSettings(new Uint8Array(0)).size, 0);
});

Deno.test("SETTINGS: duplicates and HTTP/2 settings are H3_SETTINGS_ERROR, truncation H3_FRAME_ERROR", () => {
  const code = (fn: () => unknown) => (assertThrows(fn, H3Error) as H3Error).code;
  assertEquals(code(() => decodeSettings(hex("0100 0101"))), ErrorCode.H3_SETTINGS_ERROR);
  for (const id of [2, 3, 4, 5]) {
    assertEquals(code(() => decodeSettings(Uint8Array.of(id, 0))), ErrorCode.H3_SETTINGS_ERROR);
  }
  assertEquals(code(() => decodeSettings(hex("01"))), ErrorCode.H3_FRAME_ERROR);
  assertEquals(code(() => decodeSettings(hex("0640"))), ErrorCode.H3_FRAME_ERROR);
  const e = assertThrows(() => decodeSettings(hex("0100 0101")), H3Error) as H3Error;
  assert(e.connection, "settings errors are connection errors");
});

Deno.test("GOAWAY / single-varint payloads", () => {
  const g = encodeGoaway(8);
  assertEquals(toHex(g), "070108");
  assertEquals(decodeSingleVarint(hex("4004"), "GOAWAY"), 4);
  const code = (b: Uint8Array) => (assertThrows(() => decodeSingleVarint(b, "GOAWAY"), H3Error) as H3Error).code;
  assertEquals(code(new Uint8Array(0)), ErrorCode.H3_FRAME_ERROR);
  assertEquals(code(hex("0400")), ErrorCode.H3_FRAME_ERROR);
  assertEquals(code(hex("40")), ErrorCode.H3_FRAME_ERROR);
});
