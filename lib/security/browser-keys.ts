import * as ed from '@noble/ed25519'
import { sha256, sha512 } from '@noble/hashes/sha2.js'
import { Level } from 'level'
import { concat } from '../bytes.js'
import type { Source } from '../protocol.js'
import { securityCodes, securityError } from './errors.js'

/**
 * @noble/ed25519 with synchronous SHA-512 (its sync sign and verify need it):
 * Security.sign must be synchronous (lib/scuttlebutt.ts), which Web Crypto's
 * signing is not. Set on first use, not at import, so an app that never signs
 * bundles none of it.
 */
export function ed25519 (): typeof ed {
  ed.hashes.sha512 ??= sha512
  return ed
}

/** The order of the Ed25519 base point. */
const L = 2n ** 252n + 27742317777372353535851937790883648493n

/** A little-endian unsigned integer. */
function fromLE (bytes: Uint8Array): bigint {
  let n = 0n
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i] as number)
  return n
}

/**
 * Ed25519 verification with the Node backend's verdicts (OpenSSL: RFC 8032 5.1.7
 * with the cofactorless equation). @noble's strict mode decodes R and A as RFC 8032
 * says (canonical, on the curve), wants S < L and refuses small-order keys, but it
 * checks the cofactored equation [8][S]B = [8]R + [8][k]A, which also accepts
 * signatures whose R (or a mixed-order key) carries a torsion component. OpenSSL
 * refuses those, and verifiers that disagree let a writer split a network (browsers
 * would store what Node nodes refuse), so the exact equation [S]B = R + [k]A is
 * checked here on @noble's points: the decoding and checks of its verify, without
 * the cofactor. Test: test/security-consensus.test.ts.
 */
export function verifyEd25519 (signature: Uint8Array, data: Uint8Array, key: Uint8Array): boolean {
  if (signature.length !== 64 || key.length !== 32) return false
  const { Point } = ed25519()
  let A: ed.Point
  let R: ed.Point
  try {
    A = Point.fromBytes(key, false)
    R = Point.fromBytes(signature.subarray(0, 32), false)
  } catch {
    return false
  }
  if (A.isSmallOrder()) return false
  const s = fromLE(signature.subarray(32))
  if (s >= L) return false
  const k = fromLE(sha512(concat([signature.subarray(0, 32), key, data]))) % L
  return Point.BASE.multiply(s, false).equals(R.add(A.multiply(k, false)))
}

/** An Ed25519 key pair held as bytes, for the browser (no node:crypto): what a browser peer signs and proves its id with. */
export interface BrowserKeyPair {
  readonly type: 'ed25519'
  /** The node id: base64url of the SHA-256 of `publicKeyDer`, as on Node (`idOf`). */
  readonly id: Source
  /** The raw 32-byte public key. */
  readonly publicKey: Uint8Array
  /** Its SubjectPublicKeyInfo DER encoding (what travels with signed updates). */
  readonly publicKeyDer: Uint8Array
  /** The raw 32-byte secret key (seed). */
  readonly secretKey: Uint8Array
}

/** The fixed 12-byte SPKI DER prefix of every Ed25519 public key (RFC 8410); the raw key follows. */
const ED25519_SPKI_PREFIX = /* @__PURE__ */ Uint8Array.of(0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00)

/** Canonical unpadded base64url of `bytes`. */
export function toBase64url (bytes: Uint8Array): string {
  let binary = ''
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/** Decode canonical unpadded base64url; undefined for anything else (so a relay cannot re-spell a signature). */
export function fromBase64url (s: unknown, max = 2048): Uint8Array | undefined {
  if (typeof s !== 'string' || s.length === 0 || s.length > max || !/^[A-Za-z0-9_-]+$/.test(s)) return undefined
  let binary: string
  try {
    binary = atob(s.replace(/-/g, '+').replace(/_/g, '/'))
  } catch {
    return undefined
  }
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0))
  return toBase64url(bytes) === s ? bytes : undefined
}

/** The node id certified by a public key's SPKI DER bytes (the same as `idOf` on Node). */
export function browserIdOf (publicKeyDer: Uint8Array): Source {
  return toBase64url(sha256(publicKeyDer))
}

/**
 * The raw Ed25519 key in SPKI DER bytes, checked; throws INVALID_KEY for another
 * type or encoding. Small-order keys are refused by verification (RFC 8032 mode).
 */
export function rawEd25519Key (der: Uint8Array): Uint8Array {
  if (der.length !== 44 || ED25519_SPKI_PREFIX.some((byte, i) => der[i] !== byte)) {
    throw securityError(securityCodes.INVALID_KEY, 'Not an Ed25519 SubjectPublicKeyInfo (the browser verifies Ed25519 only)')
  }
  return der.subarray(12)
}

/** The key pair of a 32-byte Ed25519 secret key. */
export function browserKeysFromSecret (secretKey: Uint8Array): BrowserKeyPair {
  if (!(secretKey instanceof Uint8Array) || secretKey.length !== 32) throw securityError(securityCodes.INVALID_KEY, 'An Ed25519 secret key is 32 bytes')
  const secret = new Uint8Array(secretKey)
  const publicKey = ed25519().getPublicKey(secret)
  const publicKeyDer = concat([ED25519_SPKI_PREFIX, publicKey])
  return { type: 'ed25519', id: browserIdOf(publicKeyDer), publicKey, publicKeyDer, secretKey: secret }
}

/** A new Ed25519 key pair from the platform's secure random source. */
export function generateBrowserKeys (): BrowserKeyPair {
  return browserKeysFromSecret(ed25519().utils.randomSecretKey())
}

/**
 * This peer's key pair, kept under `name` in a key store (browser-level in the
 * browser, so IndexedDB; classic-level at that path on Node): the stored one, or a
 * new one stored first. The secret key is stored as bytes, readable by any script
 * of the origin (as anything in IndexedDB is), since signing must be synchronous.
 */
export async function loadOrCreateBrowserKeys (store = 'scuttledb-keys', name = 'default'): Promise<BrowserKeyPair> {
  if (typeof store !== 'string' || store === '') throw new TypeError('store must be a non-empty string')
  if (typeof name !== 'string' || name === '') throw new TypeError('name must be a non-empty string')
  const db = new Level<string, Uint8Array>(store, { keyEncoding: 'utf8', valueEncoding: 'view' })
  await db.open()
  try {
    const stored = await db.get(name)
    if (stored !== undefined) return browserKeysFromSecret(stored)
    const keys = generateBrowserKeys()
    await db.put(name, keys.secretKey)
    return keys
  } finally {
    await db.close()
  }
}
