import type { AbstractLevel } from 'abstract-level'
import type { KeyBounds } from './storage.js'

/** @internal */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyLevel = AbstractLevel<any, any, any>

/** abstract-level's default sublevel separator: the sublevel `name` keeps its keys under `!name!`. */
export const SEPARATOR = '!'

/** The key prefix of the sublevel `name` relative to its database. */
export function localPrefix (name: string): string {
  return SEPARATOR + name + SEPARATOR
}

/** Where an instance's prefixed keys are written and read: a database, and the prefix of its keys there. */
export interface DirectTarget {
  db: AnyLevel
  base: string
}

/**
 * @internal The root database and prefix of a plain sublevel of a database with
 * utf8 keys and binary values, for `db` a sublevel of that kind; else `db` itself.
 * A sublevel's chained batch collects operations in an array and writes them with
 * an array batch, which classic-level makes 1.7-1.9x slower per operation than its
 * own chained batch (docs/storage.md): the root's chained batch with the sublevel's
 * prefix writes the same keys and values. A sublevel (or parent of it) with
 * prewrite hooks or write listeners when the instance opens keeps its own path, so
 * that both see every write.
 */
export function directTarget (db: AnyLevel): DirectTarget {
  const sublevel = db as AnyLevel & { db?: AnyLevel, parent?: AnyLevel, prefix?: unknown }
  const root = sublevel.db
  if (root === undefined || root === db || typeof sublevel.prefix !== 'string' || !isDirectLevel(root)) return { db, base: '' }
  for (let level: AnyLevel | undefined = db; level !== undefined && level !== root; level = (level as { parent?: AnyLevel }).parent) {
    const hooks = (level as { hooks?: { prewrite?: { noop?: boolean } } }).hooks
    if (hooks?.prewrite?.noop === false || level.listenerCount('write') > 0) return { db, base: '' }
  }
  return { db: root, base: sublevel.prefix }
}

/** @internal True for a database of utf8 keys and binary values: written and read with prefixed keys. */
export function isDirectLevel (db: AnyLevel): boolean {
  return db.keyEncoding().commonName === 'utf8' && ['buffer', 'view'].includes(db.valueEncoding().commonName)
}

/** What storage reads a sublevel with: a real sublevel or a `PrefixedView` (utf8 keys, binary values). */
export interface SublevelReads {
  get: (key: string) => Promise<unknown>
  getMany: (keys: string[]) => Promise<unknown[]>
  iterator: (options?: KeyBounds & { limit?: number }) => RawIterator
  keys: (options?: KeyBounds) => AsyncIterable<string>
  clear: (options: KeyBounds) => Promise<void>
}

/** An iterator of raw entries, as storage uses it. */
export interface RawIterator extends AsyncIterable<[string, Buffer]> {
  next: () => Promise<[string, Buffer] | undefined>
  nextv: (size: number) => Promise<Array<[string, Buffer]>>
  close: () => Promise<void>
}

/**
 * @internal The keys of the sublevel `name` of a database with utf8 keys and binary
 * values, read and cleared on that database with prefixed keys: the same
 * records a sublevel would read, without constructing one (an abstract-level
 * sublevel costs more to make than a small commit costs to write, and a
 * collection opens thousands of instances). Nothing is attached to the
 * database but the iterators while they are open.
 */
export class PrefixedView implements SublevelReads {
  readonly #db: AnyLevel
  readonly #prefix: string
  /** Just above every key of the view: `!name"`. */
  readonly #upper: string
  /** Asks for Buffers of a database whose values decode to plain Uint8Arrays (as a sublevel of 'buffer' would). */
  readonly #options: { valueEncoding: 'buffer' } | undefined

  /**
   * `name`: a sublevel's name, or the path of a sublevel of sublevels; `base`: the
   * prefix of the sublevel of `db` it is under (see `directTarget`), if any.
   */
  constructor (db: AnyLevel, name: string | string[], base = '') {
    this.#db = db
    this.#options = db.valueEncoding().commonName === 'buffer' ? undefined : { valueEncoding: 'buffer' }
    this.#prefix = base + (typeof name === 'string' ? localPrefix(name) : name.map(localPrefix).join(''))
    this.#upper = this.#prefix.slice(0, -1) + String.fromCharCode(SEPARATOR.charCodeAt(0) + 1)
  }

  /** The view's key prefix on its database. */
  get prefix (): string {
    return this.#prefix
  }

  async get (key: string): Promise<unknown> {
    const options = this.#options
    return options === undefined ? await this.#db.get(this.#prefix + key) : await this.#db.get(this.#prefix + key, options)
  }

  async getMany (keys: string[]): Promise<unknown[]> {
    const prefixed = keys.map((key) => this.#prefix + key)
    const options = this.#options
    return options === undefined ? await this.#db.getMany(prefixed) : await this.#db.getMany(prefixed, options)
  }

  iterator (options: KeyBounds & { limit?: number } = {}): RawIterator {
    const iterator = this.#db.iterator(this.#range(options))
    const cut = this.#prefix.length
    const strip = (entry: [string, Buffer]): [string, Buffer] => [entry[0].slice(cut), entry[1]]
    return {
      next: async () => {
        const entry = await iterator.next() as [string, Buffer] | undefined
        return entry === undefined ? undefined : strip(entry)
      },
      nextv: async (size: number) => (await iterator.nextv(size) as Array<[string, Buffer]>).map(strip),
      close: async () => { await iterator.close() },
      [Symbol.asyncIterator]: async function * () {
        try {
          for (let entry = await iterator.next(); entry !== undefined; entry = await iterator.next()) yield strip(entry as [string, Buffer])
        } finally {
          await iterator.close()
        }
      }
    }
  }

  async * keys (options: KeyBounds = {}): AsyncGenerator<string> {
    const cut = this.#prefix.length
    for await (const key of this.#db.keys(this.#range(options))) yield (key as string).slice(cut)
  }

  async clear (options: KeyBounds): Promise<void> {
    await this.#db.clear(this.#range(options))
  }

  /** The bounds on the database: the given ones prefixed, the view's own where none is given. */
  #range ({ gt, gte, lt, lte, reverse, limit }: KeyBounds & { limit?: number }): Record<string, unknown> {
    const range: Record<string, unknown> = {}
    if (gt !== undefined) range.gt = this.#prefix + gt
    else range.gte = this.#prefix + (gte ?? '')
    if (lt !== undefined) range.lt = this.#prefix + lt
    else if (lte !== undefined) range.lte = this.#prefix + lte
    else range.lt = this.#upper
    if (reverse === true) range.reverse = true
    if (limit !== undefined) range.limit = limit
    if (this.#options !== undefined) range.valueEncoding = 'buffer'
    return range
  }
}
