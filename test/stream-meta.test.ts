// createStream({ meta }) takes a value of the value domain only, as a change is.
// Anything was taken and reached the peer as something else: a function as
// nothing, a BigInt as a number, a Date as a string, a Map as an object, NaN
// kept on msgpack but null on JSON, binary as {"type":"Buffer",...} on JSON.
import { once } from 'node:events'
import { pipeline } from 'node:stream'
import test from 'tape'
import { memoryModel } from './helpers.js'
import type { Header } from '../lib/index.js'

test('createStream() refuses a meta outside the value domain (or binary on JSON) with a TypeError coded SCUTTLEDB_INVALID_VALUE', async (t) => {
  const model = await memoryModel(t)
  for (const [label, meta, wrapper] of [
    ['a function', () => 1, undefined],
    ['a BigInt', 10n, undefined],
    ['a Date', new Date(0), undefined],
    ['a Map', new Map([[1, 2]]), undefined],
    ['NaN', Number.NaN, undefined],
    ['an undefined property', { a: undefined }, undefined],
    ['binary on JSON', Buffer.from('x'), 'json']
  ] as const) {
    for (const method of ['createStream', 'createReadStream', 'createWriteStream'] as const) {
      try {
        model[method]({ meta, wrapper } as never).destroy()
        t.fail(`${method}: ${label} was taken`)
      } catch (err) {
        t.ok(err instanceof TypeError && (err as { code?: string }).code === 'SCUTTLEDB_INVALID_VALUE', `${method}: ${label} is refused`)
      }
    }
  }
  t.equal(model.streams, 0, 'no stream was left open')
})

test('a meta of the value domain reaches the peer exactly, on both wires', async (t) => {
  const a = await memoryModel(t)
  const b = await memoryModel(t)
  for (const [wrapper, meta] of [['msgpack', { name: 'x', n: [1.5, null, true], bin: Buffer.from([1, 2]) }], ['json', { name: 'ü', n: [1.5, null, true] }]] as const) {
    const sa = a.createStream({ wrapper, meta })
    const sb = b.createStream({ wrapper })
    const header = once(sb, 'header') as Promise<[Header]>
    pipeline(sa, sb, sa, () => {})
    const [h] = await header
    t.deepEqual(h.meta, meta, `${wrapper}: the peer sees the same meta`)
    sa.destroy()
    sb.destroy()
  }
})
