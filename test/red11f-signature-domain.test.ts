import test from 'tape'
import { Model, type Security } from '../lib/index.js'
import { allHistory, memoryModel } from './helpers.js'

function nest (levels: number): unknown {
  let value: unknown = 'sig'
  for (let i = 0; i < levels; i++) value = [value]
  return value
}

// The 4th element of a local update is what security.sign() returned. It was stored and sent
// unchecked, while every peer refuses an update whose signature is outside the value domain
// (docs/protocol.md "Values"): the stream closed at it on every reconnect, so neither it nor
// any later update of this node reached a peer. It must be refused at the call instead.
const signatures: Array<[string, () => unknown]> = [
  ['undefined', () => undefined],
  ['NaN', () => NaN],
  ['a Date', () => new Date(0)],
  ['a Promise (an async sign)', async () => 'sig'],
  ['a function', () => () => 'sig'],
  ['nesting deeper than 256 levels', () => nest(300)]
]

for (const [what, sign] of signatures) {
  test(`set() refuses an update whose signature is ${what}, and stores nothing`, async (t) => {
    const security: Security = { sign, verify: () => true }
    const a = await memoryModel(t, { security })
    let code: unknown
    try {
      await a.set('k', 1)
    } catch (err) {
      code = (err as { code?: unknown }).code
    }
    t.equal(code, 'SCUTTLEDB_INVALID_VALUE', 'set() rejects with SCUTTLEDB_INVALID_VALUE')
    t.same(await allHistory(a), [], 'nothing is stored')
    t.equal(await a.get('k'), undefined, 'the key is absent')
  })
}

test('a signature in the value domain is still stored and sent', async (t) => {
  const security: Security = { sign: () => ['sig', 'key'], verify: () => true }
  const a = await memoryModel(t, { security })
  await a.set('k', 1)
  const [update] = await allHistory(a) as unknown[][]
  t.same(update[3], ['sig', 'key'], 'stored with its signature')
  t.ok(a instanceof Model)
})
