import { compareStamps, type Source, type Update } from './protocol.js'
import { Scuttlebutt, type ScuttlebuttEvents, type ScuttlebuttOptions } from './scuttlebutt.js'
import type { DataSpace } from './storage.js'
import type { Transaction } from './transaction.js'

type Entry = [ts: number, source: Source, value: unknown]

/** The Value's events (besides every Scuttlebutt's). */
export interface ValueEvents extends ScuttlebuttEvents {
  /** The value changed, by a local or a remote write. */
  change: [value: unknown]
}

const KEY = 'value'

/**
 * One replicated value (the original's r-value): the change is the value
 * itself, and concurrent writes resolve by `(ts, source)` as in the Model.
 */
export class Value extends Scuttlebutt<ValueEvents> {
  #space: DataSpace | undefined

  constructor (options: ScuttlebuttOptions) {
    super(options)
  }

  get #data (): DataSpace {
    this.#space ??= this._space('value')
    return this.#space
  }

  /** Set the value; resolves once durable. */
  async set (value: unknown): Promise<void> {
    if (value === undefined) throw new TypeError('A value must not be undefined')
    await this.localUpdate(value)
  }

  /** The current value, or undefined before any was set. */
  async get (): Promise<unknown> {
    const entry = await this._storage.get(this.#data, KEY) as Entry | undefined
    return entry?.[2]
  }

  /** The current value (for JSON snapshots: `await value.toJSON()`). */
  async toJSON (): Promise<unknown> {
    return await this.get()
  }

  protected override _validateChange (change: unknown): boolean {
    return change !== undefined
  }

  protected override async _prefetch (_updates: Update[], tx: Transaction): Promise<void> {
    await tx.prefetch(this.#data, [KEY])
  }

  protected override async _applyUpdate (update: Update, tx: Transaction): Promise<boolean> {
    const [value, ts, source] = update
    const current = await tx.get(this.#data, KEY) as Entry | undefined
    if (current !== undefined) {
      if (compareStamps(ts, source, current[0], current[1]) <= 0) return false
      tx.dropUpdate(current[0], current[1])
    }
    tx.put(this.#data, KEY, [ts, source, value])
    return true
  }

  protected override _committed (update: Update): void {
    this.emit('change', update[0])
  }
}
