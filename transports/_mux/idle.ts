/**
 * Closing a session once its streams are done (graceful drain), shared by
 * the session listeners and dialers of mws/mwss and mtcp/mtls.
 *
 * @module
 */
import type { Session } from "./session.ts";

/** How often a draining session is checked for open streams. */
const IDLE_POLL = 500;

/** Sessions already waiting to be closed (one timer each). */
const draining = new WeakSet<Session>();

/**
 * Closes `session` as soon as it carries no stream: at once when idle,
 * otherwise when the last stream ends (checked every half second; the timer
 * does not keep the process alive and stops when the session dies).
 * Calling it again for the same session changes nothing.
 */
export function closeWhenIdle(session: Session): void {
  if (session.closed) return;
  if (session.numStreams === 0) {
    session.close();
    return;
  }
  if (draining.has(session)) return;
  draining.add(session);
  const timer = setInterval(() => {
    if (session.numStreams === 0) session.close();
  }, IDLE_POLL);
  Deno.unrefTimer(timer);
  session.done.then(() => clearInterval(timer));
}
