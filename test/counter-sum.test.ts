import test from 'tape'
import { MemoryLevel } from 'memory-level'
import { Counter, ScuttledbError, codes } from '../lib/index.js'
import { link } from './helpers.js'

// Each node's total is a safe integer, but the sum over nodes may not be: value()
// must not resolve with a rounded number, and bigValue() reads it exactly.

const MAX = Number.MAX_SAFE_INTEGER

async function counter (t: test.Test): Promise<Counter> {
  const c = new Counter({ db: new MemoryLevel() })
  await c.open()
  t.teardown(async () => { await c.close() })
  return c
}

test('Counter: a sum above Number.MAX_SAFE_INTEGER is refused by value() and exact from bigValue()', async (t) => {
  const [a, b] = [await counter(t), await counter(t)]
  await a.increment(MAX - 1)
  await b.increment(MAX - 2)
  await b.increment(1)
  t.equal(await a.value(), MAX - 1, 'a safe sum reads as a number')
  const l = link(a, b)
  await l.synced
  const expected = BigInt(MAX - 1) + BigInt(MAX - 1)
  for (const [name, c] of [['a', a], ['b', b]] as const) {
    t.equal(await c.bigValue(), expected, `${name}: bigValue() is the exact sum`)
    try {
      const rounded = await c.value()
      t.fail(`${name}: value() resolved with ${rounded}`)
    } catch (err) {
      t.ok(err instanceof ScuttledbError && err.code === codes.INVALID_VALUE, `${name}: value() rejects with SCUTTLEDB_INVALID_VALUE`)
    }
  }
  l.a.destroy()
  await l.closed
})

test('Counter: an increment that would take a node\'s total past Number.MAX_SAFE_INTEGER is refused, and nothing is stored', async (t) => {
  const c = await counter(t)
  await c.increment(MAX - 1)
  let refused = false
  try {
    await c.increment(2)
  } catch {
    refused = true
  }
  t.ok(refused, 'the increment is refused')
  t.equal(await c.value(), MAX - 1, 'the total is as before')
  await c.increment(1)
  t.equal(await c.value(), MAX, 'an increment to exactly the limit is taken')
})
