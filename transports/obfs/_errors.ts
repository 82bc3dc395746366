/**
 * The one handshake failure a listener logs quietly.
 *
 * @module
 */
import { HandshakeError } from "../types.ts";

/** The client closed before sending any handshake byte (port scans, health checks): logged at debug. */
export class NoHandshakeError extends HandshakeError {
  constructor(message: string) {
    super(message);
    this.name = "NoHandshakeError";
  }
}
