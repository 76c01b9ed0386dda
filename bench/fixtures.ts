// The data every benchmark writes, so that baselines and the scuttledb side move
// the same bytes and their figures can be divided by each other.
import { Packr } from 'msgpackr'

/** Length in characters (and UTF-8 bytes) of every benchmark value. */
export const VALUE_LENGTH = 32

/** A Model update as the original shapes it: [[key, value], ts, source]. */
export type BenchUpdate = [change: [key: string, value: string], ts: number, source: string]

/** A 32-hex-digit source id, as long as the ids real nodes use. */
export function benchSourceId (seed = 0): string {
  // Deterministic so that runs store the same keys; the seed tells sides apart.
  return (seed.toString(16).padStart(8, '0') + 'a5c3e1f7').repeat(2)
}

/** The i-th Model key: 'key' + 8 hex digits, fixed width so keys sort by i. */
export function modelKey (i: number): string {
  return 'key' + i.toString(16).padStart(8, '0')
}

/** The i-th value: exactly VALUE_LENGTH ASCII characters that differ per i. */
export function modelValue (i: number): string {
  return ('v' + i.toString(36)).padEnd(VALUE_LENGTH, '.')
}

/** The i-th update of a source whose clock starts at baseTs (integer ms). */
export function makeUpdate (i: number, source: string, baseTs: number): BenchUpdate {
  return [[modelKey(i), modelValue(i)], baseTs + i, source]
}

/** A history-log key: source, '!', then a 16-hex-digit timestamp, so keys of a source sort by time. */
export function historyKey (source: string, ts: number): string {
  return source + '!' + Math.floor(ts).toString(16).padStart(16, '0')
}

/** msgpackr as the design prescribes for the wire: records off, so any decoder reads it. */
export function createPackr (): Packr {
  return new Packr({ useRecords: false })
}

/** Narrows a decoded value to BenchUpdate; msgpackr can decode garbage to odd shapes. */
export function isBenchUpdate (value: unknown): value is BenchUpdate {
  return Array.isArray(value) && value.length === 3 &&
    Array.isArray(value[0]) && typeof value[0][0] === 'string' &&
    typeof value[1] === 'number' && typeof value[2] === 'string'
}
