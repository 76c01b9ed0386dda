import type { AbstractChainedBatch } from 'abstract-level'
import { pack } from './msgpack.js'
import type { Source } from './protocol.js'
import type { DataSpace, Sublevel } from './storage-types.js'
import { encodeTimestamp } from './timestamp.js'
import { holdsNative } from './native-memory.js'

/** Key of an update in the log: source, NUL, then the order-preserving timestamp. */
export function logKey (source: Source, ts: number): string {
  return source + '\x00' + encodeTimestamp(ts)
}

/** One atomic batch: log entries, clock entries and data-type records commit together. */
export interface Commit {
  /** Number of operations queued. */
  readonly length: number
  putUpdate: (source: Source, ts: number, bytes: Uint8Array) => void
  delUpdate: (source: Source, ts: number) => void
  putClock: (source: Source, ts: number) => void
  /** Record that `source`'s latest update (at `ts`) is kept in the log though superseded. */
  putPin: (source: Source, ts: number) => void
  delPin: (source: Source) => void
  /** Record that a delete of `source` at `ts` was forgotten (purged past its TTL). */
  putForgotten: (source: Source, ts: number) => void
  put: (space: DataSpace, key: string, value: unknown) => void
  del: (space: DataSpace, key: string) => void
  /** Write the batch; `sync` fsyncs it. */
  write: (sync: boolean) => Promise<void>
  /** Drop the batch without writing it. */
  abort: () => Promise<void>
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type ChainedBatch = AbstractChainedBatch<any, any, any>

/** What both kinds of commit share: the batch, its length, writing and dropping it. */
abstract class BatchCommit {
  protected readonly batch: ChainedBatch
  /** Bytes of the updates put in the batch (the bulk of what its native buffer holds). */
  protected updateBytes = 0

  constructor (batch: ChainedBatch) {
    this.batch = batch
  }

  get length (): number {
    return this.batch.length
  }

  async write (sync: boolean): Promise<void> {
    // No options object unless needed: it slows every write.
    if (sync) await this.batch.write({ sync: true })
    else await this.batch.write()
    // What the written batch's native buffer keeps until it is collected (lib/native-memory.ts):
    // the updates, and keys and small records at about 64 bytes an operation.
    holdsNative(this.batch, this.updateBytes + this.batch.length * 64)
  }

  async abort (): Promise<void> {
    await this.batch.close()
  }
}

/** @internal A commit on a database with utf8 keys and binary values: prefixed keys, no per-operation options. */
export class DirectCommit extends BatchCommit implements Commit {
  readonly #log: string
  readonly #clock: string
  readonly #pinned: string
  readonly #forgotten: string

  constructor (batch: ChainedBatch, log: string, clock: string, pinned: string, forgotten: string) {
    super(batch)
    this.#log = log
    this.#clock = clock
    this.#pinned = pinned
    this.#forgotten = forgotten
  }

  putForgotten (source: Source, ts: number): void {
    this.batch.put(this.#forgotten + source, pack(ts))
  }

  putPin (source: Source, ts: number): void {
    this.batch.put(this.#pinned + source, pack(ts))
  }

  delPin (source: Source): void {
    this.batch.del(this.#pinned + source)
  }

  putUpdate (source: Source, ts: number, bytes: Uint8Array): void {
    this.updateBytes += bytes.length
    this.batch.put(this.#log + logKey(source, ts), bytes)
  }

  delUpdate (source: Source, ts: number): void {
    this.batch.del(this.#log + logKey(source, ts))
  }

  putClock (source: Source, ts: number): void {
    this.batch.put(this.#clock + source, pack(ts))
  }

  put (space: DataSpace, key: string, value: unknown): void {
    space.lookup.wrote(key)
    this.batch.put(space.prefix + key, pack(value))
  }

  del (space: DataSpace, key: string): void {
    this.batch.del(space.prefix + key)
  }
}

/** @internal A commit on a database with other default encodings: each operation names its sublevel. */
export class SublevelCommit extends BatchCommit implements Commit {
  readonly #log: Sublevel
  readonly #clock: Sublevel
  readonly #pinned: Sublevel
  readonly #forgotten: Sublevel

  constructor (batch: ChainedBatch, log: Sublevel, clock: Sublevel, pinned: Sublevel, forgotten: Sublevel) {
    super(batch)
    this.#log = log
    this.#clock = clock
    this.#pinned = pinned
    this.#forgotten = forgotten
  }

  putForgotten (source: Source, ts: number): void {
    this.batch.put(source, pack(ts), { sublevel: this.#forgotten })
  }

  putPin (source: Source, ts: number): void {
    this.batch.put(source, pack(ts), { sublevel: this.#pinned })
  }

  delPin (source: Source): void {
    this.batch.del(source, { sublevel: this.#pinned })
  }

  putUpdate (source: Source, ts: number, bytes: Uint8Array): void {
    this.updateBytes += bytes.length
    this.batch.put(logKey(source, ts), bytes, { sublevel: this.#log })
  }

  delUpdate (source: Source, ts: number): void {
    this.batch.del(logKey(source, ts), { sublevel: this.#log })
  }

  putClock (source: Source, ts: number): void {
    this.batch.put(source, pack(ts), { sublevel: this.#clock })
  }

  put (space: DataSpace, key: string, value: unknown): void {
    space.lookup.wrote(key)
    this.batch.put(key, pack(value), { sublevel: space.sublevel })
  }

  del (space: DataSpace, key: string): void {
    this.batch.del(key, { sublevel: space.sublevel })
  }
}
