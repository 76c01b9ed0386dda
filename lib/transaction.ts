import type { Commit, DataSpace, Storage } from './storage.js'
import type { Source } from './protocol.js'

const DELETED = Symbol('deleted')

/** What `Transaction#peek()` returns when the record is not known without a storage read. */
export const UNKNOWN: unique symbol = Symbol('unknown')

/**
 * What a data type's `_applyUpdate` hook writes through: reads see the writes
 * made earlier in the same commit, writes join the commit's atomic batch.
 */
export class Transaction {
  readonly #storage: Storage
  readonly #commit: Commit
  readonly #overlay = new Map<DataSpace, Map<string, unknown>>()
  /** The commit being written while this one is prepared: its writes are visible here. */
  #parent: Transaction | undefined
  readonly #drop: (ts: number, source: Source) => void

  /** @internal `drop` removes a superseded update (or pins it when it is its source's latest). */
  constructor (storage: Storage, commit: Commit, parent?: Transaction, drop?: (ts: number, source: Source) => void) {
    this.#storage = storage
    this.#commit = commit
    this.#parent = parent
    this.#drop = drop ?? ((ts, source) => { commit.delUpdate(source, ts) })
  }

  /** @internal The parent has committed: read storage instead (and let the parent be collected). */
  detach (): void {
    this.#parent = undefined
  }

  /** The value this commit or its parent holds for a key: a value, DELETED, or UNKNOWN. */
  #known (space: DataSpace, key: string): unknown {
    const layer = this.#overlay.get(space)
    if (layer !== undefined && layer.has(key)) return layer.get(key)
    return this.#parent === undefined ? UNKNOWN : this.#parent.#known(space, key)
  }

  #layer (space: DataSpace): Map<string, unknown> {
    let layer = this.#overlay.get(space)
    if (layer === undefined) {
      layer = new Map()
      this.#overlay.set(space, layer)
    }
    return layer
  }

  /** Read a record, seeing this commit's own writes; undefined when absent. */
  async get (space: DataSpace, key: string): Promise<unknown> {
    const value = this.#known(space, key)
    if (value !== UNKNOWN) return value === DELETED ? undefined : value
    return await this.#storage.get(space, key)
  }

  /**
   * Read a record without waiting when this commit already knows it (written
   * or prefetched); otherwise `UNKNOWN`, and the caller falls back to `get()`.
   */
  peek (space: DataSpace, key: string): unknown {
    const value = this.#known(space, key)
    return value === DELETED ? undefined : value
  }

  /**
   * Read many records in one storage call and keep them for later `get()`s in
   * this commit: an optimisation for hooks that apply runs of updates.
   */
  async prefetch (space: DataSpace, keys: string[]): Promise<void> {
    const layer = this.#layer(space)
    const missing = keys.filter((key) => this.#known(space, key) === UNKNOWN)
    if (missing.length === 0) return
    const values = await this.#storage.lookup(space, missing)
    for (let i = 0; i < missing.length; i++) {
      if (!layer.has(missing[i])) layer.set(missing[i], values[i] === undefined ? DELETED : values[i])
    }
  }

  /** Write a record in this commit. */
  put (space: DataSpace, key: string, value: unknown): void {
    this.#layer(space).set(key, value)
    this.#commit.put(space, key, value)
  }

  /** Delete a record in this commit. */
  del (space: DataSpace, key: string): void {
    this.#layer(space).set(key, DELETED)
    this.#commit.del(space, key)
  }

  /**
   * A stored update was superseded: it leaves the history in this commit (the
   * base class keeps it if it is its source's latest, so the clock entry it
   * backs can still be fetched by peers).
   */
  dropUpdate (ts: number, source: Source): void {
    this.#drop(ts, source)
  }
}
