import { assertEquals } from "../../tests/assert.ts";
import { parseBase2Bytes } from "./units.ts";

const K = 1024;
const M = K * K;

Deno.test("parseBase2Bytes: valid sizes are powers of 1024", () => {
  const table: [string, number][] = [
    ["0", 0],
    ["+0", 0],
    ["-0", 0],
    ["0B", 0],
    ["1B", 1],
    ["512B", 512],
    ["1KB", K],
    ["1KiB", K],
    ["16KB", 16 * K],
    ["1MB", M],
    ["1MiB", M],
    ["100MB", 100 * M],
    ["1GB", K * M],
    ["1GiB", K * M],
    ["1TB", M * M],
    ["1PB", K * M * M],
    ["1EB", M * M * M],
    ["1.5MB", 1.5 * M],
    [".5KB", 512],
    ["1.KB", K],
    ["0.5B", 0],
    ["1.0001KB", K],
    ["1MB512KB", M + 512 * K],
    ["1MiB512KiB", M + 512 * K],
    ["1KB1KB", 2 * K],
    ["2GB1B", 2 * K * M + 1],
    ["+1MB", M],
    ["-1MB", -M],
  ];
  for (const [s, want] of table) assertEquals(parseBase2Bytes(s), want, s);
});

Deno.test("parseBase2Bytes: invalid sizes give undefined", () => {
  const table = [
    "",
    "16384", // a bare number is not a size: gost then does not throttle at all
    "1",
    "00",
    "kB",
    "1kB",
    "10mb",
    "1Mb",
    "1kb",
    "1 MB",
    "MB",
    ".MB",
    "-",
    "+",
    "1.5.5MB",
    "1MiB512KB", // mixes the two spellings
    "1KB5",
    "1XB",
    "1iB",
    "1KIB",
    "1e3KB",
    "9999999999999999999KB", // overflows int64
    "10000000EB", // overflows int64
    "1MB ",
    "constructor", // no prototype keys as units
    "1constructor",
    "1toString",
  ];
  for (const s of table) assertEquals(parseBase2Bytes(s), undefined, JSON.stringify(s));
});
