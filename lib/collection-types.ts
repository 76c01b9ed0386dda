import type { ScuttledbError } from './errors.js'
import type { Source } from './protocol.js'
import type { Scuttlebutt, ScuttlebuttOptions, Security } from './scuttlebutt.js'
import type { Database } from './storage.js'
import type { WallClock } from './timestamp.js'

/** Any document of a collection: a Scuttlebutt of any data type (Model, Events, Value, a subclass). */
export type AnyDocument = Pick<Scuttlebutt, 'open' | 'close' | 'status' | 'id' | 'clock' | 'history' | 'createStream' | 'dispose' | 'streams' | 'localUpdate'>

/** @internal A document as the collection's own code sees it (internal methods included). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Doc = Scuttlebutt<any>

/** A data type a collection can hold: a Scuttlebutt subclass taking the base options. */
export type DocumentType<D extends AnyDocument = AnyDocument> = new (options: ScuttlebuttOptions) => D

/** What a peer may do with one document: nothing (it never learns the name), read it, or read and write it. */
export type Access = 'none' | 'read' | 'write'

/**
 * Decides what a peer may do with a document. `peer` is the id the peer proved
 * (the authentication handshake), or undefined for an unauthenticated peer.
 */
export type AccessResolver = (peer: Source | undefined, name: string) => Access | Promise<Access>

/** Options of a Collection. */
export interface CollectionOptions {
  /** A directory path (classic-level is opened there) or any abstract-level database or sublevel. */
  db: string | Database
  /** The node id of a new collection (every document's updates carry it). Default: a random id. */
  id?: Source
  /** Data types by name, besides the built-in Model, Events, Value and Counter. */
  types?: Record<string, DocumentType>
  /** The type of a document created without one. Default 'Model'. */
  defaultType?: string
  /** Most documents held open; idle ones beyond it are closed, least recently used first. Default 1000. */
  maxOpen?: number
  /** Who may see and write which document. Default: every peer may read and write everything. */
  access?: AccessResolver
  /**
   * What one stream may hold of the documents its peer announces (names, types,
   * clocks), in bytes, about 512 plus twice the name's length plus 96 per clock
   * entry each: past it the stream closes with SCUTTLEDB_OVERLOADED, so that a
   * hostile peer cannot fill the heap. Default 128 MiB (about 240,000 documents
   * of short names); raise it to sync more documents from one peer in one stream.
   */
  maxPeerEntryBytes?: number
  /** Passed to every document (see ScuttlebuttOptions). */
  sync?: boolean
  maxClockSkew?: number
  now?: WallClock
  /** Most updates in one commit, per document (see ScuttlebuttOptions). */
  maxBatch?: number
  /**
   * Sign every document's local updates and verify every remote one (see
   * ScuttlebuttOptions and docs/security.md). One backend for all documents: its
   * verification workers are the process-wide pool, not one per document.
   */
  security?: Security
  /** Accept remote updates, in every document, only from these sources (see ScuttlebuttOptions). */
  writers?: ScuttlebuttOptions['writers']
  /**
   * Options of one document, asked each time it opens: anything its type takes
   * (Model's `tombstoneTTL`, a `writers` of its own, a subclass's options). They
   * override the collection-wide ones; `db` and `id` are the collection's own.
   */
  documentOptions?: DocumentOptionsResolver
}

/**
 * What `documentOptions` returns for one document: its type's options besides
 * `db` and `id` (setting either is a TypeError when the document opens).
 */
export type DocumentOptions = Omit<Partial<ScuttlebuttOptions>, 'db' | 'id'> & {
  /** Model's option (see ModelOptions): forget deletes older than this many ms. */
  tombstoneTTL?: number
  db?: never
  id?: never
} & Record<string, unknown>

/** Decides the options of the document `name` of registered type `type` (undefined: the collection-wide ones). */
export type DocumentOptionsResolver = (name: string, type: string) => DocumentOptions | undefined

/** The events of a Collection. */
export interface CollectionEvents {
  /** A document was opened. */
  documentOpen: [name: string, doc: AnyDocument]
  /** A document was closed (idle beyond `maxOpen`, or the collection closed). */
  documentClose: [name: string]
  /**
   * A document could not be synced with a peer (unknown or different type,
   * refused), or refused one of its remote updates (unverified, not a writer's,
   * too far ahead: its `rejected` event); the rest goes on.
   */
  documentError: [name: string, err: ScuttledbError]
  /** A peer's message was refused; its stream closed with this error. */
  rejected: [err: ScuttledbError]
  /** close() finished (servers and clients of `target()` stop with it). */
  close: []
}

/** A collection's status: `open()` and `close()` move it forward, never back. */
export type CollectionStatus = 'new' | 'opening' | 'open' | 'closing' | 'closed'
