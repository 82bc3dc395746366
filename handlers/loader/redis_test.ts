import { assert, assertEquals, assertRejects, assertStringIncludes } from "../../tests/assert.ts";
import { closeQuietly } from "../../transports/_io/write_all.ts";
import { delay, freePort } from "../../transports/_testing.ts";
import { RedisClient, RedisError } from "./redis.ts";
import { RedisErrorReply, RedisProtocolError } from "./resp.ts";
import { loadSources } from "./sources.ts";

const haveRedis = (() => {
  try {
    return new Deno.Command("redis-server", { args: ["--version"], stdout: "null", stderr: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
})();
const ignore = !haveRedis;

interface Server {
  addr: string;
  port: number;
  kill(signal?: Deno.Signal): Promise<void>;
}

/** Starts a throwaway redis-server on a free loopback port and waits until it answers PING. */
async function startRedis(extra: string[] = [], password?: string): Promise<Server> {
  const port = freePort();
  const child = new Deno.Command("redis-server", {
    args: ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", ...extra],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let done = false;
  const kill = async (signal: Deno.Signal = "SIGTERM") => {
    if (done) return;
    done = true;
    try {
      child.kill(signal);
    } catch {
      // already exited
    }
    await child.status;
  };
  const addr = `127.0.0.1:${port}`;
  for (let i = 0;; i++) {
    try {
      const c = await RedisClient.connect(addr, { password, timeout: 1000 });
      try {
        if ((await c.command("PING")) === "PONG") return { addr, port, kill };
      } finally {
        c.close();
      }
    } catch (e) {
      if (i >= 100) {
        await kill("SIGKILL");
        throw new Error(`redis-server on ${addr} did not answer PING`, { cause: e });
      }
    }
    await delay(50);
  }
}

async function withRedis(fn: (s: Server) => Promise<void>, extra: string[] = [], password?: string) {
  const s = await startRedis(extra, password);
  try {
    await fn(s);
  } finally {
    await s.kill();
  }
}

async function run(addr: string, password: string | undefined, ...cmds: string[][]): Promise<void> {
  const c = await RedisClient.connect(addr, { password });
  try {
    for (const cmd of cmds) await c.command(...cmd);
  } finally {
    c.close();
  }
}

const lines = { format: "lines", redisType: "set" } as const;

Deno.test(
  { name: "redis: client replies of every kind from a real server", ignore },
  () =>
    withRedis(async ({ addr }) => {
      const c = await RedisClient.connect(addr);
      try {
        assertEquals(await c.command("PING"), "PONG");
        assertEquals(await c.command("SET", "s", "värde"), "OK");
        assertEquals(await c.command("GET", "s"), "värde");
        assertEquals(await c.command("GET", "missing"), null);
        assertEquals(await c.command("INCR", "n"), 1);
        assertEquals(await c.command("RPUSH", "l", "a", "b"), 2);
        assertEquals(await c.command("LRANGE", "l", "0", "-1"), ["a", "b"]);
        // Nested arrays and an error inside an array (EXEC after a failing command).
        assertEquals(await c.command("EVAL", "return {1, {'x', {}}}", "0"), [1, ["x", []]]);
        await c.command("MULTI");
        await c.command("INCR", "s");
        const exec = await c.command("EXEC");
        assert(Array.isArray(exec) && exec[0] instanceof RedisErrorReply);
        const err = await assertRejects(() => c.command("NOSUCHCOMMAND"), RedisError, "unknown command");
        assertEquals((err as RedisError).code, "ERR");
        assertEquals(await c.command("PING"), "PONG"); // an error reply leaves the connection usable
      } finally {
        c.close();
      }
    }),
);

Deno.test({ name: "redis: loads set, list, hash and string keys", ignore }, () =>
  withRedis(async ({ addr }) => {
    await run(
      addr,
      undefined,
      ["SADD", "bypass", "10.0.0.0/8", "*.example.com"],
      ["RPUSH", "hosts", "1.2.3.4 a.test", "5.6.7.8 b.test"],
      ["HSET", "users", "admin", "#123", "u2", "p 2"],
      ["SET", "nodes", '[{"name":"n0","addr":"127.0.0.1:8080"}]\n'],
    );
    const load = async (key: string, type?: string) => (await loadSources({ redis: { addr, key, type } }, lines)).redis;
    assertEquals((await load("bypass", "set"))?.sort(), ["*.example.com", "10.0.0.0/8"]);
    assertEquals(await load("hosts", "list"), ["1.2.3.4 a.test", "5.6.7.8 b.test"]);
    assertEquals((await load("users", "hash"))?.sort(), ["admin #123", "u2 p 2"]);
    assertEquals(await load("nodes", "string"), ['[{"name":"n0","addr":"127.0.0.1:8080"}]\n']);
    for (const type of ["set", "list", "hash", "string"]) assertEquals(await load("missing", type), [], type);
  }));

Deno.test(
  { name: 'redis: default key "gost" and the caller\'s default type', ignore },
  () =>
    withRedis(async ({ addr }) => {
      await run(addr, undefined, ["HSET", "gost", "u", "p"]);
      assertEquals(await loadSources({ redis: { addr } }, { format: "auth", redisType: "hash" }), { redis: ["u p"] });
      assertEquals(await loadSources({ redis: { addr, key: "" } }, { format: "auth", redisType: "hash" }), {
        redis: ["u p"],
      });
    }),
);

Deno.test({ name: "redis: db selects the database", ignore }, () =>
  withRedis(async ({ addr }) => {
    const c = await RedisClient.connect(addr, { db: 3 });
    try {
      await c.command("SADD", "gost", "in-db-3");
    } finally {
      c.close();
    }
    assertEquals((await loadSources({ redis: { addr, db: 3 } }, lines)).redis, ["in-db-3"]);
    assertEquals((await loadSources({ redis: { addr } }, lines)).redis, []);
    await assertRejects(
      () => loadSources({ redis: { addr, db: 99 } }, lines),
      Error,
      `redis ${addr} key "gost": ERR DB index is out of range`,
    );
  }));

Deno.test({ name: "redis: WRONGTYPE names the key and both types", ignore }, () =>
  withRedis(async ({ addr }) => {
    await run(addr, undefined, ["HSET", "k", "f", "v"], ["SADD", "s", "m"]);
    const e = await assertRejects(() => loadSources({ redis: { addr, key: "k", type: "set" } }, lines), Error);
    assertStringIncludes(e.message, `redis ${addr} key "k": the key holds a hash, expected a set (WRONGTYPE`);
    assert(e.cause instanceof RedisError && e.cause.code === "WRONGTYPE");
    await assertRejects(
      () => loadSources({ redis: { addr, key: "s", type: "string" } }, lines),
      Error,
      `key "s": the key holds a set, expected a string`,
    );
  }));

Deno.test(
  { name: "redis: requirepass: missing, wrong and right password", ignore },
  () =>
    withRedis(
      async ({ addr }) => {
        await run(addr, "s3cret", ["SADD", "gost", "ok"]);
        await assertRejects(() => loadSources({ redis: { addr } }, lines), Error, `redis ${addr} key "gost": NOAUTH`);
        const e = await assertRejects(
          () => loadSources({ redis: { addr, password: "nope" } }, lines),
          Error,
          `redis ${addr} key "gost": Authentication failed: WRONGPASS`,
        );
        assert(!e.message.includes("nope"), "the password must not appear in the message");
        assertEquals((await loadSources({ redis: { addr, password: "s3cret" } }, lines)).redis, ["ok"]);
      },
      ["--requirepass", "s3cret"],
      "s3cret",
    ),
);

Deno.test({ name: "redis: ACL user with AUTH username password", ignore }, () =>
  withRedis(async ({ addr }) => {
    await run(addr, undefined, ["ACL", "SETUSER", "loader", "on", ">pw", "~gost", "+smembers"], ["SADD", "gost", "x"]);
    assertEquals((await loadSources({ redis: { addr, username: "loader", password: "pw" } }, lines)).redis, ["x"]);
    await assertRejects(
      () => loadSources({ redis: { addr, username: "loader", password: "bad" } }, lines),
      Error,
      "Authentication failed: WRONGPASS",
    );
    // The user may not run LRANGE: the server's refusal is surfaced.
    await assertRejects(
      () => loadSources({ redis: { addr, username: "loader", password: "pw", type: "list" } }, lines),
      Error,
      "NOPERM",
    );
  }));

Deno.test({ name: "redis: server killed while connected gives an error, not a hang", ignore }, async () => {
  const s = await startRedis();
  const c = await RedisClient.connect(s.addr, { timeout: 2000 });
  try {
    assertEquals(await c.command("PING"), "PONG");
    await s.kill("SIGKILL");
    const e = await assertRejects(() => c.command("SMEMBERS", "gost"));
    assert(!(e instanceof Deno.errors.TimedOut), `want a connection error, got ${e}`);
    await assertRejects(() => c.command("PING"), Deno.errors.BadResource, "closed");
  } finally {
    c.close();
    await s.kill();
  }
});

Deno.test({ name: "redis: server killed while replying (blocked in DEBUG SLEEP) gives an error", ignore }, async () => {
  const s = await startRedis(["--enable-debug-command", "yes"]);
  const c = await RedisClient.connect(s.addr, { timeout: 5000 });
  try {
    const pending = c.command("DEBUG", "SLEEP", "3");
    await delay(100);
    await s.kill("SIGKILL");
    const e = await assertRejects(() => pending);
    assert(!(e instanceof Deno.errors.TimedOut), `want a connection error, got ${e}`);
  } finally {
    c.close();
    await s.kill();
  }
});

Deno.test("redis: connection refused names the source", async () => {
  const addr = `127.0.0.1:${freePort()}`;
  await assertRejects(() => loadSources({ redis: { addr } }, lines), Error, `redis ${addr} key "gost": `);
});

/** A one-connection TCP server on loopback that runs `script` on the accepted conn. */
async function fakeServer(script: (conn: Deno.Conn) => Promise<void>, fn: (addr: string) => Promise<void>) {
  const ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const served = (async () => {
    for await (const conn of ln) {
      conns.push(conn);
      await script(conn).catch(() => {});
    }
  })();
  try {
    await fn(`127.0.0.1:${ln.addr.port}`);
  } finally {
    ln.close();
    for (const c of conns) closeQuietly(c);
    await served;
  }
}

const readSome = async (conn: Deno.Conn) => await conn.read(new Uint8Array(4096));
const enc = new TextEncoder();

Deno.test("redis: a silent server times out", async () => {
  await fakeServer(async (conn) => {
    await readSome(conn);
  }, async (addr) => {
    const c = await RedisClient.connect(addr, { timeout: 200 });
    try {
      const t0 = Date.now();
      await assertRejects(() => c.command("PING"), Deno.errors.TimedOut, "No reply to PING within 200 ms");
      assert(Date.now() - t0 < 2000);
    } finally {
      c.close();
    }
  });
});

Deno.test("redis: a reply cut short by the server", async () => {
  await fakeServer(async (conn) => {
    await readSome(conn);
    await conn.write(enc.encode("*2\r\n$5\r\nhel"));
    conn.close();
  }, async (addr) => {
    const c = await RedisClient.connect(addr, { timeout: 2000 });
    try {
      await assertRejects(() => c.command("SMEMBERS", "gost"), Deno.errors.UnexpectedEof, "in the middle of a reply");
    } finally {
      c.close();
    }
  });
});

Deno.test("redis: garbage from the server is a protocol error and closes the client", async () => {
  await fakeServer(async (conn) => {
    await readSome(conn);
    await conn.write(enc.encode("HTTP/1.1 400 Bad Request\r\n\r\n"));
    await readSome(conn); // stays open: the client must not wait for more
  }, async (addr) => {
    const c = await RedisClient.connect(addr, { timeout: 5000 });
    try {
      await assertRejects(() => c.command("PING"), RedisProtocolError, `0x48 ("H")`);
      await assertRejects(() => c.command("PING"), Deno.errors.BadResource);
    } finally {
      c.close();
    }
  });
});

Deno.test("redis: abort signal fails the command in flight", async () => {
  await fakeServer(async (conn) => {
    await readSome(conn);
  }, async (addr) => {
    const ac = new AbortController();
    const c = await RedisClient.connect(addr, { timeout: 5000, signal: ac.signal });
    try {
      const pending = c.command("PING");
      setTimeout(() => ac.abort(new Error("stop now")), 50);
      await assertRejects(() => pending, Error, "stop now");
    } finally {
      c.close();
    }
  });
});

Deno.test("redis: close() fails the command in flight", async () => {
  await fakeServer(async (conn) => {
    await readSome(conn);
  }, async (addr) => {
    const c = await RedisClient.connect(addr, { timeout: 5000 });
    const pending = c.command("PING");
    await delay(20);
    c.close();
    c.close();
    await assertRejects(() => pending, Deno.errors.BadResource, "closed");
  });
});

Deno.test("redis: commands are sent one at a time, in order", async () => {
  await fakeServer(async (conn) => {
    const buf = new Uint8Array(4096);
    let n = 0;
    for (;;) {
      const r = await conn.read(buf);
      if (r === null) return;
      // Answer each PING with its sequence number, one command per read at most.
      const text = new TextDecoder().decode(buf.subarray(0, r));
      for (const _ of text.matchAll(/PING/g)) await conn.write(enc.encode(`:${n++}\r\n`));
    }
  }, async (addr) => {
    const c = await RedisClient.connect(addr);
    try {
      assertEquals(await Promise.all([c.command("PING"), c.command("PING"), c.command("PING")]), [0, 1, 2]);
    } finally {
      c.close();
    }
  });
});
