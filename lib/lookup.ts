import type { Sublevel } from './storage-types.js'

/** Fewer keys than this are read with one getMany: a scan would not pay for itself. */
const MIN_KEYS = 8
/** After this many scans in a row that found the range crowded, getMany is used for a while. */
const CROWDED_SCANS = 3
/** How many lookups go straight to getMany after the range was crowded CROWDED_SCANS times. */
const BACK_OFF = 64
/** A key with a character at or above U+D800: JS string order differs from LevelDB's byte order there. */
const ORDER_DIFFERS = /[\uD800-\uFFFF]/

/**
 * Reads the records of many keys of one sublevel, for a commit about to write
 * them. Most of these keys are absent (a fresh peer, new keys), and in a
 * log-structured store a lookup of an absent key costs as much as reading a
 * present one: one range scan from the smallest to the largest key instead
 * finds every present record in one seek (5 to 13 times cheaper per key
 * measured on classic-level). A scan that meets more records than keys (the
 * keys are spread among many others) stops there, and getMany reads the rest;
 * after a few of those in a row, lookups use getMany alone for a while.
 */
export class KeyLookup {
  #crowded = 0
  #backOff = 0
  /**
   * An upper bound of every key the sublevel holds (a key above it is absent
   * without a read): the greatest stored key, read once, raised by every key
   * written since this lookup was made (`wrote`, called as writes join a
   * batch, so before they land, and never lowered: deletes leave it as is).
   * `undefined`: not read yet; `null`: the sublevel held nothing and nothing
   * was written; `false`: given up, because a key holds a character at or
   * above U+D800, where JS string order differs from LevelDB's byte order.
   */
  #bound: string | null | false | undefined
  /** The greatest key written while the bound is not read yet. */
  #written: string | null = null
  #reading: Promise<void> | undefined
  /** How lookups went: a complete scan, a crowded scan and getMany, getMany alone, and keys known absent by the bound. */
  readonly counts = { scanned: 0, crowded: 0, direct: 0, beyond: 0 }

  /** `empty`: the sublevel is known to hold nothing (a new store): no read is needed to know the bound. */
  constructor (empty = false) {
    if (empty) this.#bound = null
  }

  /** A key is being written to the sublevel (by a commit, or an upgrade's rewrite). */
  wrote (key: string): void {
    if (this.#bound === false) return
    if (ORDER_DIFFERS.test(key)) {
      this.#bound = false
      return
    }
    if (this.#bound === undefined) {
      if (this.#written === null || key > this.#written) this.#written = key
    } else if (this.#bound === null || key > this.#bound) {
      this.#bound = key
    }
  }

  async #readBound (sublevel: Sublevel): Promise<void> {
    const iterator = sublevel.iterator({ reverse: true, limit: 1 })
    let last: Array<[string, Buffer]>
    try {
      last = await iterator.nextv(1) as Array<[string, Buffer]>
    } finally {
      await iterator.close()
    }
    if (this.#bound !== undefined) return
    const stored = last[0]?.[0] ?? null
    const written = this.#written
    if (stored !== null && ORDER_DIFFERS.test(stored)) this.#bound = false
    else this.#bound = stored === null ? written : written === null || stored > written ? stored : written
  }

  /** The stored bytes of each key (undefined where absent), in the order of `keys`. */
  async read (sublevel: Sublevel, keys: string[]): Promise<Array<Buffer | undefined>> {
    if (this.#bound === undefined) {
      this.#reading ??= this.#readBound(sublevel).finally(() => { this.#reading = undefined })
      await this.#reading
    }
    const bound = this.#bound
    if (bound === false || bound === undefined) return await this.#read(sublevel, keys)
    // Keys above the bound are absent; only the others are read.
    const below = keys.filter((key) => bound !== null && key <= bound)
    this.counts.beyond += keys.length - below.length
    if (below.length === keys.length) return await this.#read(sublevel, keys)
    if (below.length === 0) return keys.map(() => undefined)
    const values = await this.#read(sublevel, below)
    const found = new Map<string, Buffer>()
    for (let i = 0; i < below.length; i++) {
      const value = values[i]
      if (value !== undefined) found.set(below[i], value)
    }
    return keys.map((key) => found.get(key))
  }

  async #read (sublevel: Sublevel, keys: string[]): Promise<Array<Buffer | undefined>> {
    if (keys.length < MIN_KEYS || this.#backOff > 0) {
      if (this.#backOff > 0) this.#backOff--
      this.counts.direct++
      return await sublevel.getMany(keys) as Array<Buffer | undefined>
    }
    let min = keys[0]
    let max = keys[0]
    for (const key of keys) {
      if (ORDER_DIFFERS.test(key)) {
        this.counts.direct++
        return await sublevel.getMany(keys) as Array<Buffer | undefined>
      }
      if (key < min) min = key
      else if (key > max) max = key
    }
    const limit = keys.length + MIN_KEYS
    const iterator = sublevel.iterator({ gte: min, lte: max, limit })
    let records: Array<[string, Buffer]>
    try {
      records = await iterator.nextv(limit) as Array<[string, Buffer]>
    } finally {
      await iterator.close()
    }
    const found = new Map(records)
    if (records.length < limit) {
      // The scan reached `max`: every key it did not meet is absent.
      this.#crowded = 0
      this.counts.scanned++
      return keys.map((key) => found.get(key))
    }
    this.counts.crowded++
    // Crowded: keys up to the last record met are settled; read the others.
    if (++this.#crowded >= CROWDED_SCANS) {
      this.#crowded = 0
      this.#backOff = BACK_OFF
    }
    const last = records[records.length - 1][0]
    const rest = keys.filter((key) => key > last)
    const values = await sublevel.getMany(rest) as Array<Buffer | undefined>
    for (let i = 0; i < rest.length; i++) {
      const value = values[i]
      if (value !== undefined) found.set(rest[i], value)
    }
    return keys.map((key) => found.get(key))
  }
}
