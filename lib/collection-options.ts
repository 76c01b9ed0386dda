// The options a Collection opens each document with: the collection-wide ones,
// checked once at construction (a mistake surfaces at `new Collection()`, not at
// the first document a peer happens to open), and the per-document ones of
// `documentOptions`, checked at each open.
import type { CollectionOptions, DocumentOptions, DocumentOptionsResolver } from './collection-types.js'
import { isSource, type Source, type Update } from './protocol.js'
import type { ScuttlebuttOptions } from './scuttlebutt.js'

/** @internal What every document gets besides `db` and `id`, and what `documentOptions` may add. */
export type DocumentDefaults = Omit<ScuttlebuttOptions, 'db' | 'id'> & Record<string, unknown>

/** @internal Validate the collection-wide document options; TypeError for a caller's mistake. */
export function documentDefaults (options: CollectionOptions): DocumentDefaults {
  const { sync, maxClockSkew, now, maxBatch, security, writers } = options
  if (sync !== undefined && typeof sync !== 'boolean') throw new TypeError('options.sync must be a boolean')
  if (maxClockSkew !== undefined && !(typeof maxClockSkew === 'number' && maxClockSkew >= 0)) throw new TypeError('options.maxClockSkew must be a non-negative number')
  if (now !== undefined && typeof now !== 'function') throw new TypeError('options.now must be a function')
  if (maxBatch !== undefined && !(Number.isInteger(maxBatch) && maxBatch > 0)) throw new TypeError('options.maxBatch must be a positive integer')
  if (security !== undefined) {
    if (security === null || typeof security !== 'object' || typeof security.sign !== 'function' || typeof security.verify !== 'function') {
      throw new TypeError('options.security must have sign() and verify()')
    }
    if (security.verifyBatch !== undefined && typeof security.verifyBatch !== 'function') throw new TypeError('options.security.verifyBatch must be a function')
    if (security.createId !== undefined && typeof security.createId !== 'function') throw new TypeError('options.security.createId must be a function')
  }
  const { documentOptions } = options
  if (documentOptions !== undefined && typeof documentOptions !== 'function') throw new TypeError('options.documentOptions must be a function')
  return { sync, maxClockSkew, now, maxBatch, security, writers: writersOf(writers) }
}

/**
 * `writers` as one predicate for every document: an iterable is read once here
 * (a generator would be empty for every document after the first, and 10,000
 * documents would each copy the list).
 */
function writersOf (writers: CollectionOptions['writers']): ((source: Source, update: Update) => boolean) | undefined {
  if (writers === undefined || typeof writers === 'function') return writers
  if (writers === null || typeof writers !== 'object' || typeof (writers as Partial<Iterable<Source>>)[Symbol.iterator] !== 'function') {
    throw new TypeError('options.writers must be an iterable of ids or a function')
  }
  const allowed = new Set<Source>()
  for (const id of writers) {
    if (!isSource(id)) throw new TypeError('options.writers must hold ids (non-empty strings without NUL)')
    allowed.add(id)
  }
  return (source) => allowed.has(source)
}

/** @internal The options of document `name` (of type `type`) besides `db` and `id`: the defaults, then what `resolver` says. */
export function optionsOf (defaults: DocumentDefaults, resolver: DocumentOptionsResolver | undefined, name: string, type: string): DocumentDefaults {
  if (resolver === undefined) return defaults
  const own: DocumentOptions | undefined = resolver(name, type)
  if (own === undefined) return defaults
  if (own === null || typeof own !== 'object' || Array.isArray(own)) throw new TypeError(`documentOptions must return an object or undefined (document ${name})`)
  // A document lives in the collection's database under the collection's id: never anywhere else.
  if (Object.hasOwn(own, 'db') || Object.hasOwn(own, 'id')) throw new TypeError(`documentOptions must not set db or id (document ${name})`)
  return { ...defaults, ...own }
}
