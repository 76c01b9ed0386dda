/**
 * Timestamps are milliseconds since the epoch, with fractions when several
 * updates share a millisecond, as the original scuttlebutt makes them, so that
 * last-writer-wins compares correctly against original peers. The fractions are
 * chosen so that an original peer can never make an equal timestamp (see
 * {@link admissibleFractions}): the original breaks equal timestamps by arrival
 * order, so a tie with it would leave the two replicas different forever.
 * From 2^42 ms (year 2109) the original can make every double of a millisecond
 * and ties can no longer be avoided; the clock then only stays increasing.
 */

/** A source of wall-clock milliseconds; injectable so tests can step the clock. */
export type WallClock = () => number

/** The most fractions of one millisecond the clock uses; binades with more admissible ones use the lowest (1048 exist per ms until 2039, 186 until 2109). */
export const MAX_FRACTIONS = 4096

/** How many places a millisecond's first timestamp is spread over (see HybridClock#spread). */
export const SPREAD = 64

/** A place in [0, SPREAD) for `key`: FNV-1a over its UTF-16 code units. */
function spreadOf (key: string): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return (hash >>> 0) % SPREAD
}

const EMPTY = new Float64Array(0)
const fractionTables = new Map<number, Float64Array>()

/**
 * A hybrid logical clock for one node: every timestamp it issues is above the
 * wall clock's millisecond start and greater than every timestamp issued or
 * observed before, so local writes stay strictly increasing across restarts and
 * wall-clock steps backwards. Within a millisecond it steps through
 * {@link admissibleFractions}; when they run out it moves to the next millisecond.
 */
export class HybridClock {
  #last: number
  readonly #now: WallClock
  // The cursor: while #index >= 0, #last === #ms + #fractions[#index], so the next
  // timestamp is the following entry (the hot path of local writes).
  #ms = 0
  #index = -1
  #fractions: Float64Array = EMPTY
  // The millisecond range [#low, #high) of the binade #table cached last.
  #low = 0
  #high = 0
  #table: Float64Array = EMPTY
  /** How far into a millisecond's fractions a fresh millisecond starts (see spread). */
  #start = 0

  constructor (now: WallClock = Date.now, last = 0) {
    this.#now = now
    this.#last = last
  }

  /**
   * Start each millisecond at a place in its fractions chosen by `key` (the
   * node's id), one of {@link SPREAD}: two nodes writing in the same millisecond
   * then rarely make the same timestamp. Between scuttledb nodes an equal
   * timestamp is broken by source, but an original peer that receives both
   * keeps whichever arrived last, and would differ from the others forever.
   */
  spread (key: string): void {
    this.#start = spreadOf(key)
  }

  /** The wall clock now; a `now` that returns anything but a finite number is a TypeError here. */
  wall (): number {
    const wall = this.#now()
    if (typeof wall !== 'number' || !Number.isFinite(wall)) throw new TypeError(`now() must return a finite number of ms, not ${typeof wall === 'number' ? String(wall) : typeof wall}`)
    return wall
  }

  /** The greatest timestamp issued or observed. */
  get last (): number {
    return this.#last
  }

  /** Issue the next timestamp. */
  next (): number {
    const wall = this.wall()
    let ts: number
    if (wall > this.#last) ts = this.#after(wall)
    else if (this.#index >= 0 && this.#index + 1 < this.#fractions.length) ts = this.#ms + this.#fractions[++this.#index]
    else ts = this.#after(this.#last)
    this.#last = ts
    return ts
  }

  /** Note a timestamp accepted from elsewhere, so later local ones sort after it. */
  observe (ts: number): void {
    if (ts > this.#last && ts < Infinity) {
      this.#last = ts
      this.#index = -1
    }
  }

  /** The smallest admissible timestamp above `x` at or after this clock's start in its millisecond; moves the cursor there. */
  #after (x: number): number {
    // Millisecond 0 is skipped: below 1 the original's fractions are not on a fixed grid.
    let ms = x >= 1 ? Math.floor(x) : 1
    let above = x >= 1 ? x - ms : -1 // exact: x and ms are within a factor of two
    for (;;) {
      const fractions = this.#fractionsAt(ms)
      if (fractions.length === 0) {
        // No admissible fraction at this magnitude (from 2^42 ms, year 2109): the
        // original can make every value there, so no choice avoids a tie. After a
        // spill, `ms` is the next millisecond: move there rather than stay in the
        // exhausted one.
        this.#index = -1
        return Math.max(ms, nextUp(x))
      }
      let index = 0
      if (!(above < fractions[0])) {
        let lo = 0
        let hi = fractions.length
        while (lo < hi) {
          const mid = (lo + hi) >>> 1
          if (fractions[mid] > above) hi = mid
          else lo = mid + 1
        }
        index = lo
      }
      // A quarter of the fractions at most: the rest stay for writes within the millisecond.
      index = Math.max(index, Math.min(this.#start, fractions.length >> 2))
      if (index < fractions.length) {
        this.#ms = ms
        this.#index = index
        this.#fractions = fractions
        return ms + fractions[index]
      }
      ms += 1
      above = -1
    }
  }

  /** The admissible fractions of millisecond `ms` (cached for its binade). */
  #fractionsAt (ms: number): Float64Array {
    if (ms < this.#low || ms >= this.#high) {
      const e = binade(ms)
      this.#low = 2 ** e
      this.#high = 2 ** (e + 1)
      this.#table = admissibleFractions(e)
    }
    return this.#table
  }
}

/**
 * The fractions f of a millisecond such that `ms + f` is a timestamp the original
 * can never make, for every integer `ms` in [2^e, 2^(e+1)), ascending, at most
 * {@link MAX_FRACTIONS}. The original (`monotonic-timestamp`) makes `Date.now()`
 * and then `ms + c / (c + 1000)` for the c-th further call in that millisecond,
 * rounded to the binade's grid of 2^(e-52) ms (ties to even: an even grid step
 * of the fraction, as every integer ms is an even number of steps when e <= 51),
 * so the rounded fraction depends on e and c only, and grows with c. Every grid
 * point strictly between two consecutive rounded fractions is admissible.
 * Computed once per binade, lazily.
 */
export function admissibleFractions (e: number): Float64Array {
  let table = fractionTables.get(e)
  if (table === undefined) {
    table = e < 0 || e > 51 ? EMPTY : computeFractions(e)
    fractionTables.set(e, table)
  }
  return table
}

function computeFractions (e: number): Float64Array {
  const base = 2 ** e
  const ulp = 2 ** (e - 52)
  const out: number[] = []
  let produced = 0 // the original's greatest fraction so far: count 0 is the integer ms itself
  for (let count = 1; out.length < MAX_FRACTIONS; count++) {
    // The original's formula in the same double arithmetic, at an integer ms of this binade.
    const made = (base + count / (count + 1000)) - base
    for (let f = produced + ulp; f < made && out.length < MAX_FRACTIONS; f += ulp) out.push(f)
    produced = made
    // Once consecutive exact fractions are closer than a quarter ulp, rounded ones
    // (each off by at most 3/4 ulp, division included) differ by one ulp at most,
    // and they go on up to 1: no admissible point is left in this millisecond.
    if (made >= 1 || 1000 / ((count + 1000) * (count + 1001)) < ulp / 4) break
  }
  return Float64Array.from(out)
}

const view = new DataView(new ArrayBuffer(8))

/** The exponent e of a finite number >= 1: 2^e <= x < 2^(e+1). */
function binade (x: number): number {
  view.setFloat64(0, x)
  return ((view.getUint16(0) >>> 4) & 0x7ff) - 1023
}

const f64 = new Float64Array(1)
const u64 = new BigUint64Array(f64.buffer)

/** The next representable double above a non-negative finite number. */
function nextUp (x: number): number {
  f64[0] = x
  u64[0] += 1n
  return f64[0]
}

const scratch = new DataView(new ArrayBuffer(8))
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

/**
 * Encode a non-negative finite timestamp as 16 hex characters whose string order
 * is numeric order (the big-endian IEEE 754 bits of a non-negative double sort as
 * unsigned integers).
 */
export function encodeTimestamp (ts: number): string {
  scratch.setFloat64(0, ts)
  return HEX[scratch.getUint8(0)] + HEX[scratch.getUint8(1)] + HEX[scratch.getUint8(2)] + HEX[scratch.getUint8(3)] +
    HEX[scratch.getUint8(4)] + HEX[scratch.getUint8(5)] + HEX[scratch.getUint8(6)] + HEX[scratch.getUint8(7)]
}

/** Decode what {@link encodeTimestamp} produced. */
export function decodeTimestamp (s: string): number {
  scratch.setUint32(0, parseInt(s.slice(0, 8), 16))
  scratch.setUint32(4, parseInt(s.slice(8, 16), 16))
  return scratch.getFloat64(0)
}

/** True for a timestamp that may be stored: a finite number above zero (NaN fails too). */
export function isTimestamp (ts: unknown): ts is number {
  return typeof ts === 'number' && ts > 0 && ts < Infinity
}
