import test from 'tape'
import { Model, type Update } from '../lib/index.js'
import { tempDir } from './helpers.js'

/** Feed one remote update into a model (as a stream would). */
async function receive (model: Model, update: Update): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    model._receive(update, undefined, undefined, (err) => { if (err === null) resolve(); else reject(err) })
  })
}

/** Count the model's single-update log reads (what Model#pinnedKeys does for each pin). */
function countReads (model: Model): () => number {
  const storage = (model as unknown as { _storage: { readUpdate: (...args: unknown[]) => Promise<unknown> } })._storage
  const read = storage.readUpdate.bind(storage)
  let reads = 0
  storage.readUpdate = async (...args) => { reads++; return await read(...args) }
  return () => reads
}

test('a purge reads each pinned update once, not once per page of expired deletes, and not at all when nothing expired', async (t) => {
  let wall = 1_800_000_000_000
  const model = new Model({ db: await tempDir(t), id: 'LOCAL', now: () => wall, tombstoneTTL: 1000, maxClockSkew: Infinity })
  await model.open()
  t.teardown(async () => { await model.close() })
  const PINS = 200
  // Each remote source's only update is superseded by a local write: it stays pinned (its source's latest).
  for (let i = 0; i < PINS; i++) await receive(model, [[`p${i}`, 'remote'], wall - 10_000 + i, `S${i}`])
  await model.batch(Array.from({ length: PINS }, (_, i) => ({ type: 'put' as const, key: `p${i}`, value: 'local' })))
  t.equal(model._pinnedCopy().size, PINS, `${PINS} sources have a pinned, superseded update`)
  // Three index pages (4096 entries each) of expired deletes, then a later write so none is LOCAL's latest.
  const DELETES = 2 * 4096 + 100
  await model.batch(Array.from({ length: DELETES }, (_, i) => ({ type: 'del' as const, key: `d${i}` })))
  await model.set('last', 1)
  wall += 5000
  const reads = countReads(model)
  t.equal(await model.purge(), DELETES, 'every expired delete is forgotten')
  t.ok(reads() <= PINS, `the purge read the ${PINS} pinned updates at most once each (read ${reads()})`)
  const before = reads()
  t.equal(await model.purge(), 0, 'nothing more to forget')
  t.equal(reads() - before, 0, `a purge with nothing expired reads no pinned update (read ${reads() - before})`)
  t.equal(await model.get('p7'), 'local', 'a pinned key keeps its value')
})
