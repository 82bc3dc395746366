/**
 * Shell-style globs as gost compiles them for wildcard bypass patterns
 * (gobwas/glob without separators): `*` any run of characters (dots
 * included), `?` one character, `[abc]`, `[a-z]`, `[!x]`, `{a,b}`
 * alternatives, `\` escapes the next character. Case-sensitive.
 *
 * @module
 */

/** Compiles `pattern`; `undefined` when it is not a valid glob (then gost treats it as an address). */
export function compileGlob(pattern: string): RegExp | undefined {
  let re = "";
  let depth = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    switch (c) {
      case "\\":
        if (++i >= pattern.length) return undefined;
        re += escape(pattern[i]);
        break;
      case "*":
        re += ".*";
        break;
      case "?":
        re += ".";
        break;
      case "[": {
        const end = pattern.indexOf("]", i + 2);
        if (end < 0) return undefined;
        let body = pattern.slice(i + 1, end);
        const negate = body.startsWith("!");
        if (negate) body = body.slice(1);
        if (body === "") return undefined;
        re += `[${negate ? "^" : ""}${body.replace(/[\\\]^]/g, (x) => "\\" + x)}]`;
        i = end;
        break;
      }
      case "{":
        depth++;
        re += "(?:";
        break;
      case "}":
        if (depth === 0) return undefined;
        depth--;
        re += ")";
        break;
      case ",":
        re += depth > 0 ? "|" : ",";
        break;
      default:
        re += escape(c);
    }
  }
  if (depth !== 0) return undefined;
  try {
    return new RegExp(`^${re}$`, "s");
  } catch {
    return undefined;
  }
}

function escape(c: string): string {
  return /[.*+?^${}()|[\]\\\/-]/.test(c) ? "\\" + c : c;
}
