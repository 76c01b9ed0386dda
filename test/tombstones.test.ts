import test, { type Test } from 'tape'
import { MemoryLevel } from 'memory-level'
import { Model, codes, type ModelOptions, type ScuttledbError } from '../lib/index.js'
import { once } from 'node:events'
import { allHistory, frame, link, tempDir } from './helpers.js'

/** A wall clock the test moves by hand. */
function clock (start = 1_800_000_000_000): { now: () => number, advance: (ms: number) => void } {
  let wall = start
  return { now: () => wall, advance: (ms) => { wall += ms } }
}

async function open (t: Test, options: Partial<ModelOptions> & { db?: ModelOptions['db'] }): Promise<Model> {
  const model = new Model({ db: new MemoryLevel(), ...options })
  await model.open()
  t.teardown(async () => { await model.close() })
  return model
}

test('with tombstoneTTL, a delete older than the TTL is forgotten: gone from storage and history, remembered per source', async (t) => {
  const wall = clock()
  const a = await open(t, { id: 'A', now: wall.now, tombstoneTTL: 1000, maxClockSkew: Infinity })
  await a.set('k', 1)
  const del = await a.localUpdate(['k', null])
  await a.set('other', 2)
  t.equal(await a.purge(), 0, 'nothing is older than the TTL yet')
  wall.advance(1001)
  t.equal(await a.purge(), 1, 'purge() forgets the expired delete')
  const history = await allHistory(a) as Array<[[string, unknown], number, string]>
  t.deepEqual(history.map((u) => u[0]), [['other', 2]], 'the history no longer holds the delete')
  t.equal(await a.get('k'), undefined, 'the key stays deleted')
  t.deepEqual([...a._forgottenCopy()], [['A', del[1]]], 'the forgotten delete is remembered for its source')
  t.equal(await a.purge(), 0, 'a second purge finds nothing')
})

test('a delete that is still its source\'s latest update is kept until the source writes again', async (t) => {
  const wall = clock()
  const a = await open(t, { id: 'A', now: wall.now, tombstoneTTL: 1000 })
  await a.set('k', 1)
  await a.delete('k')
  wall.advance(5000)
  t.equal(await a.purge(), 0, 'the latest update of A backs its clock entry: kept')
  await a.set('x', 1)
  t.equal(await a.purge(), 1, 'once A wrote again, the delete is forgotten')
})

test('a delete superseded by a later write is never purged with the new value', async (t) => {
  const wall = clock()
  const a = await open(t, { id: 'A', now: wall.now, tombstoneTTL: 1000 })
  await a.delete('k')
  await a.set('k', 'back')
  await a.set('y', 1)
  wall.advance(5000)
  await a.purge()
  t.equal(await a.get('k'), 'back', 'the later value stays')
})

test('a peer offline longer than the TTL is refused (SCUTTLEDB_STALE_PEER / SCUTTLEDB_STALE) and cannot bring a deleted value back; fresh peers sync', async (t) => {
  const wall = clock()
  const a = await open(t, { id: 'A', now: wall.now, tombstoneTTL: 1000, maxClockSkew: Infinity })
  const b = await open(t, { id: 'B', now: wall.now, maxClockSkew: Infinity })
  await a.set('k', 'old')
  const first = link(a, b)
  await first.synced
  first.a.destroy()
  await first.closed
  t.equal(await b.get('k'), 'old', 'B holds k, then goes offline')
  await a.delete('k')
  await a.set('later', 1)
  wall.advance(2000)
  t.equal(await a.purge(), 1, 'A forgets the delete of k')

  const rejectedA: ScuttledbError[] = []
  const rejectedB: ScuttledbError[] = []
  a.on('rejected', (err) => rejectedA.push(err))
  b.on('rejected', (err) => rejectedB.push(err))
  const back = link(a, b)
  back.a.on('error', () => {})
  back.b.on('error', () => {})
  back.synced.catch(() => {})
  await back.closed
  t.deepEqual(rejectedA.map((e) => e.code), [codes.STALE_PEER], `A refuses B: ${codes.STALE_PEER}`)
  t.deepEqual(rejectedB.map((e) => e.code), [codes.STALE], `B learns it must be rebuilt: ${codes.STALE}`)
  t.equal(await a.get('k'), undefined, 'the deleted value did not come back to A')
  t.equal(a.streams + b.streams, 0, 'both streams closed')

  const fresh = await open(t, { id: 'C', now: wall.now, maxClockSkew: Infinity })
  const l = link(a, fresh)
  await l.synced
  t.equal(await fresh.get('later'), 1, 'a new, empty peer syncs')
  t.equal(await fresh.get('k'), undefined, 'without the forgotten key')
  l.a.destroy()
  await l.closed
  const again = link(a, fresh)
  await again.synced
  t.pass('and syncs again later: its clock covers the forgotten delete')
  again.a.destroy()
  await again.closed
})

test('what was forgotten survives a restart, so a stale peer is still refused', async (t) => {
  const wall = clock()
  const dir = await tempDir(t)
  const a1 = new Model({ db: dir, id: 'A', now: wall.now, tombstoneTTL: 1000 })
  await a1.open()
  await a1.set('k', 1)
  await a1.delete('k')
  await a1.set('z', 1)
  wall.advance(2000)
  await a1.purge()
  const forgotten = [...a1._forgottenCopy()]
  await a1.close()
  const a2 = new Model({ db: dir, now: wall.now })
  await a2.open()
  t.teardown(async () => { await a2.close() })
  t.deepEqual([...a2._forgottenCopy()], forgotten, 'reopened without the option, it still remembers')
  const stale = await open(t, { id: 'S', now: wall.now })
  await stale.set('s', 1)
  const refused: string[] = []
  a2.on('rejected', (err) => refused.push(err.code))
  const l = link(a2, stale)
  l.a.on('error', () => {})
  l.b.on('error', () => {})
  l.synced.catch(() => {})
  await l.closed
  t.deepEqual(refused, [codes.STALE_PEER], 'a peer that never saw the delete is refused')
})

test('forgetting 900 of 1,000 deleted keys on disk, then compact(), leaves a database that holds the live keys', async (t) => {
  const wall = clock()
  const dir = await tempDir(t)
  const a = new Model({ db: dir, id: 'A', now: wall.now, tombstoneTTL: 1000 })
  await a.open()
  t.teardown(async () => { await a.close() })
  const value = 'v'.repeat(200)
  for (let i = 0; i < 1000; i += 100) await a.batch(Array.from({ length: 100 }, (_, j) => ({ type: 'put' as const, key: `k${i + j}`, value })))
  for (let i = 100; i < 1000; i += 100) await a.batch(Array.from({ length: 100 }, (_, j) => ({ type: 'del' as const, key: `k${i + j}` })))
  await a.set('last', 1)
  wall.advance(2000)
  t.equal(await a.purge(), 900, 'every delete is forgotten')
  t.equal(await a.compact(), true, 'classic-level compacts')
  t.equal((await allHistory(a)).length, 101, 'the history holds the 100 live keys and the last write')
  let keys = 0
  for await (const _ of a.keys()) keys++
  t.equal(keys, 101, 'and so does the model')
  const memory = await open(t, {})
  t.equal(await memory.compact(), false, 'memory-level cannot compact: compact() says so')
})

test('a purge over more kept deletes than one page (each its source\'s latest) terminates and keeps them', async (t) => {
  const wall = clock()
  const a = await open(t, { id: 'A', now: wall.now, tombstoneTTL: 1000 })
  const s = a.createStream()
  s.resume()
  const frames = [frame({ id: 'MANY', clock: {} })]
  for (let i = 0; i < 5000; i++) frames.push(frame([['k' + i, null], wall.now() - 500 + i / 16, 'S' + i]))
  frames.push(frame('SYNC'))
  s.write(Buffer.concat(frames))
  await once(s, 'sync')
  t.equal(Object.keys(a.clock).length, 5000, '5000 sources, each with one delete')
  wall.advance(5000)
  t.equal(await a.purge(), 0, 'purge() ends and forgets none: each is its source\'s latest')
  t.equal((await allHistory(a)).length, 5000, 'all are kept')
  s.destroy()
})
