import type { Duplex } from 'node:stream'
import type { Source } from '../protocol.js'
import type { Connection, Handshake } from '../net/connection.js'
import { hasCode, netCodes, netError } from '../net/errors.js'
import type { ReplicationClient } from '../net/reconnect.js'
import { hostPort } from '../net/tcp.js'
import type { KeyPair } from '../security/keys.js'
import { AddressBook, MAX_ENTRIES, ownEntry, parseAddress, toWire } from './address-book.js'
import { exchangeAsClient, exchangeAsServer, type PexMessage } from './peer-exchange.js'

/** How long an address whose dial failed is not dialed again, under any id. */
const DEAD_ADDRESS_MS = 60_000
/** The most failed addresses remembered. */
const MAX_DEAD_ADDRESSES = 1024

/** Default number of outgoing connections to discovered peers. */
export const DEFAULT_MAX_PEERS = 6
/** Default ms between two rotations of a discovered connection. */
export const DEFAULT_ROTATE_MS = 60_000
/** How long an entry lives without news from its owner. */
export const DEFAULT_PEER_TTL = 30 * 60_000

/** `tcp://host:port` or `tls://host:port`: how peer exchange writes an address. */
export function peerUrl (peer: { host: string, port: number, tls: boolean }): string {
  return `${peer.tls ? 'tls' : 'tcp'}://${hostPort(peer.host, peer.port)}`
}

/** The address a node advertises, if any: a wildcard listen address is nobody's, so none (it still relays others'). */
export function advertisedAddress (target: { host: string, port: number } | false, tls: boolean, log: (line: string) => void): string | undefined {
  if (target === false) return undefined
  if (target.host === '0.0.0.0' || target.host === '::' || target.host === '') {
    log('not advertising an address to peer exchange: --host is a wildcard; give --advertise HOST:PORT')
    return undefined
  }
  return peerUrl({ ...target, tls })
}

/** Options of a PeerDiscovery. */
export interface DiscoveryOptions {
  /** This node's id (with keys: the key's id). */
  self: Source
  /** Sign the own entry and accept only signed entries. */
  keys?: KeyPair
  /** With keys: the only ids stored and dialed. */
  allow?: Source[]
  /** Outgoing connections to discovered peers (besides the --peer ones); 0: dial none. */
  maxPeers: number
  /** Ms between rotations (one discovered connection replaced by one to another known peer); false: never. */
  rotate: number | false
  /** Ms an entry lives without news. */
  ttl?: number
  /** `tcp://host:port` of the --peer seeds: never dialed a second time as discovered peers. */
  seeds: string[]
  /** Dial a discovered peer once (no reconnect); `handshake` must run after authentication. */
  dial: (target: { host: string, port: number, tls: boolean }, discovered: Source) => ReplicationClient
  /** A discovered connection opened (for progress and logs). */
  onConnected: (address: string, connection: Connection) => void
  log: (line: string) => void
  random?: () => number
}

interface Discovered {
  id: Source
  address: string
  client: ReplicationClient
  since: number
  /** Closed on purpose (rotation, stop): not a dead address. */
  retired: boolean
  lastError: Error | undefined
}

/** Per seed: whether it speaks peer exchange (an older node does not; it is then dialed without). */
export interface SeedState {
  pex: boolean
}

/**
 * Peer exchange and the set of discovered connections of a node: every
 * connection (both ways) swaps a bounded sample of the address book; the node
 * keeps `maxPeers` outgoing connections to peers picked at random from it,
 * never itself nor one already connected (by node id), replaces those that die
 * and rotates one every `rotate` ms so the graph keeps mixing and entries stay
 * fresh.
 */
export class PeerDiscovery {
  readonly book: AddressBook
  /** The address this node advertises (`tcp://host:port`); undefined: none (it still relays others'). */
  advertise: string | undefined = undefined
  readonly #options: DiscoveryOptions
  readonly #random: () => number
  /** Open connections by peer id (both ways), counted. */
  readonly #connected = new Map<Source, number>()
  /** The id each authenticated socket proved. */
  readonly #proven = new WeakMap<Duplex, Source>()
  readonly #discovered = new Map<Source, Discovered>()
  /** Addresses whose dial failed, with when (see #candidate). */
  readonly #deadAddresses = new Map<string, number>()
  readonly #seeds: Set<string>
  /** The peer last rotated out: not picked again at once. */
  #rotatedOut: Source | undefined
  #fillTimer: NodeJS.Timeout | undefined
  #rotateTimer: NodeJS.Timeout | undefined
  #stopped = false

  constructor (options: DiscoveryOptions) {
    this.#options = options
    this.#random = options.random ?? Math.random
    this.#seeds = new Set(options.seeds)
    const allow = options.allow === undefined ? undefined : new Set(options.allow)
    this.book = new AddressBook({
      self: options.self,
      ttl: options.ttl ?? DEFAULT_PEER_TTL,
      signed: options.keys !== undefined,
      ...(allow === undefined ? {} : { allow: (id: Source) => allow.has(id) })
    })
  }

  /** Start dialing discovered peers. */
  start (): void {
    if (this.#options.maxPeers === 0) return
    // A steady check as well as the event-driven fills: entries may arrive on any connection.
    this.#fillTimer = setInterval(() => { this.#fill() }, 500)
    this.#fillTimer.unref()
    const { rotate } = this.#options
    if (rotate !== false) {
      this.#rotateTimer = setInterval(() => { this.#rotate() }, rotate)
      this.#rotateTimer.unref()
    }
  }

  /** The discovered outgoing connections, for status. */
  get discovered (): Array<{ id: Source, address: string, client: ReplicationClient }> {
    return [...this.#discovered.values()].map(({ id, address, client }) => ({ id, address, client }))
  }

  /** Ids of the peers connected right now (both ways). */
  get connected (): Source[] {
    return [...this.#connected.keys()]
  }

  /** Record the id an authentication handshake proved for `socket` (the exchange must name the same). */
  prove (socket: Duplex, id: Source): void {
    this.#proven.set(socket, id)
  }

  /** The message this node sends: its own fresh entry, then a random sample of what it knows. */
  message (): PexMessage {
    const { self, keys } = this.#options
    const advertise = this.advertise
    const entries = advertise === undefined ? [] : [toWire(ownEntry(self, advertise, Date.now(), keys))]
    for (const e of this.book.sample(MAX_ENTRIES - entries.length, this.#random)) entries.push(toWire(e))
    return { id: self, entries }
  }

  /** The listener's half, run on every accepted replication connection after authentication. */
  async server (socket: Duplex): Promise<void> {
    const theirs = await exchangeAsServer(socket, (m) => {
      this.#check(socket, m)
      return this.message()
    })
    if (theirs === undefined) return
    this.#learn(socket, theirs)
  }

  /**
   * The dialer's half: `seed` for a --peer connection (its state says whether
   * it speaks peer exchange), or the id a discovered dial expects. `probe`
   * (nodes without a key) names a peer that demands authentication.
   */
  async client (socket: Duplex, dialing: { seed: SeedState } | { discovered: Source }, probe?: Handshake): Promise<void> {
    if ('seed' in dialing && !dialing.seed.pex) {
      await probe?.(socket, 'client')
      return
    }
    let theirs: PexMessage
    try {
      theirs = await exchangeAsClient(socket, this.message())
    } catch (err) {
      if (!hasCode(err, netCodes.PEX_PROTOCOL)) throw err
      // Not an exchange in answer: maybe the authentication hello of a node with --key (the probe says so), else
      // an older node: the next attempt replicates without peer exchange.
      if (probe !== undefined && !socket.destroyed) await probe(socket, 'client')
      if ('seed' in dialing) dialing.seed.pex = false
      throw err
    }
    this.#check(socket, theirs)
    if (theirs.id === this.#options.self) throw netError(netCodes.PEX_SELF, 'This address is this node itself')
    // A discovered dial that races a connection the other way: the node with the smaller id keeps its own.
    if ('discovered' in dialing && (this.#connected.get(theirs.id) ?? 0) > 0 && this.#options.self > theirs.id) {
      throw netError(netCodes.PEX_DUPLICATE, `Already connected to ${theirs.id}`)
    }
    this.#learn(socket, theirs)
  }

  #check (socket: Duplex, m: PexMessage): void {
    const proven = this.#proven.get(socket)
    if (this.#options.keys !== undefined && proven !== m.id) {
      throw netError(netCodes.PEX_PROTOCOL, 'The peer-exchange id is not the id the peer proved')
    }
  }

  #learn (socket: Duplex, theirs: PexMessage): void {
    const id = theirs.id
    this.#connected.set(id, (this.#connected.get(id) ?? 0) + 1)
    socket.once('close', () => {
      const n = (this.#connected.get(id) ?? 1) - 1
      if (n <= 0) this.#connected.delete(id)
      else this.#connected.set(id, n)
    })
    if (this.book.merge(theirs.entries, (k) => this.#connected.has(k)) > 0) queueMicrotask(() => { this.#fill() })
  }

  #fill (): void {
    const { maxPeers } = this.#options
    if (this.#stopped) return
    while (this.#discovered.size < maxPeers) {
      const [pick] = this.book.sample(1, this.#random, (e) => this.#candidate(e.id, e.address))
      if (pick === undefined) return
      this.#dialDiscovered(pick.id, pick.address)
    }
  }

  /**
   * A peer worth dialing: not this node, not connected either way, not dialed
   * already, not a --peer, not just rotated out; and not at an address being
   * dialed now or found dead within DEAD_ADDRESS_MS (ids are invented for free:
   * many naming one address must not make this node dial it over and over).
   */
  #candidate (id: Source, address: string): boolean {
    if (id === this.#options.self || this.#connected.has(id) || this.#discovered.has(id) || this.#seeds.has(address) || id === this.#rotatedOut) return false
    for (const d of this.#discovered.values()) if (d.address === address) return false
    const dead = this.#deadAddresses.get(address)
    return dead === undefined || Date.now() - dead > DEAD_ADDRESS_MS
  }

  #dialDiscovered (id: Source, address: string): void {
    const target = parseAddress(address)
    if (target === undefined) {
      this.book.markDead(id)
      return
    }
    const client = this.#options.dial(target, id)
    const entry: Discovered = { id, address, client, since: Date.now(), retired: false, lastError: undefined }
    this.#discovered.set(id, entry)
    client.on('connected', (c) => { this.#options.onConnected(address, c) })
    client.on('disconnected', (err) => { entry.lastError = err })
    client.on('close', () => {
      if (this.#discovered.get(id) === entry) this.#discovered.delete(id)
      const err = entry.lastError
      // A dead or refusing address is forgotten until its owner says something newer; a duplicate is not dead.
      if (!entry.retired && !hasCode(err, netCodes.PEX_DUPLICATE)) {
        this.book.markDead(id)
        this.#markAddressDead(address)
        if (err !== undefined) this.#options.log(`discovered peer ${address} dropped: ${err.message}`)
      }
      if (!this.#stopped) queueMicrotask(() => { this.#fill() })
    })
  }

  /** An address that failed is not dialed again, under any id, for DEAD_ADDRESS_MS. */
  #markAddressDead (address: string): void {
    const now = Date.now()
    if (this.#deadAddresses.size >= MAX_DEAD_ADDRESSES) {
      for (const [a, at] of this.#deadAddresses) if (now - at > DEAD_ADDRESS_MS) this.#deadAddresses.delete(a)
      // Still full: the oldest mark goes (a Map keeps insertion order).
      if (this.#deadAddresses.size >= MAX_DEAD_ADDRESSES) this.#deadAddresses.delete(this.#deadAddresses.keys().next().value as string)
    }
    this.#deadAddresses.delete(address)
    this.#deadAddresses.set(address, now)
  }

  /** Replace the oldest discovered connection, when another known peer could take its place. */
  #rotate (): void {
    const { maxPeers } = this.#options
    if (this.#discovered.size < maxPeers) return
    const spare = this.book.sample(1, this.#random, (e) => this.#candidate(e.id, e.address))
    if (spare.length === 0) return
    let oldest: Discovered | undefined
    for (const d of this.#discovered.values()) if (oldest === undefined || d.since < oldest.since) oldest = d
    if (oldest === undefined) return
    oldest.retired = true
    this.#rotatedOut = oldest.id
    void oldest.client.close()
  }

  /** Stop dialing and close every discovered connection. */
  async stop (): Promise<void> {
    this.#stopped = true
    clearInterval(this.#fillTimer)
    clearInterval(this.#rotateTimer)
    await Promise.all([...this.#discovered.values()].map(async (d) => {
      d.retired = true
      await d.client.close()
    }))
  }
}
