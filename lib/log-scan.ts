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
