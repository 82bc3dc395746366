/**
 * Splitting loader text (file bodies, HTTP bodies) into items, the way GOST
 * reads them (x: `bypass/bypass.go` `parsePatterns`, `auth/auth.go` `parseAuths`).
 *
 * @module
 */

/**
 * How text is split into items.
 *
 * - `"lines"`: one item per line, tabs become spaces, trimmed, blank lines
 *   ignored; `#` starts a comment anywhere in the line.
 * - `"auth"`: tabs become spaces, trimmed; only a `#` at the start of the
 *   trimmed line is a comment, so `admin #123` keeps `#123`.
 */
export type TextFormat = "lines" | "auth";

/** Splits `text` into items per `format`; line ends may be `\n` or `\r\n`. */
export function parseLines(text: string, format: TextFormat): string[] {
  const items: string[] = [];
  for (let line of text.split("\n")) {
    if (format === "lines") {
      const hash = line.indexOf("#");
      if (hash >= 0) line = line.slice(0, hash);
    }
    line = line.replaceAll("\t", " ").trim();
    if (line === "" || (format === "auth" && line.startsWith("#"))) continue;
    items.push(line);
  }
  return items;
}

/**
 * Splits an auth item at its first space: the user, then the trimmed rest as
 * the password (which may hold spaces and `#`); no space gives an empty
 * password, which GOST treats as "any password".
 */
export function splitAuthItem(item: string): { username: string; password: string } {
  const line = item.replaceAll("\t", " ").trim();
  const sp = line.indexOf(" ");
  if (sp < 0) return { username: line, password: "" };
  return { username: line.slice(0, sp), password: line.slice(sp + 1).trim() };
}
