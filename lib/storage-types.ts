// The types storage is described by (lib/storage.ts re-exports them).
import type { AbstractLevel, AbstractSublevel } from 'abstract-level'
import type { KeyLookup } from './lookup.js'

/**
 * Any abstract-level database or sublevel (classic-level, memory-level,
 * browser-level ...), described by what it has: abstract-level's own type is
 * invariant in its key and value types, so no one instantiation accepts them all.
 */
export interface Database {
  readonly status: 'opening' | 'open' | 'closing' | 'closed'
  open: () => Promise<void>
  close: () => Promise<void>
  sublevel: (name: string) => Database
  batch: () => object
}

/** @internal What storage calls on a database (whatever its encodings). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyLevel = AbstractLevel<any, any, any>

/** @internal A sublevel of any encodings (only commits and storage see it). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Sublevel = AbstractSublevel<any, any, any, any>

/** Where a data type keeps its own records: a named sublevel with msgpack values. */
export interface DataSpace {
  readonly name: string
  /** @internal */
  readonly sublevel: Sublevel
  /** @internal The sublevel's key prefix relative to the instance's database. */
  readonly prefix: string
  /** @internal How a commit reads the records it is about to write. */
  readonly lookup: KeyLookup
}

/** Bounds of a key range. */
export interface KeyBounds {
  gt?: string
  gte?: string
  lt?: string
  lte?: string
  /** Iterate in descending key order. */
  reverse?: boolean
}
