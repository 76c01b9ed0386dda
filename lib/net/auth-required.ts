import { unpack } from '../msgpack.js'
import { securityCodes, securityError, type SecurityError } from '../security/errors.js'
import { AUTH_PROTOCOL } from '../security/handshake-wire.js'

/** What a side without a handshake is told when its peer demands one. */
const REQUIRED = 'The peer requires authentication (its listener runs authenticate()): connect with a handshake it accepts, e.g. { handshake: authenticate({ keys }) }'

/**
 * SCUTTLEDB_AUTH_PROTOCOL when `value`, the first message of a peer, is the
 * hello of the authentication handshake (lib/security/handshake.ts), which a
 * side that runs none would otherwise refuse as a malformed header or mux hello;
 * undefined for anything else. `message` says what to do about it.
 */
export function authRequired (value: unknown, message = REQUIRED): SecurityError | undefined {
  if (value === null || typeof value !== 'object' || (value as { auth?: unknown }).auth !== AUTH_PROTOCOL) return undefined
  return securityError(securityCodes.AUTH_PROTOCOL, message)
}

/** `authRequired()` of a frame's msgpack body (undefined when it does not decode). */
export function authRequiredFrame (body: Uint8Array, message?: string): SecurityError | undefined {
  let value: unknown
  try {
    value = unpack(body)
  } catch {
    return undefined
  }
  return authRequired(value, message)
}
