/**
 * Checks the import direction `transports` <- `handlers` <- `config` <- `main.ts`:
 * nothing may import from a layer above its own. Exits 1 with the offending lines.
 *
 * @module
 */
const LAYERS = ["transports", "handlers", "config"];
const rank = (path: string) => {
  const top = path.split("/")[0];
  const i = LAYERS.indexOf(top);
  return i < 0 ? LAYERS.length : i;
};

const bad: string[] = [];
async function walk(dir: string) {
  for await (const e of Deno.readDir(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) await walk(p);
    else if (p.endsWith(".ts") && !p.endsWith("_test.ts")) await check(p);
  }
}
async function check(file: string) {
  const rel = file.replace(/^\.\//, "");
  const text = await Deno.readTextFile(file);
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)) {
    const target = new URL(m[1], `file:///${rel}`).pathname.slice(1);
    if (rank(target) > rank(rel)) bad.push(`${rel} imports ${target}`);
  }
}
for (const l of LAYERS) await walk(`./${l}`);
if (bad.length) {
  console.error("Imports that go upward:\n" + bad.join("\n"));
  Deno.exit(1);
}
console.log("import direction ok");
