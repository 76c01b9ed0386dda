import test from 'tape'
import { MemoryLevel } from 'memory-level'
import { Counter, Events, Model, Value } from '../lib/index.js'
import { captureUncaught, tempDir, until } from './helpers.js'

/** The code a promise rejects with, or 'resolved'. */
async function outcome (promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
    return 'resolved'
  } catch (err) {
    return (err as { code?: unknown }).code
  }
}

test('close(): an open Model is closing when close() returns; later calls are refused, queued writes commit', async (t) => {
  const dir = await tempDir(t)
  const m = new Model({ db: dir })
  await m.open()
  const queued = m.set('queued', 1)
  const closed = m.close()
  t.equal(m.status, 'closing', "status is 'closing' right after close()")
  t.equal(await outcome(m.set('late', 1)), 'SCUTTLEDB_NOT_OPEN', 'a set() after close() is refused')
  t.equal(await outcome(m.get('queued')), 'SCUTTLEDB_NOT_OPEN', 'a get() after close() is refused')
  t.equal(await outcome(queued), 'resolved', 'a write queued before close() commits')
  await closed
  t.equal(m.status, 'closed', 'closed once close() resolves')
  const again = new Model({ db: dir })
  await again.open()
  t.teardown(async () => { await again.close() })
  t.equal(await again.get('queued'), 1, 'the queued write is stored')
  t.equal(await again.get('late'), undefined, 'the refused write is not')
})

test('close(): Events, Value and Counter are closing when close() returns and refuse writes', async (t) => {
  const dirs = [await tempDir(t), await tempDir(t), await tempDir(t)]
  const events = new Events({ db: dirs[0], retention: { maxCount: 10 } })
  const value = new Value({ db: dirs[1] })
  const counter = new Counter({ db: dirs[2] })
  await Promise.all([events.open(), value.open(), counter.open()])
  const closed = [events.close(), value.close(), counter.close()]
  t.deepEqual([events.status, value.status, counter.status], ['closing', 'closing', 'closing'], "each is 'closing'")
  t.throws(() => events.emit('x', 1), (err: { code?: unknown }) => err.code === 'SCUTTLEDB_NOT_OPEN', 'emit() throws SCUTTLEDB_NOT_OPEN')
  t.equal(await outcome(events.record('x', 1)), 'SCUTTLEDB_NOT_OPEN', 'record() is refused')
  t.equal(await outcome(value.set(1)), 'SCUTTLEDB_NOT_OPEN', 'Value set() is refused')
  t.equal(await outcome(counter.increment()), 'SCUTTLEDB_NOT_OPEN', 'Counter increment() is refused')
  await Promise.all(closed)
  t.deepEqual([events.status, value.status, counter.status], ['closed', 'closed', 'closed'], 'all closed')
})

test('close() while opening waits for the open, then closes', async (t) => {
  const m = new Model({ db: await tempDir(t) })
  const opened = m.open()
  const closed = m.close()
  t.equal(m.status, 'opening', 'still opening: close() waits for it')
  await opened
  await closed
  t.equal(m.status, 'closed', 'closed')
})

test('close() resolves after a stream whose error had no listener (a write after its end) was destroyed', async (t) => {
  const uncaught = captureUncaught(t)
  const m = new Model({ db: new MemoryLevel() })
  await m.open()
  const s = m.createStream()
  s.end()
  s.write(Buffer.from([1]))
  await until(() => s.destroyed && uncaught.length > 0)
  t.equal((uncaught[0] as { code?: unknown }).code, 'ERR_STREAM_WRITE_AFTER_END', 'Node reports the write after end as uncaught, as for any stream')
  t.ok(await until(() => m.streams === 0), 'the instance forgets the destroyed stream')
  await m.close()
  t.equal(m.status, 'closed', 'close() resolved')
})
