// Red-team round 5 (a): a value nested 256 levels was taken by Value#set and refused by
// Model#set with "nesting deeper than 256 levels", while the README said values nest at
// most 256 levels. The limit is the change's (MAX_DEPTH, what every peer checks): a Model's
// value and an event's arguments sit one level inside their change. The README and
// docs/protocol.md now say so, and the refusal names the value's own limit.
import test from 'tape'
import { MemoryLevel } from 'memory-level'
import { Events, Model, Value, codes } from '../lib/index.js'
import { link, until } from './helpers.js'

function nested (levels: number): unknown {
  let value: unknown = 1
  for (let i = 0; i < levels; i++) value = [value]
  return value
}

async function refusal (call: () => Promise<unknown>): Promise<{ code?: unknown, message?: string } | undefined> {
  try {
    await call()
    return undefined
  } catch (err) {
    return err as { code?: unknown, message?: string }
  }
}

test('nesting: a Value takes 256 levels, a Model value and an event argument 255, as documented', async (t) => {
  const value = new Value({ db: new MemoryLevel() })
  const model = new Model({ db: new MemoryLevel() })
  const events = new Events({ db: new MemoryLevel() })
  await Promise.all([value.open(), model.open(), events.open()])
  t.teardown(async () => { await Promise.all([value.close(), model.close(), events.close()]) })

  await value.set(nested(256) as never)
  t.deepEqual(await value.get(), nested(256), 'Value#set takes a value nested 256 levels')
  const tooDeep = await refusal(async () => await value.set(nested(257) as never))
  t.equal(tooDeep?.code, codes.INVALID_VALUE, 'and refuses 257 with SCUTTLEDB_INVALID_VALUE')

  await model.set('k', nested(255) as never)
  t.deepEqual(await model.get('k'), nested(255), 'Model#set takes a value nested 255 levels')
  const modelDeep = await refusal(async () => await model.set('k', nested(256) as never))
  t.equal(modelDeep?.code, codes.INVALID_VALUE, 'and refuses 256 with SCUTTLEDB_INVALID_VALUE')
  t.ok(modelDeep?.message?.includes('deeper than 255 levels in a value'), `the refusal names the value's limit: ${String(modelDeep?.message)}`)
  const batchDeep = await refusal(async () => await model.batch([{ type: 'put', key: 'b', value: nested(256) as never }]))
  t.equal(batchDeep?.code, codes.INVALID_VALUE, 'a batch() put is held to the same limit')

  const eventDeep = await refusal(async () => await events.record('e', nested(256) as never))
  t.equal(eventDeep?.code, codes.INVALID_VALUE, 'an event argument nested 256 levels is refused')
  await events.record('e', nested(255) as never)
  t.pass('an event argument nested 255 levels is taken')
})

test('nesting: a Model value at the limit reaches a peer unchanged', async (t) => {
  const a = new Model({ db: new MemoryLevel() })
  const b = new Model({ db: new MemoryLevel() })
  await Promise.all([a.open(), b.open()])
  t.teardown(async () => { await Promise.all([a.close(), b.close()]) })
  await a.set('deep', nested(255) as never)
  link(a, b)
  t.ok(await until(async () => (await b.get('deep')) !== undefined), 'the peer got the update')
  t.deepEqual(await b.get('deep'), nested(255), 'nested 255 levels, as written')
})
