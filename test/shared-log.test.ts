import test from 'tape'
import { ClassicLevel } from 'classic-level'
import { MemoryLevel } from 'memory-level'
import { logKey } from '../lib/commit.js'
import { SharedLog, SharedLogs, logScanner, type LogEntry, type LogScanner } from '../lib/log-scan.js'
import type { Database } from '../lib/storage.js'
import { Collection, Model } from '../lib/index.js'
import { divergent, linkCollections } from './collection-helpers.js'
import { tempDir, trackResources, until } from './helpers.js'

/** A seeded generator (mulberry32): the same cases on every run. */
function random (seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

// Sources that share prefixes: a scan of one must not read the other's entries.
const SOURCES = ['ab', 'abc', 'abd', 'b', 'ba']

interface Stored { path: string, source: string, stamps: number[] }

/** Instances' logs written under `!d<n>!!log!`, with the other records a document holds around them. */
async function fill (db: ClassicLevel<string, Buffer> | MemoryLevel<string, Buffer>, rand: () => number, instances: number): Promise<Stored[]> {
  const stored: Stored[] = []
  const batch = db.batch()
  for (let n = 0; n < instances; n++) {
    const path = 'd' + n.toString(36)
    batch.put(`!${path}!!clock!x`, Buffer.from('c'))
    batch.put(`!${path}!!meta!format`, Buffer.from('m'))
    batch.put(`!${path}!!data-map!k`, Buffer.from('v'))
    for (const source of SOURCES) {
      if (rand() < 0.3) continue
      // Some logs of one entry, some longer than the first pages a shared scan reads.
      const count = rand() < 0.2 ? 1 + Math.floor(rand() * 80) : Math.floor(rand() * 12)
      const stamps = new Set<number>()
      while (stamps.size < count) stamps.add(1 + Math.floor(rand() * 1e6))
      const sorted = [...stamps].sort((a, b) => a - b)
      for (const ts of sorted) batch.put(`!${path}!!log!${logKey(source, ts)}`, Buffer.from(`${path}/${source}/${ts}`))
      stored.push({ path, source, stamps: sorted })
    }
  }
  await batch.write()
  return stored
}

async function drain (scanner: LogScanner, source: string, after: number, step: number, last?: number): Promise<LogEntry[]> {
  const scan = scanner.scan(source, after, step, last)
  const out: LogEntry[] = []
  try {
    for (let entry = scan.buffered() ?? await scan.next(); entry !== undefined; entry = scan.buffered() ?? await scan.next()) out.push(entry)
  } finally {
    await scan.close()
  }
  return out
}

const show = (entries: LogEntry[]): string[] => entries.map(({ source, ts, bytes }) => `${source}@${ts}=${bytes.toString()}`)

for (const kind of ['classic-level', 'memory-level'] as const) {
  test(`shared log (${kind}): scans seeked on one iterator read exactly what scans of their own read`, async (t) => {
    const db = kind === 'classic-level'
      ? new ClassicLevel<string, Buffer>(await tempDir(t), { keyEncoding: 'utf8', valueEncoding: 'buffer' })
      : new MemoryLevel<string, Buffer>({ keyEncoding: 'utf8', valueEncoding: 'buffer' })
    await db.open()
    t.teardown(async () => { await db.close() })
    const attached = trackResources(db)
    const rand = random(kind === 'classic-level' ? 7 : 11)
    const stored = await fill(db, rand, 60)
    t.ok(SharedLog.supports(db), 'the database can be read with a shared iterator')
    const shared = new SharedLog(db, 0)
    let compared = 0
    let entries = 0
    const wrong: string[] = []
    for (let i = 0; i < 400; i++) {
      const { path, source, stamps } = stored[Math.floor(rand() * stored.length)]
      // From the start, from a stored stamp (exclusive), or from between stamps; to the end or to a stored stamp.
      const pick = (): number => stamps.length === 0 ? 1 : stamps[Math.floor(rand() * stamps.length)]
      const r = rand()
      const after = r < 0.4 ? 0 : r < 0.8 ? pick() : pick() + 0.5
      const last = rand() < 0.5 ? undefined : pick()
      const step = [1, 3, 8, 16, 17, 100, 4096][Math.floor(rand() * 7)]
      const own = logScanner(db as unknown as Database, [path]) as LogScanner
      const expected = show(await drain(own, source, after, step, last))
      const got = show(await drain(shared.scanner([path]), source, after, step, last))
      compared++
      entries += expected.length
      if (JSON.stringify(got) !== JSON.stringify(expected)) wrong.push(`${path} ${source} after ${after} last ${String(last)} step ${step}`)
    }
    t.deepEqual(wrong, [], `${compared} scans (${entries} entries) read the same`)
    t.ok(entries > 1000, 'the scans read entries (the comparison is not of empty lists)')

    // Scans at once: the first has the shared iterator, the others their own; each reads its own range.
    const some = stored.filter(({ stamps }) => stamps.length > 20).slice(0, 3)
    t.equal(some.length, 3, 'three long logs to read at once')
    const together = await Promise.all(some.map(async ({ path, source }) => show(await drain(shared.scanner([path]), source, 0, 4))))
    t.deepEqual(together, some.map(({ path, source, stamps }) => stamps.map((ts) => `${source}@${ts}=${path}/${source}/${ts}`)), 'concurrent scans each read their whole log')

    await shared.close()
    t.equal(attached(), 0, 'nothing is left attached once the shared iterator is closed')
  })
}

test('shared logs: a free iterator older than what the caller asks for is closed, not reused', async (t) => {
  const db = new MemoryLevel<string, Buffer>({ keyEncoding: 'utf8', valueEncoding: 'buffer' })
  await db.open()
  t.teardown(async () => { await db.close() })
  const attached = trackResources(db)
  let generation = 1
  const logs = new SharedLogs(() => new SharedLog(db, generation))
  const first = logs.take(0)
  logs.give(first)
  t.equal(logs.take(1), first, 'a free one new enough is reused')
  logs.give(first)
  generation = 2
  const second = logs.take(2)
  t.notEqual(second, first, 'one older than asked for is not')
  t.equal(second.generation, 2, 'a new one is made')
  // A snapshot is not held for ever: after its share of scans an iterator is replaced.
  for (let i = 0; i < 5000 && !second.worn; i++) await (second.scanner(['d0']).scan('ab', 0, 8)).close()
  t.ok(second.worn, 'an iterator wears out after its share of scans')
  logs.give(second)
  const third = logs.take(2)
  t.notEqual(third, second, 'and is not reused')
  logs.give(third)
  await logs.release()
  t.equal(attached(), 0, 'release() closes every iterator, the retired one too')
})

test('collection: a closed document changed after a shared iterator was made is read as it is now', async (t) => {
  const dir = await tempDir(t)
  const collection = new Collection({ db: dir, maxOpen: 1 })
  await collection.open()
  t.teardown(async () => { await collection.close() })
  await collection.use('a', async (doc: Model) => { await doc.set('k', 'a1') }, Model)
  await collection.use('b', async (doc: Model) => { await doc.set('k', 'b1') }, Model)
  // Both closed (maxOpen 1, and the last one let go).
  const closedA = new Promise<void>((resolve) => { collection.on('documentClose', (name) => { if (name === 'a') resolve() }) })
  await collection.use('c', async () => {}, Model)
  await closedA
  // 'documentClose' comes just before the collection stops counting it as closing.
  await new Promise((resolve) => setImmediate(resolve))
  const logs = collection._sharedLogs()
  t.ok(logs !== undefined, 'classic-level is read with shared iterators')
  if (logs === undefined) return
  const read = async (name: string): Promise<unknown[]> => {
    const closed = await collection._closedHistory(name, new Map(), logs)
    t.ok(closed !== undefined, `${name} is read closed`)
    if (closed === undefined) return []
    const values: unknown[] = []
    for (let entry = await closed.cursor.next(); entry !== undefined; entry = await closed.cursor.next()) values.push(entry.bytes.toString('hex'))
    await closed.close()
    return values
  }
  const before = await read('a')
  t.equal(before.length, 1, 'a: its one update')
  // The free shared iterator's snapshot predates this write.
  const closedB = new Promise<void>((resolve) => { collection.on('documentClose', (name) => { if (name === 'b') resolve() }) })
  await collection.use('b', async (doc: Model) => { await doc.set('k2', 'b2') }, Model)
  await collection.use('c', async () => {}, Model)
  await closedB
  // 'documentClose' comes just before the collection stops counting it as closing.
  await new Promise((resolve) => setImmediate(resolve))
  const after = await read('b')
  t.equal(after.length, 2, 'b: its first update and the one written after the iterator was made')
  await logs.release()
})

test('collection: a fresh sync reads closed documents with shared iterators, and lets go of them once idle', async (t) => {
  const db = new ClassicLevel<string, Buffer>(await tempDir(t), { keyEncoding: 'utf8', valueEncoding: 'buffer' })
  const source = new Collection({ db, maxOpen: 2 })
  await source.open()
  t.teardown(async () => { await source.close(); await db.close() })
  for (let i = 0; i < 30; i++) await source.use(`doc-${i}`, async (doc: Model) => { await doc.set('k', i) }, Model)
  await source.use('last', async () => {}, Model)
  await until(() => source.opened.length <= 2)
  const attached = trackResources(db)
  let most = 0
  const attach = db.attachResource.bind(db)
  db.attachResource = (resource) => { attach(resource); most = Math.max(most, attached()) }
  const closedHistory = source._closedHistory.bind(source)
  let shared = 0
  let read = 0
  source._closedHistory = async (name, known, logs) => {
    const closed = await closedHistory(name, known, logs)
    if (closed !== undefined) read++
    if (closed !== undefined && logs !== undefined) shared++
    return closed
  }
  const fresh = new Collection({ db: new MemoryLevel() })
  await fresh.open()
  t.teardown(async () => { await fresh.close() })
  const link = linkCollections(source, fresh)
  await link.synced
  t.ok(read >= 29, `the closed documents were read closed (${read})`)
  t.equal(shared, read, 'each with the stream\'s shared iterators')
  t.deepEqual(await divergent(source, fresh), [], 'both hold the same histories')
  t.ok(most > 0, 'iterators were attached while it sent')
  t.ok(await until(() => attached() === 0), 'none is attached once the stream is idle')
})
