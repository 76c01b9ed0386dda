import test from 'tape'
import { Model, type Update } from '../lib/index.js'
import { tempDir } from './helpers.js'

/** Feed one remote update into a model (as a stream would); resolves once it is settled. */
async function receive (model: Model, update: Update): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    model._receive(update, undefined, undefined, (err) => { if (err === null) resolve(); else reject(err) })
  })
}

test('with thousands of sources whose deletes were forgotten, a commit of one remote update does not walk every one of them', async (t) => {
  let wall = 1_800_000_000_000
  const model = new Model({ db: await tempDir(t), id: 'LOCAL', now: () => wall, tombstoneTTL: 1000, maxClockSkew: Infinity })
  await model.open()
  t.teardown(async () => { await model.close() })
  const SOURCES = 3000
  // Each source deletes a key, then writes another one: its delete is not its latest, so it can be forgotten.
  for (let i = 0; i < SOURCES; i++) {
    await receive(model, [[`d${i}`, null], wall - 20_000 + i, `S${i}`])
    await receive(model, [[`v${i}`, 1], wall - 10_000 + i, `S${i}`])
  }
  wall += 5000
  // (The purge timer, every tombstoneTTL here, may have forgotten some already.)
  await model.purge()
  t.equal(model._forgottenCopy().size, SOURCES, `${SOURCES} sources have a forgotten delete`)

  // Count the values walked out of Map iterators while remote updates commit one at a time.
  const values = Map.prototype.values
  let walked = 0
  Map.prototype.values = function (this: Map<unknown, unknown>) {
    const it = values.call(this)
    const next = it.next.bind(it)
    it.next = () => { walked++; return next() }
    return it
  }
  const COMMITS = 50
  try {
    for (let i = 0; i < COMMITS; i++) {
      wall += 1
      await receive(model, [[`live${i}`, i], wall, 'LIVE'])
    }
  } finally {
    Map.prototype.values = values
  }
  t.equal(await model.get('live49'), 49, 'the live updates committed')
  t.ok(walked < COMMITS * 100, `${COMMITS} single-update commits walked ${walked} map values (${SOURCES} forgotten sources each: ${COMMITS * SOURCES})`)
})

test('after a reopen, a remote update older than a forgotten delete is still refused (SCUTTLEDB_STALE_UPDATE)', async (t) => {
  let wall = 1_800_000_000_000
  const dir = await tempDir(t)
  const options = { db: dir, id: 'LOCAL', now: () => wall, tombstoneTTL: 60_000, maxClockSkew: Infinity }
  const first = new Model(options)
  await first.open()
  const del = wall - 100_000
  await receive(first, [['k', null], del, 'S'])
  await receive(first, [['other', 1], del + 10, 'S'])
  t.equal(await first.purge(), 1, 'the delete is forgotten')
  await first.close()
  wall += 1000
  const model = new Model(options)
  await model.open()
  t.teardown(async () => { await model.close() })
  const codes: string[] = []
  model.on('rejected', (err) => codes.push(err.code))
  await receive(model, [['k', 'back'], del - 5, 'T'])
  t.deepEqual(codes, ['SCUTTLEDB_STALE_UPDATE'], 'an update from before the forgotten delete is refused')
  t.equal(await model.get('k'), undefined, 'and not stored')
})
