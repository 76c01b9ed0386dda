// A `writers` predicate that throws ended the commit pipeline with an uncaught
// exception: the process died, or (with a handler) every later commit hung, the
// instance's own writes included. One that returned a promise (an async
// function) allowed every source, a promise being truthy. A predicate now allows
// an update only by returning true; throwing, or anything else, refuses it
// (SCUTTLEDB_UNVERIFIED, as a disallowed source) and the stream goes on.
import { once } from 'node:events'
import { pipeline } from 'node:stream'
import test from 'tape'
import { MemoryLevel } from 'memory-level'
import { Model, type Update } from '../lib/index.js'
import { captureUncaught, memoryModel } from './helpers.js'

async function receiver (t: test.Test, writers: (source: string, update: Update) => boolean): Promise<Model> {
  const model = new Model({ db: new MemoryLevel(), writers })
  await model.open()
  t.teardown(async () => { await model.close() })
  return model
}

test('a writers predicate that throws refuses the update; the stream and the instance\'s own writes go on', async (t) => {
  const uncaught = captureUncaught(t)
  const a = await memoryModel(t)
  await a.set('x', 1)
  let calls = 0
  const b = await receiver(t, (_source, update) => {
    calls++
    if ((update[0] as [string, unknown])[0] === 'x') throw new Error('predicate failed')
    return true
  })
  const rejected: string[] = []
  b.on('rejected', (err) => rejected.push(err.code))
  const sa = a.createStream()
  const sb = b.createStream()
  pipeline(sa, sb, sa, () => {})
  await once(sb, 'sync')
  t.equal(await b.get('x'), undefined, 'the update the predicate threw on is not stored')
  t.deepEqual(rejected, ['SCUTTLEDB_UNVERIFIED'], 'it is reported as unverified')
  await b.set('own', 1)
  t.equal(await b.get('own'), 1, 'the instance still commits its own writes')
  const live = once(b, 'change:y')
  await a.set('y', 2)
  await live
  t.equal(await b.get('y'), 2, 'a later allowed update still arrives')
  t.ok(calls >= 2, 'the predicate was asked')
  t.deepEqual(uncaught, [], 'nothing uncaught')
  sa.destroy()
})

test('a writers predicate that returns anything but true (a promise, 1) allows nothing', async (t) => {
  for (const [label, answer] of [['a promise', Promise.resolve(true)], ['1', 1], ['"yes"', 'yes']] as const) {
    const a = await memoryModel(t)
    await a.set('x', 1)
    const b = await receiver(t, () => answer as never)
    const sa = a.createStream()
    const sb = b.createStream()
    pipeline(sa, sb, sa, () => {})
    await once(sb, 'sync')
    t.equal(await b.get('x'), undefined, `${label}: refused`)
    t.equal(b.stats.rejected, 1, `${label}: counted as rejected`)
    sa.destroy()
  }
})
