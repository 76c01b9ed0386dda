// A local write's events and promise carried the caller's own object, not what
// was stored: mutated right after set() (set(k, o); o.a = NaN), listeners saw a
// value that is neither stored nor sent. And the value was checked once and read
// again by the encoder: a getter or Proxy answering differently the second time
// stored bytes outside the value domain ({ a: undefined }, NaN, a Date), which
// every peer refuses (SCUTTLEDB_INVALID_MESSAGE), closing its stream at that
// update on every reconnect. Now the stored bytes, decoded and checked as a
// peer's would be, are what events, the promise and peers get.
import { once } from 'node:events'
import { pipeline } from 'node:stream'
import test from 'tape'
import { memoryModel } from './helpers.js'
import type { Json } from '../lib/index.js'

test('the change and update events and the resolved update of a local write hold what was stored, not the caller\'s object', async (t) => {
  const model = await memoryModel(t)
  const changes: unknown[] = []
  const updates: unknown[] = []
  model.on('change', (_key, value) => changes.push(value))
  model.on('update', (change) => updates.push(change))
  const value: Record<string, Json> = { a: 1, list: [1, 2] }
  const writing = model.localUpdate(['k', value])
  value.a = Number.NaN
  ;(value.list as Json[]).push(3)
  value.extra = 'late'
  const [change] = await writing
  t.deepEqual(await model.get('k'), { a: 1, list: [1, 2] }, 'stored: the value at the call')
  t.deepEqual(changes, [{ a: 1, list: [1, 2] }], 'the change event shows what is stored')
  t.deepEqual(updates, [['k', { a: 1, list: [1, 2] }]], 'so does the update event')
  t.deepEqual(change, ['k', { a: 1, list: [1, 2] }], 'and the resolved update')
  const bytes = new Uint8Array([1, 2, 3])
  const seen = once(model, 'change:bin')
  await model.set('bin', bytes)
  const [binary] = await seen as [unknown]
  t.ok(Buffer.isBuffer(binary) && Buffer.from([1, 2, 3]).equals(binary as Buffer), 'binary is heard as get() reads it: a Buffer with the same bytes')
})

test('a value whose getter or Proxy answers differently when encoded is refused with SCUTTLEDB_INVALID_VALUE and nothing is stored', async (t) => {
  const model = await memoryModel(t)
  const peer = await memoryModel(t)
  for (const [label, second] of [['undefined', undefined], ['NaN', Number.NaN], ['Infinity', Infinity], ['a Date', new Date(0)], ['a function', () => 1]] as const) {
    let reads = 0
    const tricky = { get a () { return reads++ === 0 ? 1 : second } }
    await model.set(`getter ${label}`, tricky as never).then(() => t.fail(`getter -> ${label}: stored`), (err) => {
      t.ok(err instanceof TypeError && (err as { code?: string }).code === 'SCUTTLEDB_INVALID_VALUE', `getter -> ${label}: refused`)
    })
    reads = 0
    const proxy = new Proxy({ a: 1 }, { get: (target, key) => key === 'a' && reads++ > 0 ? second : Reflect.get(target, key) })
    await model.set(`proxy ${label}`, proxy as never).then(() => t.fail(`proxy -> ${label}: stored`), (err) => {
      t.ok(err instanceof TypeError && (err as { code?: string }).code === 'SCUTTLEDB_INVALID_VALUE', `proxy -> ${label}: refused`)
    })
  }
  t.deepEqual(await model.toJSON(), {}, 'nothing was stored')
  await model.set('fine', { get a () { return 1 } } as never)
  t.deepEqual(await model.get('fine'), { a: 1 }, 'a getter that answers the same is taken')
  // The history a peer is sent holds nothing it would refuse.
  const a = model.createStream()
  const b = peer.createStream()
  const errors: unknown[] = []
  b.on('error', (err) => errors.push(err))
  pipeline(a, b, a, () => {})
  await once(b, 'sync')
  t.deepEqual(errors, [], 'the peer syncs without an error')
  t.deepEqual(await peer.toJSON(), { fine: { a: 1 } }, 'and holds what was stored')
  a.destroy()
})
