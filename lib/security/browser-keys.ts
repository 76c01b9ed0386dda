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
