import test from 'tape'
import { MemoryLevel } from 'memory-level'
import { Model, type Transaction, type Update } from '../lib/index.js'
import { link, until } from './helpers.js'

// A user's data type whose _applyUpdate throws on one update (a bug, or a peer's update
// it did not foresee) failed the whole commit batch that update landed in: the local
// set()s and the other peers' updates sharing that commit were failed with the data
// type's error, and the other peers' streams closed. Now only that update fails (its
// stream closes with SCUTTLEDB_INVALID_MESSAGE); the rest commits without it.
class Fragile extends Model {
  fragile = false
  protected override _applyUpdate (update: Update, tx: Transaction): boolean | Promise<boolean> {
    if (this.fragile && (update[0] as unknown[])[1] === 'boom') throw new Error('boom cannot be applied')
    return super._applyUpdate(update, tx)
  }
}

async function open (t: test.Test): Promise<Fragile> {
  const model = new Fragile({ db: new MemoryLevel() })
  await model.open()
  t.teardown(async () => { await model.close() })
  return model
}

test("an update the data type cannot apply fails alone: local writes and another peer's updates in its commit go on", async (t) => {
  const a = await open(t)
  a.fragile = true
  const bad = await open(t)
  const good = await open(t)
  for (let i = 0; i < 3000; i++) void good.set(`g${i}`, i)
  for (let i = 0; i < 3000; i++) void bad.set(`b${i}`, i === 1500 ? 'boom' : i)
  await good.set('g-last', true)
  await bad.set('b-last', true)

  // A local write as each chunk of either peer arrives: queued with that chunk's updates,
  // so the commit holding the update that cannot be applied holds local writes too.
  let localWrites = 0
  let localFailures = 0
  const writes: Array<Promise<void>> = []
  const write = (): void => {
    const n = localWrites++
    writes.push(a.set(`a${n}`, n).catch(() => { localFailures++ }))
  }
  const toGood = link(a, good)
  const toBad = link(a, bad)
  toBad.synced.catch(() => {}) // it closes with an error before its sync
  toBad.b.on('data', write)
  toGood.b.on('data', write)
  const badClosed = await toBad.closed
  const goodSynced = await Promise.race([toGood.synced.then(() => true), toGood.closed.then(() => false)])
  const arrived = await until(async () => (await a.get('g-last')) === true, 10_000)
  await Promise.all(writes)

  t.equal((badClosed as { code?: string } | null)?.code, 'SCUTTLEDB_INVALID_MESSAGE', 'the stream that brought the update closes with SCUTTLEDB_INVALID_MESSAGE')
  t.ok(goodSynced, 'the other peer\'s stream syncs and stays open')
  t.ok(arrived, 'every update of the other peer arrives')
  let goods = 0
  for (let i = 0; i < 3000; i++) if ((await a.get(`g${i}`)) === i) goods++
  t.equal(goods, 3000, 'all 3000 of the other peer\'s values are stored')
  t.ok(localWrites > 2, `local writes were made during the sync (${localWrites})`)
  t.equal(localFailures, 0, 'no local set() failed')
  t.equal(await a.get('b1500'), undefined, 'the update that cannot be applied is not stored')
  t.ok(a.clock[bad.id] === undefined || a.clock[bad.id] < bad.clock[bad.id], 'nor does the clock pass it')
  toGood.a.destroy()
  await toGood.closed
})
