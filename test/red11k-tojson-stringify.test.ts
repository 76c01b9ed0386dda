import test from 'tape'
import { MemoryLevel } from 'memory-level'
import { Model, Value } from '../lib/index.js'

// toJSON() is async, and JSON.stringify() calls any toJSON it finds and drops what it
// returns. A Model or Value inside a logged object (JSON.stringify({ model })) then
// left a floating promise, and when its read failed (the instance not open yet, or
// closed meanwhile) that was an unhandled rejection: the process ended.
async function unhandledDuring (run: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = []
  const listener = (reason: unknown): void => { seen.push(reason) }
  process.on('unhandledRejection', listener)
  try {
    await run()
    // Unhandled rejections are reported after the microtask queue drains.
    await new Promise((resolve) => { setTimeout(resolve, 50) })
  } finally {
    process.off('unhandledRejection', listener)
  }
  return seen
}

test('JSON.stringify() of a Model or Value that is not open leaves no unhandled rejection', async (t) => {
  const model = new Model({ db: new MemoryLevel() })
  const value = new Value({ db: new MemoryLevel() })
  const seen = await unhandledDuring(async () => {
    JSON.stringify({ model, value })
  })
  t.deepEqual(seen.map((err) => (err as { code?: string }).code), [], 'no unhandled rejection')
  await Promise.all([model.close(), value.close()])
})

test('JSON.stringify() of an open Model closed right after leaves no unhandled rejection', async (t) => {
  const model = new Model({ db: new MemoryLevel() })
  await model.open()
  await model.set('a', 1)
  const seen = await unhandledDuring(async () => {
    JSON.stringify(model)
    await model.close()
  })
  t.deepEqual(seen.map((err) => (err as { code?: string }).code), [], 'no unhandled rejection')
})

test('await toJSON() still rejects when the instance is not open', async (t) => {
  const model = new Model({ db: new MemoryLevel() })
  try {
    await model.toJSON()
    t.fail('resolved')
  } catch (err) {
    t.equal((err as { code?: string }).code, 'SCUTTLEDB_NOT_OPEN', 'SCUTTLEDB_NOT_OPEN')
  }
  await model.close()
})
