import { assertEquals, assertThrows } from "../../tests/assert.ts";
import { Metadata } from "../metadata.ts";
import { DEFAULT_MUX_CONFIG, parseMuxMetadata, resolveMuxConfig } from "./config.ts";

Deno.test("smux config: GOST defaults", () => {
  assertEquals(parseMuxMetadata(new Metadata()), {
    version: 1,
    keepaliveDisabled: false,
    keepaliveInterval: 10_000,
    keepaliveTimeout: 30_000,
    maxFrameSize: 32768,
    maxReceiveBuffer: 4194304,
    maxStreamBuffer: 65536,
  });
});

Deno.test("smux config: mux.* keys, case-insensitive, durations", () => {
  const md = new Metadata({
    "mux.version": "2",
    "mux.keepAliveDisabled": "true",
    "mux.keepaliveInterval": "5s",
    "mux.keepaliveTimeout": 20,
    "mux.maxFrameSize": 65535,
    "mux.maxReceiveBuffer": "8388608",
    "mux.maxStreamBuffer": "1048576",
  });
  assertEquals(parseMuxMetadata(md), {
    version: 2,
    keepaliveDisabled: true,
    keepaliveInterval: 5000,
    keepaliveTimeout: 20000,
    maxFrameSize: 65535,
    maxReceiveBuffer: 8388608,
    maxStreamBuffer: 1048576,
  });
});

Deno.test("smux config: zero or negative keeps the default", () => {
  const md = new Metadata({ "mux.version": 0, "mux.maxFrameSize": -1, "mux.keepaliveInterval": "0s" });
  assertEquals(parseMuxMetadata(md), { ...DEFAULT_MUX_CONFIG });
});

Deno.test("smux config: smux's validation rules", () => {
  const bad: [Record<string, unknown>, string][] = [
    [{ "mux.version": 3 }, 'mux.version "3"'],
    [{ "mux.keepaliveInterval": "40s" }, "mux.keepaliveTimeout"],
    [{ "mux.maxFrameSize": 65536 }, 'mux.maxFrameSize "65536"'],
    [{ "mux.maxStreamBuffer": 8388608 }, "mux.maxStreamBuffer"],
    [{ "mux.version": "two" }, "mux.version"],
  ];
  for (const [init, msg] of bad) {
    const err = assertThrows(() => parseMuxMetadata(new Metadata(init)), undefined, msg);
    assertEquals(err instanceof RangeError || err instanceof TypeError, true);
  }
  // Keepalive settings are not checked when keepalive is off (as in smux).
  parseMuxMetadata(new Metadata({ "mux.keepaliveDisabled": true, "mux.keepaliveInterval": "40s" }));
  assertThrows(() => resolveMuxConfig({ keepaliveInterval: 0 }), RangeError, "keepaliveInterval");
});
