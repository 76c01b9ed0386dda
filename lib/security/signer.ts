import { sign as cryptoSign, verify as cryptoVerify, KeyObject } from 'node:crypto'
import { pack, unpack } from '../msgpack.js'
import type { Source, Update } from '../protocol.js'
import type { Security } from '../scuttlebutt.js'
import { securityCodes, securityError } from './errors.js'
import { publicKeyFromDer, type KeyPair, type KeyType } from './keys.js'
import type { VerifyJob } from './verify-chunk.js'
import { verifyPool } from './verify-pool.js'
import { UPDATE_DOMAIN, signatureOf, signedBytes, verifyReasons, type VerifyReason } from './signed-update.js'

/**
 * What a signed update carries as its 4th element: the signature and the
 * signer's SPKI DER public key, both base64url (unpadded, canonical). Strings,
 * not binary, so that they survive the original's JSON wire unchanged too.
 */
export type UpdateSignature = [signature: string, publicKey: string]

export { UPDATE_DOMAIN, verifyReasons, signedBytes, type VerifyReason }

/** Options of `createSecurity()`. */
export interface SecurityOptions {
  /** This node's keys. Without them the backend only verifies (and `sign` throws CANNOT_SIGN). */
  keys?: KeyPair
  /**
   * Where to verify: 'workers' (default; a process-wide pool of worker threads,
   * one per core up to 4, each verifying a share of every batch), 'threadpool'
   * (node:crypto's asynchronous verify, one libuv work item per signature) or
   * 'main' (synchronous, on the calling thread).
   */
  verifyOn?: 'workers' | 'threadpool' | 'main'
  /** Public keys of this many sources are kept parsed. Default 4096. */
  keyCacheSize?: number
}

/** The built-in backend: a `Security` with this node's id and a synchronous verify. */
export interface KeySecurity extends Security {
  /** This node's id (the hash of its public key); undefined for a verify-only backend. */
  readonly id: Source | undefined
  /** The key type this node signs with; undefined for a verify-only backend. */
  readonly type: KeyType | undefined
  /** `sign` as typed by this backend. */
  sign: (update: Update) => UpdateSignature
  /** `true`, or the reason the update is not authentic, computed on the calling thread. */
  verifySync: (update: Update) => true | VerifyReason
  /** `verify` for many updates at once: one verdict per update, in order, the same as `verifySync` gives. */
  verifyBatch: (updates: Update[]) => Promise<Array<true | VerifyReason>>
}

/** A parsed key of one source, with the string it came in (a hit is one string comparison). */
interface CachedKey {
  encoded: string
  key: KeyObject
  algorithm: string | null
}

/** Longest base64url string accepted for a signature or key: enough for RSA-8192. */
const MAX_ENCODED = 2048

/** Signature algorithms: Ed25519 takes none (it hashes internally); RSA is PKCS#1 v1.5 with SHA-256. */
function algorithmOf (type: KeyType): string | null {
  return type === 'ed25519' ? null : 'sha256'
}

/** Decode canonical unpadded base64url; undefined for anything else (so a relay cannot re-spell a signature). */
function decode (s: unknown): Buffer | undefined {
  if (typeof s !== 'string' || s.length === 0 || s.length > MAX_ENCODED) return undefined
  const bytes = Buffer.from(s, 'base64url')
  return bytes.toString('base64url') === s ? bytes : undefined
}

/**
 * The built-in Security backend: signs with Ed25519 (or RSA/SHA-256) and
 * verifies updates from any source whose key travels with them. Pass it with
 * the key's id, so a database is created with (or checked against) that id:
 * `new Model({ db, ...securityOptions(keys) })`.
 */
export function createSecurity (options: SecurityOptions = {}): KeySecurity {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object')
  const { keys, verifyOn = 'workers', keyCacheSize = 4096 } = options
  if (keys !== undefined) assertKeyPair(keys, 'options.keys')
  if (verifyOn !== 'workers' && verifyOn !== 'threadpool' && verifyOn !== 'main') throw new TypeError("verifyOn must be 'workers', 'threadpool' or 'main'")
  if (!(Number.isInteger(keyCacheSize) && keyCacheSize > 0)) throw new TypeError('keyCacheSize must be a positive integer')
  const encodedKey = keys?.publicKeyDer.toString('base64url')
  const cache = new Map<Source, CachedKey>()
  if (keys !== undefined && encodedKey !== undefined) {
    cache.set(keys.id, { encoded: encodedKey, key: keys.publicKey, algorithm: algorithmOf(keys.type) })
  }

  /** The key for `source` from the wire, only if it hashes to `source`; else why not. */
  function keyFor (source: Source, encoded: string): CachedKey | VerifyReason {
    const hit = cache.get(source)
    if (hit !== undefined && hit.encoded === encoded) return hit
    const der = decode(encoded)
    if (der === undefined) return verifyReasons.MALFORMED
    let info
    try {
      info = publicKeyFromDer(der)
    } catch {
      return verifyReasons.INVALID_KEY
    }
    if (info.id !== source) return verifyReasons.KEY_MISMATCH
    const entry: CachedKey = { encoded, key: info.publicKey, algorithm: algorithmOf(info.type) }
    // Bounded: a peer minting ids must not grow memory. Oldest first out.
    if (cache.size >= keyCacheSize) cache.delete(cache.keys().next().value as Source)
    cache.set(source, entry)
    return entry
  }

  /** Everything but the signature check itself. */
  function prepare (update: Update): VerifyReason | { entry: CachedKey, data: Buffer, signature: Buffer } {
    const parts = signatureOf(update, decode)
    if (typeof parts === 'string') return parts
    const { signature } = parts
    const entry = keyFor(update[2], parts.encodedKey)
    if (typeof entry === 'string') return entry
    let data: Buffer
    try {
      data = signedBytes(update)
    } catch {
      return verifyReasons.BAD_SIGNATURE
    }
    return { entry, data, signature }
  }

  function check (entry: CachedKey, data: Buffer, signature: Buffer): true | VerifyReason {
    try {
      return cryptoVerify(entry.algorithm, data, entry.key, signature) ? true : verifyReasons.BAD_SIGNATURE
    } catch {
      return verifyReasons.BAD_SIGNATURE
    }
  }

  function verifySync (update: Update): true | VerifyReason {
    const prepared = prepare(update)
    if (typeof prepared === 'string') return prepared
    return check(prepared.entry, prepared.data, prepared.signature)
  }

  /**
   * Every check but the cryptographic one runs here, as in verifySync; the
   * signatures go to the worker pool, a few chunks of the batch in one buffer
   * each. Should the pool fail (a worker died, or none can start), this thread
   * verifies them instead.
   */
  async function verifyOnWorkers (updates: Update[]): Promise<Array<true | VerifyReason>> {
    const verdicts = new Array<true | VerifyReason>(updates.length)
    const jobs: VerifyJob[] = []
    const checked: Array<{ at: number, entry: CachedKey, data: Buffer, signature: Buffer }> = []
    updates.forEach((update, at) => {
      const prepared = prepare(update)
      if (typeof prepared === 'string') {
        verdicts[at] = prepared
        return
      }
      checked.push({ at, ...prepared })
      jobs.push({ key: prepared.entry.encoded, algorithm: prepared.entry.algorithm, data: prepared.data, signature: prepared.signature })
    })
    if (jobs.length === 0) return verdicts
    let ok: Uint8Array | undefined
    try {
      ok = await verifyPool().verify(jobs)
    } catch {
      ok = undefined
    }
    checked.forEach(({ at, entry, data, signature }, i) => {
      verdicts[at] = ok === undefined ? check(entry, data, signature) : ok[i] === 1 ? true : verifyReasons.BAD_SIGNATURE
    })
    return verdicts
  }

  function verifyAsync (update: Update): true | VerifyReason | Promise<true | VerifyReason> {
    const prepared = prepare(update)
    if (typeof prepared === 'string') return prepared
    const { entry, data, signature } = prepared
    return new Promise((resolve) => {
      try {
        cryptoVerify(entry.algorithm, data, entry.key, signature, (err, ok) => {
          resolve(err === null && ok ? true : verifyReasons.BAD_SIGNATURE)
        })
      } catch {
        resolve(verifyReasons.BAD_SIGNATURE)
      }
    })
  }

  function sign (update: Update): UpdateSignature {
    if (keys === undefined || encodedKey === undefined) {
      throw securityError(securityCodes.CANNOT_SIGN, 'This security backend has no private key: it only verifies')
    }
    if (update[2] !== keys.id) {
      throw securityError(securityCodes.CANNOT_SIGN, `Update source ${update[2]} is not this key's id ${keys.id}: open the database with { id: security.id }`)
    }
    const data = signedBytes(update)
    // A change that does not re-encode to the same bytes would fail at every
    // peer; refuse it here, where the writer can see why.
    if (!pack(unpack(data)).equals(data)) {
      throw securityError(securityCodes.CANNOT_SIGN, 'The change does not survive a msgpack round trip (e.g. a Map, a Set, a typed array or an integer beyond 2^53)')
    }
    return [cryptoSign(algorithmOf(keys.type), data, keys.privateKey).toString('base64url'), encodedKey]
  }

  const verifyBatch = verifyOn === 'workers'
    ? verifyOnWorkers
    : verifyOn === 'threadpool'
      ? async (updates: Update[]) => await Promise.all(updates.map(verifyAsync))
      : async (updates: Update[]) => updates.map(verifySync)
  const security: KeySecurity = {
    id: keys?.id,
    type: keys?.type,
    sign,
    verify: verifyOn === 'workers'
      ? async (update) => (await verifyOnWorkers([update]))[0] as true | VerifyReason
      : verifyOn === 'threadpool' ? verifyAsync : verifySync,
    verifySync,
    verifyBatch
  }
  if (keys !== undefined) security.createId = () => keys.id
  return security
}

/**
 * The Scuttlebutt options for a node that signs with `keys`: its id (so an
 * existing database made with another id fails to open with ID_MISMATCH rather
 * than signing updates nobody can verify) and the backend.
 */
export function securityOptions (keys: KeyPair, options: Omit<SecurityOptions, 'keys'> = {}): { id: Source, security: KeySecurity } {
  assertKeyPair(keys, 'keys')
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object')
  return { id: keys.id, security: createSecurity({ ...options, keys }) }
}

/** A caller's mistake (a key file's path, `{}`) is a TypeError here, not a failure deep inside signing. */
function assertKeyPair (keys: unknown, name: string): asserts keys is KeyPair {
  const k = keys as Partial<KeyPair> | null
  if (k === null || typeof k !== 'object' || typeof k.id !== 'string' || (k.type !== 'ed25519' && k.type !== 'rsa') ||
    !(k.publicKey instanceof KeyObject) || !(k.privateKey instanceof KeyObject) || !(k.publicKeyDer instanceof Uint8Array)) {
    throw new TypeError(`${name} must be a key pair (from generateKeys(), keysFromPem() or loadKeys())`)
  }
}
