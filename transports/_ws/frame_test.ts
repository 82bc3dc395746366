import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import {
  CloseCode,
  closePayload,
  encodeFrame,
  headerLength,
  maskBytes,
  Opcode,
  parseHeader,
  ProtocolError,
  writeHeader,
} from "./frame.ts";
import { computeAcceptKey } from "./handshake.ts";
import { pattern } from "./_test_util.ts";

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(" ");

Deno.test("accept key: RFC 6455 §1.3 example", async () => {
  assertEquals(await computeAcceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
});

Deno.test("encodeFrame: RFC 6455 §5.7 examples", () => {
  const hello = new TextEncoder().encode("Hello");
  assertEquals(hex(encodeFrame(Opcode.Text, hello)), "81 05 48 65 6c 6c 6f");
  const key = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);
  assertEquals(hex(encodeFrame(Opcode.Text, hello, { mask: key })), "81 85 37 fa 21 3d 7f 9f 4d 51 58");
  assertEquals(hex(encodeFrame(Opcode.Text, new TextEncoder().encode("Hel"), { fin: false })), "01 03 48 65 6c");
  assertEquals(hex(encodeFrame(Opcode.Ping, hello)), "89 05 48 65 6c 6c 6f");
  assertEquals(hex(encodeFrame(Opcode.Binary, new Uint8Array(256)).subarray(0, 4)), "82 7e 01 00");
  assertEquals(
    hex(encodeFrame(Opcode.Binary, new Uint8Array(65536)).subarray(0, 10)),
    "82 7f 00 00 00 00 00 01 00 00",
  );
  assertEquals(hello, new TextEncoder().encode("Hello"), "payload left untouched");
});

Deno.test("frame header: 7-bit, 16-bit and 64-bit lengths round-trip", () => {
  for (const len of [0, 1, 125, 126, 127, 65535, 65536, 1 << 24, 2 ** 32 + 5, 2 ** 53 - 1]) {
    for (const masked of [false, true]) {
      const out = new Uint8Array(14);
      const key = masked ? new Uint8Array([1, 2, 3, 4]) : undefined;
      const n = writeHeader(out, true, Opcode.Binary, len, key);
      assertEquals(n, headerLength(len, masked));
      const h = parseHeader(out.subarray(0, n), Number.MAX_SAFE_INTEGER)!;
      assertEquals([h.fin, h.opcode, h.length, h.masked, h.headerLength], [true, 2, len, masked, n]);
      assertEquals(h.maskKey, key ?? null);
      // Any prefix of the header is "incomplete", never an error.
      for (let i = 0; i < n; i++) assertEquals(parseHeader(out.subarray(0, i), Number.MAX_SAFE_INTEGER), null);
    }
  }
});

Deno.test("parseHeader: rejects a 64-bit length with the top bit set and oversized frames", () => {
  const bad = new Uint8Array([0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 1]);
  assertThrows(() => parseHeader(bad), ProtocolError, "most significant bit");
  const big = new Uint8Array(10);
  writeHeader(big, true, Opcode.Binary, 64 * 1024 * 1024 + 1);
  const err = assertThrows(() => parseHeader(big), ProtocolError, "exceeds");
  assertEquals((err as ProtocolError).closeCode, CloseCode.MessageTooBig);
  writeHeader(big, true, Opcode.Binary, 64 * 1024 * 1024);
  assertEquals(parseHeader(big)!.length, 64 * 1024 * 1024);
});

Deno.test("maskBytes: word-wise masking equals byte-wise at every alignment, length and phase", () => {
  const key = new Uint8Array([0xde, 0xad, 0xbe, 0xef]);
  const src = pattern(300);
  for (const offset of [0, 1, 2, 3]) {
    for (const len of [0, 1, 3, 4, 15, 16, 17, 33, 64, 100, 257]) {
      for (const phase of [0, 1, 2, 3]) {
        const backing = new Uint8Array(len + 8);
        const buf = backing.subarray(offset, offset + len);
        buf.set(src.subarray(0, len));
        const next = maskBytes(buf, key, phase);
        const want = src.subarray(0, len).map((b, i) => b ^ key[(phase + i) & 3]);
        assertEquals(buf, want, `offset ${offset} len ${len} phase ${phase}`);
        assertEquals(next, (phase + len) & 3);
        // Masking is its own inverse, also when split into pieces.
        const cut = Math.floor(len / 3);
        const p2 = maskBytes(buf.subarray(0, cut), key, phase);
        maskBytes(buf.subarray(cut), key, p2);
        assertEquals(buf, src.subarray(0, len));
      }
    }
  }
});

Deno.test("encodeFrame: random mask keys differ per frame and unmask back", () => {
  const payload = pattern(1000);
  const a = encodeFrame(Opcode.Binary, payload, { mask: true });
  const b = encodeFrame(Opcode.Binary, payload, { mask: true });
  const ha = parseHeader(a)!;
  const hb = parseHeader(b)!;
  assert(hex(ha.maskKey!) !== hex(hb.maskKey!));
  const body = a.slice(ha.headerLength);
  maskBytes(body, ha.maskKey!);
  assertEquals(body, payload);
});

Deno.test("closePayload: code big-endian plus reason; none for 1005", () => {
  assertEquals(hex(closePayload(1000)), "03 e8");
  assertEquals(hex(closePayload(1002, "x")), "03 ea 78");
  assertEquals(closePayload().length, 0);
  assertEquals(closePayload(CloseCode.NoStatus).length, 0);
  assertThrows(() => closePayload(1000, "x".repeat(124)), RangeError);
});
