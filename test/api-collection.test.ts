import test from 'tape'
import { MemoryLevel } from 'memory-level'
import { Collection, Model } from '../lib/index.js'
import { once } from 'node:events'
import { pipeline } from 'node:stream'
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

test('collection: a document its caller closed is opened again by doc(), use() and a sync', async (t) => {
  const a = new Collection({ db: new MemoryLevel() })
  const b = new Collection({ db: new MemoryLevel() })
  await a.open()
  await b.open()
  t.teardown(async () => { await a.close(); await b.close() })
  const first = await a.doc('x', Model)
  await first.set('k', 'before')
  const closing = first.close()
  const again = await a.doc('x', Model)
  await closing
  t.notEqual(again, first, 'doc() while the caller closes it opens a new instance')
  t.equal(await again.get('k'), 'before', 'holding what was stored')
  await again.close()
  t.equal(await a.use('x', async (m: Model) => { await m.set('k', 'after'); return await m.get('k') }), 'after', 'use() after the caller closed it')
  await (await a.doc('x', Model)).close()
  t.deepEqual(a.opened, [], 'a document its caller closed is not listed as open')
  const sa = a.createStream()
  const sb = b.createStream()
  const failed: unknown[] = []
  pipeline(sa, sb, sa, (err) => { if (err != null) failed.push(err) })
  await Promise.all([once(sa, 'sync'), once(sb, 'sync')])
  t.deepEqual(failed, [], 'the sync does not fail')
  t.equal(await (await b.doc('x', Model)).get('k'), 'after', 'the peer has its updates')
  sa.destroy()
})

test('collection: createStream() refuses options that are not an object, a peer that is not a string and a bufferAccount that is not one, with a TypeError', async (t) => {
  const c = new Collection({ db: new MemoryLevel() })
  await c.open()
  t.teardown(async () => { await c.close() })
  for (const options of [null, 5, { peer: 5 }, { peer: {} }, { bufferAccount: {} }, { bufferAccount: 5 }]) {
    t.throws(() => c.createStream(options as never), (err: unknown) => err instanceof TypeError && !/Cannot read/.test(err.message), JSON.stringify(options))
  }
  t.equal(c.createStream({ peer: 'AB' }).destroy().destroyed, true, 'a string peer is taken')
})
