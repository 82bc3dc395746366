/**
 * Test helpers for scrapes: the samples of a text exposition by series.
 *
 * @module
 */

/** Samples by series text (`name{a="b"}`), from a scrape in the text format. */
export function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const sp = line.lastIndexOf(" ");
    const v = line.slice(sp + 1);
    out.set(line.slice(0, sp), v === "+Inf" ? Infinity : v === "-Inf" ? -Infinity : Number(v));
  }
  return out;
}

/** `name{k="v",...}` with the labels in the order given (the order a scrape uses when they are sorted). */
export function series(name: string, labels: Record<string, string> = {}): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  return parts.length ? `${name}{${parts.join(",")}}` : name;
}
