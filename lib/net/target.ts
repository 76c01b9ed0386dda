import type { ReplicationStream, StreamOptions } from '../stream.js'

/** What a transport knows about the peer when it creates a stream. */
export interface StreamContext {
  /** The id the peer proved in the connection's handshake, if any. */
  peer?: string
}

/** Anything that can replicate: every Scuttlebutt (Model, Events, Value, ...) is one. */
export interface Replicable {
  /** A new replication stream for one peer. */
  createStream: (options?: StreamOptions, context?: StreamContext) => ReplicationStream
}

/** Finds the instance for a document name a peer asks for; undefined refuses it. */
export type DocumentResolver = (name: string) => Replicable | undefined | Promise<Replicable | undefined>

/**
 * Several named instances over one connection (multiplexed). Either side may
 * open documents: `open` lists the names this side opens (default: the keys of
 * a `docs` record on the connecting side, none on the listening side); the
 * other side looks each name up in its own `docs`.
 */
export interface Documents {
  /** The documents this side serves, by name, or a resolver. */
  docs: Record<string, Replicable> | DocumentResolver
  /** The names this side opens once connected. */
  open?: string[]
}

/** What a connection replicates: one instance (plain protocol) or named documents (multiplexed). */
export type Target = Replicable | Documents

/** True when the target is a set of named documents rather than one instance. */
export function isDocuments (target: Target): target is Documents {
  if (typeof (target as Partial<Replicable>).createStream === 'function') return false
  const docs = (target as Partial<Documents>).docs
  return (typeof docs === 'object' && docs !== null) || typeof docs === 'function'
}

/** Validate a target (a caller's mistake is a TypeError). */
export function checkTarget (target: Target): void {
  if (target === null || typeof target !== 'object') throw new TypeError('The target must be a Scuttlebutt instance or { docs }')
  if (isDocuments(target)) {
    if (target.open !== undefined && !(Array.isArray(target.open) && target.open.every((n) => typeof n === 'string' && n.length > 0))) {
      throw new TypeError('open must be an array of document names')
    }
    return
  }
  if (typeof (target as Partial<Replicable>).createStream !== 'function') {
    throw new TypeError('The target must be a Scuttlebutt instance or { docs }')
  }
}

/** A resolver for a record or function `docs`. */
export function resolverOf (docs: Documents['docs']): DocumentResolver {
  if (typeof docs === 'function') return docs
  // Own properties only: a peer naming "__proto__" or "toString" must not find anything.
  return (name) => Object.hasOwn(docs, name) ? docs[name] : undefined
}

/** The names a side opens: `open`, else a record's keys on the connecting side. */
export function namesToOpen (target: Documents, side: 'client' | 'server'): string[] {
  if (target.open !== undefined) return [...target.open]
  if (side === 'client' && typeof target.docs === 'object') return Object.keys(target.docs)
  return []
}
