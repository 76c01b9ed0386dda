import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject } from 'node:crypto'
import { open, readFile, rm, stat } from 'node:fs/promises'
import type { Source } from '../protocol.js'
import { securityCodes, securityError } from './errors.js'

/** The key types a node may sign with: Ed25519 (the default) or RSA with SHA-256. */
export type KeyType = 'ed25519' | 'rsa'

/** A checked public key and the node id it certifies. */
export interface PublicKeyInfo {
  readonly type: KeyType
  /** The node id: base64url of the SHA-256 of `publicKeyDer`. */
  readonly id: Source
  readonly publicKey: KeyObject
  /** The key's SubjectPublicKeyInfo DER encoding: the exact bytes the id is a hash of. */
  readonly publicKeyDer: Buffer
}

/** A node's key pair: what it signs updates and proves its id with. */
export interface KeyPair extends PublicKeyInfo {
  readonly privateKey: KeyObject
}

/** Options of `generateKeys()` and `generateKeyFile()`. */
export interface GenerateOptions {
  /** Default 'ed25519'. */
  type?: KeyType
  /** RSA modulus size in bits, at least 2048. Default 3072. */
  modulusLength?: number
}

/** RSA keys below this are refused: 2048 is the floor of current guidance (NIST SP 800-131A). */
export const MIN_RSA_BITS = 2048
/** RSA keys above this are refused: a hostile peer could otherwise make every verification arbitrarily slow. */
export const MAX_RSA_BITS = 8192

/** RSA public exponents must be below this (65537, 3 and 17 are far below); it bounds the cost of one verification. */
export const MAX_RSA_EXPONENT = 2n ** 32n

/** The fixed 12-byte SPKI DER prefix of every Ed25519 public key (RFC 8410); the raw key follows. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

/**
 * The encodings of the Ed25519 points of small order (the 8-torsion: orders 1,
 * 2, 4 and 8), including the non-canonical encodings p and p+1 of y = 0 and
 * y = 1; compared with the sign bit of the last byte cleared. A public key that
 * is one of these lets a trivial signature (R = the identity, S = 0) verify for
 * every message in OpenSSL, so anyone could "sign" as that id.
 */
const SMALL_ORDER = [
  '0000000000000000000000000000000000000000000000000000000000000000', // y = 0, order 4
  '0100000000000000000000000000000000000000000000000000000000000000', // y = 1, the identity
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05', // order 8
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a', // order 8
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // y = p - 1, order 2
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // y = p (non-canonical 0)
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f' // y = p + 1 (non-canonical 1)
].map((hex) => Buffer.from(hex, 'hex'))

/** The small-order encodings checked by `isSmallOrderEd25519` (copies). */
export function smallOrderEd25519Keys (): Buffer[] {
  return SMALL_ORDER.map((b) => Buffer.from(b))
}

/** True when a raw 32-byte Ed25519 public key encodes a point of small order. */
export function isSmallOrderEd25519 (raw: Uint8Array): boolean {
  if (raw.length !== 32) return false
  return SMALL_ORDER.some((bad) => {
    for (let i = 0; i < 31; i++) if (raw[i] !== bad[i]) return false
    // The top bit is the sign of x; both signs of these y values are small order.
    return ((raw[31] as number) & 0x7f) === bad[31]
  })
}

/** The node id certified by a public key: base64url of SHA-256 over its SPKI DER bytes. */
export function idOf (publicKeyDer: Uint8Array): Source {
  return createHash('sha256').update(publicKeyDer).digest('base64url')
}

/**
 * Check a public key (type, size, degenerate values) and return it with its id.
 * Throws INVALID_KEY for anything a verifier must not trust.
 */
export function checkPublicKey (publicKey: KeyObject): PublicKeyInfo {
  if (publicKey.type !== 'public') throw securityError(securityCodes.INVALID_KEY, 'Expected a public key')
  const der = publicKey.export({ type: 'spki', format: 'der' })
  const kind = publicKey.asymmetricKeyType
  if (kind === 'ed25519') {
    if (der.length !== 44 || !der.subarray(0, 12).equals(ED25519_SPKI_PREFIX)) {
      throw securityError(securityCodes.INVALID_KEY, 'Malformed Ed25519 public key')
    }
    if (isSmallOrderEd25519(der.subarray(12))) {
      throw securityError(securityCodes.INVALID_KEY, 'Ed25519 public key of small order: trivial signatures would verify')
    }
    return { type: 'ed25519', id: idOf(der), publicKey, publicKeyDer: der }
  }
  if (kind === 'rsa') {
    const { modulusLength = 0, publicExponent = 0n } = publicKey.asymmetricKeyDetails ?? {}
    if (modulusLength < MIN_RSA_BITS || modulusLength > MAX_RSA_BITS) {
      throw securityError(securityCodes.INVALID_KEY, `RSA keys must have ${MIN_RSA_BITS} to ${MAX_RSA_BITS} bits, not ${modulusLength}`)
    }
    // e = 1 makes every message its own signature; an even e is not a valid RSA key.
    // A huge e makes each verification a full-size exponentiation (OpenSSL bounds e only
    // above 3072 bits): an RSA-3072 key with a 3064-bit e costs ~25x an RSA-8192 verify.
    if (publicExponent < 3n || publicExponent % 2n === 0n || publicExponent >= MAX_RSA_EXPONENT) {
      throw securityError(securityCodes.INVALID_KEY, 'RSA public exponent must be odd, at least 3 and below 2^32')
    }
    return { type: 'rsa', id: idOf(der), publicKey, publicKeyDer: der }
  }
  throw securityError(securityCodes.INVALID_KEY, `Unsupported key type ${String(kind)}: use ed25519 or rsa`)
}

/**
 * A checked public key from its SPKI DER bytes, as they travel with signed
 * updates. Only the canonical encoding is accepted, so one key has one id.
 */
export function publicKeyFromDer (der: Uint8Array): PublicKeyInfo {
  let key: KeyObject
  try {
    key = createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' })
  } catch (err) {
    throw securityError(securityCodes.INVALID_KEY, 'Not a DER SubjectPublicKeyInfo', err as Error)
  }
  const info = checkPublicKey(key)
  if (!info.publicKeyDer.equals(der)) throw securityError(securityCodes.INVALID_KEY, 'Non-canonical public key encoding')
  return info
}

/**
 * A checked public key from PEM: SPKI (`PUBLIC KEY`), PKCS#1 (`RSA PUBLIC KEY`,
 * as `ssh-keygen -e -m PEM` prints it), or a private key (its public half).
 * Use it to learn a peer's id for an allow-list.
 */
export function publicKeyFromPem (pem: string | Buffer): PublicKeyInfo {
  let key: KeyObject
  try {
    key = createPublicKey(pem)
  } catch (err) {
    throw securityError(securityCodes.INVALID_KEY, 'Not a PEM public key', err as Error)
  }
  return checkPublicKey(key)
}

/** A key pair from a private KeyObject (its public half is derived and checked). */
export function keysFromPrivateKey (privateKey: KeyObject): KeyPair {
  if (privateKey.type !== 'private') throw securityError(securityCodes.INVALID_KEY, 'Expected a private key')
  return { ...checkPublicKey(createPublicKey(privateKey)), privateKey }
}

/**
 * A key pair from a PEM private key: PKCS#8 (`PRIVATE KEY`, what `saveKeys`
 * writes, optionally encrypted) or PKCS#1 (`RSA PRIVATE KEY`, what
 * `ssh-keygen -t rsa -m PEM` writes).
 */
export function keysFromPem (pem: string | Buffer, passphrase?: string): KeyPair {
  let key: KeyObject
  try {
    key = createPrivateKey(passphrase === undefined ? pem : { key: pem, passphrase })
  } catch (err) {
    throw securityError(securityCodes.INVALID_KEY, passphrase === undefined ? 'Not a usable PEM private key (or an encrypted one: give its passphrase)' : 'Not a usable PEM private key (or a wrong passphrase)', err as Error)
  }
  return keysFromPrivateKey(key)
}

/** A new key pair: Ed25519 unless `type: 'rsa'`. */
export function generateKeys (options: GenerateOptions = {}): KeyPair {
  const { type = 'ed25519', modulusLength = 3072 } = options
  if (type === 'ed25519') return keysFromPrivateKey(generateKeyPairSync('ed25519').privateKey)
  if (type === 'rsa') {
    if (!Number.isInteger(modulusLength) || modulusLength < MIN_RSA_BITS || modulusLength > MAX_RSA_BITS) {
      throw securityError(securityCodes.INVALID_KEY, `RSA keys must have ${MIN_RSA_BITS} to ${MAX_RSA_BITS} bits`)
    }
    return keysFromPrivateKey(generateKeyPairSync('rsa', { modulusLength }).privateKey)
  }
  throw securityError(securityCodes.INVALID_KEY, `Unsupported key type ${String(type)}: use ed25519 or rsa`)
}

/** The private key as PKCS#8 PEM, encrypted with AES-256-CBC when a passphrase is given. */
export function privateKeyPem (keys: KeyPair, passphrase?: string): string {
  return keys.privateKey.export(passphrase === undefined
    ? { type: 'pkcs8', format: 'pem' }
    : { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase }) as string
}

/** The public key as SPKI PEM (`PUBLIC KEY`): what peers put in their allow-lists. */
export function publicKeyPem (keys: PublicKeyInfo): string {
  return keys.publicKey.export({ type: 'spki', format: 'pem' }) as string
}

/** Options of `saveKeys()` and `generateKeyFile()`. */
export interface SaveOptions {
  /** Encrypt the private key file with this passphrase. */
  passphrase?: string
  /** Replace existing files. Default false: an existing file is a KEY_EXISTS error. */
  overwrite?: boolean
}

/** Where `saveKeys()` wrote. */
export interface SavedKeys {
  id: Source
  type: KeyType
  /** The private key file (mode 0600). */
  path: string
  /** The public key file, `path + '.pub'` (mode 0644). */
  publicPath: string
}

async function writeNew (path: string, text: string, mode: number, overwrite: boolean): Promise<void> {
  let handle
  try {
    handle = await open(path, overwrite ? 'w' : 'wx', mode)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw securityError(securityCodes.KEY_EXISTS, `${path} exists; refusing to overwrite a key`, err as Error)
    }
    throw err
  }
  try {
    // open()'s mode applies only to a new file: set it on a replaced one too.
    await handle.chmod(mode)
    await handle.writeFile(text)
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** Write the private key to `path` (0600) and the public key to `path.pub` (0644). */
export async function saveKeys (path: string, keys: KeyPair, options: SaveOptions = {}): Promise<SavedKeys> {
  const overwrite = options.overwrite === true
  const publicPath = path + '.pub'
  // Public key first: if the private key cannot be written, the new .pub is removed, so a
  // failure never leaves a private key without its public half (or the reverse).
  await writeNew(publicPath, publicKeyPem(keys), 0o644, overwrite)
  try {
    await writeNew(path, privateKeyPem(keys, options.passphrase), 0o600, overwrite)
  } catch (err) {
    if (!overwrite) await rm(publicPath, { force: true })
    throw err
  }
  return { id: keys.id, type: keys.type, path, publicPath }
}

/** Options of `loadKeys()`. */
export interface LoadOptions {
  passphrase?: string
  /** Accept a private key file readable by group or others. Default false (POSIX only). */
  allowInsecurePermissions?: boolean
}

/**
 * Read a key pair from a private key file (PKCS#8 or PKCS#1 PEM). Like ssh, it
 * refuses a file that group or others may read, which would mean the id may
 * already be someone else's too.
 */
export async function loadKeys (path: string, options: LoadOptions = {}): Promise<KeyPair> {
  const pem = await readFile(path)
  // What the file is comes first: telling a user to chmod 600 a public key
  // (which is meant to be shared) would be wrong advice. The label is enough
  // to tell; the key itself is only decoded (decrypted) once its mode is safe.
  const text = pem.toString('latin1')
  if (!PRIVATE_LABEL.test(text)) {
    const hint = PUBLIC_LABEL.test(text) ? 'it is a public key: give the private key file (without .pub)' : 'no PEM PRIVATE KEY block in it'
    throw securityError(securityCodes.INVALID_KEY, `Not a usable PEM private key (${hint})`)
  }
  if (process.platform !== 'win32' && options.allowInsecurePermissions !== true) {
    const { mode } = await stat(path)
    if ((mode & 0o077) !== 0) {
      throw securityError(securityCodes.KEY_PERMISSIONS, `${path} is accessible by others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`)
    }
  }
  return keysFromPem(pem, options.passphrase)
}

/** The PEM label of a private key: PKCS#8, encrypted PKCS#8, PKCS#1 RSA, SEC1 EC... */
const PRIVATE_LABEL = /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----/
/** The PEM label of a public key (SPKI, PKCS#1 RSA). */
const PUBLIC_LABEL = /-----BEGIN (?:[A-Z0-9]+ )*PUBLIC KEY-----/

/**
 * Generate a key pair and save it (the `scuttledb keygen` command): the private
 * key at `path` (0600), the public key at `path.pub`. Resolves with the new id.
 */
export async function generateKeyFile (path: string, options: GenerateOptions & SaveOptions = {}): Promise<SavedKeys> {
  return await saveKeys(path, generateKeys(options), options)
}
