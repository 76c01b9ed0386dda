// Value#get() reads the value's record, then its update from the log. A set() committed
// between the two deletes the superseded update (as red-team round 10n found for Model#get):
// a Value holding a value all along read as undefined. It now reads the record again.
import test from 'tape'
import { Value } from '../lib/index.js'
import { tempDir } from './helpers.js'

test('Value#get() under concurrent set()s never reads undefined once a value is set', async (t) => {
  const value = new Value<number>({ db: await tempDir(t) })
  await value.open()
  t.teardown(async () => { await value.close() })
  await value.set(0)
  let writing = true
  const writer = (async () => { for (let i = 1; writing; i++) await value.set(i) })()
  let absent = 0
  for (let i = 0; i < 2000; i++) if ((await value.get()) === undefined) absent++
  writing = false
  await writer
  t.equal(absent, 0, `no get() of 2000 read undefined (${absent} did)`)
})
