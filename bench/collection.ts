// Collections (issue #11): a fresh sync of many small documents over one TCP
// connection against one document holding the same updates, a reconnect with
// nothing new as a fraction of the fresh sync, and the RSS of a node serving
// every document with a bound on open ones. Sizes from env:
// BENCH_COLLECTION_DOCS (10000), BENCH_COLLECTION_KEYS (10), BENCH_COLLECTION_MAX_OPEN (100);
// --quick divides the documents by 10.
import { once } from 'node:events'
import { Collection, Model, connect, listen, type CollectionStream, type Connection } from '../lib/index.js'
import { defineGroup, register, type BenchContext, type BenchResult } from './registry.js'
import { forkBench, makeTempDir, removeTempDir, startTimer, type ChildContext } from './util.js'

interface Shape {
  docs: number
  keys: number
  maxOpen: number
}

function shape (ctx: BenchContext): Shape {
  const int = (name: string, fallback: number): number => {
    const raw = process.env[name]
    const n = raw === undefined ? fallback : Number(raw)
    if (!Number.isSafeInteger(n) || n <= 0) throw new TypeError(`${name} must be a positive integer`)
    return n
  }
  const docs = int('BENCH_COLLECTION_DOCS', ctx.quick ? 1000 : 10_000)
  return { docs, keys: int('BENCH_COLLECTION_KEYS', 10), maxOpen: int('BENCH_COLLECTION_MAX_OPEN', 100) }
}

const value = (doc: number, key: number): string => `value-${doc}-${key}`

/** A source collection on disk: `docs` Models of `keys` keys, written a few documents at a time. */
async function sourceCollection (dir: string, { docs, keys, maxOpen }: Shape): Promise<void> {
  const c = new Collection({ db: dir, maxOpen })
  await c.open()
  for (let start = 0; start < docs; start += 50) {
    await Promise.all(Array.from({ length: Math.min(50, docs - start) }, async (_, j) => {
      const i = start + j
      await c.use(`doc-${i}`, async (doc: Model) => {
        await doc.batch(Array.from({ length: keys }, (_, k) => ({ type: 'put' as const, key: `k${k}`, value: value(i, k) })))
      }, Model)
    }))
  }
  await c.close()
}

/** Serve `dir` over TCP until told to stop (run in a child process, for its RSS). */
export async function serveCollection (args: { dir: string, maxOpen: number }, ctx: ChildContext): Promise<{ opened: number }> {
  const c = new Collection({ db: args.dir, maxOpen: args.maxOpen })
  await c.open()
  let most = 0
  c.on('documentOpen', () => { most = Math.max(most, c.opened.length) })
  const server = await listen(c.target(), { port: 0 })
  ctx.report(server.address.port)
  await ctx.nextMessage()
  await server.close()
  await c.close()
  return { opened: most }
}

/** Sync a fresh collection from a server at `port`; resolves with the seconds it took and the stream. */
async function syncFrom (dir: string, port: number, maxOpen: number): Promise<{ seconds: number, stream: CollectionStream, close: () => Promise<void> }> {
  const c = new Collection({ db: dir, maxOpen })
  await c.open()
  const elapsed = startTimer()
  const client = connect(c.target(), { port, minDelay: 10, maxDelay: 100 })
  const [connection] = await once(client, 'synced') as [Connection]
  const seconds = elapsed()
  return { seconds, stream: connection.streams[0] as unknown as CollectionStream, close: async () => { await client.close(); await c.close() } }
}

/** Prepared once per run: the source database, and the fresh sync's time for the reconnect ratio. */
let prepared: Promise<{ source: string, shape: Shape }> | undefined
let fresh: { seconds: number, client: string } | undefined

async function source (ctx: BenchContext): Promise<{ source: string, shape: Shape }> {
  prepared ??= (async () => {
    const s = shape(ctx)
    const dir = await makeTempDir('scuttledb-bench-collection-')
    await sourceCollection(dir, s)
    return { source: dir, shape: s }
  })()
  return await prepared
}

/** The baseline: one Model holding docs x keys keys, synced to a fresh Model over TCP. */
async function singleDocument (ctx: BenchContext): Promise<BenchResult> {
  const { docs, keys } = shape(ctx)
  const [a, b] = [await makeTempDir(), await makeTempDir()]
  const from = new Model({ db: a })
  const to = new Model({ db: b })
  try {
    await from.open()
    await to.open()
    for (let start = 0; start < docs; start += 100) {
      await from.batch(Array.from({ length: Math.min(100, docs - start) * keys }, (_, j) => {
        const i = start + Math.floor(j / keys)
        return { type: 'put' as const, key: `doc-${i}/k${j % keys}`, value: value(i, j % keys) }
      }))
    }
    const server = await listen(from, { port: 0 })
    const elapsed = startTimer()
    const client = connect(to, { port: server.address.port, minDelay: 10, maxDelay: 100 })
    await once(client, 'synced')
    const seconds = elapsed()
    await client.close()
    await server.close()
    const ops = docs * keys
    return { name: 'single document', ops, seconds, opsPerSec: ops / seconds, unit: 'updates' }
  } finally {
    await from.close()
    await to.close()
    await removeTempDir(a)
    await removeTempDir(b)
  }
}

/** A fresh collection syncs every document from the source over one connection. */
async function freshSync (ctx: BenchContext): Promise<BenchResult> {
  const { source: dir, shape: s } = await source(ctx)
  const server = new Collection({ db: dir, maxOpen: s.maxOpen })
  await server.open()
  const listener = await listen(server.target(), { port: 0 })
  const client = await makeTempDir('scuttledb-bench-collection-client-')
  try {
    const run = await syncFrom(client, listener.address.port, s.maxOpen)
    const { counts } = run.stream
    await run.close()
    if (fresh !== undefined) await removeTempDir(fresh.client)
    fresh = { seconds: run.seconds, client }
    const ops = s.docs * s.keys
    return { name: 'collection fresh sync', ops, seconds: run.seconds, opsPerSec: ops / run.seconds, unit: 'updates', docs: s.docs, maxOpen: s.maxOpen, messages: counts.messagesSent + counts.messagesReceived }
  } finally {
    await listener.close()
    await server.close()
  }
}

/** The synced collection reconnects with nothing new: messages and time, as a fraction of the fresh sync. */
async function reconnect (ctx: BenchContext): Promise<BenchResult> {
  if (fresh === undefined) await freshSync(ctx)
  const { source: dir, shape: s } = await source(ctx)
  const { seconds: freshSeconds, client } = fresh as { seconds: number, client: string }
  const server = new Collection({ db: dir, maxOpen: s.maxOpen })
  await server.open()
  const listener = await listen(server.target(), { port: 0 })
  try {
    const run = await syncFrom(client, listener.address.port, s.maxOpen)
    const { counts } = run.stream
    await run.close()
    return {
      name: 'collection no-change reconnect',
      ops: s.docs,
      seconds: run.seconds,
      opsPerSec: s.docs / run.seconds,
      unit: 'documents',
      fractionOfFresh: run.seconds / freshSeconds,
      messages: counts.messagesSent + counts.messagesReceived,
      updates: counts.updatesSent + counts.updatesReceived
    }
  } finally {
    await listener.close()
    await server.close()
  }
}

/** A node serving every document (at most maxOpen open) to a fresh peer, in its own process: its peak RSS. */
async function servingRss (ctx: BenchContext): Promise<BenchResult> {
  const { source: dir, shape: s } = await source(ctx)
  const child = forkBench<{ dir: string, maxOpen: number }, { opened: number }>('./collection.js', 'serveCollection', { dir, maxOpen: s.maxOpen })
  const port = await child.nextReport() as number
  const client = await makeTempDir('scuttledb-bench-collection-rss-')
  try {
    const run = await syncFrom(client, port, s.maxOpen)
    await run.close()
    child.send('stop')
    const outcome = await child.done
    const ops = s.docs * s.keys
    return { name: 'collection serving RSS', ops, seconds: run.seconds, opsPerSec: ops / run.seconds, unit: 'updates', docs: s.docs, maxOpen: s.maxOpen, mostOpen: outcome.value.opened, serverRss: outcome.maxRss }
  } finally {
    child.kill()
    await removeTempDir(client)
  }
}

defineGroup('collection', {
  title: 'Collections: many small documents over one connection (TCP, classic-level, one process unless noted)',
  baseline: 'single document',
  goal: 'fresh sync >= 0.5x single document; no-change reconnect fractionOfFresh < 0.02; serving node serverRss < 150 MB'
})
register('collection', 'single document', singleDocument)
register('collection', 'collection fresh sync', freshSync)
register('collection', 'collection no-change reconnect', reconnect)
register('collection', 'collection serving RSS', async (ctx) => {
  try {
    return await servingRss(ctx)
  } finally {
    const done = await prepared
    prepared = undefined
    if (done !== undefined) await removeTempDir(done.source)
    if (fresh !== undefined) await removeTempDir(fresh.client)
    fresh = undefined
  }
})
