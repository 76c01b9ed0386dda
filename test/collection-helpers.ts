import { once } from 'node:events'
import { pipeline } from 'node:stream'
import type { Test } from 'tape'
import { MemoryLevel } from 'memory-level'
import { Collection, type CollectionOptions, type CollectionStream } from '../lib/index.js'
import { pack } from '../lib/msgpack.js'
import { COLLECTION_PROTOCOL } from '../lib/collection-protocol.js'

/** An open collection on memory-level (or the given db), closed when the test ends. */
export async function memoryCollection (t: Test, options: Partial<CollectionOptions> = {}): Promise<Collection> {
  const c = new Collection({ db: new MemoryLevel(), ...options })
  await c.open()
  t.teardown(async () => { await c.close() })
  return c
}

/** Two collections' streams piped together in-process. */
export interface CollectionLink {
  a: CollectionStream
  b: CollectionStream
  synced: Promise<void>
  closed: Promise<Error | null | undefined>
}

/** Connect two collections; `synced` resolves when both streams emitted `sync`. */
export function linkCollections (x: Collection, y: Collection, peers: { a?: string, b?: string } = {}): CollectionLink {
  const a = x.createStream({ peer: peers.a })
  const b = y.createStream({ peer: peers.b })
  const synced = Promise.all([once(a, 'sync'), once(b, 'sync')]).then(() => {})
  const closed = new Promise<Error | null | undefined>((resolve) => { pipeline(a, b, a, (err) => { resolve(err) }) })
  return { a, b, synced, closed }
}

/** Every document's history, by name (opening each); documents without updates are left out (peers create a document with its first update). */
export async function snapshot (c: Collection): Promise<Record<string, { type: string | undefined, history: unknown[] }>> {
  const out: Record<string, { type: string | undefined, history: unknown[] }> = {}
  for (const name of [...c.names()].sort()) {
    const history: unknown[] = []
    await c.use(name, async (doc) => { for await (const update of doc.history()) history.push(update) })
    if (history.length > 0) out[name] = { type: c.typeOf(name), history }
  }
  return out
}

/** Resolve once `stream` has settled: no message or update crossed it for `quietMs`. */
export async function quiet (streams: CollectionStream[], quietMs = 60): Promise<void> {
  const total = (): number => streams.reduce((n, s) => n + s.counts.messagesSent + s.counts.messagesReceived + s.counts.updatesSent + s.counts.updatesReceived, 0)
  let last = -1
  while (total() !== last) {
    last = total()
    await new Promise((resolve) => setTimeout(resolve, quietMs))
  }
}

/** The names whose type or history differ between two snapshots (empty when they agree). */
export function differences (a: Awaited<ReturnType<typeof snapshot>>, b: Awaited<ReturnType<typeof snapshot>>): string[] {
  const names = new Set([...Object.keys(a), ...Object.keys(b)])
  return [...names].filter((name) => JSON.stringify(a[name]) !== JSON.stringify(b[name])).sort()
}

/** `differences()` of two collections, reading every document. */
export async function divergent (x: Collection, y: Collection): Promise<string[]> {
  return differences(await snapshot(x), await snapshot(y))
}

/** One msgpack frame, as the codec writes it. */
export function frame (value: unknown): Buffer {
  const body = Buffer.from(pack(value))
  const out = Buffer.alloc(4 + body.length)
  out.writeUInt32BE(body.length, 0)
  body.copy(out, 4)
  return out
}

/**
 * A collection stream fed by a hand-written peer: hello, want, and one docs
 * entry for `name` (accepting updates or not). `code()` is the code of the
 * error it closed with, if any.
 */
export function scriptedPeer (c: Collection, name: string, accepts: boolean): { stream: CollectionStream, code: () => string | undefined } {
  const stream = c.createStream()
  stream.resume()
  let code: string | undefined
  stream.on('error', (err: Error & { code?: string }) => { code = err.code })
  stream.write(frame({ t: 'hello', p: COLLECTION_PROTOCOL, id: 'EVIL', epoch: 'E', seq: 0 }))
  stream.write(frame({ t: 'want', since: 0 }))
  stream.write(frame({ t: 'docs', d: [[name, 'Model', {}, accepts]] }))
  return { stream, code: () => code }
}
