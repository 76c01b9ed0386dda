import test from 'tape'
import { once } from 'node:events'
import { pipeline } from 'node:stream'
import { join } from 'node:path'
import { Collection, Model, type ScuttledbError } from '../lib/index.js'
import { tempDir } from './helpers.js'

async function sync (x: Collection, y: Collection): Promise<void> {
  const sx = x.createStream()
  const sy = y.createStream()
  const closed = new Promise<void>((resolve) => { pipeline(sx, sy, sx, () => { resolve() }) })
  await Promise.all([once(sx, 'syncReceived'), once(sy, 'syncReceived')])
  sx.destroy()
  await closed
}

// A collection refuses a stale peer's updates of a document (SCUTTLEDB_STALE_PEER) but
// still sends it that document's history: the forgotten delete is not in it, the
// peer's clock moves past it, and from the next sync on the peer is admitted while it
// still holds the value the delete removed. It is never told; a fresh node synced
// from it takes the deleted value.
test('red10m: a collection sends a stale peer the history of a document it refuses: the peer keeps the deleted value, unrefused from then on', async (t) => {
  let wall = 1_800_000_000_000
  const now = (): number => wall
  const dir = await tempDir(t)
  const x = new Collection({ db: join(dir, 'x'), id: 'X', now, maxClockSkew: Infinity, documentOptions: () => ({ tombstoneTTL: 1000 }) })
  const y = new Collection({ db: join(dir, 'y'), id: 'Y', now, maxClockSkew: Infinity })
  const n = new Collection({ db: join(dir, 'n'), id: 'N', now, maxClockSkew: Infinity })
  await x.open()
  await y.open()
  await n.open()
  t.teardown(async () => { await x.close(); await y.close(); await n.close() })
  await (await y.doc('doc', Model)).set('k', 'stale value')
  wall += 10
  const xd = await x.doc('doc', Model)
  await xd.set('k', null)
  await xd.set('kept', 1)
  wall += 5000
  t.equal(await xd.purge(), 1, 'x forgot its delete of k')
  const errors: string[] = []
  x.on('documentError', (_name, err: ScuttledbError) => { if (err.code === 'SCUTTLEDB_STALE_PEER') errors.push(err.code) })
  await sync(x, y)
  t.deepEqual(errors, ['SCUTTLEDB_STALE_PEER'], 'the first sync refuses y for the document')
  // y writes to the document again, so that the next sync offers it.
  await (await y.doc('doc', Model)).set('k2', 'new')
  await sync(x, y)
  const yk = await (await y.doc('doc', Model)).get('k')
  t.ok(yk === undefined || errors.length === 2, `y, still holding k = ${String(yk)} (deleted at x), is refused again on the next sync (refusals: ${errors.join(', ')})`)
  // A fresh node synced from y holds what y holds: x must refuse it too, or agree with it.
  await sync(y, n)
  const before = errors.length
  await sync(x, n)
  const nk = await (await n.doc('doc', Model)).get('k')
  t.ok(nk === await xd.get('k') || errors.length > before, `a fresh node synced from y (k = ${String(nk)}) agrees with x on k or is refused by x`)
})
