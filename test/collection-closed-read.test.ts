import test from 'tape'
import { once } from 'node:events'
import { MemoryLevel } from 'memory-level'
import { Collection, Model } from '../lib/index.js'
import { Catalog } from '../lib/collection-catalog.js'
import { divergent, linkCollections } from './collection-helpers.js'
import { tempDir } from './helpers.js'

/** A collection of `docs` Models of 3 keys, every one closed again (maxOpen 1, then closed and reopened). */
async function closedSource (db: string | MemoryLevel<string, Buffer>, docs: number): Promise<Collection> {
  const writer = new Collection({ db, maxOpen: 1 })
  await writer.open()
  for (let i = 0; i < docs; i++) {
    await writer.use(`doc-${i}`, async (doc: Model) => { await doc.batch([0, 1, 2].map((k) => ({ type: 'put' as const, key: `k${k}`, value: i * 10 + k }))) }, Model)
  }
  await writer.close()
  const reader = new Collection({ db, maxOpen: 1 })
  await reader.open()
  return reader
}

for (const kind of ['classic-level', 'memory-level'] as const) {
  test(`collection (${kind}): closed documents are sent to a fresh peer without being opened`, async (t) => {
    // classic-level takes utf8 keys and binary values (read with prefixed keys); memory-level's utf8 values go through sublevels.
    const db = kind === 'classic-level' ? await tempDir(t) : new MemoryLevel<string, Buffer>()
    const source = await closedSource(db, 20)
    t.teardown(async () => { await source.close() })
    const opened: string[] = []
    source.on('documentOpen', (name) => opened.push(name))
    const fresh = new Collection({ db: new MemoryLevel(), maxOpen: 5 })
    await fresh.open()
    t.teardown(async () => { await fresh.close() })
    const link = linkCollections(source, fresh)
    await link.synced
    t.equal(link.b.counts.updatesReceived, 60, 'every update arrived')
    t.deepEqual(opened, [], 'the source opened none of its documents')
    t.deepEqual(await divergent(source, fresh), [], 'both hold the same histories')
  })
}

test('collection: a document that is open when a peer asks is read open, with what it holds now', async (t) => {
  const source = await closedSource(await tempDir(t), 3)
  t.teardown(async () => { await source.close() })
  // Held open (its catalog clock is unknown while open) and changed: the peer gets the latest.
  let release: () => void = () => {}
  const held = new Promise<void>((resolve) => { release = resolve })
  const using = source.use('doc-1', async (doc: Model) => {
    await doc.set('late', 'yes')
    await held
  }, Model)
  await once(source, 'documentOpen')
  const fresh = new Collection({ db: new MemoryLevel() })
  await fresh.open()
  t.teardown(async () => { await fresh.close() })
  const link = linkCollections(source, fresh)
  await link.synced
  t.equal(link.b.counts.updatesReceived, 10, 'nine closed updates and the open one arrived')
  release()
  await using
  t.equal(await fresh.use('doc-1', async (doc: Model) => await doc.get('late')), 'yes', 'the open document was read as it is now')
})

test('catalog: records written while a batch is being written go out together in the next batch', async (t) => {
  const db = new MemoryLevel<string, Buffer>({ keyEncoding: 'utf8', valueEncoding: 'buffer' })
  await db.open()
  t.teardown(async () => { await db.close() })
  const catalog = new Catalog(db)
  await catalog.load(undefined)
  // Hold the first batch on its way to storage; count the batches.
  let batches = 0
  let open: () => void = () => {}
  const gate = new Promise<void>((resolve) => { open = resolve })
  const batch = db.batch.bind(db)
  db.batch = ((...args: Parameters<typeof db.batch>) => {
    batches++
    const chained = batch(...args)
    if (batches === 1 && args.length === 0) {
      const write = (chained as unknown as { write: () => Promise<void> }).write.bind(chained)
      ;(chained as unknown as { write: () => Promise<void> }).write = async () => { await gate; await write() }
    }
    return chained
  }) as typeof db.batch
  const first = catalog.write(catalog.create('first', 'Model'))
  const later: Array<Promise<void>> = []
  for (let i = 0; i < 10; i++) {
    await new Promise((resolve) => setImmediate(resolve))
    later.push(catalog.write(catalog.create(`later-${i}`, 'Model')))
  }
  t.equal(batches, 1, 'only the first batch went out while it was held')
  open()
  await Promise.all([first, ...later])
  t.equal(batches, 2, 'the ten records of ten later ticks went out in one batch')
  // Read back through a fresh catalog: every record landed.
  const again = new Catalog(db)
  await again.load(undefined)
  t.deepEqual([...again.entries()].map((e) => e.name), ['first', ...Array.from({ length: 10 }, (_, i) => `later-${i}`)], 'every record is stored')
})

test('storage: a new database records its format and id with its first commit, and keeps an unwritten id once closed', async (t) => {
  const root = new MemoryLevel<string, Buffer>({ keyEncoding: 'utf8', valueEncoding: 'buffer' })
  t.teardown(async () => { await root.close() })
  const meta = async (name: string): Promise<string[]> => {
    const keys: string[] = []
    for await (const key of root.keys({ gte: `!${name}!!meta!`, lt: `!${name}!!meta"` })) keys.push(key.slice(name.length + 2))
    return keys
  }
  const sub = (name: string): MemoryLevel<string, Buffer> => root.sublevel(name, { keyEncoding: 'utf8', valueEncoding: 'buffer' }) as unknown as MemoryLevel<string, Buffer>
  const written = new Model({ db: sub('written') })
  await written.open()
  t.deepEqual(await meta('written'), [], 'nothing is written by opening')
  await written.set('k', 1)
  t.deepEqual(await meta('written'), ['!meta!format', '!meta!id'], 'the first commit wrote the format and the id')
  await written.close()
  const quiet = new Model({ db: sub('quiet') })
  await quiet.open()
  const id = quiet.id
  await quiet.close()
  t.deepEqual(await meta('quiet'), ['!meta!format', '!meta!id'], 'closing without writes records them')
  const reopened = new Model({ db: sub('quiet') })
  await reopened.open()
  t.equal(reopened.id, id, 'and the id is the same when reopened')
  await reopened.close()
})

test('storage: a Model on a database of utf8 keys and Uint8Array values reads back what it wrote', async (t) => {
  const db = new MemoryLevel<string, Uint8Array>({ keyEncoding: 'utf8', valueEncoding: 'view' })
  t.teardown(async () => { await db.close() })
  const a = new Model({ db })
  await a.open()
  await a.set('k', 'v')
  await a.set('j', [1, 2])
  const clock = a.clock
  await a.close()
  const b = new Model({ db })
  await b.open()
  t.deepEqual(b.clock, clock, 'the clock is read back')
  t.equal(await b.get('k'), 'v', 'a value is read back')
  const history: unknown[] = []
  for await (const update of b.history()) history.push(update[0])
  t.deepEqual(history, [['k', 'v'], ['j', [1, 2]]], 'the history is read back')
  await b.close()
})
