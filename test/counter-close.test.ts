import test from 'tape'
import { Counter } from '../lib/index.js'
import { tempDir } from './helpers.js'

// README (close()): "every call made after it is refused with SCUTTLEDB_NOT_OPEN, while
// writes queued before it still commit". Counter#increment reads its total before it
// writes, so before _task() the reads and submits of increments called just before
// close() were refused (and nothing of them stored).

test('Counter: increments called before close() commit; those called after are refused', async (t) => {
  const dir = await tempDir(t)
  const c = new Counter({ db: dir })
  await c.open()
  await c.increment(5)
  const before = Array.from({ length: 200 }, () => c.increment(1))
  const closed = c.close()
  const after = c.increment(1000).then(() => 'resolved', (err: { code?: unknown }) => err.code)
  const outcomes = await Promise.allSettled(before)
  const refused = await after
  await closed
  t.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 200, 'all 200 increments called before close() resolved')
  t.equal(refused, 'SCUTTLEDB_NOT_OPEN', 'an increment called after close() is refused with SCUTTLEDB_NOT_OPEN')
  t.equal(c.status, 'closed', 'closed once close() resolves')
  const again = new Counter({ db: dir })
  await again.open()
  t.teardown(async () => { await again.close() })
  t.equal(await again.value(), 205, 'the reopened counter holds 5 + 200, and nothing of the refused increment')
})

test('Counter: close() while an increment waits on the one before it', async (t) => {
  const dir = await tempDir(t)
  const c = new Counter({ db: dir })
  await c.open()
  const first = c.increment(2)
  const second = c.increment(3)
  await c.close()
  await Promise.all([first, second])
  t.pass('both increments resolved before close() did')
  const again = new Counter({ db: dir })
  await again.open()
  t.teardown(async () => { await again.close() })
  t.equal(await again.value(), 5, 'both are stored')
})
