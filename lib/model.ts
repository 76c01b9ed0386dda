import { EventEmitter } from 'events'
import { codes, error, invalidValue } from './errors.js'
import { unpack } from './msgpack.js'
import { compareStamps, isWellFormed, originalKey, type Source, type Update } from './protocol.js'
import { Scuttlebutt, type ScuttlebuttEvents, type ScuttlebuttOptions } from './scuttlebutt.js'
import type { DataSpace, Storage } from './storage.js'
import { UNKNOWN, type Transaction } from './transaction.js'
import { upgradePointers } from './pointer.js'
import { expiryKey, isTombstone, purgeTombstones, type KeyRecord } from './tombstones.js'
import type { Json } from './value-domain.js'
import { quietly } from './to-json.js'

/**
 * What a Model's type argument describes, as a record of key -> value type: a
 * record type (`{ title: string, done: boolean }`) is that schema; any other
 * type (`number`, `Json`, an array type) is the type of every key's value.
 */
export type ModelSchema<T> = [T] extends [Uint8Array | readonly unknown[]]
  ? Record<string, T>
  : [T] extends [object] ? T : Record<string, T>

/** The keys of a `Model<T>`. */
export type ModelKey<T> = keyof ModelSchema<T> & string

/** The type of the value under `K` in a `Model<T>` (a null value is a delete). */
export type ModelValue<T, K extends ModelKey<T> = ModelKey<T>> = ModelSchema<T>[K]

/** A value as read back: a deleted key reads as absent, so never null. */
export type ModelStored<T, K extends ModelKey<T> = ModelKey<T>> = Exclude<ModelValue<T, K>, null>

/** A Model's change: `[key, value]`; a null value deletes the key (a tombstone). */
export type ModelChange<T = Json> = { [K in ModelKey<T>]: [key: K, value: ModelValue<T, K> | null] }[ModelKey<T>]

/** One `[key, value]` of a `Model<T>`, as `entries()` yields it. */
export type ModelEntry<T = Json> = { [K in ModelKey<T>]: [key: K, value: ModelStored<T, K>] }[ModelKey<T>]

/** A plain-object snapshot of a `Model<T>` (`toJSON()`): absent keys are left out. */
export type ModelSnapshot<T = Json> = { [K in ModelKey<T>]?: ModelStored<T, K> }

/** One operation of `Model#batch()`: a put (a null value deletes, as in `set()`) or a delete. */
export type ModelOperation<T = Json> = {
  [K in ModelKey<T>]: { type: 'put', key: K, value: ModelValue<T, K> } | { type: 'del', key: K }
}[ModelKey<T>]

/** A key range for iterating a Model; keys compare as strings (UTF-8 byte order). */
export interface KeyRange {
  gt?: string
  gte?: string
  lt?: string
  lte?: string
  /** At most this many entries. */
  limit?: number
  /** Descending key order. */
  reverse?: boolean
}

type Entry = KeyRecord

/** Options of a Model. */
export interface ModelOptions extends ScuttlebuttOptions {
  /**
   * Forget deletes older than this many milliseconds (like Cassandra's
   * `gc_grace_seconds`): their records and log entries are removed, and a peer
   * that has not seen them by then is refused (`SCUTTLEDB_STALE_PEER`) instead
   * of bringing deleted values back. Default: keep every delete forever.
   */
  tombstoneTTL?: number
}

/** Purge expired deletes at most this often (ms), and at open. */
const PURGE_EVERY = 60_000
/** Index entries one purge commit reads at most. */
const PURGE_PAGE = 4096

/**
 * The events of a `Model<T>` (besides every Scuttlebutt's): `update`, `change`
 * (a key changed, value null: deleted, by a local or a remote write) and
 * `change:KEY` (that key changed).
 */
export type ModelEvents<T = Json> = Omit<ScuttlebuttEvents, 'update'> & {
  update: [change: ModelChange<T>, ts: number, source: Source]
  change: ModelChange<T>
} & { [K in ModelKey<T> as `change:${K}`]: [value: ModelValue<T, K> | null] }

/** `E` with each event's arguments shown to be a tuple (which TypeScript cannot see through a generic `T`). */
type Tuples<E> = { [K in keyof E]: E[K] extends unknown[] ? E[K] : never }

function assertKey (key: unknown): asserts key is string {
  if (typeof key !== 'string') throw new TypeError('A key must be a string')
  if (!isWellFormed(key)) throw new TypeError('A key must not contain lone surrogates')
}

const RANGE_OPTIONS = new Set(['gt', 'gte', 'lt', 'lte', 'limit', 'reverse'])

/**
 * A TypeError for a range `entries()` would not read as asked: a store coerces
 * a non-string bound (null became the key 'null') and ignores a non-boolean
 * `reverse` or an option it does not know (`prefix`), so the read was silently
 * another one.
 */
function checkRange (range: unknown): asserts range is KeyRange {
  if (range === null || typeof range !== 'object') throw new TypeError('A key range must be an object { gt?, gte?, lt?, lte?, limit?, reverse? }')
  for (const [name, value] of Object.entries(range)) {
    if (value === undefined) continue
    if (!RANGE_OPTIONS.has(name)) throw new TypeError(`range.${name} is not a key range option: use gt, gte, lt, lte, limit, reverse`)
    if (name === 'limit') {
      if (typeof value !== 'number' || !(Number.isSafeInteger(value) || value === Infinity) || value < 0) throw new TypeError('range.limit must be a non-negative integer or Infinity')
    } else if (name === 'reverse') {
      if (typeof value !== 'boolean') throw new TypeError('range.reverse must be a boolean')
    } else if (typeof value !== 'string' || !isWellFormed(value)) {
      throw new TypeError(`range.${name} must be a string without lone surrogates (keys are strings)`)
    }
  }
}

/**
 * A replicated, persisted last-writer-wins map. Concurrent writes to one key
 * resolve by `(ts, source)`, so every replica converges whatever the arrival
 * order. Storage stays O(keys): a superseded update leaves the history in the
 * same commit that stores its successor.
 */
export class Model<T = Json> extends Scuttlebutt<Tuples<ModelEvents<T>>> {
  static override readonly wireType: string | undefined = 'Model'
  #space: DataSpace | undefined
  #expirySpace: DataSpace | undefined
  readonly #ttl: number
  #timer: ReturnType<typeof setInterval> | undefined
  #purging: Promise<number> | undefined
  /** Whether a `change:<key>` listener may exist: set when one is added, rechecked once per commit. */
  #keyed = false
  /** The commit count at the last recheck of `#keyed`. */
  #keyedAt = -1

  // Every listener is added through one of these (`once` goes through `on`,
  // `prependOnceListener` through `prependListener`): noting keyed listeners
  // here spares an update without any the cost of a per-key event name.
  static {
    for (const name of ['on', 'addListener', 'prependListener'] as const) {
      const add = EventEmitter.prototype[name] as (this: EventEmitter, event: string | symbol, listener: (...args: unknown[]) => void) => EventEmitter
      Object.defineProperty(Model.prototype, name, {
        configurable: true,
        writable: true,
        value: function (this: Model, event: string | symbol, listener: (...args: unknown[]) => void) {
          if (typeof event === 'string' && event.startsWith('change:')) this.#keyed = true
          return add.call(this as unknown as EventEmitter, event, listener)
        }
      })
    }
  }

  constructor (options: ModelOptions) {
    super(options)
    const { tombstoneTTL = Infinity } = options
    if (!(typeof tombstoneTTL === 'number' && tombstoneTTL > 0)) throw new TypeError('options.tombstoneTTL must be a positive number of milliseconds')
    this.#ttl = tombstoneTTL
  }

  get #keys (): DataSpace {
    this.#space ??= this._space('keys')
    return this.#space
  }

  /** The index of deletes by timestamp (`expiryKey`), for purging them. */
  get #expiry (): DataSpace {
    this.#expirySpace ??= this._space('expiry')
    return this.#expirySpace
  }

  override async open (): Promise<void> {
    await super.open()
    // Set before awaiting: a second open() call must not start a second timer.
    // Closed meanwhile (close() right after open()): open() resolves, as the base class's does.
    if (this.#ttl === Infinity || this.#timer !== undefined || this.status !== 'open') return
    this.#timer = setInterval(() => { this.purge().catch(() => {}) }, Math.min(PURGE_EVERY, this.#ttl))
    // A purge timer must never keep a process alive.
    this.#timer.unref()
    // A close() made meanwhile stops the purge (calls are refused): that is no failure to open.
    await this.purge().catch((err: unknown) => { if (this.status === 'open') throw err })
  }

  protected override async _closing (): Promise<void> {
    clearInterval(this.#timer)
    await this.#purging?.catch(() => {})
  }

  /**
   * Forget deletes older than `tombstoneTTL` now (it also happens at open and
   * every minute): each is removed from storage and history in atomic commits,
   * and remembered per source so that peers who never saw it are refused.
   * Resolves with how many were forgotten; 0 without a `tombstoneTTL`.
   */
  async purge (): Promise<number> {
    if (this.status !== 'open') throw error(codes.NOT_OPEN, 'The instance is not open')
    if (this.#ttl === Infinity) return 0
    this.#purging ??= this.#purge().finally(() => { this.#purging = undefined })
    return await this.#purging
  }

  async #purge (): Promise<number> {
    let total = 0
    const horizon = this._wall() - this.#ttl
    // One commit per page of the index; `next` goes on after what a page kept (latest updates).
    let next: string | undefined
    let first = true
    // Each pinned update's key, read once per purge: pins change between commits (re-checked
    // by ts), but reading them all for every page made a purge cost pages x pins reads.
    const pinned = new Map<Source, [ts: number, key: string | undefined]>()
    while (first || next !== undefined) {
      first = false
      await this._forget(async (commit, forget) => {
        const spaces = { keys: this.#keys, expiry: this.#expiry }
        // Only read once a page holds an expired delete: a purge with none reads no pin.
        const pinnedKeys = async (): Promise<Set<string>> => await this.#pinnedKeys(pinned)
        const result = await purgeTombstones(this._storage, spaces, horizon, this._clockCopy(), pinnedKeys, commit, forget, PURGE_PAGE, next)
        total += result.purged
        next = result.next
      })
    }
    return total
  }

  /**
   * The keys of the superseded updates kept pinned (each its source's latest): a
   * delete of such a key must stay, or a peer sent the history (a new node
   * rebuilt from this one) would take the pinned value with nothing to beat it.
   * `known` keeps each pin's key from earlier pages of the same purge.
   */
  async #pinnedKeys (known: Map<Source, [ts: number, key: string | undefined]>): Promise<Set<string>> {
    const keys = new Set<string>()
    const current = this._pinnedCopy()
    for (const source of known.keys()) if (!current.has(source)) known.delete(source)
    for (const [source, ts] of current) {
      let entry = known.get(source)
      if (entry === undefined || entry[0] !== ts) {
        const bytes = await this._storage.readUpdate(source, ts)
        const change = bytes === undefined ? undefined : this._fromJson((unpack(bytes) as Update<ModelChange>)[0])
        entry = [ts, Array.isArray(change) && typeof change[0] === 'string' ? change[0] : undefined]
        known.set(source, entry)
      }
      if (entry[1] !== undefined) keys.add(entry[1])
    }
    return keys
  }

  /**
   * Reclaim the disk space of deleted and superseded records (LevelDB
   * compaction of this instance's key range); resolves false on stores that
   * cannot compact (memory-level, browser-level).
   */
  async compact (): Promise<boolean> {
    return await this._storage.compact()
  }

  /** Set `key` to `value`; resolves once the update is durably committed. A null value deletes. */
  async set<K extends ModelKey<T>> (key: K, value: ModelValue<T, K>): Promise<void> {
    assertKey(key)
    if (value === undefined) throw invalidValue('A value must not be undefined; use delete()')
    // The [key, value] shell is ours: only its elements are checked (lib/value-domain.ts).
    await this._submit([key, value], true)
  }

  /**
   * Apply several puts and deletes atomically: one commit, one acknowledgement.
   * After a crash either every operation is stored or none is. Every operation
   * is checked first (a bad one throws and nothing is written). The updates get
   * consecutive timestamps, so a later operation on the same key wins. See the
   * README for what a peer sees.
   */
  async batch (operations: Array<ModelOperation<T>>): Promise<void> {
    if (!Array.isArray(operations)) throw new TypeError('operations must be an array')
    const changes = operations.map((op): unknown => {
      if (op === null || typeof op !== 'object') throw new TypeError('Each operation must be an object')
      assertKey(op.key)
      if (op.type === 'del') return [op.key, null]
      if (op.type !== 'put') throw new TypeError(`Unknown operation type ${String((op as { type: unknown }).type)}: use 'put' or 'del'`)
      if (op.value === undefined) throw invalidValue('A value must not be undefined; use a del operation')
      return [op.key, op.value]
    })
    await this._submitAll(changes, true)
  }

  /**
   * Delete every key, in one atomic commit (tombstones that replicate, so peers
   * clear too). Holds the key list in memory: for very large models, delete in
   * ranges with `batch()`.
   */
  async clear (): Promise<void> {
    // A task, as Counter#increment: it reads before it writes, and a clear() called
    // before close() must still commit (close() waits for it).
    await this._task(async ({ storage, submitAll }) => {
      const changes: unknown[] = []
      for await (const records of storage.iteratePages(this.#keys, {})) {
        for (const [key, entry] of records) if (!isTombstone(entry as Entry)) changes.push([key, null])
      }
      await submitAll(changes, true)
    })
  }

  /** Delete `key` (a tombstone that replicates); resolves once durable. */
  async delete (key: ModelKey<T>): Promise<void> {
    assertKey(key)
    await this._submit([key, null], true)
  }

  /** The value of `key`, or undefined when it is absent or deleted. */
  async get<K extends ModelKey<T>> (key: K): Promise<ModelStored<T, K> | undefined> {
    assertKey(key)
    const storage = this._storage
    try {
      const entry = await storage.get(this.#keys, key) as Entry | undefined
      if (entry === undefined || isTombstone(entry)) return undefined
      const [bytes] = await this.#readValues([[key, entry]])
      return (bytes === undefined ? undefined : valueOf(bytes) ?? undefined) as ModelStored<T, K> | undefined
    } catch (err) {
      throw this._readError(err)
    }
  }

  /** True when `key` holds a value. */
  async has (key: ModelKey<T>): Promise<boolean> {
    return (await this.get(key)) !== undefined
  }

  /**
   * Every `[key, value]` in key order (deleted keys skipped), read lazily from
   * storage; `range` narrows it (`gt`, `gte`, `lt`, `lte`) and `limit` caps how many.
   */
  entries (range: KeyRange = {}): AsyncGenerator<ModelEntry<T>> {
    // Checked at the call, not at the first next() of the generator.
    checkRange(range)
    return this.#entries(range)
  }

  async * #entries (range: KeyRange): AsyncGenerator<ModelEntry<T>> {
    try {
      yield * this.#read(range)
    } catch (err) {
      throw this._readError(err)
    }
  }

  async * #read (range: KeyRange): AsyncGenerator<ModelEntry<T>> {
    const { limit = Infinity, ...given } = range
    if (limit <= 0) return
    // Only the bounds given: abstract-level reads { gt: undefined } as a bound (and found nothing).
    const bounds = Object.fromEntries(Object.entries(given).filter(([, value]) => value !== undefined))
    const storage = this._storage
    let count = 0
    // Key records in pages; each page's values in one read of the log.
    for await (const records of storage.iteratePages(this.#keys, bounds)) {
      // Deleted keys are known from their records: only live keys' values are read.
      const page = records.filter(([, entry]) => !isTombstone(entry as Entry)) as Array<[string, Entry]>
      const values = await this.#readValues(page)
      for (let i = 0; i < page.length; i++) {
        const bytes = values[i]
        const value = bytes === undefined ? null : valueOf(bytes)
        if (value === null) continue
        yield [page[i][0], value] as ModelEntry<T>
        if (++count >= limit) return
      }
    }
  }

  /**
   * The log bytes of each live record's update. The record and the log are two
   * reads: a commit between them that supersedes the update deletes it from the
   * log (unless it is its source's latest), so a key that held a value all along
   * would read as absent. Such a key's record is read again (and its new update)
   * until the two agree; undefined where the key is now deleted, or where its
   * record still names an update the log does not hold.
   */
  async #readValues (records: Array<[string, Entry]>): Promise<Array<Buffer | undefined>> {
    const storage = this._storage
    const values = await storage.readUpdates(records.map(([, entry]) => [entry[0], entry[1]]))
    let missing = records.map((_, i) => i).filter((i) => values[i] === undefined)
    const current = records.map(([, entry]) => entry)
    while (missing.length > 0) {
      const again = await storage.getMany(this.#keys, missing.map((i) => records[i][0])) as Array<Entry | undefined>
      const moved: number[] = []
      again.forEach((entry, j) => {
        const i = missing[j]
        const before = current[i]
        // Deleted since, or unchanged (the log lacks it for another reason): nothing to read.
        if (entry === undefined || isTombstone(entry) || (entry[0] === before[0] && entry[1] === before[1])) return
        current[i] = entry
        moved.push(i)
      })
      const read = await storage.readUpdates(moved.map((i) => [current[i][0], current[i][1]]))
      moved.forEach((i, j) => { values[i] = read[j] })
      missing = moved.filter((i) => values[i] === undefined)
    }
    return values
  }

  /** @internal The stamps `[ts, source]` of the updates that currently win `keys` (undefined where none): the HTTP changes feed skips superseded ones. */
  async _winners (keys: string[]): Promise<Array<[ts: number, source: Source] | undefined>> {
    const records = await this._storage.getMany(this.#keys, keys) as Array<Entry | undefined>
    return records.map((record) => record === undefined ? undefined : [record[0], record[1]])
  }

  /** Every key holding a value, in key order (same `range` as `entries()`). */
  keys (range: KeyRange = {}): AsyncGenerator<ModelKey<T>> {
    const entries = this.entries(range)
    return (async function * () { for await (const [key] of entries) yield key as ModelKey<T> })()
  }

  /** Every value, in key order (same `range` as `entries()`). */
  values (range: KeyRange = {}): AsyncGenerator<ModelStored<T>> {
    const entries = this.entries(range)
    return (async function * () { for await (const [, value] of entries) yield value as ModelStored<T> })()
  }

  /** Iterate `[key, value]` pairs: `for await (const [k, v] of model)`. */
  [Symbol.asyncIterator] (): AsyncGenerator<ModelEntry<T>> {
    return this.entries()
  }

  /** A plain-object snapshot of a small model (every key read into memory). */
  toJSON (): Promise<ModelSnapshot<T>> {
    return quietly(this.#snapshot())
  }

  async #snapshot (): Promise<ModelSnapshot<T>> {
    const out: Record<string, unknown> = {}
    // defineProperty: a key such as "__proto__" stays an ordinary own property.
    for await (const [key, value] of this.entries()) {
      Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true })
    }
    return out as ModelSnapshot<T>
  }

  protected override _validateChange (change: unknown): boolean {
    return Array.isArray(change) && change.length === 2 && typeof change[0] === 'string' && isWellFormed(change[0]) && change[1] !== undefined
  }

  /** The original's `set(5, v)` is its key '5' (an object key): stored as that key. */
  protected override _fromJson (change: unknown): unknown {
    return Array.isArray(change) && change.length === 2 && typeof change[0] !== 'string' ? [originalKey(change[0]), change[1]] : change
  }

  protected override async _prefetch (updates: Update[], tx: Transaction): Promise<void> {
    await tx.prefetch(this.#keys, updates.map((u) => (u[0] as ModelChange)[0]))
  }

  protected override _applyUpdate (update: Update, tx: Transaction): boolean | Promise<boolean> {
    const key = (update[0] as ModelChange)[0]
    const known = tx.peek(this.#keys, key)
    // The common case (prefetched) stays synchronous: no promise per update.
    if (known !== UNKNOWN) return this.#apply(update, known as Entry | undefined, tx)
    return tx.get(this.#keys, key).then((current) => this.#apply(update, current as Entry | undefined, tx))
  }

  #apply (update: Update, current: Entry | undefined, tx: Transaction): boolean {
    const [[key, value], ts, source] = update as Update<ModelChange>
    if (current !== undefined) {
      if (compareStamps(ts, source, current[0], current[1]) <= 0) return false
      tx.dropUpdate(current[0], current[1])
      if (isTombstone(current)) tx.del(this.#expiry, expiryKey(current[0], current[1], key))
    }
    if (value === null) {
      tx.put(this.#keys, key, [ts, source, 0])
      tx.put(this.#expiry, expiryKey(ts, source, key), 0)
    } else {
      tx.put(this.#keys, key, [ts, source])
    }
    return true
  }

  protected override async _upgrade (storage: Storage, from: number): Promise<void> {
    if (from < 2) await upgradePointers(storage, storage.space('keys'), storage.space('expiry'))
  }

  protected override _committed (update: Update): void {
    const [key, value] = update[0] as ModelChange
    // Through the untyped base: `T` is the caller's claim about what peers send.
    ;(this as unknown as Model).emit('change', key, value)
    if (!this.#keyed) return
    if (this.#keyedAt !== this.stats.commits) {
      // Listeners may have been removed since: look once per commit.
      this.#keyedAt = this.stats.commits
      this.#keyed = this.eventNames().some((name) => typeof name === 'string' && name.startsWith('change:'))
      if (!this.#keyed) return
    }
    ;(this as unknown as Model).emit(`change:${key}`, value)
  }
}

/** The value of a stored Model update (null for a delete). */
function valueOf (bytes: Buffer): unknown {
  return ((unpack(bytes) as Update<ModelChange>)[0])[1]
}
