/**
 * The server half of a QUIC handshake, for every QUIC listener (h3, quic, wt):
 * bounded by the listener's handshake timeout, and a failed handshake (garbage,
 * or a dost dialer's certificate probe, which ends it on purpose) is a debug
 * line, never an error of the listener.
 *
 * @module
 */
import type { Logger } from "../log.ts";

export interface AcceptQuicOptions {
  /** Milliseconds the handshake may take. */
  timeout: number;
  log: Logger;
  /** Log prefix: the transport's name. */
  tag: string;
  /** Closes a connection whose handshake finished after the timeout. */
  close: (conn: Deno.QuicConn) => void;
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The accepted connection, or `undefined` when the handshake failed or timed out (logged at debug). */
export async function acceptQuic(
  incoming: Deno.QuicIncoming,
  o: AcceptQuicOptions,
): Promise<Deno.QuicConn | undefined> {
  // Not incoming.remoteAddr: in Deno 2.9.6 reading it consumes the Incoming, which then refuses the connection.
  const pending = incoming.accept<false>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), o.timeout)));
  try {
    const won = await Promise.race([pending, timeout]);
    if (won !== "timeout") return won;
    o.log.debug(`${o.tag}: handshake timed out`);
    pending.then(o.close, () => {});
  } catch (err) {
    o.log.debug(`${o.tag}: handshake failed: ${errText(err)}`);
  } finally {
    clearTimeout(timer);
  }
  return undefined;
}
