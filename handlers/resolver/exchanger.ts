/**
 * Exchangers carry one DNS query to one nameserver and bring back the raw
 * reply: UDP, TCP, DNS over TLS and DNS over HTTPS. They know nothing about
 * caching or record types; the resolver checks that a reply matches. The
 * implementations are private (`_udp.ts`, `_stream.ts`, `_doh.ts`).
 *
 * @module
 */
/** Largest reply any exchanger accepts: what a 2-byte length prefix can say. */
export const MAX_REPLY = 65535;

/** Sends one query and returns the reply bytes. */
export interface Exchanger {
  /**
   * Sends `query` (a whole DNS message) and resolves with the reply. Aborting
   * `signal` (the resolver's timeout, or close) releases every socket at once
   * and rejects with the signal's reason.
   */
  exchange(query: Uint8Array, signal: AbortSignal): Promise<Uint8Array>;
  /** Releases pooled connections; in-flight exchanges are ended by their signals. */
  close(): void;
}

/** Options every exchanger takes. */
export interface ExchangerOptions {
  /** Bounds a TLS handshake, milliseconds (the signal usually ends it sooner). */
  timeout: number;
}

/** Runs `fn` when `signal` aborts (at once if it already has); returns the un-register function. */
export function onAbort(signal: AbortSignal, fn: () => void): () => void {
  if (signal.aborted) {
    fn();
    return () => {};
  }
  signal.addEventListener("abort", fn, { once: true });
  return () => signal.removeEventListener("abort", fn);
}
