import { ScuttledbError } from '../errors.js'
import { holdsBinary } from '../value-domain.js'
import { HttpError } from './http-errors.js'

/**
 * How the CLI and the HTTP API show values: as JSON, which has no binary.
 * Buffer's own toJSON (`{"type":"Buffer","data":[...]}`) would read as a stored
 * object, and a `dump` then `load` would store it as one: a value holding binary
 * is shown as null, flagged `unrepresentable`, or refused where it is the answer.
 */

/** The code of a value that JSON cannot show (a binary value, set through the library). */
export const UNREPRESENTABLE = 'SCUTTLEDB_UNREPRESENTABLE'

/** A key and its value as listed, dumped and fed: binary becomes null, flagged. */
export interface ValueView {
  key: string
  value: unknown
  unrepresentable?: true
}

/** `{ key, value }`, or `{ key, value: null, unrepresentable: true }` for a value holding binary. */
export function viewOf (key: string, value: unknown): ValueView {
  return holdsBinary(value) ? { key, value: null, unrepresentable: true } : { key, value }
}

/**
 * A page of a listing (`GET /kv`, `GET /changes`) ends once its items' JSON reaches this
 * many characters, whatever its `limit` (always at least one item): each page is built
 * whole in memory, and a few concurrent full pages of large values filled the heap.
 */
export const MAX_PAGE_CHARS = 4 * 1024 * 1024

/** What an item adds to a page's JSON, in characters. */
export function jsonChars (item: unknown): number {
  return JSON.stringify(item)?.length ?? 0
}

/** The error for reading a value holding binary as JSON (`get`, `GET /kv/:key`: HTTP 406). */
export function unrepresentable (key: string, http = false): Error {
  const message = `Key ${JSON.stringify(key)} holds binary, which JSON cannot show (read it with the library, or back it up with export)`
  return http ? new HttpError(406, UNREPRESENTABLE, message) : new ScuttledbError(message, UNREPRESENTABLE)
}
