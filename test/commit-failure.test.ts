import test from 'tape'
import { MemoryLevel } from 'memory-level'
import { Model, codes } from '../lib/index.js'
import { link, memoryModel, until } from './helpers.js'

/** abstract-level's private hooks that commits and reads go through. */
type Hooks = Record<'_batch' | '_getMany', (...args: unknown[]) => unknown>

/**
 * A memory-level whose next batch write (array or chained: memory-level's chained batch writes through `_batch`) lands and then reports failure
 * (`failNextWrite`; with `'then-unreadable'` reads fail from then on), and whose
 * reads can be made to fail (`failReads`).
 */
class LateFailureLevel extends MemoryLevel<string, Buffer> {
  failNextWrite: false | 'readable' | 'then-unreadable' = false
  failReads = false

  constructor () {
    super({ keyEncoding: 'utf8', valueEncoding: 'buffer' })
    const hooks = this as unknown as Hooks
    const batch = hooks._batch.bind(this)
    hooks._batch = async (...args) => {
      await (batch(...args) as Promise<void>)
      if (this.failNextWrite !== false) {
        this.failReads = this.failNextWrite === 'then-unreadable'
        this.failNextWrite = false
        throw new Error('injected: the write landed, then the store reported an error')
      }
    }
    const getMany = hooks._getMany.bind(this)
    hooks._getMany = async (...args) => {
      if (this.failReads) throw new Error('injected: reads fail')
      return await (getMany(...args) as Promise<unknown>)
    }
  }
}

async function failingModel (t: test.Test): Promise<{ model: Model, db: LateFailureLevel }> {
  const db = new LateFailureLevel()
  const model = new Model({ db })
  await model.open()
  t.teardown(async () => { await model.close() })
  return { model, db }
}

test('a write that landed but reported failure still reaches a live peer and a peer that syncs later', async (t) => {
  const { model, db } = await failingModel(t)
  const live = await memoryModel(t)
  const l = link(model, live)
  await l.synced
  db.failNextWrite = 'readable'
  // Read back, the write is found in storage: it counts as written.
  await model.set('orphan', 1)
  t.pass('set() resolves: the commit was found in storage after the reported failure')
  await model.set('after', 2)
  t.ok(await until(async () => await live.get('after') === 2), 'the live peer gets the later write')
  t.equal(await live.get('orphan'), 1, 'and the write whose commit reported failure')
  const fresh = await memoryModel(t)
  const l2 = link(model, fresh)
  await l2.synced
  t.equal(await fresh.get('orphan'), 1, 'a peer that syncs later gets it from history')
  l.a.destroy()
  l2.a.destroy()
  await Promise.all([l.closed, l2.closed])
})

test('when storage cannot be read back after a failed write, later writes fail with SCUTTLEDB_COMMIT_UNCERTAIN until it can; then the landed write is announced', async (t) => {
  const { model, db } = await failingModel(t)
  const live = await memoryModel(t)
  const l = link(model, live)
  await l.synced
  db.failNextWrite = 'then-unreadable'
  try {
    await model.set('orphan', 1)
    t.fail('set() resolved though its outcome was unknown')
  } catch (err) {
    t.ok(err instanceof Error && /landed/.test(String((err as Error).message)), 'set() rejects with the store\'s error')
  }
  try {
    await model.set('meanwhile', 2)
    t.fail('a write over an unknown state resolved')
  } catch (err) {
    t.equal((err as { code?: string }).code, codes.COMMIT_UNCERTAIN, `a later write fails with ${codes.COMMIT_UNCERTAIN}`)
  }
  db.failReads = false
  await model.set('after', 3)
  t.ok(await until(async () => await live.get('after') === 3), 'once storage reads again, writes go on and reach the peer')
  t.equal(await live.get('orphan'), 1, 'the write that had landed reached the peer too')
  t.equal(await model.get('meanwhile'), undefined, 'the refused write was not stored')
  l.a.destroy()
  await l.closed
})
