import { codes, error } from './errors.js'
import { isTimestamp } from './timestamp.js'
import { MAX_DEPTH, isWellFormed, valueProblem } from './value-domain.js'

export { MAX_DEPTH, isWellFormed }

/** A source (node) id. */
export type Source = string

/**
 * One update, as the original defines it: `[change, timestamp, source]`, with a
 * fourth element when the source signs its updates.
 */
export type Update<C = unknown> =
  | [change: C, ts: number, source: Source]
  | [change: C, ts: number, source: Source, signature: unknown]

/** A vector clock: the latest timestamp seen from each source. */
export type Clock = Map<Source, number>

/** The vector clock as a plain object, the shape that travels in a header. */
export type ClockObject = Record<Source, number>

/** The first message each side of a stream sends. */
export interface Header {
  id: Source
  clock: ClockObject
  meta?: unknown
  /**
   * Per source, the newest delete this node has forgotten (tombstones past
   * `tombstoneTTL`): a peer whose clock is below an entry may still hold a value
   * that delete removed, and is refused. Absent when nothing was forgotten.
   */
  forgot?: ClockObject
}

/** The message that ends the history part of a stream. */
export const SYNC = 'SYNC'

/** A decoded, shape-checked message other than an update (updates are checked by `parseUpdate`). */
export type ControlMessage =
  | { type: 'header', header: Header, clock: Clock, forgot: Clock, dataType: string | undefined }
  | { type: 'sync' }

/** The longest source id accepted, in UTF-16 code units. */
export const MAX_SOURCE_LENGTH = 512

/** The longest data type name a header may carry. */
const MAX_TYPE_LENGTH = 256

/**
 * True for a usable source id. NUL separates source and timestamp in storage keys,
 * and `__proto__` is refused as the original does (msgpack decoders mangle it as a map key).
 */
export function isSource (s: unknown): s is Source {
  return typeof s === 'string' && s.length > 0 && s.length <= MAX_SOURCE_LENGTH &&
    !s.includes('\x00') && s !== '__proto__' && isWellFormed(s)
}

/** True when `value` nests arrays and objects at most `max` levels deep. */
export function withinDepth (value: unknown, max = MAX_DEPTH): boolean {
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return true
  if (max === 0) return false
  const children = Array.isArray(value) ? value : Object.values(value)
  for (const child of children) if (!withinDepth(child, max - 1)) return false
  return true
}

/** Shape-check a decoded update; throws an INVALID_MESSAGE error. */
export function parseUpdate (x: unknown): Update {
  if (!Array.isArray(x) || (x.length !== 3 && x.length !== 4)) {
    throw error(codes.INVALID_MESSAGE, 'An update must be an array of 3 or 4 elements')
  }
  if (!isTimestamp(x[1])) {
    throw error(codes.INVALID_MESSAGE, 'An update timestamp must be a finite number above zero', { update: x })
  }
  if (!isSource(x[2])) throw error(codes.INVALID_MESSAGE, 'An update source must be a valid id', { update: x })
  // Only what every wire and storage carry exactly is accepted (see value-domain.ts).
  const problem = valueProblem(x[0], MAX_DEPTH, true) ?? (x.length === 4 ? valueProblem(x[3], MAX_DEPTH, true) : undefined)
  if (problem !== undefined) throw error(codes.INVALID_MESSAGE, `An update may not hold ${problem}`, { update: x })
  return x as Update
}

/**
 * True for an update the original's wire carries and scuttledb cannot hold: the
 * original takes any number as a timestamp and any string as a source (0 or
 * negative, '' or over MAX_SOURCE_LENGTH), and keeps it in its history and clock.
 */
export function foreignStamp (x: unknown[]): boolean {
  return (x.length === 3 || x.length === 4) && typeof x[1] === 'number' && typeof x[2] === 'string' &&
    !(isTimestamp(x[1]) && isSource(x[2]))
}

/**
 * A clock object from a peer as a Map (null entries mean "nothing seen" and are left out).
 * `lenient` (the original's wire): an entry of a number for a source scuttledb cannot
 * hold (see foreignStamp) is left out too, as nothing this node could hold or send.
 */
function parseClock (clock: unknown, what: string, lenient: boolean): Clock {
  if (clock === null || typeof clock !== 'object' || Array.isArray(clock) || ArrayBuffer.isView(clock)) {
    throw error(codes.INVALID_MESSAGE, `A header must carry a ${what} object`)
  }
  const map: Clock = new Map()
  for (const [source, ts] of Object.entries(clock)) {
    // The original treats a null or absent entry as "nothing seen"; so do we.
    if (ts === null) continue
    if (lenient && typeof ts === 'number' && !(isSource(source) && isTimestamp(ts))) continue
    if (!isSource(source) || !isTimestamp(ts)) {
      throw error(codes.INVALID_MESSAGE, `A header ${what} entry must map an id to a timestamp`)
    }
    map.set(source, ts)
  }
  return map
}

/**
 * Shape-check a decoded header; the clock (and `forgot`, when present) come
 * back as Maps. Throws INVALID_MESSAGE.
 */
export function parseHeader (x: Record<string, unknown>, lenient = false): { header: Header, clock: Clock, forgot: Clock, dataType: string | undefined } {
  const { id, clock, meta, forgot, type } = x
  if (!isSource(id)) throw error(codes.INVALID_MESSAGE, 'A header must carry a valid id')
  // The sender's data type (see Scuttlebutt.wireType): absent from the original and from a type without one.
  if (type !== undefined && !(typeof type === 'string' && type.length > 0 && type.length <= MAX_TYPE_LENGTH)) {
    throw error(codes.INVALID_MESSAGE, `A header type must be a non-empty string of at most ${MAX_TYPE_LENGTH} units`)
  }
  const map = parseClock(clock, 'clock', lenient)
  const forgotten = forgot === undefined ? new Map<Source, number>() : parseClock(forgot, 'forgot', lenient)
  const header: Header = { id, clock: clockToObject(map) }
  if (meta !== undefined) header.meta = meta
  if (forgotten.size > 0) header.forgot = clockToObject(forgotten)
  return { header, clock: map, forgot: forgotten, dataType: type as string | undefined }
}

/** Shape-check a decoded value that is not an array: a header or the SYNC marker. `lenient`: see parseClock. */
export function parseControl (x: unknown, lenient = false): ControlMessage {
  if (x === SYNC) return { type: 'sync' }
  if (x !== null && typeof x === 'object' && !Array.isArray(x) && !ArrayBuffer.isView(x)) {
    const { header, clock, forgot, dataType } = parseHeader(x as Record<string, unknown>, lenient)
    return { type: 'header', header, clock, forgot, dataType }
  }
  throw error(codes.INVALID_MESSAGE, 'Expected a header, an update or "SYNC"')
}

/** A clock as a plain object (own data properties, so any id is safe as a key). */
export function clockToObject (clock: Clock): ClockObject {
  return Object.fromEntries(clock)
}

/** True when the update is newer than what `clock` records for its source. */
export function isNewer (ts: number, source: Source, clock: Clock): boolean {
  const seen = clock.get(source)
  return seen === undefined || ts > seen
}

/** Compare two updates by `(ts, source)`: the total order of history and of conflicts. */
export function compareStamps (ts1: number, source1: Source, ts2: number, source2: Source): number {
  if (ts1 !== ts2) return ts1 < ts2 ? -1 : 1
  return source1 < source2 ? -1 : source1 > source2 ? 1 : 0
}

/**
 * A key or event name as the original scuttlebutt holds it: JavaScript coerces a
 * number, boolean or null to a string when used as an object key (5 is '5'), and
 * an array or object too (['x', 'y'] is 'x,y', {} is '[object Object]').
 * Anything else is left for the shape check to refuse.
 */
export function originalKey (key: unknown): unknown {
  if ((typeof key === 'number' && Number.isFinite(key)) || typeof key === 'boolean' || key === null) return String(key)
  if (typeof key === 'object' && !ArrayBuffer.isView(key)) {
    try {
      return String(key)
    } catch {
      // An own `toString` that is no function: the original cannot make it a key either.
      return key
    }
  }
  return key
}
