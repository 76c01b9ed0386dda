import { ScuttledbError } from '../errors.js'

/**
 * Stable codes of the security module. They live here rather than in
 * lib/errors.ts so that the core's list stays the core's; each name follows the
 * same SCUTTLEDB_* scheme and is asserted on by tests, never the message.
 */
export const securityCodes = {
  /** A key is unparsable, of an unsupported type, too small or too large, or degenerate (small-order Ed25519, bad RSA exponent). */
  INVALID_KEY: 'SCUTTLEDB_INVALID_KEY',
  /** A private key file is readable by group or others (as ssh, we refuse to use it). */
  KEY_PERMISSIONS: 'SCUTTLEDB_KEY_PERMISSIONS',
  /** A key file already exists where a new one was to be written. */
  KEY_EXISTS: 'SCUTTLEDB_KEY_EXISTS',
  /** Signing needs a private key, or the update's source is not this key's id. */
  CANNOT_SIGN: 'SCUTTLEDB_CANNOT_SIGN',
  /** The peer's handshake proof did not verify (bad signature, or a key that does not hash to its id). */
  AUTH_FAILED: 'SCUTTLEDB_AUTH_FAILED',
  /** The peer proved its id, but the id is not allowed to connect. */
  AUTH_DENIED: 'SCUTTLEDB_AUTH_DENIED',
  /** The peer refused this side (it sent a negative verdict). */
  AUTH_REJECTED: 'SCUTTLEDB_AUTH_REJECTED',
  /** The peer does not speak the handshake (wrong magic, bad message, oversized frame). */
  AUTH_PROTOCOL: 'SCUTTLEDB_AUTH_PROTOCOL',
  /** The handshake did not finish within its timeout. */
  AUTH_TIMEOUT: 'SCUTTLEDB_AUTH_TIMEOUT',
  /** The connection ended or failed before the handshake finished. */
  AUTH_CLOSED: 'SCUTTLEDB_AUTH_CLOSED'
} as const

/** One of the security module's codes. */
export type SecurityErrorCode = (typeof securityCodes)[keyof typeof securityCodes]

/** An error with a stable security `code`; `instanceof ScuttledbError` holds too. */
export class SecurityError extends ScuttledbError<SecurityErrorCode> {
  constructor (message: string, code: SecurityErrorCode, options: { cause?: Error } = {}) {
    super(message, code, options)
    this.name = 'SecurityError'
  }
}

/** Create a coded security error. */
export function securityError (code: SecurityErrorCode, message: string, cause?: Error): SecurityError {
  return new SecurityError(message, code, cause === undefined ? {} : { cause })
}
