// What a signed update is, on every platform: the domain its signature covers, the
// reasons a verifier gives, and the shape checks that come before any cryptography.
// No Node built-ins here: the Node backend (signer.ts) and the browser backend
// (browser-signer.ts) both use it, so their verdicts cannot drift apart.
import { pack } from '../msgpack.js'
import type { Update } from '../protocol.js'

/** The first element of every signed message: separates update signatures from handshake proofs. */
export const UPDATE_DOMAIN = 'scuttledb/update/1'

/** The reasons `verify` gives (the second argument of `unverified`). */
export const verifyReasons = {
  /** The update has no 4th element. */
  UNSIGNED: 'unsigned',
  /** The 4th element is not `[signature, publicKey]` in canonical base64url. */
  MALFORMED: 'malformed signature',
  /** The attached public key does not hash to the update's source id. */
  KEY_MISMATCH: 'key does not hash to source',
  /** The attached key hashes to the source but is unusable (type, size, small order). */
  INVALID_KEY: 'invalid public key',
  /** The signature does not verify over `[change, ts, source]`. */
  BAD_SIGNATURE: 'bad signature'
} as const

/** One of `verifyReasons`. */
export type VerifyReason = (typeof verifyReasons)[keyof typeof verifyReasons]

/**
 * The exact bytes an update's signature covers: msgpack (lib/msgpack.ts) of
 * `[UPDATE_DOMAIN, change, ts, source]`. Signer and verifier both encode the
 * decoded values, so the change must survive a msgpack round trip (`sign`
 * checks) and, to cross a JSON wire, a JSON round trip too (see docs/security.md).
 */
export function signedBytes (update: Update): Buffer {
  return pack([UPDATE_DOMAIN, update[0], update[1], update[2]])
}

/**
 * The signature element of `update` (its 4th), checked for shape: the decoded
 * signature and the key as it travels (base64url of SPKI DER), or why not.
 * `decode` is the platform's canonical base64url decoder (undefined when not canonical).
 */
export function signatureOf<B extends Uint8Array> (update: Update, decode: (s: unknown) => B | undefined): VerifyReason | { signature: B, encodedKey: string } {
  if (update.length !== 4) return verifyReasons.UNSIGNED
  const element = update[3]
  if (!Array.isArray(element) || element.length !== 2 || typeof element[1] !== 'string') return verifyReasons.MALFORMED
  const signature = decode(element[0])
  if (signature === undefined) return verifyReasons.MALFORMED
  return { signature, encodedKey: element[1] }
}
