import { sign as cryptoSign, verify as cryptoVerify } from 'node:crypto'
import { pack } from '../msgpack.js'
import type { Source } from '../protocol.js'
import type { KeyPair } from '../security/keys.js'
import { publicKeyFromDer } from '../security/keys.js'

/**
 * The address book of peer exchange: what a node knows about other nodes'
 * replication addresses, bounded in every dimension a peer controls.
 *
 * An entry is `[id, address, ts, key?, sig?]`: a node's id, the address it
 * advertises (`tcp://host:port` or `tls://host:port`), and the wall-clock time
 * (ms) at which the node itself said so. Only the owner makes an entry; others
 * relay it unchanged, so `ts` is the last time anyone heard from the owner.
 * With keys, the owner signs `[ENTRY_DOMAIN, id, address, ts]` and `key` is its
 * public key (SPKI DER), whose hash must be `id`: a relay cannot point another
 * node's id at an address of its choosing.
 */
export type WireEntry = [id: Source, address: string, ts: number, key?: Uint8Array, sig?: Uint8Array]

/** A checked entry. */
export interface Entry {
  id: Source
  address: string
  ts: number
  key?: Uint8Array
  sig?: Uint8Array
}

/** What the signature of an entry covers (a distinct domain: an entry signature is never an update's). */
export const ENTRY_DOMAIN = 'scuttledb/peer-entry/1'
/** Most entries a book holds; past it the stalest goes. */
export const BOOK_CAPACITY = 256
/** Most entries one message carries (the sender's own included); more are ignored. */
export const MAX_ENTRIES = 64
/** An entry dated this far past the local clock is refused (a peer cannot make one live forever). */
export const MAX_FUTURE_MS = 60_000
const MAX_ID = 128
const MAX_KEY = 4096
const MAX_SIG = 2048

/** The address shape a node dials: tcp:// or tls://, then an IPv4, a bracketed IPv6 or a DNS name, and a port 1-65535. */
const ADDRESS = /^(tcp|tls):\/\/(?:\[([0-9a-fA-F:.]{2,45})\]|(\d{1,3}(?:\.\d{1,3}){3})|([A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*)):(\d{1,5})$/

/** A dialable address, parsed; undefined when it is not of the allowed shape. */
export function parseAddress (address: unknown): { host: string, port: number, tls: boolean } | undefined {
  if (typeof address !== 'string' || address.length > 300) return undefined
  const m = ADDRESS.exec(address)
  if (m === null) return undefined
  const port = Number(m[5])
  if (port < 1 || port > 65535) return undefined
  const host = m[2] ?? m[3] ?? m[4]
  // Wildcards are not an address anyone can dial; IPv4 octets must be octets.
  if (host === '0.0.0.0' || host === '::' || (m[3] !== undefined && host.split('.').some((o) => Number(o) > 255))) return undefined
  return { host, port, tls: m[1] === 'tls' }
}

/** The bytes an entry's signature covers. */
function entryBytes (id: Source, address: string, ts: number): Buffer {
  return pack([ENTRY_DOMAIN, id, address, ts])
}

/** This node's own entry, fresh, signed with `keys` when given. */
export function ownEntry (id: Source, address: string, ts: number, keys?: KeyPair): Entry {
  if (keys === undefined) return { id, address, ts }
  const sig = cryptoSign(keys.type === 'ed25519' ? null : 'sha256', entryBytes(id, address, ts), keys.privateKey)
  return { id, address, ts, key: keys.publicKeyDer, sig }
}

/** An entry as it goes on the wire. */
export function toWire (e: Entry): WireEntry {
  return e.key === undefined || e.sig === undefined ? [e.id, e.address, e.ts] : [e.id, e.address, e.ts, e.key, e.sig]
}

function isId (id: unknown): id is Source {
  return typeof id === 'string' && id.length > 0 && id.length <= MAX_ID && /^[\x21-\x7e]+$/.test(id)
}

/** Check one entry off the wire; undefined when malformed, unsigned where a signature is required, or forged. */
export function checkEntry (value: unknown, signed: boolean): Entry | undefined {
  if (!Array.isArray(value) || value.length < 3 || value.length > 5) return undefined
  const [id, address, ts, key, sig] = value as unknown[]
  if (!isId(id) || parseAddress(address) === undefined || typeof ts !== 'number' || !Number.isFinite(ts) || ts < 0) return undefined
  const addr = address as string
  if (!signed) return { id, address: addr, ts }
  if (!(key instanceof Uint8Array) || key.length > MAX_KEY || !(sig instanceof Uint8Array) || sig.length > MAX_SIG) return undefined
  try {
    const info = publicKeyFromDer(key)
    if (info.id !== id) return undefined
    if (!cryptoVerify(info.type === 'ed25519' ? null : 'sha256', entryBytes(id, addr, ts), info.publicKey, sig)) return undefined
  } catch {
    return undefined
  }
  return { id, address: addr, ts, key, sig }
}

/** Options of an AddressBook. */
export interface AddressBookOptions {
  /** This node's id: its own entry is never stored. */
  self: Source
  /** Entries older than this many ms are forgotten. */
  ttl: number
  /** Only signed entries (nodes with --key). */
  signed: boolean
  /** Ids that may be stored (with --allow); default any. */
  allow?: (id: Source) => boolean
  /** Default BOOK_CAPACITY. */
  capacity?: number
  /** The clock, for tests. */
  now?: () => number
}

/**
 * A bounded map of node id to its latest entry. An id whose address failed is
 * remembered as dead with the entry's ts: a relayed copy of that same entry does
 * not bring it back, a newer one from its owner (it restarted) does.
 */
export class AddressBook {
  readonly #options: Required<Omit<AddressBookOptions, 'allow'>> & Pick<AddressBookOptions, 'allow'>
  readonly #entries = new Map<Source, Entry>()
  readonly #dead = new Map<Source, number>()

  constructor (options: AddressBookOptions) {
    this.#options = { capacity: BOOK_CAPACITY, now: Date.now, ...options }
  }

  /** How many live entries it holds. */
  get size (): number {
    this.#expire()
    return this.#entries.size
  }

  /** The live entries. */
  entries (): Entry[] {
    this.#expire()
    return [...this.#entries.values()]
  }

  /** The entry of `id`, if live. */
  get (id: Source): Entry | undefined {
    this.#expire()
    return this.#entries.get(id)
  }

  /**
   * Merge entries from a peer (at most MAX_ENTRIES are looked at). `keep` names
   * ids never evicted to make room (connected peers). Returns how many were new
   * or newer.
   */
  merge (values: unknown[], keep: (id: Source) => boolean = () => false): number {
    const { self, ttl, signed, allow, capacity, now } = this.#options
    const time = now()
    let changed = 0
    for (const value of values.slice(0, MAX_ENTRIES)) {
      const entry = checkEntry(value, signed)
      if (entry === undefined || entry.id === self) continue
      if (entry.ts > time + MAX_FUTURE_MS || entry.ts < time - ttl) continue
      if (allow !== undefined && !allow(entry.id)) continue
      const dead = this.#dead.get(entry.id)
      if (dead !== undefined && entry.ts <= dead) continue
      const known = this.#entries.get(entry.id)
      if (known !== undefined && known.ts >= entry.ts) continue
      this.#dead.delete(entry.id)
      this.#entries.delete(entry.id)
      this.#entries.set(entry.id, entry)
      changed++
    }
    this.#evict(keep)
    return changed
  }

  /** The address of `id` failed: forget the entry until its owner says something newer. */
  markDead (id: Source): void {
    const entry = this.#entries.get(id)
    if (entry === undefined) return
    this.#entries.delete(id)
    this.#dead.delete(id)
    this.#dead.set(id, entry.ts)
    // Bounded like the book: the oldest marks go first.
    while (this.#dead.size > this.#options.capacity) this.#dead.delete(this.#dead.keys().next().value as Source)
  }

  /** Up to `n` live entries chosen at random (for a message, or for dialing). */
  sample (n: number, random: () => number, filter: (e: Entry) => boolean = () => true): Entry[] {
    const pool = this.entries().filter(filter)
    for (let i = pool.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1))
      const t = pool[i]
      pool[i] = pool[j]
      pool[j] = t
    }
    return pool.slice(0, n)
  }

  #expire (): void {
    const horizon = this.#options.now() - this.#options.ttl
    for (const [id, e] of this.#entries) if (e.ts < horizon) this.#entries.delete(id)
  }

  #evict (keep: (id: Source) => boolean): void {
    this.#expire()
    while (this.#entries.size > this.#options.capacity) {
      let stalest: Entry | undefined
      for (const e of this.#entries.values()) if (!keep(e.id) && (stalest === undefined || e.ts < stalest.ts)) stalest = e
      if (stalest === undefined) return
      this.#entries.delete(stalest.id)
    }
  }
}
