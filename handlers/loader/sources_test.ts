import { assert, assertEquals, assertRejects, assertThrows } from "../../tests/assert.ts";
import { freePort } from "../../transports/_testing.ts";
import { loadSources, MAX_BODY_SIZE } from "./sources.ts";
import { type LoaderSpec, validateLoaderSpec } from "./spec.ts";

const lines = { format: "lines", redisType: "set" } as const;
const auth = { format: "auth", redisType: "hash" } as const;

async function withTempFile(text: string | Uint8Array, fn: (path: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "dost-loader-" });
  try {
    const path = `${dir}/data.txt`;
    if (typeof text === "string") await Deno.writeTextFile(path, text);
    else await Deno.writeFile(path, text);
    await fn(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("file: lines format drops comments anywhere", () =>
  withTempFile("# bypass\n1.2.3.4 # note\n\n*.example.com\r\n", async (path) => {
    assertEquals(await loadSources({ file: { path } }, lines), { file: ["1.2.3.4", "*.example.com"] });
  }));

Deno.test("file: auth format keeps # after column 1", () =>
  withTempFile("# users\nadmin #123\nu2\tp2\n", async (path) => {
    assertEquals(await loadSources({ file: { path } }, auth), { file: ["admin #123", "u2 p2"] });
  }));

Deno.test("file: missing file and directory name the source", async () => {
  await assertRejects(
    () => loadSources({ file: { path: "/nonexistent/dost" } }, lines),
    Error,
    `file "/nonexistent/dost": No such file`,
  );
  const dir = await Deno.makeTempDir({ prefix: "dost-loader-" });
  try {
    await assertRejects(() => loadSources({ file: { path: dir } }, lines), Error, `file "${dir}": `);
  } finally {
    await Deno.remove(dir);
  }
});

Deno.test("file: larger than the bound is an error", () =>
  withTempFile(new Uint8Array(MAX_BODY_SIZE + 1).fill(0x61), async (path) => {
    const e = await assertRejects(
      () => loadSources({ file: { path } }, lines),
      Error,
      "File larger than 16777216 bytes",
    );
    assert(e.cause instanceof RangeError);
  }));

type Handler = (req: Request) => Response | Promise<Response>;

/** Serves `handler` on loopback for the duration of `fn`; `release` settles handlers that wait. */
async function withHttp(handler: Handler, fn: (base: string) => Promise<void>) {
  const release = Promise.withResolvers<void>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => handler(Object.assign(req, { release: release.promise })),
  );
  try {
    await fn(`http://127.0.0.1:${server.addr.port}`);
  } finally {
    release.resolve();
    await server.shutdown();
  }
}

const waitFor = (req: Request) => (req as Request & { release: Promise<void> }).release;

const routes: Handler = async (req) => {
  const path = new URL(req.url).pathname;
  switch (path) {
    case "/bypass":
      return new Response("# list\n10.0.0.0/8 # private\nexample.com\n");
    case "/auth":
      return new Response("admin #123\n");
    case "/slow-head":
      await waitFor(req);
      return new Response("late\n");
    case "/slow-body": {
      const release = waitFor(req);
      return new Response(
        new ReadableStream({
          async start(c) {
            c.enqueue(new TextEncoder().encode("first\n"));
            await release;
            c.close();
          },
        }),
      );
    }
    case "/big": {
      let sent = 0;
      const chunk = new Uint8Array(1 << 20).fill(0x61);
      return new Response(
        new ReadableStream({
          pull(c) {
            if (sent > MAX_BODY_SIZE + chunk.length) return c.close();
            sent += chunk.length;
            c.enqueue(chunk);
          },
        }),
      );
    }
    case "/big-declared":
      return new Response("x".repeat(MAX_BODY_SIZE + 1));
    case "/redirect":
      return Response.redirect(new URL("/bypass", req.url), 302);
    case "/created":
      return new Response("x\n", { status: 201 });
    default:
      return new Response("not here", { status: 404 });
  }
};

Deno.test("http: 200 body parsed in the given format", () =>
  withHttp(routes, async (base) => {
    assertEquals(await loadSources({ http: { url: `${base}/bypass` } }, lines), {
      http: ["10.0.0.0/8", "example.com"],
    });
    assertEquals(await loadSources({ http: { url: `${base}/auth`, timeout: 2000 } }, auth), { http: ["admin #123"] });
    assertEquals(await loadSources({ http: { url: `${base}/redirect` } }, lines), {
      http: ["10.0.0.0/8", "example.com"],
    });
  }));

Deno.test("http: any status but 200 is an error", () =>
  withHttp(routes, async (base) => {
    await assertRejects(
      () => loadSources({ http: { url: `${base}/nope` } }, lines),
      Error,
      `http "${base}/nope": status 404`,
    );
    await assertRejects(() => loadSources({ http: { url: `${base}/created` } }, lines), Error, "status 201");
  }));

Deno.test("http: timeout covers the response head and the body", () =>
  withHttp(routes, async (base) => {
    for (const path of ["/slow-head", "/slow-body"]) {
      const t0 = Date.now();
      await assertRejects(
        () => loadSources({ http: { url: `${base}${path}`, timeout: 150 } }, lines),
        Error,
        `http "${base}${path}": No complete response within 150 ms`,
      );
      assert(Date.now() - t0 < 2000, path);
    }
  }));

Deno.test("http: a body over the bound is an error", () =>
  withHttp(routes, async (base) => {
    await assertRejects(() => loadSources({ http: { url: `${base}/big` } }, lines), Error, "larger than 16777216");
    await assertRejects(
      () => loadSources({ http: { url: `${base}/big-declared` } }, lines),
      Error,
      "larger than 16777216 bytes (content-length 16777217)",
    );
  }));

Deno.test("http: nothing listening names the source", async () => {
  const url = `http://127.0.0.1:${freePort()}/x`;
  await assertRejects(() => loadSources({ http: { url } }, lines), Error, `http "${url}": `);
});

Deno.test("http: an abort signal stops the load", () =>
  withHttp(routes, async (base) => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error("closing")), 50);
    await assertRejects(
      () => loadSources({ http: { url: `${base}/slow-head` } }, { ...lines, signal: ac.signal }),
      Error,
      "closing",
    );
  }));

Deno.test("loadSources: every source at once, in precedence order", () =>
  withTempFile("from-file\n", (path) =>
    withHttp(routes, async (base) => {
      const got = await loadSources({ file: { path }, http: { url: `${base}/auth` } }, auth);
      assertEquals(Object.keys(got), ["file", "http"]);
      assertEquals(got, { file: ["from-file"], http: ["admin #123"] });
      assertEquals(await loadSources({}, lines), {});
    })));

Deno.test("loadSources: several failures are reported together", () =>
  withHttp(routes, async (base) => {
    const redis = `127.0.0.1:${freePort()}`;
    const spec: LoaderSpec = {
      file: { path: "/nonexistent/x" },
      redis: { addr: redis },
      http: { url: `${base}/gone` },
    };
    const e = await assertRejects(() => loadSources(spec, lines), AggregateError);
    assertEquals((e as AggregateError).errors.length, 3);
    assert(e.message.startsWith(`file "/nonexistent/x": `), e.message);
    assert(e.message.includes(`; redis ${redis} key "gost": `), e.message);
    assert(e.message.endsWith(`; http "${base}/gone": status 404`), e.message);
  }));

Deno.test("loadSources: a bad spec fails the source that has it", async () => {
  await assertRejects(
    () => loadSources({ redis: { addr: "127.0.0.1:6379", type: "zset" } }, lines),
    Error,
    `redis 127.0.0.1:6379 key "gost": Invalid redis loader type "zset"`,
  );
});

const good: LoaderSpec[] = [
  {},
  { file: { path: "/etc/dost/bypass.txt" } },
  { redis: { addr: "127.0.0.1:6379" } },
  { redis: { addr: "[::1]:6379", db: 2, key: "k", type: "hash", username: "u", password: "p" } },
  { redis: { addr: "redis.internal:6380", type: "" } },
  { http: { url: "http://127.0.0.1:8000/x", timeout: 0 } },
  { http: { url: "https://example.com/list", timeout: 10_000 } },
];
for (const spec of good) {
  Deno.test(`validateLoaderSpec accepts ${JSON.stringify(spec)}`, () => validateLoaderSpec(spec));
}

const bad: { spec: LoaderSpec; includes: string }[] = [
  { spec: { file: { path: "" } }, includes: `Invalid file loader path ""` },
  { spec: { redis: { addr: "127.0.0.1" } }, includes: `Invalid redis loader address "127.0.0.1"` },
  { spec: { redis: { addr: "127.0.0.1:99999" } }, includes: `"127.0.0.1:99999"` },
  { spec: { redis: { addr: "::1:6379" } }, includes: `"::1:6379"` },
  { spec: { redis: { addr: "127.0.0.1:0" } }, includes: `"127.0.0.1:0": port 0` },
  { spec: { redis: { addr: "127.0.0.1:6379", db: -1 } }, includes: "Invalid redis loader db -1" },
  { spec: { redis: { addr: "127.0.0.1:6379", db: 1.5 } }, includes: "Invalid redis loader db 1.5" },
  { spec: { redis: { addr: "127.0.0.1:6379", type: "zset" } }, includes: `Invalid redis loader type "zset"` },
  { spec: { http: { url: "not a url" } }, includes: `Invalid http loader URL "not a url"` },
  { spec: { http: { url: "ftp://127.0.0.1/x" } }, includes: `"ftp://127.0.0.1/x": scheme must be http or https` },
  { spec: { http: { url: "http://127.0.0.1/x", timeout: -1 } }, includes: "Invalid http loader timeout -1" },
  { spec: { http: { url: "http://127.0.0.1/x", timeout: NaN } }, includes: "Invalid http loader timeout NaN" },
];
for (const b of bad) {
  Deno.test(`validateLoaderSpec rejects ${JSON.stringify(b.spec)}`, () => {
    assertThrows(() => validateLoaderSpec(b.spec), TypeError, b.includes);
  });
}
