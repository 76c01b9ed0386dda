import test from 'tape'
import { join } from 'node:path'
import { Model, type ScuttledbError } from '../lib/index.js'
import { link, tempDir, until } from './helpers.js'

// README: SCUTTLEDB_CLOCK_SKEW "A remote update's timestamp is further ahead than
// maxClockSkew; it is rejected, the stream goes on", and "Peers converge". But the
// stream goes on taking the same source's *later* updates once they are within the
// skew, which moves the receiver's clock past the refused one: it is never sent
// again, on this connection or any later one. The receiver holds a source's later
// update without its earlier one (README on batch(): "updates of one source are
// accepted in timestamp order only"), and the two replicas never converge.
// Each node's wall clock is given by `now` (no real time is judged).

test('an update refused as too far ahead is not skipped for good once a later one of its source is taken', async (t) => {
  const dir = await tempDir(t)
  const base = 1_800_000_000_000
  let wallA = base + 120_000 // a's clock runs two minutes fast
  let wallB = base
  const a = new Model({ db: join(dir, 'a'), now: () => wallA })
  const b = new Model({ db: join(dir, 'b'), now: () => wallB })
  await a.open()
  await b.open()
  t.teardown(async () => { await a.close(); await b.close() })
  const rejected: string[] = []
  b.on('rejected', (err: ScuttledbError) => { rejected.push(err.code) })

  const first = link(a, b)
  await first.synced
  await a.set('k1', 'first')
  await until(() => rejected.length >= 1)
  t.deepEqual(rejected, ['SCUTTLEDB_CLOCK_SKEW'], 'b refused k1 as too far ahead; the stream went on')

  // b's clock is corrected (an NTP step); a goes on writing.
  wallB = base + 120_000
  wallA += 10
  await a.set('k2', 'second')
  t.ok(await until(() => rejected.length >= 2), 'k2 is held back too: taking it would skip k1 for good')
  t.deepEqual(rejected, ['SCUTTLEDB_CLOCK_SKEW', 'SCUTTLEDB_CLOCK_SKEW'], 'with the same code')
  t.equal(await b.get('k2'), undefined, 'k2 is not stored yet')
  first.a.destroy()
  await first.closed

  const second = link(a, b)
  await second.synced
  t.ok(await until(async () => (await b.get('k2')) === 'second'), 'the later write arrived')
  t.equal(await b.get('k1'), 'first', 'the refused write arrived too, once within the skew (a reconnect asks for it)')
  t.deepEqual([await a.get('k1'), await a.get('k2')], ['first', 'second'], 'a holds both')
  second.a.destroy()
  await second.closed
})

test('the same without any clock step: a hybrid clock pushed ahead by a third node, then time passing', async (t) => {
  const dir = await tempDir(t)
  const base = 1_800_000_000_000
  let wall = base // b's wall clock; a's runs 59 s fast, c's 61 s fast (each within 60 s of the next)
  const a = new Model({ db: join(dir, 'a'), now: () => wall + 59_000 })
  const b = new Model({ db: join(dir, 'b'), now: () => wall })
  const c = new Model({ db: join(dir, 'c'), now: () => wall + 61_000 })
  await Promise.all([a.open(), b.open(), c.open()])
  t.teardown(async () => { await Promise.all([a.close(), b.close(), c.close()]) })
  const rejected: string[] = []
  b.on('rejected', (err: ScuttledbError) => { rejected.push(err.code) })
  // a hears from c (2 s ahead of a: accepted), so a's clock now stamps above c's write.
  await c.set('from-c', 1)
  const ac = link(a, c)
  await ac.synced
  ac.a.destroy()
  await ac.closed
  const ab = link(a, b)
  await ab.synced
  await a.set('k1', 'first') // stamped above c's write: 61 s ahead of b, refused
  await until(() => rejected.length >= 2)
  t.deepEqual(rejected, ['SCUTTLEDB_CLOCK_SKEW', 'SCUTTLEDB_CLOCK_SKEW'], 'b refused c\'s write (relayed by a) and k1 as too far ahead; the stream went on')
  wall += 2000 // two seconds pass for everyone
  await a.set('k2', 'second') // stamped just above k1, now within 60 s of b: held back, not taken past k1
  t.ok(await until(() => rejected.length >= 3), 'k2 is held back')
  t.equal(await b.get('k2'), undefined, 'and not stored yet')
  ab.a.destroy()
  await ab.closed
  wall += 5000
  const again = link(a, b)
  await again.synced
  t.ok(await until(async () => (await b.get('k2')) === 'second'), 'the later write arrived')
  t.equal(await b.get('k1'), 'first', 'the earlier write of the same source arrived too')
  again.a.destroy()
  await again.closed
})
