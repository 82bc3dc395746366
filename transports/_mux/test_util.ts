/** Helpers shared by the smux tests and the throughput script. */
import { Session, type SessionOptions } from "./session.ts";
export { delay, pattern, readAll, readExactly, sha256, tcpPair, writeChunked } from "../_testing.ts";
import { tcpPair } from "../_testing.ts";

/** A client and a server session over a loopback TCP pair. */
export async function sessionPair(
  opts: Partial<Omit<SessionOptions, "client">> = {},
): Promise<{ client: Session; server: Session; close(): Promise<void> }> {
  const [a, b] = await tcpPair();
  const client = new Session(a, { ...opts, client: true });
  const server = new Session(b, { ...opts, client: false });
  return {
    client,
    server,
    async close() {
      client.close();
      server.close();
      await Promise.all([client.done, server.done]);
    },
  };
}
