import { EventEmitter, once } from 'events'
import { pipeline, type Duplex } from 'stream'
import type { ReplicationStream } from '../stream.js'
import { netCodes, netError } from './errors.js'
import { messagePortStream, type MessagePortLike } from './message-port.js'
import type { Replicable } from './target.js'

/** The part of the Web Locks API (`navigator.locks`) this uses. */
export interface TabLocks {
  request: (name: string, options: { ifAvailable?: boolean, signal?: AbortSignal }, callback: (lock: unknown) => Promise<void>) => Promise<unknown>
}

/** A BroadcastChannel (one origin's tabs, workers and frames). */
export interface TabChannel extends MessagePortLike {
  close: () => void
}

/** A BroadcastChannel constructor. */
export type TabChannelConstructor = new (name: string) => TabChannel

/** Options of `joinTabs()`. */
export interface JoinTabsOptions {
  /** Tabs of one group open at once; each holds one of this many databases. Default 16. */
  maxTabs?: number
  /** Default `navigator.locks`. */
  locks?: TabLocks
  /** Default `globalThis.BroadcastChannel`. */
  BroadcastChannel?: TabChannelConstructor
  /**
   * The prefix of the IndexedDB names of the databases `create()` opens: browser-level's
   * `prefix` option, default `'level-js-'` (what a Model opened by path uses). The replicas
   * no open tab holds are found by this exact name.
   */
  indexedDBPrefix?: string
}

/** What a tab group holds: any Scuttlebutt (Model, Events, ...), opened and closed by the group. */
export interface TabInstance extends Replicable {
  open: () => Promise<void>
  close: () => Promise<void>
}

/** What this tab is in its group: the hub every other tab replicates with, or a member. */
export type TabRole = 'hub' | 'member'

/** Events of a TabGroup. */
export interface TabGroupEvents {
  /** This tab's role changed: it became the hub (the previous hub closed). */
  role: [role: TabRole]
  /** The replication with another tab finished its initial exchange. */
  synced: [tab: string]
}

type Control = { hub: string } | { join: string, hub: string } | { who: true }

/** A member whose hub has not spoken on their pair within this many ms asks again who the hub is. */
const JOIN_TIMEOUT = 5000
/** A member whose pair with the hub ended waits this many ms before asking again, so a pair that keeps failing does not spin. */
const REJOIN_DELAY = 1000

/** Hold a Web Lock until the returned function is called; undefined when `ifAvailable` and it is taken. */
async function hold (locks: TabLocks, name: string, options: { ifAvailable?: boolean, signal?: AbortSignal }): Promise<(() => void) | undefined> {
  return await new Promise((resolve, reject) => {
    locks.request(name, options, async (lock) => {
      if (lock === null) {
        resolve(undefined)
        return
      }
      await new Promise<void>((release) => { resolve(release) })
    }).catch(reject)
  })
}

function randomToken (): string {
  const bytes = new Uint8Array(12)
  globalThis.crypto.getRandomValues(bytes)
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}

/**
 * The tabs of one origin sharing one replicated database. Each tab holds a
 * full replica in a database of its own (`name`, `name~1`, ...: a tab takes the
 * first one no open tab holds, so a reload gets its own back), because two
 * instances on one IndexedDB database would write as one source id. One tab, the
 * holder of a Web Lock, is the hub: the others replicate with it over
 * BroadcastChannel, so a write in any tab reaches every tab, online or not. When
 * the hub tab closes, the lock passes to another tab, which becomes the hub, and
 * the rest replicate with it.
 */
export class TabGroup<T extends TabInstance> extends EventEmitter<TabGroupEvents> {
  /** This tab's instance (open). */
  readonly instance: T
  /** The database this tab holds (`name`, or `name~N`). */
  readonly database: string
  /** This tab's token in the group. */
  readonly tab: string
  readonly #name: string
  readonly #locks: TabLocks
  readonly #Channel: TabChannelConstructor
  readonly #control: TabChannel
  readonly #releases: Array<() => void> = []
  readonly #hubWait = new AbortController()
  readonly #pairs = new Map<string, Duplex>()
  /** As the hub: the members whose life lock it waits on (one wait each, however often they rejoin). */
  readonly #watched = new Set<string>()
  #rejoinTimer: ReturnType<typeof setTimeout> | undefined
  #role: TabRole = 'member'
  #hub: string | undefined
  #closing: Promise<void> | undefined

  /** @internal Use `joinTabs()`. */
  constructor (name: string, instance: T, database: string, tab: string, locks: TabLocks, Channel: TabChannelConstructor, release: () => void) {
    super()
    this.#name = name
    this.instance = instance
    this.database = database
    this.tab = tab
    this.#locks = locks
    this.#Channel = Channel
    this.#releases.push(release)
    this.#control = new Channel(`scuttledb:${name}`)
    this.#control.addEventListener?.('message', ((event: { data: Control }) => { this.#onControl(event.data) }) as never)
  }

  /** 'hub' or 'member'. */
  get role (): TabRole {
    return this.#role
  }

  /** @internal Take this tab's life lock and the hub lock if it is free (so the first role is known on return), else wait in line for it. */
  async start (): Promise<void> {
    const alive = await hold(this.#locks, `scuttledb:${this.#name}:tab:${this.tab}`, {})
    if (alive !== undefined) this.#releases.push(alive)
    const hub = `scuttledb:${this.#name}:hub`
    const free = await hold(this.#locks, hub, { ifAvailable: true })
    if (free !== undefined) {
      this.#releases.push(free)
      this.#becomeHub(false)
      return
    }
    // Granted when the hub closes (or at once, if it closed meanwhile).
    hold(this.#locks, hub, { signal: this.#hubWait.signal }).then((release) => {
      if (release === undefined) return
      if (this.#closing !== undefined) {
        release()
        return
      }
      this.#releases.push(release)
      this.#becomeHub(true)
    }, () => {})
    this.#post({ who: true })
  }

  #post (message: Control): void {
    if (this.#closing === undefined) this.#control.postMessage(message)
  }

  #onControl (message: Control): void {
    if (this.#closing !== undefined || message === null || typeof message !== 'object') return
    if ('who' in message) {
      if (this.#role === 'hub') this.#post({ hub: this.tab })
    } else if ('join' in message) {
      if (this.#role === 'hub' && message.hub === this.tab && typeof message.join === 'string') this.#accept(message.join)
    } else if (typeof message.hub === 'string' && this.#role === 'member' && message.hub !== this.#hub) {
      this.#join(message.hub)
    }
  }

  #channel (member: string, hub: string): TabChannel {
    return new this.#Channel(`scuttledb:${this.#name}:pair:${member}:${hub}`)
  }

  /** Replicate `duplex` with this tab's instance; `key` names it in #pairs. */
  #replicate (key: string, duplex: Duplex): void {
    let stream: ReplicationStream
    try {
      stream = this.instance.createStream()
    } catch {
      duplex.destroy()
      return
    }
    stream.once('sync', () => { this.emit('synced', key) })
    // A tab that closes or reloads ends its pairs with SCUTTLEDB_PEER_CLOSED: expected.
    pipeline(duplex, stream, duplex, () => {
      if (this.#pairs.get(key) === duplex) this.#pairs.delete(key)
    })
  }

  /**
   * As a member whose replication with `hub` ended, or never began: ask again who the
   * hub is. A pair's BroadcastChannel is open to every script of the origin, and one
   * message it did not send ends it; an announcement can name a tab that is gone.
   */
  #rejoin (hub: string): void {
    if (this.#closing !== undefined || this.#role !== 'member' || this.#hub !== hub) return
    this.#hub = undefined
    clearTimeout(this.#rejoinTimer)
    this.#rejoinTimer = setTimeout(() => {
      this.#rejoinTimer = undefined
      this.#post({ who: true })
    }, REJOIN_DELAY)
  }

  /** As the hub: replicate with a member until it goes (its life lock frees). */
  #accept (member: string): void {
    this.#pairs.get(member)?.destroy()
    const duplex = messagePortStream(this.#channel(member, this.tab), { transfer: false })
    this.#pairs.set(member, duplex)
    this.#replicate(member, duplex)
    if (this.#watched.has(member)) return
    this.#watched.add(member)
    hold(this.#locks, `scuttledb:${this.#name}:tab:${member}`, { signal: this.#hubWait.signal }).then((release) => {
      release?.()
      this.#watched.delete(member)
      this.#pairs.get(member)?.destroy()
    }, () => {})
  }

  /** As a member: replicate with `hub`, which speaks first (our channel is open before it hears of us). */
  #join (hub: string): void {
    for (const pair of this.#pairs.values()) pair.destroy()
    this.#hub = hub
    const duplex = messagePortStream(this.#channel(this.tab, hub), { transfer: false })
    this.#pairs.set(hub, duplex)
    const silent = setTimeout(() => { duplex.destroy() }, JOIN_TIMEOUT)
    duplex.once('readable', () => {
      clearTimeout(silent)
      if (!duplex.destroyed) this.#replicate(hub, duplex)
    })
    duplex.on('error', () => {})
    duplex.once('close', () => {
      clearTimeout(silent)
      if (this.#pairs.get(hub) === duplex) this.#pairs.delete(hub)
      this.#rejoin(hub)
    })
    this.#post({ join: this.tab, hub })
  }

  #becomeHub (changed: boolean): void {
    clearTimeout(this.#rejoinTimer)
    for (const pair of this.#pairs.values()) pair.destroy()
    this.#pairs.clear()
    this.#role = 'hub'
    this.#hub = this.tab
    this.#post({ hub: this.tab })
    if (changed) this.emit('role', 'hub')
  }

  /** Leave the group: ends the replications with other tabs, closes the instance, frees the database for the next tab. */
  async close (): Promise<void> {
    this.#closing ??= (async () => {
      this.#hubWait.abort()
      clearTimeout(this.#rejoinTimer)
      this.#control.close()
      for (const pair of this.#pairs.values()) pair.destroy()
      this.#pairs.clear()
      try {
        await this.instance.close()
      } finally {
        // The database's lock last, once nothing uses it.
        for (const release of this.#releases.reverse()) release()
      }
    })()
    await this.#closing
  }
}

/** The IndexedDB database names of this origin, or undefined where the browser cannot list them. */
async function databaseNames (): Promise<string[] | undefined> {
  const idb = (globalThis as { indexedDB?: { databases?: () => Promise<Array<{ name?: string }>> } }).indexedDB
  if (typeof idb?.databases !== 'function') return undefined
  try {
    return (await idb.databases()).map((info) => info.name ?? '')
  } catch {
    return undefined
  }
}

/**
 * Replicate into `instance` every replica of the group that no open tab holds
 * (`name~N` whose tab closed): a tab that was the only one on `name~N` wrote there
 * alone, and a later tab (its own reload too) takes the first free database, so
 * without this those writes would stay out of sight, and unsent to any node, until
 * enough tabs were open at once. Only databases that exist are opened.
 */
async function gatherFreeReplicas<T extends TabInstance> (name: string, own: number, maxTabs: number, prefix: string, instance: T, create: (database: string) => T, locks: TabLocks): Promise<void> {
  const names = await databaseNames()
  if (names === undefined) return
  for (let slot = 0; slot < maxTabs; slot++) {
    if (slot === own) continue
    const database = slot === 0 ? name : `${name}~${slot}`
    // The exact name: a suffix would take another group's replica (`my-notes~1` for `notes~1`).
    if (!names.includes(prefix + database)) continue
    const release = await hold(locks, `scuttledb:${name}:slot:${slot}`, { ifAvailable: true })
    if (release === undefined) continue
    try {
      const other = create(database)
      await other.open()
      try {
        const mine = instance.createStream()
        const theirs = other.createStream()
        const synced = Promise.all([once(mine, 'sync'), once(theirs, 'sync')])
        pipeline(mine, theirs, mine, () => {})
        await Promise.race([synced, new Promise((resolve) => { mine.once('close', resolve) })])
      } finally {
        await other.close()
      }
    } catch {
      // A replica that cannot be read stays as it is; this tab goes on without it.
    } finally {
      release()
    }
  }
}

/**
 * Join the tabs of this origin that share the replicated database `name`: takes a
 * database of its own for this tab, opens `create(database)` on it, and
 * replicates it with the group's other tabs (see TabGroup). Rejects with
 * SCUTTLEDB_DATABASE_LOCKED when `maxTabs` tabs already hold one.
 */
export async function joinTabs<T extends TabInstance> (name: string, create: (database: string) => T, options: JoinTabsOptions = {}): Promise<TabGroup<T>> {
  if (typeof name !== 'string' || name === '') throw new TypeError('name must be a non-empty string')
  if (typeof create !== 'function') throw new TypeError('create must be a function of the database name')
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object')
  const { maxTabs = 16, indexedDBPrefix = 'level-js-' } = options
  if (!(Number.isInteger(maxTabs) && maxTabs > 0)) throw new TypeError('maxTabs must be a positive integer')
  if (typeof indexedDBPrefix !== 'string') throw new TypeError('indexedDBPrefix must be a string')
  const locks = options.locks ?? (globalThis as { navigator?: { locks?: TabLocks } }).navigator?.locks
  const Channel = options.BroadcastChannel ?? (globalThis as { BroadcastChannel?: TabChannelConstructor }).BroadcastChannel
  if (locks === undefined || typeof locks.request !== 'function') throw new TypeError('No Web Locks here: pass options.locks')
  if (typeof Channel !== 'function') throw new TypeError('No BroadcastChannel here: pass options.BroadcastChannel')
  for (let slot = 0; slot < maxTabs; slot++) {
    const release = await hold(locks, `scuttledb:${name}:slot:${slot}`, { ifAvailable: true })
    if (release === undefined) continue
    const database = slot === 0 ? name : `${name}~${slot}`
    let instance: T | undefined
    let group: TabGroup<T> | undefined
    try {
      instance = create(database)
      await instance.open()
      await gatherFreeReplicas(name, slot, maxTabs, indexedDBPrefix, instance, create, locks)
      group = new TabGroup(name, instance, database, randomToken(), locks, Channel, release)
      await group.start()
      return group
    } catch (err) {
      if (group !== undefined) {
        await group.close().catch(() => {})
      } else {
        // Opened and no group to close it: left open, its database would stay locked to every retry.
        await instance?.close().catch(() => {})
        release()
      }
      throw err
    }
  }
  throw netError(netCodes.DATABASE_LOCKED, `${maxTabs} tabs already hold a database of ${name}`)
}
