import { EventEmitter } from 'events'
import type { AbstractLevel } from 'abstract-level'
import { Level } from 'level'
export { MAX_NAME_LENGTH, isDocumentName } from './collection-names.js'
import { Catalog, type CatalogEntry } from './collection-catalog.js'
import { CollectionStream, type CollectionStreamOptions, type StreamContext } from './collection-stream.js'
import { Counter } from './counter.js'
import { codes, error, ScuttledbError } from './errors.js'
import { Events } from './events.js'
import { Model } from './model.js'
import type { Clock, Source } from './protocol.js'
import type { Access, AccessResolver, AnyDocument, CollectionEvents, CollectionOptions, CollectionStatus, Doc, DocumentType } from './collection-types.js'
import { MAX_NAME_LENGTH, isDocumentName } from './collection-names.js'
import { documentDefaults, optionsOf, type DocumentDefaults } from './collection-options.js'
import { Scuttlebutt, type ScuttlebuttOptions } from './scuttlebutt.js'
import { Storage, SublevelAddress, type Database } from './storage.js'
import { claimDirectory, claimLocation } from './storage-claims.js'
import { logScanner, SharedLog, SharedLogs } from './log-scan.js'
import { HistoryCursor } from './history.js'
import type { ReplicationStream, StreamOptions } from './stream.js'
import { Value } from './value.js'
import type { Replicable } from './net/target.js'

/** @internal */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyLevel = AbstractLevel<any, any, any>

export type { AnyDocument, DocumentType, Access, AccessResolver, CollectionOptions, CollectionEvents, CollectionStatus, DocumentOptions, DocumentOptionsResolver } from './collection-types.js'

const BUILT_IN: Record<string, DocumentType> = { Model, Events, Value, Counter }

/** The default of `maxPeerEntryBytes`. */
const DEFAULT_MAX_PEER_ENTRY_BYTES = 128 * 1024 * 1024


/** One open (or opening) document. */
interface Slot {
  readonly entry: CatalogEntry
  readonly opening: Promise<Doc>
  doc: Doc | undefined
  /** Holders that must not see it closed: streams sending or committing it, `use()` callers. */
  leases: number
  off: (() => void) | undefined
  /**
   * Created by a peer's updates (not by `doc()` or `use()`, which clear it): if it closes
   * with nothing committed (every update refused), it is dropped from the catalog, so
   * that a peer whose updates are all refused leaves nothing behind.
   */
  byPeer: boolean
}

/** What a closed document that forgot no delete has forgotten (shared, never changed). */
const NOTHING_FORGOTTEN: Clock = new Map()

/** Who asks for a document: the local API, a peer's updates (which may create it), or the collection itself. */
type Asker = 'local' | 'peer' | 'internal'

/**
 * Many named documents of any data type in one database, opened when first
 * used (or when a peer asks) and closed again when idle beyond `maxOpen`; the
 * catalog keeps each document's type. Syncs with peers over one stream
 * (`createStream()`, or `target()` for listen/connect) whose cost follows what
 * changed; `access` decides per peer which documents it may see or write.
 */
export class Collection extends EventEmitter<CollectionEvents> {
  readonly #options: CollectionOptions
  readonly #types = new Map<string, DocumentType>()
  readonly #defaultType: string
  readonly #maxOpen: number
  readonly #maxPeerEntryBytes: number
  readonly #access: AccessResolver
  /** What every document is opened with besides `db` and `id` (validated once). */
  readonly #documentDefaults: DocumentDefaults
  #db: AnyLevel | undefined
  #owned = false
  /** Frees the Web Lock on a browser database this collection opened by path. */
  #releaseLocation: () => void = () => {}
  #catalog: Catalog | undefined
  /** Open and opening documents, least recently used first. */
  readonly #open = new Map<string, Slot>()
  /** Closed documents' forgotten deletes (tombstoneTTL), as of their last close or as read once: they change only while open. */
  readonly #forgotten = new Map<string, Clock>()
  /** Documents being closed: a reopen waits for it. */
  readonly #closing = new Map<string, Promise<void>>()
  readonly #streams = new Set<CollectionStream>()
  #status: CollectionStatus = 'new'
  #trimScheduled = false
  /**
   * Counts documents starting to open and done closing (not persisted): a shared
   * log iterator made at count N reads every document last touched at or before
   * N as it is stored now (lib/log-scan.ts).
   */
  #touches = 0
  #opening: Promise<void> | undefined
  #closed: Promise<void> | undefined

  constructor (options: CollectionOptions) {
    super()
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object')
    const { db, types = {}, defaultType = 'Model', maxOpen = 1000, access = () => 'write', maxPeerEntryBytes = DEFAULT_MAX_PEER_ENTRY_BYTES } = options
    if (typeof db !== 'string' && (db === null || typeof db !== 'object')) throw new TypeError('options.db must be a path or an abstract-level database')
    for (const [name, type] of Object.entries({ ...BUILT_IN, ...types })) {
      if (typeof type !== 'function' || !(type.prototype instanceof Scuttlebutt)) throw new TypeError(`types.${name} must be a Scuttlebutt subclass`)
      this.#types.set(name, type)
    }
    if (!this.#types.has(defaultType)) throw new TypeError(`defaultType ${defaultType} is not a registered type`)
    if (!(Number.isInteger(maxOpen) && maxOpen > 0)) throw new TypeError('options.maxOpen must be a positive integer')
    if (typeof access !== 'function') throw new TypeError('options.access must be a function')
    if (!(Number.isSafeInteger(maxPeerEntryBytes) && maxPeerEntryBytes > 0)) throw new TypeError('options.maxPeerEntryBytes must be a positive integer')
    this.#maxPeerEntryBytes = maxPeerEntryBytes
    this.#documentDefaults = documentDefaults(options)
    this.#options = options
    this.#defaultType = defaultType
    this.#maxOpen = maxOpen
    this.#access = access
    this.setMaxListeners(0)
  }

  /** `'new'`, `'opening'`, `'open'`, `'closing'` or `'closed'`. */
  get status (): CollectionStatus {
    return this.#status
  }

  /** The collection's node id; known once open. */
  get id (): Source {
    return this.#openCatalog().id
  }

  /** The number of documents (open or not). */
  get size (): number {
    return this.#openCatalog().size
  }

  /** The names of the documents held open now. */
  get opened (): string[] {
    return [...this.#open.values()].filter((slot) => slot.doc !== undefined).map((slot) => slot.entry.name)
  }

  /** The most documents held open (see `maxOpen`). */
  get maxOpen (): number {
    return this.#maxOpen
  }

  /** Open the database and read the catalog. Calling it again returns the same promise. */
  async open (): Promise<void> {
    if (this.#closed !== undefined) throw error(codes.NOT_OPEN, 'A closed collection cannot be reopened; create a new one')
    this.#opening ??= this.#openCollection()
    await this.#opening
  }

  async #openCollection (): Promise<void> {
    this.#status = 'opening'
    const { db } = this.#options
    try {
      this.#owned = typeof db === 'string'
      // A directory is claimed by its canonical path before its Level exists (lib/storage-claims.ts).
      const releaseDirectory = typeof db === 'string' ? claimDirectory(db) : () => {}
      this.#releaseLocation = releaseDirectory
      try {
        this.#db = typeof db === 'string' ? new Level(db, { keyEncoding: 'utf8', valueEncoding: 'buffer' }) : db as AnyLevel
      } catch (err) {
        // classic-level refuses some paths ('') in its constructor: the claim goes with it.
        releaseDirectory()
        throw err
      }
      // A path in a browser names an IndexedDB database, which nothing locks: a Web Lock claims it.
      if (typeof db === 'string') {
        try {
          const claim = await claimLocation(this.#db, db)
          this.#releaseLocation = () => { claim(); releaseDirectory() }
        } catch (err) {
          releaseDirectory()
          throw err
        }
      }
      try {
        await this.#db.open()
      } catch (err) {
        this.#releaseLocation()
        throw err
      }
      const catalog = new Catalog(this.#db)
      try {
        // A signing backend's id, like a document's: its local updates can only be signed under it.
        await catalog.load(this.#options.id ?? this.#options.security?.createId?.())
      } catch (err) {
        if (this.#owned) await this.#db.close().finally(() => { this.#releaseLocation() })
        else await catalog.close().catch(() => {})
        throw err
      }
      this.#catalog = catalog
    } catch (err) {
      this.#status = 'closed'
      throw err
    }
    this.#status = 'open'
  }

  /** True when a document of that name exists. */
  has (name: string): boolean {
    return this.#openCatalog().get(name) !== undefined
  }

  /** A document's type name, or undefined when there is no such document. */
  typeOf (name: string): string | undefined {
    return this.#openCatalog().get(name)?.type
  }

  /** Every document's name, in the order the documents were created here (an array, a copy). */
  names (): string[] {
    const entries = [...this.#openCatalog().entries()]
    // Each document's sublevel number is given at creation; the catalog is read back in key order.
    let ordered = true
    for (let i = 1; i < entries.length && ordered; i++) ordered = entries[i - 1].n < entries[i].n
    if (!ordered) entries.sort((a, b) => a.n - b.n)
    return entries.map((entry) => entry.name)
  }

  /**
   * The document `name`, opened if need be; created with `type` (a registered
   * name or constructor; default `defaultType`) if it does not exist. Concurrent
   * calls share one open. An existing document of another type rejects with
   * SCUTTLEDB_TYPE_MISMATCH. The instance may be closed once idle beyond
   * `maxOpen`: hold it with `use()` across awaits, or ask again.
   */
  async doc<D extends AnyDocument = AnyDocument> (name: string, type?: string | DocumentType<D>): Promise<D> {
    const slot = this.#slot(name, this.#typeName(type), 'local')
    return await slot.opening as unknown as D
  }

  /**
   * Run `fn` with the document `name` (as `doc()` opens it), held open until
   * `fn` settles; resolves with its result.
   */
  async use<D extends AnyDocument, R> (name: string, fn: (doc: D) => R | Promise<R>, type?: string | DocumentType<D>): Promise<R> {
    if (typeof fn !== 'function') throw new TypeError('fn must be a function')
    const doc = await this._lease(name, this.#typeName(type), 'local') as unknown as D
    try {
      return await fn(doc)
    } finally {
      this._release(name)
    }
  }

  /**
   * A replication stream for one peer: pipe it to and from the peer's stream
   * (`pipeline(a, b, a)`) or a socket. `peer` is the peer's proven id, for `access`.
   */
  createStream (options: CollectionStreamOptions = {}, context: StreamContext = {}): CollectionStream {
    this.#openCatalog()
    const stream = new CollectionStream(this, options, context)
    this.#streams.add(stream)
    return stream
  }

  /**
   * The collection as a target of `listen()`, `connect()` and the WebSocket
   * transports: each connection gets one collection stream.
   */
  target (): Replicable {
    // The transports use only what both stream kinds share (events, progress, destroy).
    // `_lifecycleEmitter`: a server or client of the target stops when the collection has closed (lib/net/server.ts).
    // `status`: a client of it that loses its connection as the collection closes does not retry.
    const collection = this
    return {
      createStream: (options?: StreamOptions, context?: StreamContext) => this.createStream(options, context) as unknown as ReplicationStream,
      _lifecycleEmitter: this,
      get status () { return collection.status }
    } as Replicable
  }

  /** Close every stream and document, then the database if the collection opened it. Calling it again returns the same promise. */
  async close (): Promise<void> {
    this.#closed ??= this.#closeCollection()
    await this.#closed
  }

  async #closeCollection (): Promise<void> {
    if (this.#opening !== undefined) await this.#opening.catch(() => {})
    const wasOpen = this.#status === 'open'
    this.#status = 'closing'
    for (const stream of this.#streams) stream.destroy()
    await Promise.all([...this.#streams].map(async (stream) => await stream._closed()))
    await Promise.all([...this.#open.values()].map(async (slot) => await slot.opening.catch(() => {})))
    // Every document closed, or failed to, before close() settles: one failure must not leave
    // the others closing (and writing their catalog records) after it.
    const evicted = await Promise.allSettled([...this.#open.values()].map(async (slot) => { await this.#evict(slot) }))
    await Promise.all([...this.#closing.values()])
    try {
      if (wasOpen) await this.#catalog?.flushed()
      const failed = evicted.find((result): result is PromiseRejectedResult => result.status === 'rejected')
      if (failed !== undefined) throw failed.reason
    } finally {
      // A database the collection was given stays open: only what the collection attached to it is let go.
      if (wasOpen && !this.#owned) await this.#catalog?.close()
      if (wasOpen && this.#owned) await this.#db?.close().finally(() => { this.#releaseLocation() })
      this.#status = 'closed'
      this.emit('close')
    }
  }

  #typeName (type: string | DocumentType | undefined): string | undefined {
    if (type === undefined || typeof type === 'string') return type
    if (typeof type !== 'function') throw new TypeError('A document type must be a registered name or constructor')
    for (const [name, registered] of this.#types) if (registered === type) return name
    // The same code as an unregistered name: what is wrong is the collection's registry, not the argument's type.
    throw error(codes.UNKNOWN_TYPE, `${type.name} is not a registered type of this collection`)
  }

  #openCatalog (): Catalog {
    if (this.#status !== 'open' || this.#catalog === undefined) throw error(codes.NOT_OPEN, 'The collection is not open')
    return this.#catalog
  }

  /** The open or opening slot of a document, created (and the document opened) if need be. */
  #slot (name: string, type: string | undefined, asker: Asker): Slot {
    if (!isDocumentName(name)) throw new TypeError(`A document name must be a well-formed string of 1 to ${MAX_NAME_LENGTH} characters`)
    if (type !== undefined && !this.#types.has(type)) throw error(codes.UNKNOWN_TYPE, `No data type named ${type} is registered`)
    const catalog = this.#openCatalog()
    let existing = this.#open.get(name)
    // Closed by its caller, not by the collection (which lets go of a slot before closing it): open it anew.
    let leases = 0
    if (existing?.doc !== undefined && existing.doc.status !== 'open') {
      leases = existing.leases
      this.#evictInBackground(existing)
      existing = undefined
    }
    if (existing !== undefined) {
      if (type !== undefined && existing.entry.type !== type) throw error(codes.TYPE_MISMATCH, `Document ${name} is a ${existing.entry.type}, not a ${type}`)
      // Most recently used last.
      this.#open.delete(name)
      this.#open.set(name, existing)
      if (asker === 'local' && existing.byPeer) {
        existing.byPeer = false
        // Kept after a crash too, from now on.
        if (existing.entry.provisional === true) {
          existing.entry.provisional = false
          if (existing.entry.dirty) void this.#catalog?.write(existing.entry)
        }
      }
      return existing
    }
    let entry = catalog.get(name)
    if (entry !== undefined && type !== undefined && entry.type !== type) throw error(codes.TYPE_MISMATCH, `Document ${name} is a ${entry.type}, not a ${type}`)
    entry ??= catalog.create(name, type ?? this.#defaultType)
    const found = entry
    // Holders of the closed instance release by name: their leases are this slot's now.
    // Created by this call (nothing is stored under it until its open succeeds and it commits).
    const created = found.fresh === true
    // A peer's document still open or closing (its instance closed by a holder, or evicted) stays
    // the peer's in its new slot, unless the local API asks for it: dropped if it closes empty.
    const slot: Slot = { entry, opening: undefined as unknown as Promise<Doc>, doc: undefined, leases, off: undefined, byPeer: created ? asker === 'peer' : asker !== 'local' && found.provisional === true }
    ;(slot as { opening: Promise<Doc> }).opening = this.#openDocument(slot, found)
    // A failed open is forgotten, so that a later call tries again; a document it was creating
    // is not left in the catalog (this runs before close() waits for the catalog's writes).
    slot.opening.catch(() => {
      if (this.#open.get(name) === slot) this.#open.delete(name)
      if (created) catalog.remove(found)
    })
    this.#open.set(name, slot)
    return slot
  }

  async #openDocument (slot: Slot, entry: CatalogEntry): Promise<Doc> {
    await this.#closing.get(entry.name)
    const Type = this.#types.get(entry.type)
    if (Type === undefined) throw error(codes.UNKNOWN_TYPE, `Document ${entry.name} is a ${entry.type}, which is not registered`)
    const catalog = this.#openCatalog()
    // Before anything is opened or written: a resolver's mistake leaves nothing behind.
    const options = optionsOf(this.#documentDefaults, this.#options.documentOptions, entry.name, entry.type)
    // Its sublevel, named but not made: the document's storage writes the root with its prefix (lib/storage.ts).
    const db = new SublevelAddress(this.#db as AnyLevel, 'd' + entry.n.toString(36))
    // The collection's db and id always win. Constructed first: an option the type refuses changes nothing on disk.
    const doc = new Type({ ...options, db: db as unknown as Database, id: catalog.id }) as unknown as Doc
    // Marked open on disk before it can change: after a crash it is compared with peers again.
    entry.dirty = true
    // A peer's new document: after a crash, it is dropped if nothing was stored under it.
    entry.provisional = slot.byPeer
    // Before it can change: iterators made until it has closed again do not read it.
    entry.touched = ++this.#touches
    // Unknown from now until it has closed (the live clock is read while it is open; while it closes, nothing is known).
    entry.clock = undefined
    // A document never written needs no read to know it holds nothing (catalog.create).
    if (entry.fresh === true) doc._assumeBlank()
    entry.fresh = false
    // A failed open has closed whatever it opened.
    await catalog.write(entry)
    await doc.open()
    if (this.#status !== 'open') {
      await doc.close()
      throw error(codes.NOT_OPEN, 'The collection is closing')
    }
    // One change per document per tick, however many updates a commit announces: the new
    // sequence number and the streams' notice go together, so a `done` never covers a
    // change the streams have not heard of. Flushed at close, before the record is written.
    let changed = false
    const flush = (): void => {
      if (!changed) return
      changed = false
      this.#changed(entry)
    }
    const onUpdate = (): void => {
      if (changed) return
      changed = true
      queueMicrotask(flush)
    }
    // 'commit' (emitted once the clock has moved) is the only word of an update that lost on
    // arrival (kept for the clock, and owed to peers all the same).
    const onCommit = onUpdate
    // A remote update the document refused (unverified, not a writer's, too far ahead): the sync goes on without it.
    const onRejected = (err: ScuttledbError): void => { this.emit('documentError', entry.name, err) }
    const onClose = (): void => { if (this.#open.get(entry.name) === slot) this.#evictInBackground(slot) }
    const lifecycle = doc._lifecycleEmitter
    lifecycle.on('commit', onCommit)
    lifecycle.on('update', onUpdate)
    lifecycle.on('rejected', onRejected)
    lifecycle.on('close', onClose)
    slot.off = () => {
      flush()
      lifecycle.off('commit', onCommit)
      lifecycle.off('update', onUpdate)
      lifecycle.off('rejected', onRejected)
      lifecycle.off('close', onClose)
    }
    slot.doc = doc
    this.emit('documentOpen', entry.name, doc)
    this.#scheduleTrim()
    return doc
  }

  /** A document committed something: it gets a new sequence number and the streams hear of it. */
  #changed (entry: CatalogEntry): void {
    // Also while the collection closes: a document's last queued writes commit then, and its record keeps their number.
    const catalog = this.#catalog
    if (catalog === undefined) return
    entry.seq = catalog.bump()
    for (const stream of this.#streams) stream._changed(entry.name)
  }

  /** One trim per tick, however many documents opened or were let go in it (each trim walks the open ones). */
  #scheduleTrim (): void {
    if (this.#trimScheduled) return
    this.#trimScheduled = true
    queueMicrotask(() => {
      this.#trimScheduled = false
      this.#trim()
    })
  }

  /** Close idle documents, least recently used first, until at most `maxOpen` are open. */
  #trim (): void {
    if (this.#status !== 'open') return
    let excess = this.#open.size - this.#maxOpen
    if (excess <= 0) return
    for (const slot of this.#open.values()) {
      if (excess <= 0) break
      if (slot.doc === undefined || slot.leases > 0 || slot.doc.streams > 0) continue
      excess--
      this.#evictInBackground(slot)
    }
  }

  /**
   * Evict in the background (an idle document, or one its caller closed): a failed
   * close (its store failed) is that document's error, not an unhandled rejection.
   */
  #evictInBackground (slot: Slot): void {
    const name = slot.entry.name
    this.#evict(slot).catch((err: unknown) => {
      this.emit('documentError', name, err instanceof ScuttledbError ? err : error(codes.DOCUMENT_FAILED, `Document ${name} failed to close`, { cause: err as Error }))
    })
  }

  /** Close one document and record its last sequence number and clock. */
  async #evict (slot: Slot): Promise<void> {
    const { entry, doc } = slot
    if (this.#open.get(entry.name) !== slot || doc === undefined) return
    this.#open.delete(entry.name)
    const closing = (async () => {
      // A document a peer's updates created may close holding nothing: then nothing of it is kept.
      if (slot.byPeer) doc._skipInitAtClose()
      // Listening until closed: a write still queued commits while it closes, and must be announced.
      await doc.close()
      // Its writes have landed: an iterator made from now on reads them.
      entry.touched = ++this.#touches
      slot.off?.()
      this.#remember(entry.name, doc._forgottenCopy())
      // A commit of unknown outcome may have landed: the clock is unknown (the next reader opens the document).
      entry.clock = doc._clockKnown() ? doc._clockCopy() : undefined
      entry.dirty = false
      entry.provisional = false
      if (slot.byPeer && entry.clock?.size === 0 && !this.#open.has(entry.name)) {
        // Every update the peer sent of it was refused: it was never written, and never announced
        // (a document is numbered, and so offered to peers, only when it commits).
        this.#catalog?.remove(entry)
        this.#forgotten.delete(entry.name)
      } else {
        await this.#catalog?.write(entry)
      }
      this.emit('documentClose', entry.name)
    })()
    const settled = closing.catch(() => {})
    this.#closing.set(entry.name, settled)
    try {
      await closing
    } finally {
      if (this.#closing.get(entry.name) === settled) this.#closing.delete(entry.name)
    }
  }

  /** @internal What one stream may hold of its peer's announced documents (`maxPeerEntryBytes`). */
  get _maxPeerEntryBytes (): number {
    return this.#maxPeerEntryBytes
  }

  /** @internal The catalog (open collections only). */
  get _catalog (): Catalog {
    return this.#openCatalog()
  }

  /** @internal A document opened and held open until `_release`. */
  async _lease (name: string, type?: string, asker: Asker = 'internal'): Promise<Doc> {
    const slot = this.#slot(name, type, asker)
    slot.leases++
    try {
      return await slot.opening
    } catch (err) {
      slot.leases--
      throw err
    }
  }

  /**
   * @internal `_lease` of a document known to exist, open or in the catalog; undefined
   * (nothing leased) when it does not exist (any more): a sync that would send it must
   * not create it (a peer's refused document is dropped when it closes).
   */
  async _leaseExisting (name: string): Promise<Doc | undefined> {
    // Checked and leased in one tick: `_lease` takes its slot before it awaits.
    if (!this.#open.has(name) && this.#catalog?.get(name) === undefined) return undefined
    return await this._lease(name)
  }

  /** @internal Let go of a leased document. */
  _release (name: string): void {
    const slot = this.#open.get(name)
    if (slot === undefined) return
    slot.leases--
    if (slot.leases === 0 && this.#open.size > this.#maxOpen) this.#scheduleTrim()
  }

  /**
   * @internal True when the document may be dropped when it closes (a peer's updates
   * created it and it holds nothing yet, or it is closing): its type here is not final.
   */
  _provisional (name: string): boolean {
    if (this.#closing.has(name)) return true
    const slot = this.#open.get(name)
    if (slot === undefined || !slot.byPeer) return false
    return slot.doc === undefined || slot.doc._clockCopy().size === 0
  }

  /** @internal The document if it is open now (never opens it). */
  _current (name: string): Doc | undefined {
    return this.#open.get(name)?.doc
  }

  /**
   * @internal The deletes a closed document has forgotten (tombstoneTTL), per
   * source; undefined when it is open or closing (ask the open document). Read
   * from storage once, then known from each close (they change only while open).
   */
  async _closedForgotten (name: string): Promise<Clock | undefined> {
    if (this.#open.has(name) || this.#closing.has(name)) return undefined
    const cached = this.#forgotten.get(name)
    if (cached !== undefined) return cached
    const entry = this.#catalog?.get(name)
    if (entry === undefined || this.#status !== 'open') return new Map()
    const storage = await Storage.open(new SublevelAddress(this.#db as AnyLevel, 'd' + entry.n.toString(36)), { reader: true })
    let forgotten: Clock
    try {
      forgotten = await storage.loadForgotten()
    } finally {
      await storage.close()
    }
    // Opened meanwhile: what it forgets from now on is its own (and recorded at its close).
    if (this.#open.has(name) || this.#closing.has(name)) return undefined
    this.#remember(name, forgotten)
    return forgotten
  }

  /** Keep what a closed document has forgotten; most forget nothing, and share one empty map. */
  #remember (name: string, forgotten: Clock): void {
    this.#forgotten.set(name, forgotten.size === 0 ? NOTHING_FORGOTTEN : forgotten)
  }

  /** @internal A document's clock: live when open, else as of its last close (undefined: unknown). */
  _clockOf (name: string): Clock | undefined {
    const doc = this._current(name)
    if (doc !== undefined && doc.status === 'open') return doc._clockCopy()
    const entry = this.#catalog?.get(name)
    return entry === undefined ? new Map() : entry.clock
  }

  /**
   * @internal The history of a closed document newer than `known`, read from its
   * stored log and its clock as of its last close, without opening it (no
   * instance, no catalog write); undefined when it must be opened instead: open
   * or closing, its clock unknown (after a crash), or a type with retention.
   */
  async _closedHistory (name: string, known: Clock, logs?: SharedLogs): Promise<{ cursor: HistoryCursor, close: () => Promise<void> } | undefined> {
    const entry = this.#catalog?.get(name)
    const clock = entry?.clock
    if (entry === undefined || clock === undefined || this.#status !== 'open' || this.#open.has(name) || this.#closing.has(name)) return undefined
    const Type = this.#types.get(entry.type) as DocumentType | undefined
    const horizon = (type: unknown): unknown => (type as { _horizon: unknown })._horizon
    if (Type === undefined || horizon(Type.prototype) !== horizon(Scuttlebutt.prototype)) return undefined
    // Its log read as a snapshot, with prefixed keys where the database allows (no sublevel to make).
    const sublevel = 'd' + entry.n.toString(36)
    // One of the caller's shared iterators, if it has one new enough: no iterator to open and close.
    const shared = logs?.take(entry.touched ?? 0)
    if (shared !== undefined) {
      const cursor = new HistoryCursor(shared.scanner([sublevel]), new Map(clock), known, 0)
      return {
        cursor,
        close: async () => {
          await cursor.close()
          logs?.give(shared)
        }
      }
    }
    const log = logScanner(this.#db as unknown as Database, [sublevel])
    if (log !== undefined) {
      const cursor = new HistoryCursor(log, new Map(clock), known, 0)
      return { cursor, close: async () => { await cursor.close() } }
    }
    // Else its own handle on the document's sublevel (a reopen meanwhile makes another).
    const storage = await Storage.open(new SublevelAddress(this.#db as AnyLevel, sublevel), { reader: true })
    const cursor = new HistoryCursor(storage, new Map(clock), known, 0)
    return {
      cursor,
      close: async () => {
        await cursor.close()
        await storage.close()
      }
    }
  }

  /**
   * @internal Shared log iterators for a reader of many closed documents in turn
   * (`_closedHistory`); undefined when the database cannot be read that way.
   */
  _sharedLogs (): SharedLogs | undefined {
    const db = this.#db
    if (db === undefined || !SharedLog.supports(db)) return undefined
    return new SharedLogs(() => new SharedLog(db, this.#touches))
  }

  /** @internal True when a type of that name is registered. */
  _hasType (type: string): boolean {
    return this.#types.has(type)
  }

  /** @internal What `peer` may do with `name`; a resolver that throws or answers nonsense allows nothing. */
  _access (peer: Source | undefined, name: string): Access | Promise<Access> {
    const valid = (access: unknown): Access => access === 'read' || access === 'write' ? access : 'none'
    try {
      const answer = this.#access(peer, name)
      return answer instanceof Promise ? answer.then(valid, () => 'none') : valid(answer)
    } catch {
      return 'none'
    }
  }

  /** @internal Report a refused message. */
  _reject (err: ScuttledbError): void {
    this.emit('rejected', err)
  }

  /** @internal Report a document that could not be synced. */
  _documentError (name: string, err: ScuttledbError): void {
    this.emit('documentError', name, err)
  }

  /** @internal Called by a stream once it has closed. */
  _unstream (stream: CollectionStream): void {
    this.#streams.delete(stream)
  }
}
