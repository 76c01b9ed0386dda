/**
 * Timestamps are milliseconds since the epoch, with fractions when several
 * updates share a millisecond, exactly as the original scuttlebutt makes
 * them, so that last-writer-wins compares correctly against original peers.
 */

/** The smallest step between two local timestamps; well above a double's ulp at today's epoch. */
export const TICK = 0.001

/** A source of wall-clock milliseconds; injectable so tests can step the clock. */
export type WallClock = () => number

/**
 * A hybrid logical clock for one node: every timestamp it issues is at least the
 * wall clock and greater than every timestamp issued or observed before, so local
 * writes stay strictly increasing across restarts and wall-clock steps backwards.
 */
export class HybridClock {
  #last: number
  readonly #now: WallClock

  constructor (now: WallClock = Date.now, last = 0) {
    this.#now = now
    this.#last = last
  }

  /** The wall clock now. */
  wall (): number {
    return this.#now()
  }

  /** The greatest timestamp issued or observed. */
  get last (): number {
    return this.#last
  }

  /** Issue the next timestamp. */
  next (): number {
    const wall = this.#now()
    let ts = wall > this.#last ? wall : this.#last + TICK
    // At very large magnitudes TICK could round away; never return a non-increasing value.
    if (ts <= this.#last) ts = nextUp(this.#last)
    this.#last = ts
    return ts
  }

  /** Note a timestamp accepted from elsewhere, so later local ones sort after it. */
  observe (ts: number): void {
    if (ts > this.#last) this.#last = ts
  }
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
