import type { AbstractLevel, AbstractSublevel } from 'abstract-level'
import { codes, error } from './errors.js'
import { pack, unpack } from './msgpack.js'
import { isSource, type Clock, type Source } from './protocol.js'
import { createId } from './scuttlebutt.js'

/** @internal */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyLevel = AbstractLevel<any, any, any>
/** @internal */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Sublevel = AbstractSublevel<any, any, any, any>

/** The catalog layout this code writes (`meta/format`). */
export const CATALOG_FORMAT = 1

/** How many sequence numbers are reserved on disk ahead of use (see `bump`). */
const SEQ_RESERVE = 4096

/** One document's record in the catalog. */
export interface CatalogEntry {
  readonly name: string
  /** The registered name of its data type. */
  readonly type: string
  /** Its sublevel number: documents live in `d<n in base 36>`, whatever their names. */
  readonly n: number
  /** The collection sequence number of its last known change. */
  seq: number
  /**
   * Its clock when it was last closed; undefined when unknown (it was open when
   * the process died: only reopening it tells).
   */
  clock: Clock | undefined
  /** Persisted: it is open (set before it opens, cleared once it closed). */
  dirty: boolean
  /**
   * Persisted with `dirty` (as 2): it is open, a peer's updates created it and nothing
   * is known to be stored under it; found so after a crash, it is dropped if it holds nothing.
   */
  provisional?: boolean
  /**
   * Not persisted: created in this process and not opened since. Its number was
   * never used (numbers are reserved on disk before a document under one is
   * written, and never reused), so nothing is stored under it.
   */
  fresh?: boolean
  /** Not persisted: when it last started to open or finished closing, by the collection's count (lib/collection.ts). */
  touched?: number
}

/** What a peer was last confirmed to have sent us: every document with seq <= `seq` in its `epoch`. */
export interface PeerRecord {
  epoch: string
  seq: number
}

/**
 * The persisted catalog of a collection: the collection's id, epoch and change
 * sequence (`meta`), one record per document (`catalog`) and what each peer was
 * last confirmed to have sent (`peers`). Writes are grouped: those of one tick,
 * and all made while a batch is being written, go in one batch. The whole catalog is held in memory (a few dozen bytes a
 * document).
 */
export class Catalog {
  readonly #meta: Sublevel
  readonly #docs: Sublevel
  readonly #peers: Sublevel
  readonly #entries = new Map<string, CatalogEntry>()
  #id: Source = ''
  #epoch = ''
  #seq = 0
  /** The sequence number stored as reserved: after a crash, numbering resumes above it. */
  #high = 0
  #highWrite: Promise<void> | undefined
  #next = 0
  /** Writes waiting for the next batch, by full key (no value: a delete). */
  #queue = new Map<string, { sublevel: Sublevel, key: string, value: Uint8Array | undefined }>()
  /** The batch the queued writes will go in: its promise and how to settle it. */
  #batch: { promise: Promise<void>, settle: (err?: Error) => void } | undefined
  /** The batch being written, if any. */
  #writing: Promise<void> | undefined
  /** The root database takes utf8 keys and binary values: writes go to it with prefixed keys. */
  readonly #direct: boolean
  /** The collection's database (a sublevel, perhaps): its documents' sublevels are under it. */
  readonly #db: AnyLevel

  /** @internal */
  constructor (db: AnyLevel) {
    const options = { keyEncoding: 'utf8', valueEncoding: 'buffer' } as const
    this.#db = db
    this.#meta = db.sublevel('cmeta', options)
    this.#docs = db.sublevel('catalog', options)
    this.#peers = db.sublevel('peers', options)
    const root = this.#meta.db
    this.#direct = root.keyEncoding().commonName === 'utf8' && ['buffer', 'view'].includes(root.valueEncoding().commonName)
  }

  /** This collection's node id (every document's updates carry it). */
  get id (): Source {
    return this.#id
  }

  /** Random, fixed when the collection was created: a peer's record of us is only good for this epoch. */
  get epoch (): string {
    return this.#epoch
  }

  /** The latest change sequence number. */
  get seq (): number {
    return this.#seq
  }

  /** The latest sequence number covered by the reservation on disk: safe to announce now. */
  get announceable (): number {
    return Math.min(this.#seq, this.#high)
  }

  /** Every document's record, in insertion order. */
  entries (): IterableIterator<CatalogEntry> {
    return this.#entries.values()
  }

  /** The number of documents. */
  get size (): number {
    return this.#entries.size
  }

  /** A document's record. */
  get (name: string): CatalogEntry | undefined {
    return this.#entries.get(name)
  }

  /**
   * Read everything; create the meta records of a new collection. Documents
   * that were open when the process died get new sequence numbers and an
   * unknown clock: they may have changed after their last record.
   */
  async load (id: Source | undefined): Promise<void> {
    const [format, storedId, epoch, high, next] = (await this.#meta.getMany(['format', 'id', 'epoch', 'seq', 'next'])).map((v) => v === undefined ? undefined : unpack(v as Uint8Array))
    if (format !== undefined && format !== CATALOG_FORMAT) {
      throw error(codes.UNSUPPORTED_FORMAT, `Collection catalog format ${String(format)} is not supported`)
    }
    if (storedId === undefined) {
      this.#id = id ?? createId()
      this.#epoch = createId()
      this.#put(this.#meta, 'format', CATALOG_FORMAT)
      this.#put(this.#meta, 'id', this.#id)
      this.#put(this.#meta, 'epoch', this.#epoch)
      this.#put(this.#meta, 'next', 0)
    } else {
      if (!isSource(storedId) || typeof epoch !== 'string') throw error(codes.INVALID_VALUE, 'The collection catalog is damaged')
      if (id !== undefined && id !== storedId) throw error(codes.ID_MISMATCH, `The collection belongs to id ${storedId}, not ${id}`)
      this.#id = storedId
      this.#epoch = epoch
      this.#next = typeof next === 'number' ? next : 0
    }
    // Numbering resumes above the reservation: never reuse a number a peer may have seen.
    this.#seq = typeof high === 'number' ? high : 0
    this.#high = this.#seq
    const crashed: CatalogEntry[] = []
    for await (const [name, bytes] of this.#docs.iterator()) {
      const [type, n, seq, dirty, clock] = unpack(bytes as Uint8Array) as [string, number, number, number, Record<string, number> | null]
      const entry: CatalogEntry = { name: name as string, type, n, seq, clock: clock === null ? undefined : new Map(Object.entries(clock)), dirty: dirty === 1 || dirty === 2, provisional: dirty === 2 }
      if (n >= this.#next) this.#next = n + 1
      this.#entries.set(entry.name, entry)
      if (entry.dirty) crashed.push(entry)
    }
    for (const entry of crashed) {
      // A peer's document open when the process died, under which nothing was stored: none of its updates was taken.
      if (entry.provisional === true && await this.#empty(entry)) {
        this.remove(entry)
        continue
      }
      entry.provisional = false
      entry.seq = this.bump()
      entry.clock = undefined
      entry.dirty = false
      this.write(entry)
    }
    await this.flushed()
  }

  /** True when nothing is stored under a document's sublevel. */
  async #empty (entry: CatalogEntry): Promise<boolean> {
    // Under the collection's database, as the document's storage made it (not its root's: a collection may be on a sublevel).
    const sublevel = this.#db.sublevel('d' + entry.n.toString(36), { keyEncoding: 'utf8', valueEncoding: 'buffer' })
    try {
      const keys = await sublevel.keys({ limit: 1 }).all()
      return keys.length === 0
    } finally {
      await sublevel.close()
    }
  }

  /** A new document's record (written with the next write batch). */
  create (name: string, type: string): CatalogEntry {
    const entry: CatalogEntry = { name, type, n: this.#next++, seq: this.bump(), clock: new Map(), dirty: false, fresh: true }
    this.#entries.set(name, entry)
    this.#put(this.#meta, 'next', this.#next)
    this.write(entry)
    return entry
  }

  /**
   * Forget a document that was created and never opened (its open failed): nothing
   * is stored under its number, which is not given again. Its record's delete
   * goes with the next write batch.
   */
  remove (entry: CatalogEntry): void {
    if (this.#entries.get(entry.name) !== entry) return
    this.#entries.delete(entry.name)
    this.#queue.set(this.#docs.prefix + entry.name, { sublevel: this.#docs, key: entry.name, value: undefined })
    this.#schedule()
  }

  /** Queue a document's record for the next write batch; resolves once written. */
  write (entry: CatalogEntry): Promise<void> {
    const clock = entry.clock === undefined ? null : Object.fromEntries(entry.clock)
    return this.#put(this.#docs, entry.name, [entry.type, entry.n, entry.seq, entry.dirty ? (entry.provisional === true ? 2 : 1) : 0, clock])
  }

  /**
   * The next change sequence number. Numbers are reserved on disk in blocks, so
   * a number handed out is never handed out again after a crash.
   */
  bump (): number {
    const seq = ++this.#seq
    if (seq > this.#high - SEQ_RESERVE / 2 && this.#highWrite === undefined) {
      const high = seq + SEQ_RESERVE
      // Cleared whether or not it landed: after a failed write, the next bump or durable() tries again.
      const writing: Promise<void> = this.#put(this.#meta, 'seq', high).then(() => { this.#high = high }).finally(() => {
        if (this.#highWrite === writing) this.#highWrite = undefined
      })
      // bump() callers do not wait: a failed reservation reaches durable()'s callers only, never the process.
      writing.catch(() => {})
      this.#highWrite = writing
    }
    return seq
  }

  /** Resolves once `seq` is covered by the reservation on disk (announce only such numbers). */
  async durable (seq: number): Promise<void> {
    while (seq > this.#high) {
      if (this.#highWrite === undefined) this.bump()
      await this.#highWrite
    }
  }

  /** What we last confirmed a peer had sent us. */
  async peer (key: string): Promise<PeerRecord | undefined> {
    const bytes = await this.#peers.get(key) as Uint8Array | undefined
    if (bytes === undefined) return undefined
    const [epoch, seq] = unpack(bytes) as [unknown, unknown]
    return typeof epoch === 'string' && typeof seq === 'number' ? { epoch, seq } : undefined
  }

  /** Record what a peer was confirmed to have sent us; resolves once written. */
  async setPeer (key: string, record: PeerRecord): Promise<void> {
    await this.#put(this.#peers, key, [record.epoch, record.seq])
  }

  /** Resolves once every queued write is stored. */
  async flushed (): Promise<void> {
    // Batches land in order: the last one covers every write before it.
    await (this.#batch?.promise ?? this.#writing)
  }

  /** Let go of the catalog's sublevels (a sublevel stays attached to its database until closed). */
  async close (): Promise<void> {
    await Promise.all([this.#meta, this.#docs, this.#peers].map(async (sublevel) => { await sublevel.close() }))
  }

  #put (sublevel: Sublevel, key: string, value: unknown): Promise<void> {
    // A record written twice before its batch goes out is written once, with its latest value.
    this.#queue.set(sublevel.prefix + key, { sublevel, key, value: pack(value) })
    return this.#schedule()
  }

  /** The batch the queued writes go in, started if need be. */
  #schedule (): Promise<void> {
    if (this.#batch === undefined) {
      let settle: (err?: Error) => void = () => {}
      const promise = new Promise<void>((resolve, reject) => { settle = (err) => { err === undefined ? resolve() : reject(err) } })
      // Callers that do not wait (a record written in passing) must not cause an unhandled rejection.
      promise.catch(() => {})
      this.#batch = { promise, settle }
      // Group commit: while a batch is being written, writes gather for the next one (written
      // as soon as it lands); otherwise whatever this tick writes goes in one batch.
      if (this.#writing === undefined) queueMicrotask(() => { void this.#write() })
    }
    return this.#batch.promise
  }

  /** Write the gathered records in one batch, then those gathered meanwhile, until none are left. */
  async #write (): Promise<void> {
    while (this.#batch !== undefined && this.#writing === undefined) {
      const group = this.#batch
      const ops = [...this.#queue.values()]
      this.#queue.clear()
      this.#batch = undefined
      this.#writing = group.promise
      try {
        const root = this.#meta.db
        if (this.#direct) {
          // Prefixed keys straight to the root: abstract-level's per-operation `sublevel` costs more than the write.
          const batch = root.batch()
          for (const { sublevel, key, value } of ops) {
            if (value === undefined) batch.del(sublevel.prefix + key)
            else batch.put(sublevel.prefix + key, value)
          }
          await batch.write()
        } else {
          await root.batch(ops.map(({ sublevel, key, value }) => value === undefined ? { type: 'del' as const, key, sublevel } : { type: 'put' as const, key, value, sublevel }))
        }
        group.settle()
      } catch (err) {
        group.settle(err as Error)
      } finally {
        this.#writing = undefined
      }
    }
  }
}
