import { codes, error } from './errors.js'
import { pack } from './msgpack.js'
import { SYNC, isSource, type Clock, type Source } from './protocol.js'
import { isTimestamp } from './timestamp.js'
import { isDocumentName } from './collection-names.js'

/** The protocol name in a collection stream's hello. */
export const COLLECTION_PROTOCOL = 'scuttledb-collection/1'

/** One document as a side announces it: its name, type, clock, and whether this side accepts the peer's updates of it. */
export interface DocEntry {
  name: string
  type: string
  clock: Clock
  accepts: boolean
}

/** A decoded, shape-checked collection message (updates travel as plain update frames). */
export type CollectionMessage =
  | { t: 'hello', id: Source, epoch: string, seq: number }
  | { t: 'want', since: number }
  | { t: 'docs', entries: DocEntry[] }
  | { t: 'doc', name: string }
  | { t: 'done', seq: number, after: boolean }
  | { t: 'beat' }

/** The longest type name and epoch accepted from a peer. */
const MAX_TOKEN = 256
/** Most entries in one docs message (senders split larger lists). */
export const MAX_ENTRIES = 4096

function invalid (message: string): Error {
  return error(codes.INVALID_MESSAGE, message)
}

function isSeq (x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0
}

function isToken (x: unknown): x is string {
  return typeof x === 'string' && x.length > 0 && x.length <= MAX_TOKEN
}

function parseClock (x: unknown): Clock {
  if (x === null || typeof x !== 'object' || Array.isArray(x) || ArrayBuffer.isView(x)) throw invalid('A document clock must be a map')
  const clock: Clock = new Map()
  for (const [source, ts] of Object.entries(x)) {
    if (!isSource(source) || !isTimestamp(ts)) throw invalid('A document clock must map ids to timestamps')
    clock.set(source, ts)
  }
  return clock
}

function parseEntry (x: unknown): DocEntry {
  if (!Array.isArray(x) || x.length !== 4) throw invalid('A document entry must be [name, type, clock, accepts]')
  const [name, type, clock, accepts] = x as unknown[]
  if (!isDocumentName(name)) throw invalid('A document entry must carry a valid name')
  if (!isToken(type)) throw invalid('A document entry must carry a type name')
  if (typeof accepts !== 'boolean') throw invalid('A document entry must say whether it accepts updates')
  return { name, type, clock: parseClock(clock), accepts }
}

/** Shape-check a decoded value that is not an update. Throws INVALID_MESSAGE. */
export function parseCollectionMessage (x: unknown): CollectionMessage {
  if (x === SYNC) return { t: 'beat' }
  if (x === null || typeof x !== 'object' || Array.isArray(x) || ArrayBuffer.isView(x)) throw invalid('Expected a collection message')
  const m = x as Record<string, unknown>
  switch (m.t) {
    case 'hello':
      if (m.p !== COLLECTION_PROTOCOL) throw invalid('The peer does not speak the collection protocol')
      if (!isSource(m.id) || !isToken(m.epoch) || !isSeq(m.seq)) throw invalid('Bad hello')
      return { t: 'hello', id: m.id, epoch: m.epoch, seq: m.seq }
    case 'want':
      if (!isSeq(m.since)) throw invalid('Bad want')
      return { t: 'want', since: m.since }
    case 'docs':
      if (!Array.isArray(m.d) || m.d.length > MAX_ENTRIES) throw invalid('Bad docs message')
      return { t: 'docs', entries: m.d.map(parseEntry) }
    case 'doc':
      if (!isDocumentName(m.d)) throw invalid('Bad doc message')
      return { t: 'doc', name: m.d }
    case 'done':
      if (!isSeq(m.seq) || (m.after !== undefined && typeof m.after !== 'boolean')) throw invalid('Bad done message')
      return { t: 'done', seq: m.seq, after: m.after === true }
    default:
      throw invalid('Unknown collection message')
  }
}

/** The msgpack body of a message (frame it with the codec). */
export function encodeMessage (message: Exclude<CollectionMessage, { t: 'beat' }>): Uint8Array {
  switch (message.t) {
    case 'hello': return pack({ t: 'hello', p: COLLECTION_PROTOCOL, id: message.id, epoch: message.epoch, seq: message.seq })
    case 'want': return pack({ t: 'want', since: message.since })
    case 'docs': return pack({ t: 'docs', d: message.entries.map((e) => [e.name, e.type, Object.fromEntries(e.clock), e.accepts]) })
    case 'doc': return pack({ t: 'doc', d: message.name })
    case 'done': return pack(message.after ? { t: 'done', seq: message.seq, after: true } : { t: 'done', seq: message.seq })
  }
}
