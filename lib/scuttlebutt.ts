import { EventEmitter } from 'events'
import { codes, error, invalidValue, type ScuttledbError } from './errors.js'
import { HistoryCursor } from './history.js'
import { pack, unpack } from './msgpack.js'
import { clockToObject, isSource, type Clock, type ClockObject, type Source, type Update } from './protocol.js'
import { FORMAT_VERSION, Storage, type Commit, type DataSpace, type Database } from './storage.js'
import { upgradeStorage } from './upgrade.js'
import { ReplicationStream, type StreamOptions } from './stream.js'
import { checkStreamOptions } from './stream-options.js'
import type { StreamContext } from './net/target.js'
import { HybridClock, type WallClock } from './timestamp.js'
import type { Transaction } from './transaction.js'
import { UpdatePipeline, type Done, type Pending, type PipelineHost } from './pipeline.js'
import { DEFAULT_MAX_FRAME_BYTES } from './codec.js'
import { MAX_DEPTH, elementsProblem, valueProblem } from './value-domain.js'

/** True when every element is a primitive (no object a getter or a later mutation could change). */
function primitivesOnly (values: unknown[]): boolean {
  for (const value of values) if (typeof value === 'object' && value !== null) return false
  return true
}

/** Options every Scuttlebutt takes. */
export interface ScuttlebuttOptions {
  /** A directory path (classic-level is opened there) or any abstract-level database or sublevel. */
  db: string | Database
  /** The node id to use for a new database; a stored id must match it. Default: a random id. */
  id?: Source
  /** fsync every commit (still grouped), so acknowledged writes survive power loss. Default false. */
  sync?: boolean
  /** How far ahead of the local wall clock (ms) a remote timestamp may be. Default 60000. */
  maxClockSkew?: number
  /** Most updates in one commit. Default 1024. */
  maxBatch?: number
  /** The wall clock in ms since the epoch; for tests and simulations. Default Date.now. */
  now?: WallClock
  /**
   * Sign local updates and verify remote ones (the seed's shape). With it, every
   * remote update is verified before it can move the clock.
   */
  security?: Security
  /**
   * Accept remote updates only from these sources: ids, or a predicate that also
   * sees the update (e.g. accept an old key only for timestamps before its rotation).
   * Default: anyone.
   */
  writers?: Iterable<Source> | ((source: Source, update: Update) => boolean)
}

/**
 * A signing and verifying backend. `sign` must be synchronous (local updates are
 * ordered by timestamp as they are made); `verify` may be asynchronous.
 */
export interface Security {
  /** The signature of `[change, ts, source]`, stored and sent as the update's 4th element. */
  sign: (update: Update) => unknown
  /** `true` when the update is authentic; `false` or a reason string when not. */
  verify: (update: Update) => boolean | string | Promise<boolean | string>
  /**
   * Optional: the verdicts of many updates at once, one per update in order, each as
   * `verify` would give it. When present, the pipeline verifies each batch with one call.
   */
  verifyBatch?: (updates: Update[]) => Promise<Array<boolean | string>>
  /** A new node id (e.g. a hash of the public key), used when a database is created. */
  createId?: () => Source
}

/** Counters of what the update pipeline did. */
export interface ScuttlebuttStats {
  /** Updates committed (local and remote). */
  committed: number
  /** Remote updates dropped because they were not newer than the clock (not an error). */
  old: number
  /** Remote updates rejected: malformed, too far in the future, unverified. */
  rejected: number
  /** Commits written. */
  commits: number
}

/** What `_task()` gives its work: storage and a local submit that stay usable while the instance is closing. */
export interface TaskScope {
  /** The instance's storage (as `_storage`). */
  readonly storage: Storage
  /** Make a local update, as `localUpdate()`. */
  submit: (change: unknown) => Promise<Update>
  /** @internal Several local changes in one atomic commit (`_submitAll`); `shell` as there. */
  submitAll: (changes: unknown[], shell?: boolean) => Promise<Update[]>
}

/** Where an instance is in its life: `open()` and `close()` move it forward, never back. */
export type ScuttlebuttStatus = 'new' | 'opening' | 'open' | 'closing' | 'closed'

/** The events of every Scuttlebutt; data types add their own. */
export interface ScuttlebuttEvents {
  /** A committed update: `(change, ts, source)`. */
  update: [change: unknown, ts: number, source: Source]
  /** A remote update or message was rejected; the error carries a stable code. */
  rejected: [err: ScuttledbError]
  /** A remote update was dropped as old. */
  old: [update: Update]
  /** A remote update failed verification or came from a source not allowed to write. */
  unverified: [update: Update, reason: string]
  /**
   * A stored update could not be sent on a stream whose wire format cannot carry
   * it (binary on a JSON stream); it was skipped there and the stream went on.
   */
  unsendable: [err: ScuttledbError]
  /** A commit was written: how many updates it settled and how long the write took (ms), for metrics. */
  commit: [updates: number, ms: number]
  /** A replication stream closed; the argument counts the streams still open. */
  unstream: [count: number]
  /** `dispose()` was called. */
  dispose: []
  /** `close()` has finished: streams ended, commits written, the database closed (servers listening for this instance stop). */
  close: []
}


/**
 * The replication base class. A data type subclasses it and implements
 * `_applyUpdate` (how an update changes its records, in the commit's batch);
 * everything else (storage, clocks, ordering, streams) lives here.
 */
export abstract class Scuttlebutt<E extends Record<keyof E, unknown[]> = ScuttlebuttEvents> extends EventEmitter<E & Omit<ScuttlebuttEvents, keyof E>> {
  #id: Source | undefined
  readonly #options: Required<Omit<ScuttlebuttOptions, 'id' | 'db' | 'security' | 'writers'>> & Pick<ScuttlebuttOptions, 'id' | 'db' | 'security'>
  readonly #writers: ((source: Source, update: Update) => boolean) | undefined
  #storage: Storage | undefined
  #clock: Clock = new Map()
  #pinned: Clock = new Map()
  /** Per source, the newest delete forgotten past its TTL (see `_forget`). */
  #forgotten: Clock = new Map()
  /** The newest ts in `#forgotten` (-Infinity when empty): asked once per commit, so kept rather than found. */
  #newestForgotten = -Infinity
  #hlc: HybridClock
  #pipeline: UpdatePipeline | undefined
  readonly #streams = new Set<ReplicationStream>()
  #opening: Promise<void> | undefined
  #closing: Promise<void> | undefined
  /** Work begun by `_task()` while open: close() waits for it before the last commits drain. */
  readonly #tasks = new Set<Promise<unknown>>()
  #status: ScuttlebuttStatus = 'new'
  /** Counters of what the update pipeline did. */
  readonly stats: ScuttlebuttStats = { committed: 0, old: 0, rejected: 0, commits: 0 }

  constructor (options: ScuttlebuttOptions) {
    super()
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object')
    // Smaller commits overlap reads with writes; with fsync each commit costs a flush, so fewer, larger ones.
    const { db, id, sync = false, maxClockSkew = 60_000, maxBatch = sync ? 1024 : 256, now = Date.now } = options
    if (typeof db !== 'string' && (db === null || typeof db !== 'object')) {
      throw new TypeError('options.db must be a path or an abstract-level database')
    }
    if (id !== undefined && !isSource(id)) throw new TypeError('options.id must be a non-empty string without NUL')
    if (typeof maxClockSkew !== 'number' || !(maxClockSkew >= 0)) throw new TypeError('options.maxClockSkew must be a non-negative number')
    if (!(Number.isInteger(maxBatch) && maxBatch > 0)) throw new TypeError('options.maxBatch must be a positive integer')
    if (typeof sync !== 'boolean') throw new TypeError('options.sync must be a boolean')
    if (typeof now !== 'function') throw new TypeError('options.now must be a function returning ms since the epoch')
    const { security, writers } = options
    if (security !== undefined && (security === null || typeof security !== 'object' ||
      typeof security.sign !== 'function' || typeof security.verify !== 'function')) {
      throw new TypeError('options.security must have sign() and verify()')
    }
    if (security?.createId !== undefined && typeof security.createId !== 'function') throw new TypeError('options.security.createId must be a function')
    if (security?.verifyBatch !== undefined && typeof security.verifyBatch !== 'function') throw new TypeError('options.security.verifyBatch must be a function')
    this.#options = { db, id, sync, maxClockSkew, maxBatch, now, security }
    if (typeof writers === 'function') {
      // Fails closed: a predicate that throws allows nothing (it ended the commit pipeline, uncaught).
      this.#writers = (source, update) => {
        try {
          return writers(source, update) === true
        } catch {
          return false
        }
      }
    } else if (writers !== undefined) {
      if (writers === null || typeof (writers as Partial<Iterable<Source>>)[Symbol.iterator] !== 'function' || typeof writers === 'string') {
        throw new TypeError('options.writers must be an iterable of ids or a predicate')
      }
      const allowed = new Set(writers)
      for (const writer of allowed) if (!isSource(writer)) throw new TypeError('options.writers must hold ids (non-empty strings without NUL)')
      this.#writers = (source) => allowed.has(source)
    }
    this.#hlc = new HybridClock(now)
    this.setMaxListeners(0)
  }

  /** This node's id; available once open. */
  get id (): Source {
    if (this.#id === undefined) throw error(codes.NOT_OPEN, 'The id is known once the instance is open')
    return this.#id
  }

  /** `'new'`, `'opening'`, `'open'`, `'closing'` or `'closed'`. */
  get status (): ScuttlebuttStatus {
    return this.#status
  }

  /** The vector clock: the latest committed timestamp of each source, as a plain object. */
  get clock (): ClockObject {
    return clockToObject(this.#clock)
  }

  /** Open the storage; resolves when ready. Calling it again returns the same promise. */
  async open (): Promise<void> {
    if (this.#closing !== undefined) {
      throw error(codes.NOT_OPEN, 'A closed instance cannot be reopened; create a new one')
    }
    // A failed open stays failed: later calls get the same rejection.
    this.#opening ??= this.#open()
    await this.#opening
  }

  /** See `_assumeBlank`. */
  #assumedBlank = false

  async #open (): Promise<void> {
    this.#status = 'opening'
    try {
      const storage = await Storage.open(this.#options.db)
      try {
        const { format, id, clock, pinned, forgotten } = await storage.load(this.#assumedBlank)
        if (id !== undefined && this.#options.id !== undefined && id !== this.#options.id) {
          throw error(codes.ID_MISMATCH, `The database belongs to id ${id}, not ${this.#options.id}`)
        }
        if (format !== undefined && format < FORMAT_VERSION) {
          await upgradeStorage(storage, format, async (s, from) => { await this._upgrade(s, from) }, (err) => { this._reject(err) })
        }
        if (id === undefined) {
          this.#id = this.#options.id ?? this.#options.security?.createId?.() ?? createId()
          storage.init(this.#id)
        } else {
          this.#id = id
        }
        this.#hlc.spread(this.#id)
        this.#clock = clock
        this.#pinned = pinned
        this.#forgotten = forgotten
        this.#newestForgotten = -Infinity
        for (const ts of forgotten.values()) if (ts > this.#newestForgotten) this.#newestForgotten = ts
        // Never issue a timestamp at or below one already stored: survives restarts and clock steps.
        for (const ts of clock.values()) this.#hlc.observe(ts)
        this.#storage = storage
        this.#pipeline = new UpdatePipeline(this.#pipelineHost(storage))
      } catch (err) {
        await storage.close()
        throw err
      }
    } catch (err) {
      this.#status = 'closed'
      throw err
    }
    this.#status = 'open'
  }

  /**
   * Close: an open instance is `'closing'` when this returns (every later call
   * is refused with SCUTTLEDB_NOT_OPEN); ends every stream, waits for queued
   * commits, closes the database if this instance opened it. Calling it again
   * returns the same promise. Data types wait for their own work in `_closing`.
   */
  async close (): Promise<void> {
    this.#closing ??= this.#close().finally(() => { this._emitLifecycle('close') })
    await this.#closing
  }

  async #close (): Promise<void> {
    // Before the first await, so that a call made right after close() is refused.
    if (this.#status === 'open') this.#status = 'closing'
    if (this.#opening !== undefined) await this.#opening.catch(() => {})
    // Opened, now or by the open that was under way (a failed open left no storage).
    const wasOpen = this.#storage !== undefined
    if (wasOpen) this.#status = 'closing'
    for (const stream of this.#streams) stream.destroy()
    await Promise.all([...this.#streams].map(async (stream) => await stream._closed()))
    if (wasOpen) await this._closing()
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks])
    await this.#pipeline?.drained()
    if (wasOpen) await (this.#storage as Storage).close()
    this.#status = 'closed'
  }

  /**
   * Every held update newer than `clock` (an absent or null entry means
   * everything from that source), in `(ts, source)` order, read lazily.
   */
  history (clock: Record<Source, number | null> | null = null): AsyncGenerator<Update> {
    // Checked at the call, not at the first next() of the generator.
    if (clock !== null && typeof clock !== 'object') throw new TypeError('history(clock): clock must be an object { source: ts } or null')
    const known: Clock = new Map()
    for (const [source, ts] of Object.entries(clock ?? {})) {
      if (typeof ts === 'number' && !Number.isNaN(ts)) known.set(source, ts)
      else if (ts !== null && ts !== undefined) throw new TypeError(`history(clock): the entry of ${source} must be a timestamp or null`)
    }
    return this.#history(known)
  }

  async * #history (known: Clock): AsyncGenerator<Update> {
    const cursor = this._cursor(known)
    try {
      for (let entry = await this.#read(cursor.next()); entry !== undefined; entry = await this.#read(cursor.next())) {
        yield unpack(entry.bytes) as Update
      }
    } finally {
      await cursor.close()
    }
  }

  /**
   * Make a local update from `change`: it gets this node's next timestamp, commits
   * durably, then is emitted and sent to peers. Resolves with the committed update.
   */
  async localUpdate (change: unknown): Promise<Update> {
    return await this._submit(change)
  }

  /**
   * `localUpdate()` for callers that do not await (Events#emit): a caller's
   * mistake (not open, a change outside the value domain or too large) throws
   * here, synchronously; the promise only rejects when the commit fails.
   * What storage or a wire could not carry exactly is refused: a stored update
   * that a peer cannot decode would stop replication at it.
   */
  protected _submit (change: unknown, shell = false): Promise<Update> {
    return this.#enqueue(this.#localItem(change, shell))
  }

  #enqueue (item: Pending): Promise<Update> {
    return new Promise<Update>((resolve, reject) => {
      item.done = (err, committed) => { err === null ? resolve(committed ?? item.update) : reject(err) }
      ;(this.#pipeline as UpdatePipeline).enqueue(item)
    })
  }

  /**
   * Run `work`, begun by a public call while the instance is open, to its end
   * even if `close()` is called meanwhile: close() waits for it before the last
   * commits drain, and the scope's `storage` and `submit` (`localUpdate()` for
   * this work) stay usable while the instance is `'closing'`, where the
   * instance's own are refused. For data types that read before they write
   * (Counter#increment): a write called before close() still commits. Throws
   * SCUTTLEDB_NOT_OPEN unless open.
   */
  protected _task<T> (work: (scope: TaskScope) => Promise<T>): Promise<T> {
    this.#assertOpen()
    const storage = this.#storage as Storage
    const scope: TaskScope = {
      storage,
      submit: (change) => this.#enqueue(this.#localItem(change, false, false, true)),
      submitAll: (changes, shell = false) => this.#submitAll(changes, shell, true)
    }
    const running = Promise.resolve().then(async () => await work(scope))
    const settled = running.then(() => {}, () => {})
    this.#tasks.add(settled)
    void settled.then(() => { this.#tasks.delete(settled) })
    return running
  }

  /**
   * Several local changes committed atomically, in one commit with consecutive
   * timestamps: all are stored or none. Every change is checked before any is
   * stamped (a bad one throws here, and nothing is queued). Resolves with the
   * committed updates, in order.
   */
  protected _submitAll (changes: unknown[], shell = false): Promise<Update[]> {
    return this.#submitAll(changes, shell, false)
  }

  #submitAll (changes: unknown[], shell: boolean, inTask: boolean): Promise<Update[]> {
    if (!(inTask && this.#status === 'closing')) this.#assertOpen()
    for (const change of changes) this.#checkChange(change, shell)
    const items = changes.map((change) => this.#localItem(change, shell, true, inTask))
    if (items.length === 0) return Promise.resolve([])
    return new Promise<Update[]>((resolve, reject) => {
      let left = items.length
      let failure: Error | null = null
      for (const item of items) {
        item.done = (err) => {
          failure ??= err
          if (--left > 0) return
          if (failure !== null) reject(failure)
          else resolve(items.map((i) => i.update))
        }
      }
      ;(this.#pipeline as UpdatePipeline).enqueueGroup(items)
    })
  }

  /** A checked (unless `checked`), stamped, encoded local update, ready to queue. */
  #localItem (change: unknown, shell: boolean, checked = false, inTask = false): Pending {
    // A task begun while open may still submit while closing (close() waits for it).
    if (!(inTask && this.#status === 'closing')) this.#assertOpen()
    if (!checked) this.#checkChange(change, shell)
    const stamped = this.#stamp(change)
    // A peer refuses an update whose signature is outside the value domain, closing the stream
    // at it on every reconnect: what sign() returned is refused here, nothing stamped is queued.
    const signature = stamped.length === 4 ? valueProblem(stamped[3]) : undefined
    if (signature !== undefined) throw invalidValue(`A signature may not hold ${signature} (security.sign() returned it; it must return a value synchronously)`)
    const bytes = pack(stamped)
    if (bytes.length > DEFAULT_MAX_FRAME_BYTES) {
      throw invalidValue(`An update of ${bytes.length} bytes exceeds the ${DEFAULT_MAX_FRAME_BYTES}-byte frame limit`)
    }
    // Events, the promise and peers get the stored bytes decoded, not the caller's
    // object: mutated after the call (set(k, o); o.a = NaN) it showed listeners a value
    // that is not stored. Checked again as decoded, as a peer's would be: a getter or a
    // Proxy may give the encoder another value than the check saw.
    // A shell of the data type's own holding only primitives cannot change under the encoder: no copy needed.
    if (shell && primitivesOnly(change as unknown[])) return { local: true, update: stamped, bytes, origin: undefined, done: undefined }
    const update = unpack(bytes) as Update
    this.#checkDecoded(update[0])
    return { local: true, update, bytes, origin: undefined, done: undefined }
  }

  #checkDecoded (change: unknown): void {
    const problem = valueProblem(change, MAX_DEPTH, true)
    if (problem !== undefined) throw invalidValue(`A change may not hold ${problem} (it changed while it was encoded)`)
    if (!this._validChange(change)) throw invalidValue('Invalid change for this data type (it changed while it was encoded)')
  }

  /** `shell`: the change is a plain array the data type made, so only its elements are checked. */
  #checkChange (change: unknown, shell: boolean): void {
    const problem = shell ? elementsProblem(change as unknown[]) : valueProblem(change)
    if (problem !== undefined) throw invalidValue(`A change may not hold ${problem}`)
    if (!this._validChange(change)) throw invalidValue('Invalid change for this data type')
  }

  /** A change with this node's next timestamp and id, signed when a security backend is set. */
  #stamp (change: unknown): Update {
    const security = this.#options.security
    const unsigned: Update = [change, this.#hlc.next(), this.id]
    return security === undefined ? unsigned : [...unsigned, security.sign(unsigned)]
  }

  /**
   * Create a replication stream (a Duplex) for one peer connection. `context`:
   * what the transport knows of the peer (`peer`, the id it proved).
   */
  createStream (options: StreamOptions = {}, context: StreamContext = {}): ReplicationStream {
    checkStreamOptions(options)
    this.#assertOpen()
    const stream = new ReplicationStream(this, options, context)
    this.#streams.add(stream)
    return stream
  }

  /** A stream that only sends (the peer's updates are ignored). */
  createReadStream (options: StreamOptions = {}): ReplicationStream {
    checkStreamOptions(options)
    return this.createStream({ ...options, writable: false, readable: true })
  }

  /** A stream that only receives. */
  createWriteStream (options: StreamOptions = {}): ReplicationStream {
    checkStreamOptions(options)
    return this.createStream({ ...options, writable: true, readable: false })
  }

  /** End every replication stream of this instance. */
  dispose (): void {
    for (const stream of this.#streams) stream._endOutput()
    this._emitLifecycle('dispose')
  }

  /** The number of open replication streams. */
  get streams (): number {
    return this.#streams.size
  }

  /**
   * Apply one update to the data type's records through `tx` (part of the
   * commit's atomic batch). Return true when the update is kept in the history
   * and announced; false when it lost to something newer (its clock still moves).
   */
  protected abstract _applyUpdate (update: Update, tx: Transaction): boolean | Promise<boolean>

  /** Optional: read what a run of updates will need in one go (see `Transaction.prefetch`). */
  protected async _prefetch (_updates: Update[], _tx: Transaction): Promise<void> {}

  /** Check a change's shape before it is accepted (remote) or made (local). Default: anything. */
  protected _validateChange (_change: unknown): boolean {
    return true
  }

  /**
   * An unsigned change from a JSON stream (the original scuttlebutt's wire), before
   * it is checked: the original sends some changes in a looser shape than this
   * type's (its Model's key 5 is the key '5', as JavaScript object keys are).
   * Return it as this type stores it; refusing it would close the stream at it
   * on every reconnect, so nothing after it would ever arrive. Default: as is.
   */
  protected _fromJson (change: unknown): unknown {
    return change
  }

  /** The wall clock (the `now` option), in ms since the epoch. */
  protected _wall (): number {
    return this.#hlc.wall()
  }

  /**
   * Rewrite the data type's records of a database written by an older storage
   * format (`from`), in atomic, idempotent batches: it runs again after a crash.
   * Default: nothing to do.
   */
  protected async _upgrade (_storage: Storage, _from: number): Promise<void> {}

  /** Updates with timestamps below this are no longer part of the history (retention). Default 0. */
  protected _horizon (): number {
    return 0
  }

  /**
   * Called by `close()` once the instance is `'closing'` (public calls are
   * refused) and its streams ended, before the database closes: wait here for
   * the data type's own background work (timers, pruning). Default: nothing.
   */
  protected async _closing (): Promise<void> {}

  /** Called after an update is committed, before peers are sent it: emit the type's own events. */
  protected _committed (_update: Update): void {}

  /**
   * Emit one of the instance's own events (update, rejected, old, unstream,
   * dispose). A data type whose users emit arbitrary event names (Events)
   * redirects these to a separate emitter by overriding `_lifecycle`.
   */
  protected _emitLifecycle (name: string, ...args: unknown[]): void {
    EventEmitter.prototype.emit.call(this._lifecycle, name, ...args)
  }

  /** Where the instance's own events are emitted; `this` unless a data type says otherwise. */
  protected get _lifecycle (): EventEmitter<ScuttlebuttEvents> {
    return this as unknown as EventEmitter<ScuttlebuttEvents>
  }

  /** @internal The emitter of the instance's own events (for the conformance suite). */
  get _lifecycleEmitter (): EventEmitter<ScuttlebuttEvents> {
    return this._lifecycle
  }

  /** The data type's own named sublevel. */
  protected _space (name: string): DataSpace {
    // Also while closing: queued commits still apply (and may reach a space first) as they drain.
    if (this.#storage === undefined) throw error(codes.NOT_OPEN, 'The instance is not open')
    return this.#storage.space(name)
  }

  /** The storage, for reads by data types (see docs/subclassing.md). */
  protected get _storage (): Storage {
    return this.#openStorage()
  }

  #openStorage (): Storage {
    this.#assertOpen()
    return this.#storage as Storage
  }

  #assertOpen (): void {
    if (this.#status !== 'open') throw error(codes.NOT_OPEN, 'The instance is not open')
  }

  /**
   * @internal What a read begun while open rejects with: once `close()` was called, the
   * store's own error (the database or iterator closed under the read, LEVEL_*_NOT_OPEN)
   * is SCUTTLEDB_NOT_OPEN, as every call made after close() is refused.
   */
  _readError (err: unknown): unknown {
    if (this.#status === 'open' || (err as { code?: unknown } | null)?.code === codes.NOT_OPEN) return err
    return error(codes.NOT_OPEN, 'The instance was closed during the read', { cause: err as Error })
  }

  /**
   * @internal Open without reading the database: the caller knows nothing was
   * ever written to it (a collection's new document). Before open() only.
   */
  _assumeBlank (): void {
    if (this.#opening === undefined) this.#assumedBlank = true
  }

  /**
   * @internal Leave the database as it is when closing with nothing committed (no
   * record of its format and id): a collection document its collection drops if it
   * closes empty. A commit made meanwhile writes them as usual.
   */
  _skipInitAtClose (): void {
    this.#storage?.skipInitAtClose()
  }

  async #read<T> (read: Promise<T>): Promise<T> {
    try {
      return await read
    } catch (err) {
      throw this._readError(err)
    }
  }

  /** @internal A history cursor against a peer's clock. */
  _cursor (known: Clock): HistoryCursor {
    return new HistoryCursor(this.#openStorage(), new Map(this.#clock), known, this._horizon())
  }

  /** @internal Shape check of a remote change. */
  _validChange (change: unknown): boolean {
    // Fails closed: anything but true (a promise, from a hook written async) refuses the change.
    return this._validateChange(change) === true
  }

  /** @internal An unsigned change from a JSON stream, made canonical (`_fromJson`). */
  _jsonChange (change: unknown): unknown {
    return this._fromJson(change)
  }

  /** @internal A copy of the committed clock. */
  _clockCopy (): Clock {
    return new Map(this.#clock)
  }

  /**
   * @internal False while a commit's outcome is unknown (its write failed and could
   * not be read back): the store may hold more than the clock says.
   */
  _clockKnown (): boolean {
    return this.#pipeline?.uncertain !== true
  }

  /** @internal Called by a stream when it has closed. */
  _unstream (stream: ReplicationStream): void {
    if (this.#streams.delete(stream)) this._emitLifecycle('unstream', this.#streams.size)
  }

  /**
   * The data type's name on the wire: a stream's header carries it (msgpack wire only), and a
   * stream whose peer names another type is refused with SCUTTLEDB_TYPE_MISMATCH. Model,
   * Events, Value and Counter have theirs; a subclass inherits its parent's (it speaks its
   * parent's updates); a type of your own may set one. Undefined: nothing is sent or checked.
   */
  static readonly wireType: string | undefined = undefined

  /** @internal This instance's `wireType`. */
  get _wireType (): string | undefined {
    return (this.constructor as { wireType?: string }).wireType
  }

  /** @internal Report a rejected message or update. */
  _reject (err: ScuttledbError): void {
    this.stats.rejected++
    this._emitLifecycle('rejected', err)
  }

  /**
   * @internal Accept a shape-checked remote update from a stream. `done` is
   * called once it is committed, dropped as old, or rejected.
   */
  _receive (update: Update, bytes: Uint8Array | undefined, origin: object | undefined, done: Done): void {
    if (this.#status !== 'open') {
      done(error(codes.NOT_OPEN, 'The instance is closing'))
      return
    }
    (this.#pipeline as UpdatePipeline).enqueue({ local: false, update, bytes, origin, done })
  }

  /**
   * @internal A peer's header claims it holds this node's updates up to some
   * ts (a node restored from a backup, say): stamp later local writes above it,
   * or that peer would drop them as old. The claim is unauthenticated, so it is
   * bounded by `maxClockSkew` and never moves the clock.
   */
  _peerClaims (clock: Clock): void {
    const own = this.#id === undefined ? undefined : clock.get(this.#id)
    if (own !== undefined && own <= this.#hlc.wall() + this.#options.maxClockSkew) this.#hlc.observe(own)
  }

  /** @internal Per source, the ts of its latest update kept in the log though superseded. */
  _pinnedCopy (): Clock {
    return new Map(this.#pinned)
  }

  /** @internal Per source, the newest forgotten delete (sent in headers as `forgot`). */
  _forgottenCopy (): Clock {
    return new Map(this.#forgotten)
  }

  /**
   * @internal Whether a peer may replicate with this node, from its header:
   * refused when its clock is behind a delete this node forgot (it may hold a
   * value the delete removed, which would come back), or when this node's clock
   * is behind a delete the peer forgot. A node with an empty clock holds nothing
   * and is always admitted.
   */
  _admit (peerClock: Clock, peerForgot: Clock): ScuttledbError | undefined {
    const behind = (clock: Clock, forgot: Clock): [Source, number] | undefined => {
      if (clock.size === 0) return undefined
      for (const [source, ts] of forgot) if ((clock.get(source) ?? 0) < ts) return [source, ts]
      return undefined
    }
    const peer = behind(peerClock, this.#forgotten)
    if (peer !== undefined) {
      return error(codes.STALE_PEER, `The peer has not seen a delete of ${peer[0]} at ${peer[1]} that this node has forgotten; it must be rebuilt`)
    }
    const self = behind(this.#clock, peerForgot)
    if (self !== undefined) {
      return error(codes.STALE, `This node has not seen a delete of ${self[0]} at ${self[1]} that the peer has forgotten; rebuild it from a peer`)
    }
    return undefined
  }

  /**
   * Forget history a data type no longer needs (deletes past their TTL): `work`
   * adds deletions to one atomic commit and calls `forget(source, ts)` for each
   * delete it forgets. It runs with no other commit in flight. The forgotten
   * deletes are stored in the same commit and sent in headers from then on, so
   * a peer that never saw them is refused instead of bringing values back.
   */
  protected async _forget (work: (commit: Commit, forget: (source: Source, ts: number) => void) => Promise<void>): Promise<void> {
    const pipeline = this.#pipeline as UpdatePipeline
    this.#assertOpen()
    await pipeline.exclusive(async () => {
      const storage = this.#openStorage()
      const commit = storage.batch()
      const forgot: Clock = new Map()
      try {
        await work(commit, (source, ts) => {
          if (ts > (forgot.get(source) ?? this.#forgotten.get(source) ?? 0)) forgot.set(source, ts)
        })
      } catch (err) {
        await commit.abort().catch(() => {})
        throw err
      }
      for (const [source, ts] of forgot) commit.putForgotten(source, ts)
      if (commit.length === 0) {
        await commit.abort()
        return
      }
      try {
        await commit.write(this.#options.sync)
      } finally {
        // Also when the write failed: it may have landed, and refusing a peer too
        // many is safe where refusing one too few could bring a deleted value back.
        for (const [source, ts] of forgot) {
          this.#forgotten.set(source, ts)
          if (ts > this.#newestForgotten) this.#newestForgotten = ts
        }
      }
    })
  }

  /** @internal A stored update this stream's wire cannot carry was skipped. */
  _unsendable (err: ScuttledbError): void {
    this._emitLifecycle('unsendable', err)
  }

  /** @internal How many ms the timestamp `ts` is from being within `maxClockSkew` of the clock (<= 0: it is). */
  _aheadBy (ts: number): number {
    return ts - (this.#hlc.wall() + this.#options.maxClockSkew)
  }

  /** @internal Resolves when the commit queue has room; undefined when it has room now. */
  _room (): Promise<void> | undefined {
    return this.#pipeline?.room()
  }

  #pipelineHost (storage: Storage): PipelineHost {
    const options = this.#options
    return {
      storage,
      clock: this.#clock,
      pinned: this.#pinned,
      hlc: this.#hlc,
      maxClockSkew: options.maxClockSkew,
      forgottenBefore: () => this.#newestForgotten,
      maxBatch: options.maxBatch,
      sync: options.sync,
      security: options.security,
      writers: this.#writers,
      streams: this.#streams,
      stats: this.stats,
      applyUpdate: (update, tx) => this._applyUpdate(update, tx),
      prefetch: async (updates, tx) => { await this._prefetch(updates, tx) },
      committed: (update) => {
        this._emitLifecycle('update', update[0], update[1], update[2])
        this._committed(update)
      },
      reject: (err) => { this._reject(err) },
      id: this.id,
      restamp: (update) => this.#stamp(update[0]),
      emit: (name, ...args) => { this._emitLifecycle(name, ...args) }
    }
  }
}

/** A new random node id (hex, like the original's); Web Crypto, so it also runs in browsers. */
export function createId (): Source {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(12))
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('').toUpperCase()
}

