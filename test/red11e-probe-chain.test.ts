import test from 'tape'
import { Model } from '../lib/index.js'
import { linkCollections, memoryCollection, divergent, quiet } from './collection-helpers.js'
import { until } from './helpers.js'

test('probe: chain A-B-C, maxOpen 2, writes during the initial sync converge', async (t) => {
  const a = await memoryCollection(t, { maxOpen: 2 })
  const b = await memoryCollection(t, { maxOpen: 2 })
  const c = await memoryCollection(t, { maxOpen: 2 })
  for (let i = 0; i < 30; i++) await a.use(`d${i}`, async (d: Model) => { await d.set('a', i) }, Model)
  for (let i = 0; i < 30; i++) await c.use(`d${i}`, async (d: Model) => { await d.set('c', i) }, Model)
  const ab = linkCollections(a, b)
  const bc = linkCollections(b, c)
  const writes: Promise<unknown>[] = []
  for (let i = 0; i < 30; i++) {
    writes.push(a.use(`d${(i * 7) % 30}`, async (d: Model) => { await d.set(`a${i}`, i) }, Model))
    writes.push(c.use(`e${i}`, async (d: Model) => { await d.set(`c${i}`, i) }, Model))
    writes.push(b.use(`d${(i * 11) % 30}`, async (d: Model) => { await d.set(`b${i}`, i) }, Model))
  }
  await Promise.all(writes)
  await Promise.all([ab.synced, bc.synced])
  let diff: string[] = []
  const ok = await until(async () => {
    await quiet([ab.a, ab.b, bc.a, bc.b], 100)
    diff = [...await divergent(a, b), ...await divergent(b, c)]
    return diff.length === 0
  }, 15000)
  t.ok(ok, `converged (differences: ${diff.join(',')})`)
  ab.a.destroy(); bc.a.destroy()
})
