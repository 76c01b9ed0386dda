import test from 'tape'
import { Model, codes, type Update } from '../lib/index.js'
import { allHistory, link, memoryModel, tempDir } from './helpers.js'

type Stamped = Update<[string, unknown]>

/** Open a Model on `dir` (classic-level), closed when the test ends. */
async function openAt (t: test.Test, dir: string, options: Partial<ConstructorParameters<typeof Model>[0]> = {}): Promise<Model> {
  const model = new Model({ ...options, db: dir })
  t.teardown(async () => { await model.close() })
  await model.open()
  return model
}

async function updates (model: Model): Promise<Stamped[]> {
  return await allHistory(model) as Stamped[]
}

/** Everything a reopen must preserve. */
async function snapshot (model: Model): Promise<{ id: string, clock: Record<string, number>, history: Stamped[], values: Record<string, unknown> }> {
  return { id: model.id, clock: model.clock, history: await updates(model), values: await model.toJSON() }
}

test('close and reopen keeps the id, the clock, the history and every value, reopen after reopen too', async (t) => {
  const dir = await tempDir(t)
  const first = await openAt(t, dir)
  await first.set('a', 1)
  await first.set('b', { nested: ['x', 2], flag: true })
  await first.set('c', 'three')
  await Promise.all([first.set('a', 10), first.set('d', null), first.set('e', 'soon deleted')])
  await first.delete('e')
  await first.set('__proto__', 'plain key')
  const before = await snapshot(first)
  t.deepEqual(before.values, { a: 10, b: { nested: ['x', 2], flag: true }, c: 'three', ['__proto__']: 'plain key' }, 'values before close')
  await first.close()

  for (const round of [1, 2]) {
    const again = await openAt(t, dir)
    const after = await snapshot(again)
    t.equal(after.id, before.id, `reopen ${round}: same id`)
    t.deepEqual(after.clock, before.clock, `reopen ${round}: same clock`)
    t.deepEqual(after.history, before.history, `reopen ${round}: same history (allHistory equal)`)
    t.deepEqual(after.values, before.values, `reopen ${round}: same values`)
    t.equal(await again.get('e'), undefined, `reopen ${round}: deleted key stays deleted`)
    t.equal(await again.get('d'), undefined, `reopen ${round}: a null write is a delete`)
    await again.close()
  }
})

test('open() and close() called twice share one result', async (t) => {
  const dir = await tempDir(t)
  const model = new Model({ db: dir })
  t.teardown(async () => { await model.close() })
  // A second real open of the same directory would fail on the LevelDB lock.
  await Promise.all([model.open(), model.open()])
  t.equal(model.status, 'open', 'open after two concurrent open() calls')
  await model.open()
  t.equal(model.status, 'open', 'a third open() resolves too')
  await model.set('k', 'v')
  await Promise.all([model.close(), model.close()])
  t.equal(model.status, 'closed', 'closed after two concurrent close() calls')
  await model.close()
  t.equal(model.status, 'closed', 'a third close() resolves too')
  try {
    await model.open()
    t.fail('open() after close() must reject')
  } catch (err) {
    t.equal((err as { code?: string }).code, codes.NOT_OPEN, 'open() after close() rejects with SCUTTLEDB_NOT_OPEN')
  }

  const other = await openAt(t, dir)
  t.equal(await other.get('k'), 'v', 'the directory was released and keeps the write')
})

test('a stored id that differs from the id option makes open() reject with SCUTTLEDB_ID_MISMATCH', async (t) => {
  const dir = await tempDir(t)
  const owner = await openAt(t, dir, { id: 'alpha' })
  await owner.set('k', 1)
  await owner.close()

  const wrong = new Model({ db: dir, id: 'beta' })
  t.teardown(async () => { await wrong.close() })
  const attempts = await Promise.allSettled([wrong.open(), wrong.open()])
  attempts.forEach((result, i) => {
    const code = result.status === 'rejected' ? (result.reason as { code?: string }).code : 'resolved'
    t.equal(code, codes.ID_MISMATCH, `concurrent open() call ${i + 1} rejects with SCUTTLEDB_ID_MISMATCH`)
  })
  try {
    await wrong.open()
    t.fail('a later open() of the failed instance must reject too')
  } catch (err) {
    t.ok(err instanceof Error, 'a later open() of the failed instance rejects too')
  }
  t.equal(wrong.status, 'closed', 'the failed instance is closed')

  const same = await openAt(t, dir, { id: 'alpha' })
  t.equal(same.id, 'alpha', 'the matching id opens the released directory')
  await same.close()
  const any = await openAt(t, dir)
  t.equal(any.id, 'alpha', 'no id option adopts the stored id')
  t.equal(await any.get('k'), 1, 'the data is untouched')
})

test('timestamps stay strictly increasing across a restart when the wall clock is behind the persisted clock', async (t) => {
  const dir = await tempDir(t)
  const early = await openAt(t, dir, { now: () => 5_000_000 })
  const old = await early.localUpdate(['k', 'old'])
  const other = await early.localUpdate(['other', 'x'])
  t.ok(other[1] > old[1], 'same-millisecond writes get increasing fractions')
  await early.close()

  const late = await openAt(t, dir, { now: () => 1000 })
  t.equal(late.clock[late.id], other[1], 'the persisted clock is loaded')
  const fresh = await late.localUpdate(['k', 'new'])
  t.ok(fresh[1] > other[1], `the new ts ${fresh[1]} is above the old ${other[1]} although the wall clock says 1000`)
  t.equal(await late.get('k'), 'new', 'the write is applied, not lost to the older one')
  await late.set('k', 'newer')
  t.equal(await late.get('k'), 'newer', 'and the next one too')
  t.ok(late.clock[late.id] > fresh[1], 'the clock keeps moving forward')
  const history = (await updates(late)).filter((u) => u[0][0] === 'k')
  t.equal(history.length, 1, 'one stored update for the key')
  t.deepEqual(history[0][0], ['k', 'newer'], 'the stored update is the newest write')
  await late.close()

  const third = await openAt(t, dir, { now: () => 1 })
  t.equal(await third.get('k'), 'newer', 'the value survives another restart')
})

test('timestamps stay strictly increasing within one session when the wall clock steps backwards', async (t) => {
  const dir = await tempDir(t)
  let wall = 5_000_000
  const model = await openAt(t, dir, { now: () => wall })
  const stamps: number[] = []
  stamps.push((await model.localUpdate(['k', 1]))[1])
  wall = 1000
  stamps.push((await model.localUpdate(['k', 2]))[1])
  const concurrent = await Promise.all([3, 4, 5].map(async (v) => await model.localUpdate(['k', v])))
  stamps.push(...concurrent.map((u) => u[1]))
  wall = 4_000_000
  stamps.push((await model.localUpdate(['k', 6]))[1])
  wall = 6_000_000
  stamps.push((await model.localUpdate(['k', 7]))[1])
  t.ok(stamps.every((ts, i) => i === 0 || ts > stamps[i - 1]), `strictly increasing: ${stamps.join(', ')}`)
  const last = stamps[stamps.length - 1]
  t.ok(Math.floor(last) === 6_000_000 && last > 6_000_000, 'a wall clock ahead again is used: the ts is in its millisecond (never an integer, which an original peer could tie)')
  t.equal(await model.get('k'), 7, 'the last write wins')
  t.equal(model.clock[model.id], stamps[stamps.length - 1], 'the clock is the last ts')
})

test('storage stays O(keys): 1000 overwrites of one key leave exactly one update for it', async (t) => {
  const dir = await tempDir(t)
  const model = await openAt(t, dir)
  await model.set('other', 'kept')
  for (let i = 0; i < 500; i++) await model.set('hot', i)
  // The rest concurrently, so that one commit supersedes updates written in the same batch.
  await Promise.all(Array.from({ length: 500 }, async (_, i) => { await model.set('hot', 500 + i) }))
  const check = async (m: Model, label: string): Promise<void> => {
    const history = await updates(m)
    const hot = history.filter((u) => u[0][0] === 'hot')
    t.equal(hot.length, 1, `${label}: exactly one update for the overwritten key`)
    t.deepEqual(hot[0]?.[0], ['hot', 999], `${label}: it is the last write`)
    t.equal(history.length, 2, `${label}: the history holds one update per key`)
    t.equal(await m.get('hot'), 999, `${label}: the value is the last write`)
    t.equal(hot[0]?.[1], m.clock[m.id], `${label}: the clock is the last write's ts`)
  }
  await check(model, 'open')
  await model.close()
  await check(await openAt(t, dir), 'reopened')
})

test('reopen reads the stored clock; a source whose latest update lost stays fetchable, so clocks converge through updates', async (t) => {
  const dir = await tempDir(t)
  const local = await openAt(t, dir, { now: () => 2_000_000 })
  const remote = await memoryModel(t, { now: () => 1_000_000, maxClockSkew: Infinity, id: 'remote' })
  const kept = await remote.localUpdate(['kept', 'r'])
  const loser = await remote.localUpdate(['k', 'remote'])
  // Written after the remote one's ts, so the remote write to k loses on arrival.
  const winner = await local.localUpdate(['k', 'local'])
  const last = await local.localUpdate(['x', 1])
  t.ok(winner[1] > loser[1], 'the local write to k is newer')
  const { synced } = link(local, remote)
  await synced
  t.equal(await local.get('k'), 'local', 'the older remote write lost')
  t.equal(await local.get('kept'), 'r', 'the other remote write was applied')
  const before = local.clock
  t.deepEqual(before, { [local.id]: last[1], remote: loser[1] }, 'the clock holds the last ts of each source')
  await local.close()

  const reopened = await openAt(t, dir, { now: () => 2_000_000 })
  t.deepEqual(reopened.clock, before, 'the reopened clock equals the last timestamps of each source')
  const history = await updates(reopened)
  const fromRemote = history.filter((u) => u[2] === 'remote').map((u) => u[1])
  t.deepEqual(fromRemote, [kept[1], loser[1]], 'the log holds the applied remote update and the remote source\'s latest (lost) one')
  t.equal(reopened.clock.remote, Math.max(...fromRemote), 'every clock entry is backed by a stored update')
  t.equal(reopened.clock[reopened.id], Math.max(...history.filter((u) => u[2] === reopened.id).map((u) => u[1])), 'the local clock is the newest local ts')
  const sent: Stamped[] = []
  for await (const u of reopened.history({ remote: loser[1] })) sent.push(u as Stamped)
  t.ok(sent.every((u) => u[2] !== 'remote'), 'a peer at the remote clock is sent nothing of the remote source')
  const catchUp: Stamped[] = []
  for await (const u of reopened.history({ remote: kept[1] })) catchUp.push(u as Stamped)
  t.deepEqual(catchUp.filter((u) => u[2] === 'remote').map((u) => u[1]), [loser[1]], 'a peer that lacks it is sent the lost update, and learns the clock from it')
})

test('a reopened disk model lists its whole history, well beyond one classic-level read batch (~16 KB)', async (t) => {
  const dir = await tempDir(t)
  const model = await openAt(t, dir)
  const padding = 'v'.repeat(100)
  for (let i = 0; i < 2000; i += 200) {
    await Promise.all(Array.from({ length: 200 }, async (_, j) => { await model.set(`key${String(i + j).padStart(4, '0')}`, padding) }))
  }
  await model.close()
  const reopened = await openAt(t, dir)
  const history = await updates(reopened)
  t.equal(history.length, 2000, 'every update is listed')
  t.equal(new Set(history.map((u) => u[0][0])).size, 2000, 'once per key')
  t.ok(history.every((u, i) => i === 0 || u[1] > history[i - 1][1]), 'in timestamp order')
  let values = 0
  for await (const [, value] of reopened.entries()) if (value === padding) values++
  t.equal(values, 2000, 'and every value is there')
})
