import { invalidValue } from './errors.js'
import { unpack } from './msgpack.js'
import { compareStamps, type Source, type Update } from './protocol.js'
import { Scuttlebutt, type ScuttlebuttEvents, type ScuttlebuttOptions } from './scuttlebutt.js'
import type { DataSpace, Storage } from './storage.js'
import type { Transaction } from './transaction.js'
import { upgradePointers, type Pointer } from './pointer.js'
import type { Json } from './value-domain.js'
import { quietly } from './to-json.js'

/** The record of the current value: a pointer at the winning update in the log. */
type Entry = Pointer

/** The events of a Value holding `T` (besides every Scuttlebutt's). */
export interface ValueEvents<T = Json> extends ScuttlebuttEvents {
  /** A committed update: the change is the value itself. */
  update: [change: T, ts: number, source: Source]
  /** The value changed, by a local or a remote write. */
  change: [value: T]
}

const KEY = 'value'

/**
 * One replicated value (the original's r-value): the change is the value
 * itself, and concurrent writes resolve by `(ts, source)` as in the Model.
 */
export class Value<T = Json> extends Scuttlebutt<ValueEvents<T>> {
  static override readonly wireType: string | undefined = 'Value'
  #space: DataSpace | undefined

  constructor (options: ScuttlebuttOptions) {
    super(options)
  }

  get #data (): DataSpace {
    this.#space ??= this._space('value')
    return this.#space
  }

  /** Set the value; resolves once durable. */
  async set (value: T): Promise<void> {
    if (value === undefined) throw invalidValue('A value must not be undefined')
    await this.localUpdate(value)
  }

  /** The current value, or undefined before any was set. */
  async get (): Promise<T | undefined> {
    const storage = this._storage
    try {
      // The record, then its update from the log: a set() committed between the two reads
      // deletes the superseded update, so the record is read again until the two agree.
      for (let entry = await storage.get(this.#data, KEY) as Entry | undefined; entry !== undefined;) {
        const bytes = await storage.readUpdate(entry[1], entry[0])
        if (bytes !== undefined) return (unpack(bytes) as Update<T>)[0]
        const again = await storage.get(this.#data, KEY) as Entry | undefined
        // Unchanged: the log lacks it for another reason, and there is no value to read.
        if (again === undefined || (again[0] === entry[0] && again[1] === entry[1])) return undefined
        entry = again
      }
      return undefined
    } catch (err) {
      throw this._readError(err)
    }
  }

  /** The current value (for JSON snapshots: `await value.toJSON()`). */
  toJSON (): Promise<T | undefined> {
    return quietly(this.get())
  }

  protected override _validateChange (change: unknown): boolean {
    return change !== undefined
  }

  protected override async _prefetch (_updates: Update[], tx: Transaction): Promise<void> {
    await tx.prefetch(this.#data, [KEY])
  }

  protected override async _applyUpdate (update: Update, tx: Transaction): Promise<boolean> {
    const [, ts, source] = update
    const current = await tx.get(this.#data, KEY) as Entry | undefined
    if (current !== undefined) {
      if (compareStamps(ts, source, current[0], current[1]) <= 0) return false
      tx.dropUpdate(current[0], current[1])
    }
    tx.put(this.#data, KEY, [ts, source])
    return true
  }

  protected override async _upgrade (storage: Storage, from: number): Promise<void> {
    if (from < 2) await upgradePointers(storage, storage.space('value'))
  }

  protected override _committed (update: Update): void {
    // Through the untyped base: `T` is the caller's claim about what peers send.
    (this as unknown as Value).emit('change', update[0] as Json)
  }
}
