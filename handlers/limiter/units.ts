/**
 * Byte sizes as gost's traffic limiters spell them: the grammar of
 * `units.ParseBase2Bytes` (github.com/alecthomas/units), which
 * go-gost/x v0.8.1 `limiter/traffic/traffic.go` uses for `IN` and `OUT`.
 *
 * @module
 */

const KIB = 1024;

/** Multipliers when every unit but `B` ends in `iB` (`KiB`, `MiB`, …). */
const IEC_UNITS: Readonly<Record<string, number>> = unitTable("iB");
/** Multipliers of the old spelling (`KB`, `MB`, …), still powers of 1024. */
const OLD_UNITS: Readonly<Record<string, number>> = unitTable("B");

function unitTable(suffix: string): Record<string, number> {
  const t: Record<string, number> = { B: 1 };
  let m = 1;
  for (const p of ["K", "M", "G", "T", "P", "E"]) {
    m *= KIB;
    t[p + suffix] = m;
  }
  return t;
}

/** One `[0-9]*(\.[0-9]*)?UNIT` element: the number's text and the unit's. */
const ELEMENT = /^(\d*)(?:\.(\d*))?([^.\d]*)/;

/**
 * Parses one spelling against one unit table, as `units.ParseUnit` does: an
 * optional sign, then one or more `NUMBER UNIT` elements that are summed
 * (`1MB512KB`); every element needs a unit, except that `0` alone is zero.
 */
function parseWith(s: string, units: Readonly<Record<string, number>>): number | undefined {
  let rest = s;
  let sign = 1;
  if (rest[0] === "+" || rest[0] === "-") {
    if (rest[0] === "-") sign = -1;
    rest = rest.slice(1);
  }
  if (rest === "0") return 0;
  if (rest === "") return undefined;
  let total = 0;
  while (rest !== "") {
    const m = ELEMENT.exec(rest)!;
    const [whole, int, frac, unit] = m;
    if (int === "" && (frac === undefined || frac === "")) return undefined; // no digits: ".MB", "MB"
    // Go's leadingInt refuses integers that would overflow int64.
    if (int.length > 18 || (frac?.length ?? 0) > 18) return undefined;
    const mult = Object.hasOwn(units, unit) ? units[unit] : undefined;
    if (mult === undefined) return undefined;
    const value = Number(int || "0") + (frac ? Number(frac) / 10 ** frac.length : 0);
    total += value * mult;
    rest = rest.slice(whole.length);
  }
  if (total >= 2 ** 63) return undefined;
  return sign * Math.trunc(total);
}

/**
 * Parses a byte size the way gost's `units.ParseBase2Bytes` does: units `B`,
 * `KB`/`KiB`, `MB`/`MiB`, `GB`, `TB`, `PB`, `EB` (and their `iB` forms), all
 * powers of 1024 and case-sensitive (`kB`, `mb` are invalid); decimals and
 * sums are allowed (`1.5MB`, `1MB512KB`), fractions of a byte are dropped.
 * One spelling per value: `1MiB512KB` mixes two and is invalid, as in gost.
 *
 * @returns the byte count (negative for a leading `-`), or `undefined` when
 * `s` is not a size. A bare number other than `0` is not a size (`"16384"`).
 */
export function parseBase2Bytes(s: string): number | undefined {
  return parseWith(s, IEC_UNITS) ?? parseWith(s, OLD_UNITS);
}
