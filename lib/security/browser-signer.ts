import { pack, unpack } from '../msgpack.js'
import type { Source, Update } from '../protocol.js'
import type { Security } from '../scuttlebutt.js'
import { securityCodes, securityError } from './errors.js'
import { signatureOf, signedBytes, verifyReasons, type VerifyReason } from './signed-update.js'
import { browserIdOf, ed25519, fromBase64url, rawEd25519Key, toBase64url, verifyEd25519, type BrowserKeyPair } from './browser-keys.js'

const reasons = verifyReasons

/** One of the reasons the browser verifier gives. */
export type BrowserVerifyReason = VerifyReason

/** The browser Security backend: synchronous Ed25519 signing and verifying over bytes (@noble/ed25519). */
export interface BrowserSecurity extends Security {
  /** This peer's id; undefined for a verify-only backend. */
  readonly id: Source | undefined
  sign: (update: Update) => [signature: string, publicKey: string]
  verify: (update: Update) => true | BrowserVerifyReason
}

/** Options of `createBrowserSecurity()`. */
export interface BrowserSecurityOptions {
  /** This peer's keys. Without them the backend only verifies. */
  keys?: BrowserKeyPair
  /** Public keys of this many sources are kept decoded. Default 4096. */
  keyCacheSize?: number
}

function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i])
}

/**
 * Signed updates in the browser, on the wire format of the Node backend
 * (`createSecurity`): each update carries `[signature, SPKI DER public key]` in
 * base64url over msgpack of `[UPDATE_DOMAIN, change, ts, source]`, and a key
 * counts only if it hashes to the source id. Ed25519 only (an RSA-signed update
 * is refused as an invalid key); verification is RFC 8032 strict, refusing
 * small-order keys as the Node backend does.
 */
export function createBrowserSecurity (options: BrowserSecurityOptions = {}): BrowserSecurity {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object')
  const { keys, keyCacheSize = 4096 } = options
  if (!(Number.isInteger(keyCacheSize) && keyCacheSize > 0)) throw new TypeError('keyCacheSize must be a positive integer')
  const encodedKey = keys === undefined ? undefined : toBase64url(keys.publicKeyDer)
  /** Per source, the encoded key it came with and its raw bytes. */
  const cache = new Map<Source, { encoded: string, raw: Uint8Array }>()
  if (keys !== undefined && encodedKey !== undefined) cache.set(keys.id, { encoded: encodedKey, raw: keys.publicKey })

  function keyFor (source: Source, encoded: string): Uint8Array | BrowserVerifyReason {
    const hit = cache.get(source)
    if (hit !== undefined && hit.encoded === encoded) return hit.raw
    const der = fromBase64url(encoded)
    if (der === undefined) return reasons.MALFORMED
    if (browserIdOf(der) !== source) return reasons.KEY_MISMATCH
    let raw: Uint8Array
    try {
      raw = rawEd25519Key(der)
    } catch {
      return reasons.INVALID_KEY
    }
    // Bounded: a peer minting ids must not grow memory. Oldest first out.
    if (cache.size >= keyCacheSize) cache.delete(cache.keys().next().value as Source)
    cache.set(source, { encoded, raw })
    return raw
  }

  function verify (update: Update): true | BrowserVerifyReason {
    const parts = signatureOf(update, fromBase64url)
    if (typeof parts === 'string') return parts
    const { signature } = parts
    const key = keyFor(update[2], parts.encodedKey)
    if (typeof key === 'string') return key
    try {
      const data = signedBytes(update)
      return verifyEd25519(signature, data, key) ? true : reasons.BAD_SIGNATURE
    } catch {
      return reasons.BAD_SIGNATURE
    }
  }

  function sign (update: Update): [string, string] {
    if (keys === undefined || encodedKey === undefined) {
      throw securityError(securityCodes.CANNOT_SIGN, 'This security backend has no secret key: it only verifies')
    }
    if (update[2] !== keys.id) {
      throw securityError(securityCodes.CANNOT_SIGN, `Update source ${update[2]} is not this key's id ${keys.id}: open the database with { id: keys.id }`)
    }
    const data = signedBytes(update)
    // A change that does not re-encode to the same bytes would fail at every peer; refuse it where the writer sees why.
    if (!equalBytes(pack(unpack(data)), data)) {
      throw securityError(securityCodes.CANNOT_SIGN, 'The change does not survive a msgpack round trip (e.g. a Map, a Set, a typed array or an integer beyond 2^53)')
    }
    return [toBase64url(ed25519().sign(data, keys.secretKey)), encodedKey]
  }

  const security: BrowserSecurity = { id: keys?.id, sign, verify }
  if (keys !== undefined) security.createId = () => keys.id
  return security
}

/** The Model options for a browser peer that signs with `keys`: its id and the backend. */
export function browserSecurityOptions (keys: BrowserKeyPair, options: Omit<BrowserSecurityOptions, 'keys'> = {}): { id: Source, security: BrowserSecurity } {
  return { id: keys.id, security: createBrowserSecurity({ ...options, keys }) }
}
