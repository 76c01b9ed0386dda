import test from 'tape'
import { MemoryLevel } from 'memory-level'
import { Collection, Model } from '../lib/index.js'
import { tempDir } from './helpers.js'

/** The code a promise rejects with, 'TypeError' for an uncoded TypeError, or 'resolved'. */
async function outcome (promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
    return 'resolved'
  } catch (err) {
    const code = (err as { code?: unknown }).code
    return code === undefined && err instanceof TypeError ? 'TypeError' : code
  }
}

test('collection: doc() and use() with an unregistered constructor reject SCUTTLEDB_UNKNOWN_TYPE, like an unregistered name', async (t) => {
  const c = new Collection({ db: new MemoryLevel() })
  await c.open()
  t.teardown(async () => { await c.close() })
  class Unregistered extends Model {}
  t.equal(await outcome(c.doc('a', Unregistered)), 'SCUTTLEDB_UNKNOWN_TYPE', 'doc(name, constructor)')
  t.equal(await outcome(c.doc('a', 'Bogus')), 'SCUTTLEDB_UNKNOWN_TYPE', 'doc(name, name)')
  t.equal(await outcome(c.use('a', () => 1, Unregistered)), 'SCUTTLEDB_UNKNOWN_TYPE', 'use(name, fn, constructor)')
  t.equal(await outcome(c.doc('a', 5 as never)), 'TypeError', 'a type that is neither a name nor a constructor is a TypeError')
  t.equal(c.has('a'), false, 'nothing was created')
})

test('collection: names() is an array in creation order, also after a reopen', async (t) => {
  const dir = await tempDir(t)
  const created = ['zebra', 'apple', 'mango', 'b']
  const c = new Collection({ db: dir })
  await c.open()
  for (const name of created) await c.doc(name)
  t.ok(Array.isArray(c.names()), 'an array')
  t.deepEqual(c.names(), created, 'in creation order')
  await c.close()
  const again = new Collection({ db: dir })
  await again.open()
  t.teardown(async () => { await again.close() })
  t.deepEqual(again.names(), created, 'in creation order after a reopen (the catalog is stored in key order)')
  await again.doc('aardvark')
  t.deepEqual(again.names(), [...created, 'aardvark'], 'a document created after the reopen comes last')
})
