import { assert, assertEquals, assertMatch } from "../../tests/assert.ts";
import { DASHBOARD_HTML } from "./page.ts";

const scripts = () => [...DASHBOARD_HTML.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];

Deno.test("dashboard page is one self-contained document", () => {
  assertMatch(DASHBOARD_HTML, /^<!doctype html>\n<html lang="en">/);
  assertMatch(DASHBOARD_HTML, /<meta charset="utf-8">/);
  assertMatch(DASHBOARD_HTML, /<\/html>\n$/);
  for (const bad of [/https?:/i, /\/\/cdn/i, /<script[^>]*\ssrc=/i, /@import/i, /url\(/i, /<img\b/i, /<iframe\b/i]) {
    assert(!bad.test(DASHBOARD_HTML), `page must not contain ${bad}`);
  }
  // The only <link> is the empty inline favicon (so browsers do not ask the API for /favicon.ico).
  const links = [...DASHBOARD_HTML.matchAll(/<link\b[^>]*>/gi)].map((m) => m[0]);
  assertEquals(links, ['<link rel="icon" href="data:,">']);
  assertEquals(scripts().length, 1);
  assertEquals(scripts()[0][1], "");
  assertEquals([...DASHBOARD_HTML.matchAll(/<style>/g)].length, 1);
});

Deno.test("dashboard page has the hooks tests and users rely on", () => {
  for (
    const hook of [
      '<svg id="traffic"',
      '<span id="updated">',
      '<p id="error" role="alert" hidden>',
      '<ul id="errors">',
      '<tbody id="service-rows">',
      'id="rate-in"',
      'id="rate-out"',
    ]
  ) {
    assert(DASHBOARD_HTML.includes(hook), `missing ${hook}`);
  }
  const js = scripts()[0][2];
  for (const cls of ["current-conns", "total-conns", "total-errs", "in-bytes", "out-bytes"]) {
    assert(js.includes(`"${cls} num"`), `row cell .${cls} missing`);
  }
  assertMatch(js, /tr\.dataset\.service = s\.name/);
  assertMatch(js, /"traffic-" \+ name/);
});

Deno.test("dashboard script polls {path}/stats every 2 s and writes data as text only", () => {
  const js = scripts()[0][2];
  assertMatch(js, /location\.pathname\.replace\(\/\[\/\]\+\$\/, ""\)/);
  assertMatch(js, /fetch\(base \+ "\/stats"/);
  assertMatch(js, /EVERY = 2000/);
  assertMatch(js, /MAX_SAMPLES = 150/);
  assertMatch(js, /WINDOW = 300000/);
  assertMatch(js, /\.textContent = /);
  assertMatch(js, /log in/);
  for (const bad of [/innerHTML/, /outerHTML/, /insertAdjacentHTML/, /document\.write/, /\beval\(/]) {
    assert(!bad.test(js), `script must not use ${bad}`);
  }
  // The script is valid JavaScript (compiled, not run).
  new Function(js);
});

Deno.test("dashboard page stays small", () => {
  const size = new TextEncoder().encode(DASHBOARD_HTML).length;
  assert(size < 16 * 1024, `page is ${size} bytes`);
});
