import test from 'tape'
import { isValue } from '../lib/value-domain.js'
import { memoryModel } from './helpers.js'

/** Whether a set() of `value` is refused as a caller's TypeError coded SCUTTLEDB_INVALID_VALUE. */
async function refusedAsInvalid (set: () => Promise<void>): Promise<boolean> {
  try {
    await set()
    return false
  } catch (err) {
    return err instanceof TypeError && (err as { code?: unknown }).code === 'SCUTTLEDB_INVALID_VALUE'
  }
}

test('set() refuses an array with a named property (it would read back without it)', async (t) => {
  const m = await memoryModel(t)
  t.ok(await refusedAsInvalid(async () => { await m.set('k', Object.assign([1], { p: 2 }) as never) }), 'top level')
  t.ok(await refusedAsInvalid(async () => { await m.set('k', { a: [0, Object.assign([1], { p: 2 })] } as never) }), 'nested')
  t.equal(await m.get('k'), undefined, 'nothing was stored')
})

test('set() refuses an array with a symbol key or a prototype other than Array.prototype', async (t) => {
  const m = await memoryModel(t)
  const withSymbol = Object.assign([1], { [Symbol('s')]: 2 })
  class Tags extends Array<number> {}
  const subclass = Tags.from([1, 2])
  const nullProto = Object.setPrototypeOf([1], null) as number[]
  t.ok(await refusedAsInvalid(async () => { await m.set('k', withSymbol as never) }), 'a symbol key')
  t.ok(await refusedAsInvalid(async () => { await m.set('k', subclass as never) }), 'an Array subclass')
  t.ok(await refusedAsInvalid(async () => { await m.set('k', nullProto as never) }), 'a null-prototype array')
  t.notOk(isValue(withSymbol) || isValue(subclass) || isValue(nullProto), 'isValue() agrees')
})

test('set() still takes plain arrays, also after one had an element deleted and re-added', async (t) => {
  const m = await memoryModel(t)
  const refilled = [1, 2, 3]
  refilled.length = 2
  refilled.push(4)
  const values = [[], [1, 'a', null, true, [2, [3]]], { a: [{ b: [] }] }, refilled]
  for (const value of values) {
    await m.set('k', value)
    t.deepEqual(await m.get('k'), value, `${JSON.stringify(value)} reads back the same`)
  }
})
