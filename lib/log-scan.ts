// How a document's log is scanned, one source at a time (lib/history.ts merges the sources).
import type { AbstractLevel } from 'abstract-level'
import { logKey } from './commit.js'
import { PrefixedView, isDirectLevel, type SublevelReads } from './prefixed-view.js'
import type { Source } from './protocol.js'
import type { Database } from './storage.js'
import { decodeTimestamp } from './timestamp.js'

/** @internal */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyLevel = AbstractLevel<any, any, any>

/** One stored update as read from the log: its stamp and its msgpack bytes. */
export interface LogEntry {
  source: Source
  ts: number
  bytes: Buffer
}

/** @internal A log key's source and timestamp. */
export function parseLogKey (key: string): { source: Source, ts: number } {
  const cut = key.length - 17
  return { source: key.slice(0, cut), ts: decodeTimestamp(key.slice(cut + 1)) }
}

/** What a history cursor reads: one source's scan of a log. */
export interface LogScanner {
  scan: (source: Source, after: number, step: number, last?: number) => SourceScan
}

/** @internal One source's scan of a log (a sublevel or a view of one). */
export function scanLog (log: SublevelReads, source: Source, after: number, step: number, last?: number): SourceScan {
  const lower = after > 0 ? logKey(source, after) : source + '\x00'
  return new SourceScan(log.iterator(last === undefined ? { gt: lower, lt: source + '\x01' } : { gt: lower, lte: logKey(source, last) }), step, last)
}

/**
 * @internal The log of the instance stored under the sublevel path `path` of
 * `db`, read with prefixed keys (no sublevel, nothing to open or close); undefined
 * unless `db` has utf8 keys and binary values.
 */
export function logScanner (db: Database, path: string[]): LogScanner | undefined {
  const level = db as unknown as AnyLevel
  if (!isDirectLevel(level)) return undefined
  const log = new PrefixedView(level, [...path, 'log'])
  return { scan: (source, after, step, last) => scanLog(log, source, after, step, last) }
}

/** What a source scan reads the log with: an abstract-level iterator of raw entries. */
export interface LogIterator {
  nextv: (size: number) => Promise<Array<[string, Buffer]>>
  close: () => Promise<void>
}

/** One source's part of a history scan. */
export class SourceScan {
  readonly #iterator: LogIterator
  readonly #step: number
  #buffer: Array<[string, Buffer]> = []
  #index = 0
  #done = false
  /** The timestamp the scan ends at (its range's upper bound), if known. */
  readonly #last: number | undefined

  constructor (iterator: LogIterator, step: number, last?: number) {
    this.#iterator = iterator
    this.#step = step
    this.#last = last
  }

  /** The next entry if it is read already (no promise), else undefined: then ask `next()`. */
  buffered (): LogEntry | undefined {
    if (this.#index >= this.#buffer.length) return undefined
    return this.#take()
  }

  #take (): LogEntry {
    const [key, bytes] = this.#buffer[this.#index++]
    const { source, ts } = parseLogKey(key)
    // The range ends at `last`: once it is read, the end is known without another read.
    if (this.#last !== undefined && ts >= this.#last) this.#done = true
    return { source, ts, bytes }
  }

  /** The next entry, or undefined at the end. */
  async next (): Promise<LogEntry | undefined> {
    if (this.#index >= this.#buffer.length) {
      if (this.#done) return undefined
      // nextv() may return fewer entries than asked (classic-level caps by bytes): only empty means done.
      this.#buffer = await this.#iterator.nextv(this.#step)
      this.#index = 0
      if (this.#buffer.length === 0) {
        this.#done = true
        return undefined
      }
    }
    return this.#take()
  }

  /** Release the iterator; safe to call more than once. */
  async close (): Promise<void> {
    this.#done = true
    this.#buffer = []
    await this.#iterator.close()
  }
}

/** The first page a scan on a shared iterator reads: pages past a small log's end read the next one's records. */
const FIRST_PAGE = 16
/** Scans one shared iterator serves before it is replaced: its snapshot keeps what was deleted since from being compacted away. */
const SHARED_SCANS = 4096

/**
 * @internal One iterator on a database of utf8 keys and binary values, reused by
 * the scans of many instances' logs in turn: each seeks it to its range instead
 * of opening an iterator of its own (opening and closing one costs more than a
 * small document's whole scan). It reads a snapshot as of its creation: the
 * caller gives it only logs unchanged since (see `SharedLogs`). One scan at a
 * time; a scan asked for while one is under way gets an iterator of its own.
 */
export class SharedLog {
  /** The caller's counter when it was made: logs written after it must not be read with it. */
  readonly generation: number
  readonly #db: AnyLevel
  readonly #iterator: ReturnType<AnyLevel['iterator']>
  #busy = false
  #scans = 0

  constructor (db: AnyLevel, generation: number) {
    this.#db = db
    this.generation = generation
    this.#iterator = db.iterator(db.valueEncoding().commonName === 'buffer' ? {} : { valueEncoding: 'buffer' })
  }

  /** True for a database this can read: prefixed keys and seek(). */
  static supports (db: AnyLevel): boolean {
    return isDirectLevel(db) && db.supports.seek
  }

  /** The log of the instance under the sublevel path `path`: its first scan at a time uses this iterator. */
  scanner (path: string[]): LogScanner {
    const view = new PrefixedView(this.#db, [...path, 'log'])
    const prefix = view.prefix
    return {
      scan: (source, after, step, last) => {
        if (this.#busy) return scanLog(view, source, after, step, last)
        this.#busy = true
        this.#scans++
        const lower = prefix + (after > 0 ? logKey(source, after) : source + '\x00')
        const upper = last === undefined ? { key: prefix + source + '\x01', inclusive: false } : { key: prefix + logKey(source, last), inclusive: true }
        return new SourceScan(new SeekRead(this.#iterator, lower, upper, prefix.length, () => { this.#busy = false }), step, last)
      }
    }
  }

  /** True once it has served its share of scans: a new one reads a newer snapshot. */
  get worn (): boolean {
    return this.#scans >= SHARED_SCANS
  }

  /** Close the iterator (after its scans are closed). */
  async close (): Promise<void> {
    await this.#iterator.close()
  }
}

/** One range of a shared iterator: seeks on the first read, ends past `upper`, and lets go of the iterator at close. */
class SeekRead implements LogIterator {
  readonly #iterator: ReturnType<AnyLevel['iterator']>
  readonly #lower: string
  readonly #upper: { key: string, inclusive: boolean }
  readonly #cut: number
  #release: (() => void) | undefined
  /** The read under way: the iterator is let go of only after it. */
  #reading: Promise<unknown> | undefined
  #page = FIRST_PAGE
  #seeked = false
  #ended = false

  constructor (iterator: ReturnType<AnyLevel['iterator']>, lower: string, upper: { key: string, inclusive: boolean }, cut: number, release: () => void) {
    this.#iterator = iterator
    this.#lower = lower
    this.#upper = upper
    this.#cut = cut
    this.#release = release
  }

  async nextv (size: number): Promise<Array<[string, Buffer]>> {
    const reading = this.#read(size)
    this.#reading = reading
    return await reading
  }

  async #read (size: number): Promise<Array<[string, Buffer]>> {
    if (!this.#seeked) {
      this.#seeked = true
      this.#iterator.seek(this.#lower)
    }
    const out: Array<[string, Buffer]> = []
    const { key: upper, inclusive } = this.#upper
    while (out.length === 0 && !this.#ended && this.#release !== undefined) {
      // Small pages first, doubling: a log of a few entries reads few of what follows it.
      const page = Math.min(size, this.#page)
      this.#page = Math.min(size, this.#page * 2)
      const entries = await this.#iterator.nextv(page) as Array<[string, Buffer]>
      if (entries.length === 0) this.#ended = true
      for (const [key, value] of entries) {
        // The lower bound is exclusive; seek() lands on it when it is stored.
        if (key === this.#lower) continue
        if (inclusive ? key > upper : key >= upper) {
          this.#ended = true
          break
        }
        out.push([key.slice(this.#cut), value])
      }
    }
    return out
  }

  async close (): Promise<void> {
    const release = this.#release
    this.#release = undefined
    await this.#reading?.catch(() => {})
    release?.()
  }
}

/**
 * @internal The shared iterators of one reader of many logs in turn (a
 * collection stream's scans): a free one is reused while its snapshot is new
 * enough, and the free ones are closed when the reader goes idle, so that no
 * snapshot is held longer than the work that reads it.
 */
export class SharedLogs {
  readonly #make: () => SharedLog
  readonly #free: SharedLog[] = []
  readonly #closing = new Set<Promise<void>>()

  constructor (make: () => SharedLog) {
    this.#make = make
  }

  /** A free log made at or after `since` (the caller's counter), else a new one; older free ones are closed. */
  take (since: number): SharedLog {
    for (let log = this.#free.pop(); log !== undefined; log = this.#free.pop()) {
      if (log.generation >= since) return log
      this.#retire(log)
    }
    return this.#make()
  }

  /** A log taken is free again (its scans are closed). */
  give (log: SharedLog): void {
    if (log.worn) this.#retire(log)
    else this.#free.push(log)
  }

  /** Close the free logs; resolves once every log closed so far has. */
  async release (): Promise<void> {
    for (const log of this.#free.splice(0)) this.#retire(log)
    await Promise.all([...this.#closing])
  }

  #retire (log: SharedLog): void {
    // A failed close is the database's (closing or failed): nothing here reads the log again.
    const closing = log.close().catch(() => {}).finally(() => { this.#closing.delete(closing) })
    this.#closing.add(closing)
  }
}
