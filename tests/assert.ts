/**
 * Test assertions (jsr:@std/assert is unreachable here): thin names over
 * `node:assert/strict` so tests read like Deno's std.
 *
 * @module
 */
import nodeAssert from "node:assert/strict";

export function assert(cond: unknown, msg?: string): asserts cond {
  nodeAssert.ok(cond, msg);
}
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  nodeAssert.deepStrictEqual(actual, expected, msg);
}
export function assertNotEquals<T>(actual: T, expected: T, msg?: string): void {
  nodeAssert.notDeepStrictEqual(actual, expected, msg);
}
export function assertMatch(actual: string, re: RegExp, msg?: string): void {
  nodeAssert.match(actual, re, msg);
}
export function assertStringIncludes(actual: string, part: string, msg?: string): void {
  nodeAssert.ok(actual.includes(part), msg ?? `Expected ${JSON.stringify(actual)} to include ${JSON.stringify(part)}`);
}
export function assertThrows(fn: () => unknown, cls?: new (...a: never[]) => Error, includes?: string): Error {
  try {
    fn();
  } catch (err) {
    if (cls) nodeAssert.ok(err instanceof cls, `Expected ${cls.name}, got ${(err as Error)?.name}: ${err}`);
    if (includes) assertStringIncludes((err as Error).message, includes);
    return err as Error;
  }
  throw new nodeAssert.AssertionError({ message: "Expected function to throw" });
}
export async function assertRejects(
  fn: () => Promise<unknown>,
  cls?: new (...a: never[]) => Error,
  includes?: string,
): Promise<Error> {
  try {
    await fn();
  } catch (err) {
    if (cls) nodeAssert.ok(err instanceof cls, `Expected ${cls.name}, got ${(err as Error)?.name}: ${err}`);
    if (includes) assertStringIncludes((err as Error).message, includes);
    return err as Error;
  }
  throw new nodeAssert.AssertionError({ message: "Expected promise to reject" });
}
