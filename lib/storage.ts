import { Level } from 'level'
import { codes, error } from './errors.js'
import { msgpackEncoding, pack, unpack } from './msgpack.js'
import type { Clock, Source } from './protocol.js'
import { DirectCommit, SublevelCommit, logKey, type Commit } from './commit.js'
import { KeyLookup } from './lookup.js'
import { claimDatabase, claimDirectory, claimLocation } from './storage-claims.js'
import { PrefixedView, directTarget, isDirectLevel, localPrefix, type DirectTarget, type SublevelReads } from './prefixed-view.js'
import { parseLogKey, scanLog, type LogEntry, type SourceScan } from './log-scan.js'

export { SourceScan, type LogEntry, type LogIterator, type LogScanner } from './log-scan.js'

export { logKey, type Commit } from './commit.js'

export type { Database, DataSpace, KeyBounds } from './storage-types.js'
import type { AnyLevel, Database, DataSpace, KeyBounds, Sublevel } from './storage-types.js'
import { pages, readClock } from './storage-reads.js'

/**
 * The storage format this code writes; bumped on incompatible layout changes.
 * 1: 0.1.0. 2: data types keep pointers to log entries instead of a second copy of
 * each value; superseded latest updates are pinned; undecodable updates are
 * quarantined. Older databases are upgraded in place when opened (lib/upgrade.ts).
 */
export const FORMAT_VERSION = 2

/**
 * The on-disk layout (see docs/storage.md): `meta` (format, id), `clock`
 * (source -> latest accepted timestamp), `log` (source\0ts -> update bytes),
 * `pinned` (source -> ts of its latest update, kept though superseded),
 * `forgotten` (source -> ts of its newest delete purged past its TTL),
 * `quarantine` (updates an upgrade found undecodable) and one `data-NAME`
 * sublevel per data space of the data type.
 */
export class Storage {
  /** The database, or the sublevel an address names (made on first use: see `SublevelAddress`). */
  #db: AnyLevel | undefined
  /** Where the database is, when opened on an address: made here, so closed here. */
  readonly #address: SublevelAddress | undefined
  readonly #owned: boolean
  /**
   * The sublevels, made on first use: a sublevel costs more to construct than a
   * small commit costs to write, and a collection opens thousands of instances.
   * On a direct database they are only made for writes that name them (upgrades).
   */
  readonly #sublevels = new Map<string, Sublevel>()
  /** What reads go through: views of the database's prefixed keys when direct, else the sublevels. */
  readonly #views = new Map<string, SublevelReads>()
  readonly #spaces = new Map<string, DataSpace>()
  /**
   * True when the database's own encodings are utf8 keys and binary values: then
   * commits write prefixed keys straight to it. abstract-level's per-operation
   * `sublevel` option costs several times more than the write itself.
   */
  readonly #direct: boolean
  /** Where a direct database's commits and reads go (its root, for a plain sublevel; lib/prefixed-view.ts). */
  readonly #target: DirectTarget
  /** The database was made here (a sublevel an address names): closed here. */
  #madeDb = false
  /** Gives up this Storage's claim on its database (lib/storage-claims.ts). */
  #release: () => void = () => {}
  /** The id of a new database whose meta records are not written yet (see `init`). */
  #uninitialised: Source | undefined
  /** Write the format and id at close if nothing was committed (see `init`). */
  #initAtClose = true
  /** A new database no commit has been written to yet: every record is known absent, without a read. */
  #blank = false

  private constructor (db: AnyLevel | SublevelAddress, owned: boolean, target?: DirectTarget) {
    this.#owned = owned
    if (db instanceof SublevelAddress) {
      this.#address = db
      this.#direct = true
      this.#target = target as DirectTarget
      return
    }
    this.#db = db
    this.#direct = isDirectLevel(db)
    this.#target = this.#direct ? directTarget(db) : { db, base: '' }
  }

  /** @internal The instance's database (on an address, its sublevel, made now if need be). */
  get db (): AnyLevel {
    if (this.#db === undefined) {
      const { parent, name } = this.#address as SublevelAddress
      this.#db = parent.sublevel(name, { keyEncoding: 'utf8', valueEncoding: 'buffer' }) as AnyLevel
    }
    return this.#db
  }

  /**
   * A sublevel of the instance's database, made on first use. Every sublevel
   * written in commits uses utf8 keys and buffer values (msgpack is applied
   * here): one shape of batch operation keeps abstract-level's put() fast.
   */
  #sublevel (name: string): Sublevel {
    let sublevel = this.#sublevels.get(name)
    if (sublevel === undefined) {
      sublevel = this.db.sublevel(name, { keyEncoding: 'utf8', valueEncoding: 'buffer' }) as Sublevel
      this.#sublevels.set(name, sublevel)
    }
    return sublevel
  }

  /** How the records of sublevel `name` are read. */
  #view (name: string): SublevelReads {
    let view = this.#views.get(name)
    if (view === undefined) {
      view = this.#direct ? new PrefixedView(this.#target.db, name, this.#target.base) : this.#sublevel(name) as unknown as SublevelReads
      this.#views.set(name, view)
    }
    return view
  }

  /** The prefix of sublevel `name`'s keys in the database direct commits write to. */
  #local (name: string): string {
    return this.#target.base + localPrefix(name)
  }

  get #clock (): SublevelReads { return this.#view('clock') }
  get #log (): SublevelReads { return this.#view('log') }
  get #pinned (): SublevelReads { return this.#view('pinned') }
  get #forgotten (): SublevelReads { return this.#view('forgotten') }
  get #quarantine (): SublevelReads { return this.#view('quarantine') }

  /** The meta records (msgpack values). */
  async #readMeta (keys: string[]): Promise<unknown[]> {
    if (!this.#direct) return await this.#metaSublevel().getMany(keys)
    const values = await this.#view('meta').getMany(keys) as Array<Buffer | undefined>
    return values.map((bytes) => bytes === undefined ? undefined : unpack(bytes))
  }

  async #writeMeta (records: Array<[string, unknown]>): Promise<void> {
    if (!this.#direct) {
      await this.#metaSublevel().batch(records.map(([key, value]) => ({ type: 'put' as const, key, value })))
      return
    }
    const batch = this.#target.db.batch()
    for (const [key, value] of records) batch.put(this.#local('meta') + key, pack(value))
    await batch.write()
  }

  #metaSublevel (): Sublevel {
    let meta = this.#sublevels.get('meta')
    if (meta === undefined) {
      meta = this.db.sublevel('meta', { keyEncoding: 'utf8', valueEncoding: msgpackEncoding }) as Sublevel
      this.#sublevels.set('meta', meta)
    }
    return meta
  }

  /** Open a database given as a directory path (classic-level) or as an abstract-level instance. */
  static async open (location: string | Database, options?: { reader?: boolean }): Promise<Storage>
  /** @internal A sublevel named, not made (lib/collection.ts). */
  static async open (location: SublevelAddress, options?: { reader?: boolean }): Promise<Storage>
  static async open (location: string | Database | SublevelAddress, { reader = false }: { reader?: boolean } = {}): Promise<Storage> {
    if (location instanceof SublevelAddress) {
      const target = location.target()
      // A parent that is not written with prefixed keys: the sublevel itself, as if it had been given.
      if (target === undefined) {
        const storage = await Storage.open(location.parent.sublevel(location.name, { keyEncoding: 'utf8', valueEncoding: 'buffer' }) as unknown as Database, { reader })
        storage.#madeDb = true
        return storage
      }
      const release = reader ? () => {} : claimDatabase({ db: target.db, prefix: target.base })
      const storage = new Storage(location, false, target)
      storage.#release = release
      return storage
    }
    const owned = typeof location === 'string'
    // A directory is claimed by its canonical path before its Level exists (lib/storage-claims.ts).
    const releaseDirectory = owned ? claimDirectory(location) : () => {}
    let db: AnyLevel
    try {
      db = owned ? new Level(location, { keyEncoding: 'utf8', valueEncoding: 'buffer' }) : location as AnyLevel
    } catch (err) {
      // classic-level refuses some paths ('') in its constructor: the claim goes with it.
      releaseDirectory()
      throw err
    }
    // An object is claimed here; another process is refused by classic-level's lock.
    // `reader`: a Storage that only reads (a closed collection document's history) claims nothing.
    // A path in a browser names an IndexedDB database, which nothing locks: a Web Lock claims it.
    let release: () => void
    try {
      const claim = reader ? () => {} : owned ? await claimLocation(db, location) : claimDatabase(db)
      release = () => { claim(); releaseDirectory() }
    } catch (err) {
      releaseDirectory()
      throw err
    }
    try {
      await db.open()
    } catch (err) {
      release()
      if (owned && (err as { cause?: { code?: unknown } }).cause?.code === 'LEVEL_LOCKED') {
        throw error(codes.DATABASE_LOCKED, `The database at ${location} is open in another instance or process: close it first`, { cause: err as Error })
      }
      throw err
    }
    const storage = new Storage(db, owned)
    storage.#release = release
    return storage
  }

  /**
   * Read the stored format, id, vector clock and pins: O(sources), never
   * O(updates). `format` is undefined for a new database. `blank`: the caller
   * knows nothing was ever written to it, so nothing is read.
   */
  async load (blank = false): Promise<{ format: number | undefined, id: Source | undefined, clock: Clock, pinned: Clock, forgotten: Clock }> {
    const [format, id] = blank ? [undefined, undefined] : await this.#readMeta(['format', 'id'])
    if (format !== undefined && !(typeof format === 'number' && Number.isInteger(format) && format >= 1 && format <= FORMAT_VERSION)) {
      throw error(codes.UNSUPPORTED_FORMAT, `Storage format ${String(format)} is not supported (this version reads 1 to ${FORMAT_VERSION})`)
    }
    // A database without a format was never initialised (`init` runs before the first
    // commit, in every version): it holds nothing, so nothing more is read.
    this.#blank = format === undefined
    if (format === undefined) return { format: undefined, id: typeof id === 'string' ? id : undefined, clock: new Map(), pinned: new Map(), forgotten: new Map() }
    const clock = await readClock(this.#clock)
    return {
      format: format as number,
      id: typeof id === 'string' ? id : undefined,
      clock,
      pinned: await readClock(this.#pinned),
      forgotten: await this.loadForgotten()
    }
  }

  /** Per source, the newest forgotten (purged) delete. */
  async loadForgotten (): Promise<Clock> {
    return await readClock(this.#forgotten)
  }

  /** Record that the database now has the current format (after an upgrade). */
  async setFormat (): Promise<void> {
    await this.#writeMeta([['format', FORMAT_VERSION]])
  }

  /** True when the stored clock holds at least every entry of `clock`: a commit that moved them landed. */
  async holdsClock (clock: Clock): Promise<boolean> {
    const sources = [...clock.keys()]
    const stored = await this.#clock.getMany(sources) as Array<Buffer | undefined>
    return sources.every((source, i) => {
      const bytes = stored[i]
      return bytes !== undefined && (unpack(bytes) as number) >= (clock.get(source) as number)
    })
  }

  /** Every stored update in key order, raw, `step` at a time (for upgrades and checks). */
  async * logEntries (step = 1024): AsyncGenerator<LogEntry[]> {
    for await (const page of pages(this.#log, {}, step)) yield page.map(([key, bytes]) => ({ ...parseLogKey(key), bytes }))
  }

  /** Move stored updates out of the log into `quarantine`, atomically: kept, never replicated. */
  async quarantine (entries: LogEntry[]): Promise<void> {
    await this.db.batch(entries.flatMap(({ source, ts, bytes }) => [
      { type: 'put' as const, key: logKey(source, ts), value: bytes, sublevel: this.#sublevel('quarantine') },
      { type: 'del' as const, key: logKey(source, ts), sublevel: this.#sublevel('log') }
    ]))
  }

  /** The updates in quarantine (moved out of the log by an upgrade), raw. */
  async quarantined (): Promise<LogEntry[]> {
    const out: LogEntry[] = []
    for await (const [key, bytes] of this.#quarantine.iterator()) out.push({ ...parseLogKey(key as string), bytes: bytes as Buffer })
    return out
  }

  /** Write a data space's records (and optionally another space's puts) in one atomic batch (for upgrades). */
  async rewrite (space: DataSpace, puts: Array<[string, unknown]>, dels: string[], also?: [DataSpace, Array<[string, unknown]>]): Promise<void> {
    const extra = also === undefined ? [] : also[1].map(([key, value]) => ({ type: 'put' as const, key, value: pack(value), sublevel: this.#sublevel('data-' + also[0].name) }))
    const sublevel = this.#sublevel('data-' + space.name)
    for (const [key] of puts) space.lookup.wrote(key)
    if (also !== undefined) for (const [key] of also[1]) also[0].lookup.wrote(key)
    await this.db.batch([
      ...puts.map(([key, value]) => ({ type: 'put' as const, key, value: pack(value), sublevel })),
      ...dels.map((key) => ({ type: 'del' as const, key, sublevel })),
      ...extra
    ])
  }

  /**
   * Record the format version and id of a new database: with its first commit
   * (one write instead of two, and a database without a format still holds
   * nothing), or when it closes if nothing was committed.
   */
  init (id: Source): void {
    this.#uninitialised = id
  }

  /**
   * @internal Write nothing at close when nothing was committed (a collection document
   * its collection may drop: its id is the collection's, so the record is not needed).
   */
  skipInitAtClose (): void {
    this.#initAtClose = false
  }

  /** The data space `name` of a data type. */
  space (name: string): DataSpace {
    let space = this.#spaces.get(name)
    if (space === undefined) {
      // Only read through on a direct database (commits write its prefixed keys): a view does.
      const sublevel = this.#view('data-' + name) as unknown as Sublevel
      // A store that holds nothing yet: its bound is known without a read (every key is absent until written).
      space = { name, sublevel, prefix: this.#local('data-' + name), lookup: new KeyLookup(this.#blank) }
      this.#spaces.set(name, space)
    }
    return space
  }

  /** Read one record of a data space. */
  async get (space: DataSpace, key: string): Promise<unknown> {
    const bytes = await space.sublevel.get(key) as Buffer | undefined
    return bytes === undefined ? undefined : unpack(bytes)
  }

  /** Read many records of a data space in one call. */
  async getMany (space: DataSpace, keys: string[]): Promise<unknown[]> {
    const values = await space.sublevel.getMany(keys) as Array<Buffer | undefined>
    return values.map((bytes) => bytes === undefined ? undefined : unpack(bytes))
  }

  /** Read the records a commit is about to write, decoded (see KeyLookup): undefined where absent. */
  async lookup (space: DataSpace, keys: string[]): Promise<unknown[]> {
    if (this.#blank) return keys.map(() => undefined)
    const values = await space.lookup.read(space.sublevel, keys)
    return values.map((bytes) => bytes === undefined ? undefined : unpack(bytes))
  }

  /** Iterate a data space in key order, decoded. */
  async * iterate (space: DataSpace, options: KeyBounds = {}): AsyncGenerator<[string, unknown]> {
    for await (const page of this.iteratePages(space, options)) yield * page
  }

  /** Iterate a data space in key order, decoded, a page of up to 256 records at a time. */
  async * iteratePages (space: DataSpace, options: KeyBounds = {}, step = 256): AsyncGenerator<Array<[string, unknown]>> {
    for await (const page of pages(space.sublevel, options, step)) yield page.map(([key, bytes]) => [key, unpack(bytes)])
  }

  /** Read the bytes of one stored update, or undefined when it is not held. */
  async readUpdate (source: Source, ts: number): Promise<Buffer | undefined> {
    return await this.#log.get(logKey(source, ts)) as Buffer | undefined
  }

  /** Read the bytes of many stored updates in one call (undefined where not held). */
  async readUpdates (refs: Array<[ts: number, source: Source]>): Promise<Array<Buffer | undefined>> {
    if (refs.length === 0) return []
    return await this.#log.getMany(refs.map(([ts, source]) => logKey(source, ts))) as Array<Buffer | undefined>
  }

  /** Start a commit: one atomic batch. */
  batch (): Commit {
    const batch = this.#direct ? this.#target.db.batch() : this.db.batch()
    const commit = this.#direct
      ? new DirectCommit(batch, this.#local('log'), this.#local('clock'), this.#local('pinned'), this.#local('forgotten'))
      : new SublevelCommit(batch, this.#sublevel('log'), this.#sublevel('clock'), this.#sublevel('pinned'), this.#sublevel('forgotten'))
    if (this.#uninitialised === undefined && !this.#blank) return commit
    // Every commit written until one has landed carries the meta records (added last: `length` counts the caller's operations).
    const write = commit.write.bind(commit)
    commit.write = async (sync) => {
      // From now on a read may meet what this writes.
      this.#blank = false
      const id = this.#uninitialised
      if (id !== undefined) {
        for (const [key, value] of metaRecords(id)) {
          if (this.#direct) batch.put(this.#local('meta') + key, pack(value))
          else batch.put(key, value, { sublevel: this.#metaSublevel() })
        }
      }
      await write(sync)
      if (this.#uninitialised === id) this.#uninitialised = undefined
    }
    return commit
  }

  /**
   * A lazy, ordered scan of one source's updates with timestamps above `after`
   * (0 = all), read `step` entries at a time; it ends at `last` when given (the
   * source's clock: nothing is stored above it, and no read is spent finding so).
   */
  scan (source: Source, after: number, step: number, last?: number): SourceScan {
    return scanLog(this.#log, source, after, step, last)
  }

  /** Count the stored updates (a key-only scan: for bounded histories). */
  async countUpdates (): Promise<number> {
    let count = 0
    for await (const _key of this.#log.keys()) count++
    return count
  }

  /** Delete one source's stored updates with timestamps below `before`. */
  async clearUpdates (source: Source, before: number): Promise<void> {
    await this.#log.clear({ gte: source + '\x00', lt: logKey(source, before) })
  }

  /**
   * Ask the store to reclaim the space of deleted records in this instance's
   * key range (classic-level's compactRange); a no-op for stores without one.
   * Returns whether the store compacted.
   */
  async compact (): Promise<boolean> {
    // On an address, the root and prefix are known without making the sublevel.
    const db = (this.#address !== undefined ? { db: this.#target.db, prefix: this.#target.base } : this.db) as Database & { db?: Database, prefix?: string }
    const root = (db.db ?? db) as Database & { compactRange?: (start: string, end: string) => Promise<void> }
    if (typeof root.compactRange !== 'function') return false
    // Every key of this instance starts with its prefix and then a sublevel's '!'.
    const prefix = db.prefix ?? ''
    await root.compactRange(prefix + '!', prefix + '"')
    return true
  }

  /**
   * Close the database if this storage opened it; otherwise close the sublevels
   * it made: abstract-level keeps an open sublevel attached to its parent, so on
   * a long-lived database every instance ever opened would stay in memory.
   */
  async close (): Promise<void> {
    try {
      const id = this.#uninitialised
      this.#uninitialised = undefined
      // Kept for the next open; if it cannot be written, the database still holds nothing, which a later open sees.
      if (id !== undefined && this.#initAtClose) await this.#writeMeta(metaRecords(id)).catch(() => {})
      if (this.#owned) {
        await this.db.close()
        return
      }
      const sublevels = [...this.#sublevels.values()]
      await Promise.all(sublevels.map(async (sublevel) => { await sublevel.close() }))
      // A sublevel attaches itself to its parent when it opens: only closing detaches it.
      if ((this.#address !== undefined || this.#madeDb) && this.#db !== undefined) await this.#db.close()
    } finally {
      this.#release()
    }
  }
}

/**
 * @internal The sublevel `name` of `parent` (utf8 keys, binary values), named but
 * not constructed: a Storage opened on it writes and reads the root database with
 * the sublevel's prefixed keys, the same records a sublevel would hold, and makes
 * the sublevel object only for what needs one (upgrades). An abstract-level
 * sublevel costs more to make, open and close than a small document's commit
 * (lib/collection.ts opens thousands). On a parent written through its sublevels
 * (see `directTarget`) the sublevel is made at once and used as given.
 */
export class SublevelAddress {
  constructor (readonly parent: AnyLevel, readonly name: string) {}

  /** The root and the sublevel's prefix there, or undefined when writes must go through the sublevel. */
  target (): DirectTarget | undefined {
    const parent = this.parent
    if (!isDirectLevel(parent)) return undefined
    const { db, base } = directTarget(parent)
    // A sublevel whose root is written through it (hooks, listeners, other encodings) gives itself back.
    if (db === parent && (parent as { db?: unknown }).db !== undefined && (parent as { db?: unknown }).db !== parent) return undefined
    return { db, base: base + localPrefix(this.name) }
  }
}

/** The meta records of a new database. */
function metaRecords (id: Source): Array<[string, unknown]> {
  return [['format', FORMAT_VERSION], ['id', id]]
}

