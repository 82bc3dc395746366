/**
 * Small origin servers for end-to-end tests, on loopback ports.
 *
 * @module
 */

/** An HTTP origin that answers `origin:<path>` (and echoes POST bodies). */
export function startOrigin(): { port: number; close(): Promise<void> } {
  const ac = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen() {} },
    async (req) => {
      const url = new URL(req.url);
      if (req.method === "POST") return new Response(await req.arrayBuffer());
      if (url.pathname.startsWith("/bytes/")) {
        const n = Number(url.pathname.slice(7));
        return new Response(new Uint8Array(n).fill(97));
      }
      return new Response(`origin:${url.pathname}`);
    },
  );
  return {
    port: server.addr.port,
    async close() {
      ac.abort();
      await server.finished;
    },
  };
}

/** A TCP server that echoes every byte back and half-closes after EOF. */
export function startEcho(): { port: number; close(): Promise<void> } {
  const ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const loop = (async () => {
    for await (const c of ln) {
      conns.add(c);
      (async () => {
        const buf = new Uint8Array(64 * 1024);
        try {
          for (;;) {
            const n = await c.read(buf);
            if (n === null) break;
            let off = 0;
            while (off < n) off += await c.write(buf.subarray(off, n));
          }
          await c.closeWrite();
        } catch {
          // peer gone
        } finally {
          try {
            c.close();
          } catch {
            // closed
          }
          conns.delete(c);
        }
      })();
    }
  })();
  return {
    port: (ln.addr as Deno.NetAddr).port,
    async close() {
      ln.close();
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // closed
        }
      }
      await loop.catch(() => {});
    },
  };
}

/** A server that speaks first: sends `banner` on connect, then echoes. */
export function startBanner(banner: string): { port: number; close(): Promise<void> } {
  const ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const loop = (async () => {
    for await (const c of ln) {
      (async () => {
        try {
          await c.write(new TextEncoder().encode(banner));
          const buf = new Uint8Array(1024);
          const n = await c.read(buf);
          if (n) await c.write(buf.subarray(0, n));
        } catch {
          // gone
        } finally {
          try {
            c.close();
          } catch {
            // closed
          }
        }
      })();
    }
  })();
  return {
    port: (ln.addr as Deno.NetAddr).port,
    async close() {
      ln.close();
      await loop.catch(() => {});
    },
  };
}
