import test from 'tape'
import { MemoryLevel } from 'memory-level'
import { Collection, Model, codes } from '../lib/index.js'

// docs/collections.md, `collection.close()`: work on documents already open when close() is
// called commits; a doc()/use() whose document was still to be opened rejects and writes nothing.
test('collection close(): open documents\' work commits, a document still to be opened is refused and leaves nothing', async (t) => {
  const db = new MemoryLevel()
  const c = new Collection({ db })
  await c.open()
  await c.use('warm', async (doc: Model) => { await doc.set('x', 0) }, Model)
  const held = await c.doc('warm', Model)
  const settle = async (p: Promise<unknown>): Promise<string> => await p.then(() => 'ok', (err: { code?: string }) => err.code ?? String(err))
  const cold = settle(c.use('cold', async (doc: Model) => { await doc.set('a', 1) }, Model))
  const warm = settle(c.use('warm', async (doc: Model) => { await doc.set('b', 2) }, Model))
  const set = settle(held.set('c', 3))
  await c.close()
  t.equal(await cold, codes.NOT_OPEN, 'use() of a document still to be opened rejects with SCUTTLEDB_NOT_OPEN')
  t.equal(await warm, 'ok', 'use() of an open document runs to its end')
  t.equal(await set, 'ok', 'a set() on a held document commits')

  const again = new Collection({ db })
  await again.open()
  t.deepEqual(again.names().sort(), ['warm'], 'nothing of the refused document is in the catalog')
  t.deepEqual(await again.use('warm', async (doc: Model) => await doc.toJSON(), Model), { x: 0, b: 2, c: 3 }, 'every write made before close() is stored')
  await again.close()
})
