// Review: the crash check that drops a peer's provisional document (Catalog#empty) looks
// for the document's records under the ROOT database's sublevel, but a collection opened
// on a sublevel stores them under its own. After a crash, an honest peer's document whose
// updates were stored is dropped from the catalog (and its number handed out again).
import test from 'tape'
import { MemoryLevel } from 'memory-level'
import { Collection, Model } from '../lib/index.js'
import { linkCollections, memoryCollection } from './collection-helpers.js'

/** A copy of every record of `db`: what the disk held when the process died. */
async function crashCopy (db: MemoryLevel): Promise<MemoryLevel> {
  const copy = new MemoryLevel()
  for await (const [key, value] of db.iterator({ keyEncoding: 'buffer', valueEncoding: 'buffer' })) await copy.put(key, value, { keyEncoding: 'buffer', valueEncoding: 'buffer' })
  return copy
}

test('review: a crash keeps an honest peer\'s document in a collection on a sublevel', async (t) => {
  const root = new MemoryLevel()
  const c = new Collection({ db: root.sublevel('app') })
  await c.open()
  t.teardown(async () => { await c.close() })
  const a = await memoryCollection(t)
  await (await a.doc('notes', Model)).set('k', 'v')
  const link = linkCollections(a, c)
  await link.synced
  t.equal(await (await c.doc('x', Model)).get('k'), undefined, 'another document, opened locally')
  const notes = c._current('notes') as Model | undefined
  t.equal(await notes?.get('k'), 'v', 'the peer\'s document holds its value (open, taken from the peer)')
  // Give the catalog's writes time to land, then "crash": a copy of the disk as it is.
  await new Promise((resolve) => setTimeout(resolve, 50))
  const disk = await crashCopy(root)
  link.a.destroy()
  await link.closed

  const again = new Collection({ db: disk.sublevel('app') })
  await again.open()
  t.teardown(async () => { await again.close() })
  t.ok(again.names().includes('notes'), `the document is still listed after the restart (names: ${again.names().join(', ')})`)
  t.equal(await (await again.doc('notes', Model)).get('k'), 'v', 'and still holds its value')
})
