import test from 'tape'
import { MemoryLevel } from 'memory-level'
import { Events, Model, Value, Counter } from '../lib/index.js'
import { link } from './helpers.js'

// A replication stream does not carry its instance's data type (nor does the
// original's protocol), so connecting a Model to an Events, or a Value to a Counter,
// is not refused: each side applies the other's updates as its own. Refusing it
// needs the type on the wire (a header field), a design decision: kept as a skip.
/** Whether the link closed within 2 s (the timer keeps the process alive, so a hang fails here). */
async function closedOrTimeout (closed: Promise<unknown>): Promise<'closed' | 'timeout'> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => { resolve('timeout') }, 2000) })
  try {
    return await Promise.race([closed.then(() => 'closed' as const), timeout])
  } finally {
    clearTimeout(timer)
  }
}

test.skip('a Model connected to an Events by mistake is refused and keeps its own data', async (t) => {
  const model = new Model({ db: new MemoryLevel() })
  const events = new Events({ db: new MemoryLevel() })
  await Promise.all([model.open(), events.open()])
  t.teardown(async () => { await Promise.all([model.close(), events.close()]) })
  await model.set('k', 1)
  await events.record('x', 1)
  const { a, b, synced, closed } = link(model, events)
  synced.catch(() => {})
  const errors: string[] = []
  a.on('error', (err: NodeJS.ErrnoException) => { errors.push(String(err.code)) })
  b.on('error', (err: NodeJS.ErrnoException) => { errors.push(String(err.code)) })
  const ended = await closedOrTimeout(closed)
  if (ended === 'timeout') { a.destroy(); b.destroy() }
  t.equal(ended, 'closed', 'the mismatched stream is closed')
  t.ok(errors.length > 0, 'with a coded error')
  t.deepEqual(await model.toJSON(), { k: 1 }, 'the model holds only its own key, not the event x')
})

test.skip('a Value connected to a Counter by mistake keeps its own value', async (t) => {
  const value = new Value({ db: new MemoryLevel() })
  const counter = new Counter({ db: new MemoryLevel() })
  await Promise.all([value.open(), counter.open()])
  t.teardown(async () => { await Promise.all([value.close(), counter.close()]) })
  await value.set({ x: 1 })
  await counter.increment(3)
  const { a, b, synced, closed } = link(value, counter)
  synced.catch(() => {})
  a.on('error', () => {})
  b.on('error', () => {})
  if (await closedOrTimeout(closed) === 'timeout') { a.destroy(); b.destroy() }
  t.deepEqual(await value.get(), { x: 1 }, 'the value is not replaced by the counter total 3')
})
