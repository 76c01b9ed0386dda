import test from 'tape'
import { once } from 'node:events'
import { pipeline } from 'node:stream'
import { memoryModel, diskModel, link, allHistory, tiedIds, until, sleep } from './helpers.js'

test('history(clock) yields only updates newer than the clock; null or absent entries mean everything', async (t) => {
  const a = await memoryModel(t)
  await a.set('x', 1)
  const second = await a.localUpdate(['y', 2])
  await a.set('z', 3)
  t.equal((await allHistory(a)).length, 3, 'no clock: everything')
  const all = []
  for await (const u of a.history({ [a.id]: null })) all.push(u)
  t.equal(all.length, 3, 'null entry: everything')
  const after = []
  for await (const u of a.history({ [a.id]: second[1] })) after.push(u)
  t.deepEqual(after.map((u) => (u[0] as [string])[0]), ['z'], 'only what is newer')
  const none = []
  for await (const u of a.history(a.clock)) none.push(u)
  t.equal(none.length, 0, 'own clock: nothing')
})

test('history is in (ts, source) order across sources', async (t) => {
  let wall = 1_000_000
  const now = (): number => wall
  // Ids whose clocks start a millisecond at the same place, so the last two writes tie.
  const [A, B] = tiedIds(2)
  const a = await memoryModel(t, { id: A, now })
  const b = await memoryModel(t, { id: B, now })
  await a.set('a1', 1); wall += 10
  await b.set('b1', 1); wall += 10
  await a.set('a2', 1)
  await b.set('b2', 1)
  const l = link(a, b)
  await l.synced
  const h = await allHistory(a) as Array<[unknown, number, string]>
  const stamps = h.map((u) => [u[1], u[2]])
  const sorted = [...stamps].sort((x, y) => (x[0] as number) - (y[0] as number) || String(x[1]).localeCompare(String(y[1])))
  t.deepEqual(stamps, sorted, 'sorted by (ts, source)')
  t.equal(h[2][1], h[3][1], 'the last two share a timestamp')
  t.deepEqual(stamps.map((s) => s[1]), [A, B, A, B], 'ties broken by source')
})

test('the header event carries the peer id and meta', async (t) => {
  const a = await memoryModel(t)
  const b = await memoryModel(t)
  const l = link(a, b, { meta: { room: 'lobby' } }, {})
  const [header] = await once(l.b, 'header')
  t.equal(header.id, a.id, 'peer id')
  t.deepEqual(header.meta, { room: 'lobby' }, 'meta')
  t.deepEqual(l.b.peer?.meta, { room: 'lobby' }, 'peer getter')
  await l.synced
})

test('Model change events fire for local and remote writes, null deletes', async (t) => {
  const a = await memoryModel(t)
  const b = await memoryModel(t)
  const seen: unknown[] = []
  b.on('change', (k, v) => seen.push([k, v]))
  const keyed: unknown[] = []
  b.on('change:k', (v) => keyed.push(v))
  const local: unknown[] = []
  a.on('change', (k, v) => local.push([k, v]))
  const l = link(a, b)
  await l.synced
  await a.set('k', 'v')
  await a.delete('k')
  t.ok(await until(() => seen.length === 2), 'remote changes arrive')
  t.deepEqual(seen, [['k', 'v'], ['k', null]], 'remote change events')
  t.deepEqual(keyed, ['v', null], 'change:KEY events')
  t.deepEqual(local, [['k', 'v'], ['k', null]], 'local change events')
  t.equal(await b.get('k'), undefined, 'deleted')
  t.equal(await b.has('k'), false, 'has() is false')
  t.deepEqual(await b.toJSON(), {}, 'snapshot skips tombstones')
  t.equal((await allHistory(b)).length, 1, 'the tombstone replicates and replaces the value')
})

test('sync fires exactly once per stream and the histories are equal then', async (t) => {
  const a = await memoryModel(t)
  const b = await memoryModel(t)
  for (let i = 0; i < 50; i++) await a.set('a' + i, i)
  for (let i = 0; i < 50; i++) await b.set('b' + i, i)
  const l = link(a, b)
  let count = 0
  l.a.on('sync', () => count++)
  l.b.on('sync', () => count++)
  await l.synced
  t.deepEqual(await allHistory(a), await allHistory(b), 'equal histories')
  t.deepEqual(a.clock, b.clock, 'equal clocks')
  await a.set('later', 1)
  await until(async () => (await b.get('later')) === 1)
  await sleep(20)
  t.equal(count, 2, 'one sync per stream')
})

test('a read stream piped into a write stream reproduces the history (larger than one storage read)', async (t) => {
  const a = await diskModel(t)
  const b = await diskModel(t)
  const filler = 'x'.repeat(100)
  for (let i = 0; i < 3000; i++) void a.set('k' + (i % 1000), filler + i)
  await a.set('last', 1)
  const r = a.createReadStream({ tail: false })
  const w = b.createWriteStream()
  const done = once(w, 'sync')
  r.pipe(w)
  await done
  t.equal((await allHistory(b)).length, 1001, 'every key arrived')
  t.deepEqual(await allHistory(b), await allHistory(a), 'same history')
  t.deepEqual(await b.toJSON(), await a.toJSON(), 'same values')
})

test('dispose() ends every stream and unstream counts the streams left', async (t) => {
  const a = await memoryModel(t)
  const b = await memoryModel(t)
  const c = await memoryModel(t)
  const counts: number[] = []
  a.on('unstream', (n) => counts.push(n))
  const l1 = link(a, b)
  const l2 = link(a, c)
  await Promise.all([l1.synced, l2.synced])
  t.equal(a.streams, 2, 'two streams')
  const ended = [once(l1.a, 'end'), once(l2.a, 'end')]
  a.dispose()
  await Promise.all(ended)
  await Promise.all([l1.closed, l2.closed])
  t.ok(await until(() => a.streams === 0), 'all closed')
  t.deepEqual(counts, [1, 0], 'unstream counts down')
})

test('read-only replication (sendClock) carries updates one way only', async (t) => {
  const master = await memoryModel(t)
  const replica = await memoryModel(t)
  await master.set('m', 1)
  await replica.set('r', 1)
  const sm = master.createStream({ writable: false, sendClock: true })
  const sr = replica.createStream({ readable: false, sendClock: true })
  pipeline(sm, sr, sm, () => {})
  await once(sr, 'sync')
  await master.set('m2', 2)
  t.ok(await until(async () => (await replica.get('m2')) === 2), 'live updates reach the replica')
  t.equal(await replica.get('m'), 1, 'history reaches the replica')
  await replica.set('r2', 2)
  await sleep(30)
  t.equal(await master.get('r'), undefined, 'replica history does not reach the master')
  t.equal(await master.get('r2'), undefined, 'replica live updates do not reach the master')
  t.equal(sm.progress.sent, 2, 'history was sent once, then one live update')
})

test('an update is not echoed back to the stream it came from', async (t) => {
  const a = await memoryModel(t)
  const b = await memoryModel(t)
  const l = link(a, b)
  await l.synced
  for (let i = 0; i < 20; i++) await a.set('k' + i, i)
  await until(async () => (await b.get('k19')) === 19)
  await sleep(30)
  t.equal(l.b.progress.sent, 0, 'b sent nothing back')
  t.equal(a.stats.old, 0, 'a received no old updates')
})

test('opening and closing a thousand streams leaks nothing', async (t) => {
  const a = await memoryModel(t)
  const b = await memoryModel(t)
  await a.set('x', 1)
  const before = a.eventNames().map((name) => a.listenerCount(name))
  for (let i = 0; i < 1000; i++) {
    const l = link(a, b)
    await l.synced
    l.a.destroy()
    await l.closed
  }
  t.ok(await until(() => a.streams === 0 && b.streams === 0), 'no streams left')
  t.deepEqual(a.eventNames().map((name) => a.listenerCount(name)), before, 'no listeners left')
})

test('tail: false ends the stream after the history is exchanged', async (t) => {
  const a = await memoryModel(t)
  const b = await memoryModel(t)
  for (let i = 0; i < 2000; i++) void a.set('a' + i, i)
  for (let i = 0; i < 2000; i++) void b.set('b' + i, i)
  await a.set('last', 1)
  await b.set('last2', 1)
  const l = link(a, b, { tail: false }, { tail: false })
  await l.synced
  t.equal(await l.closed, undefined, 'both sides end cleanly')
  t.deepEqual(await allHistory(a), await allHistory(b), 'nothing truncated')
})

test('progress events report the initial exchange', async (t) => {
  const a = await memoryModel(t)
  const b = await memoryModel(t)
  for (let i = 0; i < 2500; i++) void a.set('k' + i, i)
  await a.set('end', 1)
  const l = link(a, b)
  const reports: Array<{ received: number }> = []
  l.b.on('progress', (p) => reports.push(p))
  await l.synced
  t.ok(reports.length >= 2, 'several progress events')
  t.equal(reports[reports.length - 1].received, 2501, 'the last one counts everything')
  t.equal(l.a.progress.sent, 2501, 'the sender counts what it sent')
})

test('a write made after seeing a value wins over it, even from a node whose wall clock is behind', async (t) => {
  const ahead = await memoryModel(t, { now: () => Date.now() + 30_000 })
  const behind = await memoryModel(t)
  await ahead.set('k', 'from the fast clock')
  const l = link(ahead, behind)
  await l.synced
  await behind.set('k', 'seen, then overwritten')
  t.ok(await until(async () => (await ahead.get('k')) === 'seen, then overwritten'), 'the later write wins on both sides')
  t.equal(await behind.get('k'), 'seen, then overwritten', 'locally too')
})

test('concurrent local writes and a peer\'s run of updates are committed in groups', async (t) => {
  const a = await memoryModel(t)
  const b = await memoryModel(t)
  await Promise.all(Array.from({ length: 1000 }, async (_, i) => { await a.set('k' + i, i) }))
  t.ok(a.stats.commits <= 5, `1000 concurrent set()s took ${a.stats.commits} commits`)
  const l = link(a, b)
  await l.synced
  t.equal(b.stats.committed, 1000, 'the peer committed everything')
  t.ok(b.stats.commits <= 50, `in ${b.stats.commits} commits`)
})

test('events fire after the update is committed: a listener reads the new value from storage', async (t) => {
  const a = await memoryModel(t)
  const seen: unknown[] = []
  a.on('change', (key) => { void a.get(key).then((v) => seen.push(v)) })
  await a.set('k', 'v1')
  await a.set('k', 'v2')
  await until(() => seen.length === 2)
  t.deepEqual(seen, ['v1', 'v2'], 'each listener saw its own write in storage')
})

test('binary values replicate intact', async (t) => {
  const a = await memoryModel(t)
  const b = await memoryModel(t)
  const bytes = Buffer.from([0, 1, 2, 250, 255])
  await a.set('bin', bytes)
  await a.set('nested', { list: [1, 'two', null, { deep: new Uint8Array([9, 8]) }] })
  const l = link(a, b)
  await l.synced
  t.ok(Buffer.from(await b.get('bin') as Uint8Array).equals(bytes), 'a Buffer')
  const nested = await b.get('nested') as { list: [number, string, null, { deep: Uint8Array }] }
  t.deepEqual(nested.list.slice(0, 3), [1, 'two', null], 'JSON values')
  t.deepEqual([...nested.list[3].deep], [9, 8], 'a nested Uint8Array')
})
