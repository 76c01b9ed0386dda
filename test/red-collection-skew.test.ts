import test from 'tape'
import { join } from 'node:path'
import { Collection, Model, type ScuttledbError } from '../lib/index.js'
import { linkCollections, quiet } from './collection-helpers.js'
import { link, tempDir } from './helpers.js'

// README, "Peers converge: no update may fail to reach a peer that ... reconnects";
// SCUTTLEDB_CLOCK_SKEW: "it is rejected, the stream goes on". A single document's
// stream asks again on the next connection (the receiver's clock lacks the update).
// A collection records the peer's `done` all the same, so the next sync skips the
// document and the update never arrives, unless the document changes again.

test('a collection update refused as too far ahead arrives on a later sync once the clocks agree', async (t) => {
  const dir = await tempDir(t)
  let offset = 0
  const a = new Collection({ db: join(dir, 'a'), id: 'A', now: () => Date.now() + 120_000 })
  const b = new Collection({ db: join(dir, 'b'), id: 'B', now: () => Date.now() + offset })
  await a.open()
  await b.open()
  t.teardown(async () => { await a.close(); await b.close() })
  const errors: string[] = []
  b.on('documentError', (_name: string, err: ScuttledbError) => { errors.push(err.code) })
  await (await a.doc('x', Model)).set('k', 'v')

  const first = linkCollections(a, b)
  await first.synced
  await quiet([first.a, first.b])
  first.a.destroy()
  await first.closed
  t.deepEqual(errors, ['SCUTTLEDB_CLOCK_SKEW'], 'the first sync refused the update as too far ahead')

  offset = 120_000 // b's clock catches up: the update is no longer ahead
  const second = linkCollections(a, b)
  await second.synced
  await quiet([second.a, second.b])
  t.equal(await b.use('x', async (doc: Model) => await doc.get('k'), Model), 'v', 'the update reached b on the later sync')
  second.a.destroy()
  await second.closed
})

test('(control) the same with two Models converges on the later sync', async (t) => {
  const dir = await tempDir(t)
  let offset = 0
  const a = new Model({ db: join(dir, 'a'), now: () => Date.now() + 120_000 })
  const b = new Model({ db: join(dir, 'b'), now: () => Date.now() + offset })
  await a.open()
  await b.open()
  t.teardown(async () => { await a.close(); await b.close() })
  await a.set('k', 'v')
  const first = link(a, b)
  await first.synced
  first.a.destroy()
  await first.closed
  t.equal(await b.get('k'), undefined, 'refused while too far ahead')
  offset = 120_000
  const second = link(a, b)
  await second.synced
  t.equal(await b.get('k'), 'v', 'arrives once the clocks agree')
  second.a.destroy()
  await second.closed
})
