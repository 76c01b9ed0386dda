import test from 'tape'
import { MemoryLevel } from 'memory-level'
import { Model } from '../lib/index.js'
import { trackResources } from './helpers.js'

test('closing an instance on a database it did not open leaves nothing attached to that database', async (t) => {
  const db = new MemoryLevel<string, Buffer>({ keyEncoding: 'utf8', valueEncoding: 'buffer' })
  await db.open()
  t.teardown(async () => { await db.close() })
  const left: number[] = []
  for (let i = 0; i < 20; i++) {
    const doc = db.sublevel(`doc-${i}`, { keyEncoding: 'utf8', valueEncoding: 'buffer' })
    const attached = trackResources(doc)
    const model = new Model({ db: doc })
    await model.open()
    await model.set('k', i)
    for await (const entry of model.entries()) void entry
    await model.close()
    left.push(attached())
  }
  t.deepEqual(left, Array(20).fill(0), 'no sublevel of an instance stays attached after close')
  t.equal(db.status, 'open', 'the database stays open')
})
