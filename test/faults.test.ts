/**
 * Fault injection: for every N of a small workload (local writes plus updates
 * replicated from a healthy peer), the Nth storage call fails, before or after
 * its write lands, once (a transient error) or for good (a crash). The store is
 * then reopened (classic-level: the directory, with a plain classic-level) and
 * checked: no acknowledged write lost, the clock consistent with the history,
 * no process crash, and convergence with the peer (test/fault-matrix.ts).
 * FAULTS_WORKLOAD raises the number of workload rounds (default 1).
 */
import test, { type Test } from 'tape'
import { Model } from '../lib/index.js'
import { FaultyClassicLevel, FaultyMemoryLevel } from './fixtures/faulty-level.js'
import { crashWatch, faultMatrix, ROUNDS, type Subject } from './fault-matrix.js'
import { tempDir } from './helpers.js'

type Backend = 'memory-level' | 'classic-level'

async function subject (t: Test, backend: Backend): Promise<Subject> {
  if (backend === 'memory-level') {
    const db = new FaultyMemoryLevel()
    const model = new Model({ db })
    await model.open()
    return {
      model,
      plan: db.plan,
      prefix: '',
      reopen: async () => {
        await model.close()
        db.plan.disarm()
        // The same instance's data, read by a fresh Model.
        const again = new Model({ db })
        await again.open()
        return again
      },
      dispose: async () => {}
    }
  }
  const dir = await tempDir(t, 'scuttledb-faults-')
  const db = new FaultyClassicLevel(dir)
  const model = new Model({ db })
  await model.open()
  return {
    model,
    plan: db.plan,
    prefix: '',
    reopen: async () => {
      await model.close()
      db.plan.disarm()
      await db.close()
      // The crash image: the directory as the faulty store left it, through a plain classic-level.
      const again = new Model({ db: dir })
      await again.open()
      return again
    },
    dispose: async () => { await db.close() }
  }
}

for (const backend of ['memory-level', 'classic-level'] as const) {
  for (const mode of ['transient', 'crash'] as const) {
    const what = mode === 'transient' ? 'fails once' : 'fails and every later call fails (a crash)'
    test(`${backend}: when the Nth storage call ${what}, before or after its write lands, no acked write is lost, the clock matches the history, nothing crashes and the peer converges (${ROUNDS} rounds)`, async (t) => {
      await faultMatrix(t, backend, async (t) => await subject(t, backend), mode)
    })
  }
}

test('a storage fault while opening rejects open() or leaves a working instance, and the data survives', async (t) => {
  const crashes = crashWatch(t)
  for (const flavour of ['before', 'after'] as const) {
    for (let at = 1; at <= 4; at++) {
      const db = new FaultyMemoryLevel()
      const first = new Model({ db })
      await first.open()
      await first.set('kept', 1)
      const id = first.id
      await first.close()
      db.plan.arm(at, flavour)
      const second = new Model({ db })
      const opened = await second.open().then(() => true, () => false)
      let acked = false
      if (opened) acked = await second.set('more', 2).then(() => true, () => false)
      await second.close()
      db.plan.disarm()
      const third = new Model({ db })
      await third.open()
      const label = `fault ${flavour} call ${at} (${db.plan.fired?.kind ?? 'none'}), open ${opened ? 'resolved' : 'rejected'}`
      t.equal(third.id, id, `${label}: the id is kept`)
      t.equal(await third.get('kept'), 1, `${label}: earlier data is kept`)
      if (acked) t.equal(await third.get('more'), 2, `${label}: the acked write is kept`)
      await third.close()
    }
  }
  await new Promise((resolve) => setImmediate(resolve))
  t.deepEqual(crashes, [], 'no uncaught exception or unhandled rejection')
})
