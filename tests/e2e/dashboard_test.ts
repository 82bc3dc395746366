/**
 * The dashboard page in a real browser: a stub server in the test serves
 * DASHBOARD_HTML and a fake, growing `/stats` (two services, one error event
 * whose message holds markup); headless Chromium runs the page on virtual
 * time and dumps the DOM or a screenshot. The page against real dost is
 * tested beside the API server.
 *
 * Set `DOST_DASHBOARD_PNG=docs/dashboard.png` to write the screenshot there
 * (with five minutes of samples, the full chart window).
 *
 * @module
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../assert.ts";
import { freePort } from "../../transports/_testing.ts";
import { hasCommand, startDost } from "./_dost.ts";
import { DASHBOARD_HTML } from "../../ops/dashboard/page.ts";

const CHROMIUM = ["chromium", "chromium-browser", "google-chrome"].find(hasCommand);
const OUT_PNG = Deno.env.get("DOST_DASHBOARD_PNG");
const MARKUP = "<b>admin</b>";

interface Stub {
  url: string;
  /** Paths the page asked for, in order. */
  hits: string[];
  close(): Promise<void>;
}

/**
 * Serves the page at `prefix + "/"` and `prefix + "/stats"`, which answers
 * `status` or a body whose counters grow on each call. The stub's clock
 * moves 2 s per call, as a real server's would between the page's polls, so
 * rates stay realistic however fast virtual time runs.
 */
function startStub(prefix = "", status = 200): Stub {
  const port = freePort();
  const hits: string[] = [];
  const t0 = Date.now();
  const created = Math.floor(t0 / 1000) - 3600;
  const totals = [
    { conns: 40, errs: 1, in: 2_400_000, out: 31_000_000 },
    { conns: 7, errs: 2, in: 9_800_000, out: 1_200_000 },
  ];
  let n = 0;
  const stats = () => {
    n++;
    const wave = (p: number, k: number) => Math.max(0, 1 + 0.6 * Math.sin(n / p) + 0.3 * Math.sin(n / k));
    const add = [
      { in: 2 * 40_000 * wave(7, 3), out: 2 * 420_000 * wave(7, 2.3) },
      { in: 2 * 160_000 * wave(11, 4), out: 2 * 30_000 * wave(5, 2) },
    ];
    totals.forEach((t, i) => {
      t.in += Math.round(add[i].in);
      t.out += Math.round(add[i].out);
      if (n % 3 === i) t.conns++;
    });
    const now = Math.floor((t0 + n * 2000) / 1000);
    return {
      time: t0 + n * 2000,
      services: [
        {
          name: "service-0",
          addr: "127.0.0.1:8080",
          handler: "http",
          listener: "tcp",
          state: "running",
          createTime: created,
          stats: {
            totalConns: totals[0].conns,
            currentConns: 3 + (n % 4),
            totalErrs: totals[0].errs,
            inputBytes: totals[0].in,
            outputBytes: totals[0].out,
          },
          events: [{
            time: now - 95,
            msg: "127.0.0.1:5555 >< 127.0.0.1:8080: dial tcp 127.0.0.1:9000: connection refused",
          }],
        },
        {
          name: "relay-tls",
          addr: "127.0.0.1:8443",
          handler: "relay",
          listener: "tls",
          state: "running",
          createTime: created + 600,
          stats: {
            totalConns: totals[1].conns,
            currentConns: 1,
            totalErrs: totals[1].errs,
            inputBytes: totals[1].in,
            outputBytes: totals[1].out,
          },
          events: [
            { time: now - 400, msg: "127.0.0.1:41810 >< 127.0.0.1:8443: tls: first record does not look like TLS" },
            { time: now - 12, msg: `127.0.0.1:41822 >< 127.0.0.1:8443: auth: user "${MARKUP}" rejected` },
          ],
        },
      ],
    };
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, (req) => {
    const path = new URL(req.url).pathname;
    hits.push(path);
    if (path === prefix + "/") {
      return new Response(DASHBOARD_HTML, { headers: { "content-type": "text/html; charset=utf-8" } });
    }
    if (path === prefix + "/stats") {
      if (status !== 200) return Response.json({ code: status, msg: "Unauthorized" }, { status });
      return Response.json(stats(), { headers: { "cache-control": "no-store" } });
    }
    return new Response("404 page not found\n", { status: 404 });
  });
  return { url: `http://127.0.0.1:${port}${prefix}/`, hits, close: () => server.shutdown() };
}

/** Runs headless Chromium on `url` for `budget` ms of virtual time; returns its stdout. */
async function chromium(url: string, budget: number, extra: string[]): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "dost-e2e-chromium-" });
  try {
    const out = await new Deno.Command(CHROMIUM!, {
      args: [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--hide-scrollbars",
        "--lang=en-US",
        `--user-data-dir=${dir}`,
        `--virtual-time-budget=${budget}`,
        ...extra,
        url,
      ],
      stdout: "piped",
      stderr: "piped",
      env: { TZ: "UTC" },
      signal: AbortSignal.timeout(120_000),
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    assert(out.success, `chromium failed: ${new TextDecoder().decode(out.stderr).slice(-2000)}`);
    return stdout;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** The outer HTML of `<tag ...attr...>…</tag>` (no nesting of the same tag). */
function element(dom: string, tag: string, attr: string): string {
  const m = new RegExp(`<${tag}\\b[^>]*${attr}[^>]*>[\\s\\S]*?</${tag}>`).exec(dom);
  assert(m, `no <${tag} ${attr}> in the DOM`);
  return m[0];
}
const cell = (row: string, cls: string) => {
  const m = new RegExp(`<td class="${cls}( [^"]*)?"[^>]*>([^<]*)</td>`).exec(row);
  assert(m, `no .${cls} cell in ${row}`);
  return m[2];
};

Deno.test({
  name: "dashboard in Chromium shows services, a traffic chart and escaped errors from a live /stats",
  ignore: !CHROMIUM,
  sanitizeResources: false,
  async fn() {
    const stub = startStub();
    try {
      const dom = await chromium(stub.url, 8000, ["--dump-dom"]);
      const polls = stub.hits.filter((p) => p === "/stats").length;
      assert(polls >= 4, `page polled /stats ${polls} times in 8 s`);
      assert(stub.hits.every((p) => p === "/" || p === "/stats"), `unexpected requests ${stub.hits}`);

      for (const name of ["service-0", "relay-tls"]) {
        const row = element(dom, "tr", `data-service="${name}"`);
        for (const c of ["in-bytes", "out-bytes"]) assertMatch(cell(row, c), /^[1-9][\d.]* (B|KiB|MiB|GiB)$/);
        assert(Number(cell(row, "total-conns")) > 0, row);
        assertMatch(cell(row, "current-conns"), /^\d+$/);
      }
      const row0 = element(dom, "tr", 'data-service="service-0"');
      assertEquals(cell(row0, "addr"), "127.0.0.1:8080");
      assertEquals(cell(row0, "kind"), "http+tcp");
      assertStringIncludes(row0, ">running</span>");
      assertMatch(cell(row0, "out-bytes"), / MiB$/);

      const svg = element(dom, "svg", 'id="traffic"');
      for (const id of ["traffic-in", "traffic-out"]) {
        const d = new RegExp(`<path id="${id}" d="(M[^"]+)"`).exec(svg)?.[1];
        assert(d, `no drawn ${id} in ${svg}`);
        assert(d.split("L").length >= 3, `${id} has too few points: ${d}`);
      }
      assertMatch(element(dom, "dd", 'id="rate-in"'), /[1-9][\d.]* KiB\/s/);
      assertMatch(element(dom, "span", 'id="updated"'), /updated \d/);
      assertMatch(dom, /<p id="error" role="alert" hidden="">/);

      // Errors: every service's events, newest first; markup in a message stays text.
      const items = [...element(dom, "ul", 'id="errors"').matchAll(/<li>([\s\S]*?)<\/li>/g)].map((m) => m[1]);
      assertEquals(items.length, 3);
      assertStringIncludes(items[0], '<span class="service">relay-tls</span>');
      assertStringIncludes(items[0], 'auth: user "&lt;b&gt;admin&lt;/b&gt;" rejected');
      assertStringIncludes(items[1], '<span class="service">service-0</span>');
      assertStringIncludes(items[2], "first record does not look like TLS");
      assert(!dom.includes(MARKUP), "event markup reached the DOM as elements");
      assert(!/<b>/i.test(dom), "a <b> element is in the DOM");
    } finally {
      await stub.close();
    }
  },
});

Deno.test({
  name: "dashboard under a path prefix polls {prefix}/stats and turns a 401 into a log-in hint",
  ignore: !CHROMIUM,
  sanitizeResources: false,
  async fn() {
    const stub = startStub("/dost/api", 401);
    try {
      const dom = await chromium(stub.url, 5000, ["--dump-dom"]);
      assert(stub.hits.filter((p) => p === "/dost/api/stats").length >= 2, `hits: ${stub.hits}`);
      assert(stub.hits.every((p) => p.startsWith("/dost/api/")), `hits: ${stub.hits}`);
      const banner = element(dom, "p", 'id="error"');
      assert(!/\shidden/.test(banner.slice(0, banner.indexOf(">"))), banner);
      assertStringIncludes(banner, "401");
      assertStringIncludes(banner, "log in");
      assertMatch(dom, /<body class="stale">/);
      assertStringIncludes(element(dom, "span", 'id="updated"'), "connecting");
    } finally {
      await stub.close();
    }
  },
});

Deno.test({
  name: "dashboard screenshot in Chromium is a 1280x800 PNG",
  ignore: !CHROMIUM,
  sanitizeResources: false,
  async fn() {
    const stub = startStub();
    const dir = await Deno.makeTempDir({ prefix: "dost-e2e-shot-" });
    try {
      const shot = `${dir}/shot.png`;
      // Five minutes of virtual time fill the chart's whole window (150 samples).
      await chromium(stub.url, OUT_PNG ? 302_000 : 30_000, [`--screenshot=${shot}`, "--window-size=1280,800"]);
      const png = await Deno.readFile(shot);
      assertEquals([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      const ihdr = new DataView(png.buffer, png.byteOffset + 16, 8);
      assertEquals([ihdr.getUint32(0), ihdr.getUint32(4)], [1280, 800]);
      assert(png.length > 20_000 && png.length < 2_000_000, `PNG is ${png.length} bytes`);
      assert(stub.hits.filter((p) => p === "/stats").length >= 10, `hits: ${stub.hits.length}`);
      if (OUT_PNG) await Deno.copyFile(shot, OUT_PNG);
    } finally {
      await stub.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "dashboard of a real dost: after traffic, Chromium shows each service with non-zero byte counts",
  ignore: !CHROMIUM || !hasCommand("curl"),
  async fn() {
    const origin = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      () => new Response("x".repeat(50_000)),
    );
    const [api, a, b] = [freePort(), freePort(), freePort()];
    const dost = await startDost(
      ["-L", `http://127.0.0.1:${a}`, "-L", `socks5://127.0.0.1:${b}`, "-api", `127.0.0.1:${api}`],
      { services: 3 },
    );
    try {
      for (const proxy of [`http://127.0.0.1:${a}`, `socks5h://127.0.0.1:${b}`]) {
        const r = await new Deno.Command("curl", {
          args: ["-s", "-o", "/dev/null", "-x", proxy, `http://127.0.0.1:${origin.addr.port}/`],
        }).output();
        assert(r.success);
      }
      const dom = await chromium(`http://127.0.0.1:${api}/`, 5000, ["--dump-dom"]);
      for (const name of ["service-0", "service-1"]) {
        const row = element(dom, "tr", `data-service="${name}"`);
        assertMatch(cell(row, "in-bytes"), /^[1-9]/, `${name} in`);
        assertMatch(cell(row, "out-bytes"), /^[1-9]/, `${name} out`);
        assertEquals(cell(row, "total-conns"), "1", `${name} connections`);
      }
    } finally {
      await dost.stop();
      await origin.shutdown();
    }
  },
});
