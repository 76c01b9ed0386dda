import test, { type Test } from 'tape'
import { MemoryLevel } from 'memory-level'
import { Collection, Events, Model, Value, codes, type CollectionOptions } from '../lib/index.js'
import { rejects, tempDir } from './helpers.js'

/** An open collection, closed when the test ends. */
async function collection (t: Test, options: Partial<CollectionOptions> = {}): Promise<Collection> {
  const c = new Collection({ db: new MemoryLevel(), ...options })
  await c.open()
  t.teardown(async () => { await c.close() })
  return c
}

test('collection: doc() creates a document of the asked type and concurrent calls share one open', async (t) => {
  const c = await collection(t)
  const [a, b] = await Promise.all([c.doc('notes', Model), c.doc('notes')])
  t.equal(a, b, 'one instance for both calls')
  t.ok(a instanceof Model, 'the default type is Model')
  await a.set('k', 1)
  const events = await c.doc('log', 'Events')
  t.ok(events instanceof Events, 'a type given by name')
  t.deepEqual([...c.names()], ['notes', 'log'], 'names in creation order')
  t.equal(c.typeOf('log'), 'Events', 'typeOf reads the catalog')
  t.equal(c.has('nothing'), false, 'has() is false for an unknown name')
})

test('collection: a type is refused when the name holds another type, or is not registered', async (t) => {
  const c = await collection(t)
  await c.doc('v', Value)
  try {
    await c.doc('v', Model)
    t.fail('resolved')
  } catch (err) {
    t.equal((err as { code?: string }).code, codes.TYPE_MISMATCH, 'TYPE_MISMATCH')
  }
  try {
    await c.doc('w', 'Nope')
    t.fail('resolved')
  } catch (err) {
    t.equal((err as { code?: string }).code, codes.UNKNOWN_TYPE, 'UNKNOWN_TYPE')
  }
  await rejects(t, c.doc('', Model), TypeError, 'an empty name is a TypeError')
  t.throws(() => new Collection({ db: new MemoryLevel(), maxOpen: 0 }), TypeError, 'maxOpen must be positive')
  for (const bad of [0, -1, 1.5, Infinity, '1024']) {
    t.throws(() => new Collection({ db: new MemoryLevel(), maxPeerEntryBytes: bad as number }), /maxPeerEntryBytes must be a positive integer/, `maxPeerEntryBytes ${String(bad)} is a TypeError`)
  }
})

test('collection: the type and data of each document survive a reopen on disk', async (t) => {
  const dir = await tempDir(t)
  const first = new Collection({ db: dir })
  await first.open()
  const id = first.id
  await (await first.doc('m', Model)).set('x', 'y')
  await (await first.doc('v', Value)).set(42)
  await (await first.doc('e', Events)).emit('hello', 'world')
  await first.close()

  const second = new Collection({ db: dir })
  await second.open()
  t.teardown(async () => { await second.close() })
  t.equal(second.id, id, 'the collection keeps its id')
  t.equal(second.typeOf('v'), 'Value', 'the type came from the catalog')
  const v = await second.doc('v')
  t.ok(v instanceof Value, 'opened as a Value without being told')
  t.equal(await (v as Value).get(), 42, 'with its value')
  t.equal(await (await second.doc('m', Model)).get('x'), 'y', 'the Model kept its data')
  t.equal((await second.doc('m')).id, id, 'documents carry the collection id')
})

test('collection: idle documents beyond maxOpen are closed, least recently used first, and reopen on use', async (t) => {
  const c = await collection(t, { maxOpen: 2 })
  const closed: string[] = []
  c.on('documentClose', (name) => { closed.push(name) })
  const a = await c.doc('a', Model)
  await a.set('k', 'a')
  await c.doc('b', Model)
  await c.doc('a') // a is now the most recent
  await c.doc('c', Model)
  await new Promise((resolve) => setTimeout(resolve, 10))
  t.deepEqual(closed, ['b'], 'the least recently used idle document was closed')
  t.deepEqual(c.opened.sort(), ['a', 'c'], 'two open')
  await c.doc('d', Model)
  await new Promise((resolve) => setTimeout(resolve, 10))
  t.deepEqual(closed, ['b', 'a'], 'then a')
  t.equal(a.status, 'closed', 'the old instance is closed')
  const again = await c.doc('a', Model)
  t.notEqual(again, a, 'a new instance')
  t.equal(await again.get('k'), 'a', 'with the data')
})

test('collection: use() holds a document open while it runs, whatever maxOpen says', async (t) => {
  const c = await collection(t, { maxOpen: 1 })
  const result = await c.use('held', async (doc: Model) => {
    await c.doc('other', Model)
    await c.doc('third', Model)
    await new Promise((resolve) => setTimeout(resolve, 10))
    t.equal(doc.status, 'open', 'still open under pressure')
    await doc.set('k', 'v')
    return await doc.get('k')
  }, Model)
  t.equal(result, 'v', 'use() resolves with the function result')
})

test('collection: close() closes every document and the database it opened', async (t) => {
  const dir = await tempDir(t)
  const c = new Collection({ db: dir })
  await c.open()
  const docs = await Promise.all(['a', 'b', 'c'].map(async (name) => await c.doc(name, Model)))
  await c.close()
  t.ok(docs.every((d) => d.status === 'closed'), 'every document closed')
  t.equal(c.status, 'closed', 'the collection is closed')
  const again = new Collection({ db: dir })
  await again.open()
  t.equal(again.size, 3, 'the database was released and reopens')
  await again.close()
})

test('collection: a document with a replication stream of its own is never closed for being idle', async (t) => {
  const c = await collection(t, { maxOpen: 1 })
  const pinned = await c.doc('pinned', Model)
  const stream = pinned.createStream()
  await c.doc('b', Model)
  await c.doc('c', Model)
  await new Promise((resolve) => setTimeout(resolve, 10))
  t.equal(pinned.status, 'open', 'open while it has a stream')
  stream.destroy()
  await new Promise((resolve) => setTimeout(resolve, 10))
  await c.doc('d', Model)
  await new Promise((resolve) => setTimeout(resolve, 10))
  t.equal(pinned.status, 'closed', 'closed once the stream is gone and it is idle')
})

test('collection: a document whose creation a close cut short is not left in the catalog', async (t) => {
  const dir = await tempDir(t)
  const c = new Collection({ db: dir })
  await c.open()
  await c.use('kept', async (doc: Model) => { await doc.set('k', 1) }, Model)
  // The close begins while the new document opens: its open fails, and so does doc().
  const creating = c.doc('cut-short', Model)
  const closing = c.close()
  await rejects(t, creating, Error, 'doc() rejects: the collection is closing')
  await closing
  const again = new Collection({ db: dir })
  await again.open()
  t.teardown(async () => { await again.close() })
  t.deepEqual(again.names(), ['kept'], 'only the document that was written is listed')
  t.equal(again.typeOf('cut-short'), undefined, 'the cut-short one has no record')
  const doc = await again.doc('cut-short', Model)
  await doc.set('k', 2)
  t.deepEqual(again.names(), ['kept', 'cut-short'], 'and can be created again')
})

test('collection: a document whose open failed is forgotten, and a later call creates it anew', async (t) => {
  // A type whose constructor refuses its options: nothing is opened or written.
  let refuse = true
  class Fussy extends Model {
    constructor (options: ConstructorParameters<typeof Model>[0]) {
      if (refuse) throw new TypeError('not today')
      super(options)
    }
  }
  const c = await collection(t, { types: { Fussy } })
  await rejects(t, c.doc('f', 'Fussy'), TypeError, 'the open fails')
  t.deepEqual(c.names(), [], 'no document is listed')
  refuse = false
  const doc = await c.doc('f', Fussy)
  await doc.set('k', 1)
  t.deepEqual(c.names(), ['f'], 'created on the next call')
})

test('collection: a commit of many updates is one change: one sequence number, recorded when the document closes', async (t) => {
  const dir = await tempDir(t)
  const c = new Collection({ db: dir })
  await c.open()
  const doc = await c.doc('many', Model)
  await doc.set('first', 0)
  await new Promise((resolve) => setImmediate(resolve))
  const before = c._catalog.seq
  t.equal(c._catalog.get('many')?.seq, before, 'the first change took the latest number')
  await doc.batch(Array.from({ length: 100 }, (_, i) => ({ type: 'put' as const, key: `k${i}`, value: i })))
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(c._catalog.seq, before + 1, 'a batch of 100 updates took one number, not 100')
  t.equal(c._catalog.get('many')?.seq, before + 1, 'the document holds it')
  // Changed, then closed at once: the record written at close carries the change's number.
  const last = doc.batch([{ type: 'put', key: 'late', value: 1 }])
  await doc.close()
  await last
  const changed = c._catalog.get('many')?.seq as number
  t.ok(changed > before + 1, 'the change made while closing took a new number')
  await c.close()
  const again = new Collection({ db: dir })
  await again.open()
  t.teardown(async () => { await again.close() })
  t.equal(again._catalog.get('many')?.seq, changed, 'the record on disk has the number of the last change')
  t.deepEqual(await (await again.doc('many', Model)).get('late'), 1, 'and the change itself')
})
