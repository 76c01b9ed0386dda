import test from 'tape'
import { Model, Collection } from '../lib/index.js'
import { linkCollections, divergent, quiet, type CollectionLink } from './collection-helpers.js'
import { tempDir, until, sleep } from './helpers.js'

test('probe: collection hub with churned links, maxOpen 1, disk', async (t) => {
  const cs: Collection[] = []
  for (let i = 0; i < 3; i++) {
    const c = new Collection({ db: await tempDir(t), maxOpen: 1 })
    await c.open()
    t.teardown(async () => { await c.close() })
    cs.push(c)
  }
  let seed = Number(process.env.SEED ?? 11)
  const rnd = (n: number): number => { seed = (seed * 48271) % 2147483647; return seed % n }
  const links: CollectionLink[] = []
  const writes: Array<Promise<unknown>> = []
  for (let round = 0; round < 25; round++) {
    if (rnd(2) === 0 && links.length > 0) links.splice(rnd(links.length), 1)[0].a.destroy()
    if (rnd(2) === 0) { const l = linkCollections(cs[0], cs[1 + rnd(2)]); l.synced.catch(() => {}); links.push(l) }
    for (let k = 0; k < 20; k++) {
      const c = cs[rnd(3)]
      const name = `d${rnd(12)}`
      writes.push(c.use(name, async (d: Model) => { await d.set(`k${rnd(5)}`, `${round}-${k}`) }, Model))
    }
    await sleep(rnd(40))
  }
  await Promise.all(writes)
  for (const l of links) l.a.destroy()
  const final = [linkCollections(cs[0], cs[1]), linkCollections(cs[0], cs[2])]
  await Promise.all(final.map((l) => l.synced))
  let diff: string[] = []
  const ok = await until(async () => {
    await quiet(final.flatMap((l) => [l.a, l.b]), 100)
    diff = [...await divergent(cs[0], cs[1]), ...await divergent(cs[0], cs[2])]
    return diff.length === 0
  }, 20000)
  t.ok(ok, `converged (differences: ${diff.join(',')})`)
  for (const l of final) l.a.destroy()
})
