/**
 * The failures test/faults-collection.test.ts found, each as one targeted fault
 * (the fixture's `match`: the Nth write touching a key pattern fails), so that
 * each regression test fails without its fix whatever the timing.
 */
import test, { type Test } from 'tape'
import { MemoryLevel } from 'memory-level'
import { Collection, Model } from '../lib/index.js'
import { FaultyMemoryLevel } from './fixtures/faulty-level.js'
import { crashWatch, deadline } from './fault-matrix.js'
import { divergent, linkCollections, type CollectionLink } from './collection-helpers.js'

/** A collection on a faulty memory-level of binary values (the direct paths), and a healthy peer; all closed when the test ends. */
async function setup (t: Test): Promise<{ db: FaultyMemoryLevel, c: Collection, peer: Collection }> {
  const db = new FaultyMemoryLevel({ valueEncoding: 'buffer' } as never)
  const c = new Collection({ db })
  const peer = new Collection({ db: new MemoryLevel() })
  await Promise.all([c.open(), peer.open()])
  t.teardown(async () => {
    db.plan.disarm()
    await Promise.all([c.close().catch(() => {}), peer.close()])
    await db.close()
  })
  return { db, c, peer }
}

/** Link, wait for sync (true) or for the link to close first (false), unlink. */
async function syncOnce (x: Collection, y: Collection): Promise<boolean> {
  const link: CollectionLink = linkCollections(x, y)
  const synced = await Promise.race([link.synced.then(() => true), link.closed.then(() => false)])
  link.a.destroy()
  await link.closed
  return synced
}

const set = async (c: Collection, name: string, key: string, value: string): Promise<void> => {
  await c.use(name, async (doc: Model) => { await doc.set(key, value) }, Model)
}

test('a failed write of the catalog\'s sequence reservation is no unhandled rejection, and the next sync reserves again', async (t) => {
  const crashes = crashWatch(t)
  const { db, c, peer } = await setup(t)
  db.plan.arm(1, 'before', false, /^!cmeta!seq$/)
  // Creating the document hands out the first sequence number: its reservation is written with the record, and fails.
  await set(c, 'doc', 'k', 'v').catch(() => {})
  t.ok(db.plan.fired !== undefined, 'the reservation write failed')
  await new Promise((resolve) => setImmediate(resolve))
  t.deepEqual(crashes, [], 'no unhandled rejection')
  db.plan.disarm()
  t.ok(await deadline(syncOnce(c, peer), 'sync'), 'a sync (which announces only reserved numbers) completes with a healthy store')
})

test('updates of a document that could not be opened are asked for again by the next sync', async (t) => {
  const { db, c, peer } = await setup(t)
  await set(peer, 'p0', 'from', 'the peer')
  // The new document's record is written twice (created, then marked open before it opens): the second fails, so it does not open.
  db.plan.arm(2, 'before', false, /^!catalog!p0$/)
  const errors: string[] = []
  c.on('documentError', (name) => { errors.push(name) })
  t.ok(await deadline(syncOnce(c, peer), 'first sync'), 'the first sync completes without that document')
  t.deepEqual(errors, ['p0'], 'p0 failed to open (documentError)')
  db.plan.disarm()
  t.ok(await deadline(syncOnce(c, peer), 'second sync'), 'a second sync completes')
  t.deepEqual(await divergent(c, peer), [], 'and brings p0: what was not stored was not recorded as received')
})

test('a commit whose write landed but could not be read back is counted when the document closes after the store healed', async (t) => {
  const { db, c, peer } = await setup(t)
  await set(c, 'doc', 'a', 'first')
  // The commit lands and reports failure; the read-back fails too (everything fails until disarmed): the outcome is unknown.
  db.plan.arm(1, 'after', true, /^!d0!!log!/)
  await set(c, 'doc', 'b', 'second').then(() => t.fail('the write was acknowledged'), (err: { code?: unknown }) => { t.ok(err.code !== undefined, `the write was refused (${String(err.code)})`) })
  db.plan.disarm()
  await c.close()
  // The catalog's record of the closed document's clock is what a sync serves its history by.
  const again = new Collection({ db })
  await again.open()
  const recorded = again._catalog.get('doc')?.clock
  const held = await again.use('doc', (doc: Model) => doc.clock, Model)
  t.deepEqual(Object.fromEntries(recorded ?? new Map()), held, 'the catalog records the clock the document holds')
  t.ok(await deadline(syncOnce(again, peer), 'sync'), 'a sync completes')
  t.equal(await peer.use('doc', async (doc: Model) => await doc.get('b'), Model), 'second', 'the peer has the update that landed')
  await again.close()
})

test('close() settles only once every document has closed, even when one failed to', async (t) => {
  const { db, c } = await setup(t)
  await set(c, 'doc0', 'a', 'zero')
  await set(c, 'doc1', 'a', 'one')
  const docs = await Promise.all([c.doc('doc0'), c.doc('doc1')])
  // doc1's next commit lands, fails, and cannot be read back: it has more to do when it closes than doc0.
  db.plan.arm(1, 'after', true, /^!d1!!log!/)
  await set(c, 'doc1', 'b', 'lost?').catch(() => {})
  const closed = await c.close().then(() => 'resolved', (err: { code?: unknown }) => `rejected (${String(err.code)})`)
  t.deepEqual(docs.map((doc) => doc.status), ['closed', 'closed'], `when close() ${closed}, every document is closed`)
  t.equal(c.status, 'closed', 'the collection is closed')
  const writes = db.plan.writes.length
  db.plan.disarm()
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(db.plan.writes.length, writes, 'nothing more is written after close() settled')
})

test('a commit whose outcome is still unknown when its document closes leaves the document\'s clock unknown in the catalog', async (t) => {
  const { db, c, peer } = await setup(t)
  await set(c, 'doc', 'a', 'first')
  // The commit lands and reports failure, and from then on reads fail (writes still land): the outcome stays unknown through close.
  db.plan.readsFailAfter = true
  db.plan.arm(1, 'after', false, /^!d0!!log!/)
  await set(c, 'doc', 'b', 'second').then(() => t.fail('the write was acknowledged'), (err: { code?: unknown }) => { t.ok(err.code !== undefined, `the write was refused (${String(err.code)})`) })
  await c.close().catch(() => {})
  db.plan.readsFailAfter = false
  db.plan.disarm()
  const again = new Collection({ db })
  await again.open()
  const recorded = again._catalog.get('doc')?.clock
  const held = await again.use('doc', (doc: Model) => doc.clock, Model)
  t.ok(recorded === undefined || JSON.stringify(Object.fromEntries(recorded)) === JSON.stringify(held), 'the catalog records no clock, or the one the document holds')
  t.ok(await deadline(syncOnce(again, peer), 'sync'), 'a sync completes')
  t.equal(await peer.use('doc', async (doc: Model) => await doc.get('b'), Model), 'second', 'the peer has the update that landed')
  await again.close()
})
