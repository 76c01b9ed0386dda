import test from 'tape'
import { Collection, type Model, type ScuttledbError } from '../lib/index.js'
import { tempDir, until } from './helpers.js'
import { linkCollections, quiet, type CollectionLink } from './collection-helpers.js'

/** A small seeded PRNG (mulberry32), so a failing seed can be replayed. */
function rng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

const DOCS = 8

/** Every document's contents, by name. */
async function contents (c: Collection): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {}
  for (let d = 0; d < DOCS; d++) {
    const name = `doc${d}`
    if (!c.has(name)) continue
    const json = await c.use(name, async (doc: Model) => await doc.toJSON())
    if (Object.keys(json).length > 0) out[name] = json
  }
  return out
}

for (const seed of [11, 12, 13]) {
  test(`seed ${seed}: documents purged, compacted and idle-closed (maxOpen 2) while a collection stream sends to them converge, and a fresh collection gets the same`, async (t) => {
    const random = rng(seed)
    let wall = 1_800_000_000_000
    const now = (): number => wall
    const open = async (id: string): Promise<Collection> => {
      const c = new Collection({ db: await tempDir(t), id, now, maxOpen: 2, maxClockSkew: Infinity, documentOptions: () => ({ tombstoneTTL: 1000 }) })
      await c.open()
      t.teardown(async () => { await c.close() })
      return c
    }
    const a = await open('A')
    const b = await open('B')
    const errors: ScuttledbError[] = []
    for (const c of [a, b]) {
      c.on('documentError', (_name, err) => errors.push(err))
      c.on('rejected', (err) => errors.push(err))
    }
    let wire: CollectionLink | undefined = linkCollections(a, b)
    await wire.synced
    const work: Array<Promise<unknown>> = []
    let forgotten = 0
    for (let i = 0; i < 500; i++) {
      wall += 9
      const side = random() < 0.5 ? a : b
      const name = `doc${Math.floor(random() * DOCS)}`
      const key = `k${Math.floor(random() * 6)}`
      const r = random()
      if (r < 0.45) work.push(side.use(name, async (doc: Model) => { await doc.set(key, `${side.id}-${i}`) }))
      else if (r < 0.8) work.push(side.use(name, async (doc: Model) => { await doc.delete(key) }))
      else if (r < 0.9) work.push(side.use(name, async (doc: Model) => { forgotten += await doc.purge() }))
      else if (r < 0.92) work.push(side.use(name, async (doc: Model) => await doc.compact()))
      else if (r < 0.95 && wire !== undefined) {
        const w = wire
        wire = undefined
        w.a.destroy()
        await w.closed
      } else if (r < 0.98 && wire === undefined) {
        wire = linkCollections(a, b)
        wire.a.on('error', () => {})
        wire.b.on('error', () => {})
        wire.synced.catch(() => {})
      }
      if (random() < 0.3) await Promise.all(work.splice(0))
    }
    await Promise.all(work)
    if (wire === undefined) {
      wire = linkCollections(a, b)
      await wire.synced
    }
    await quiet([wire.a, wire.b])
    const converged = await until(async () => JSON.stringify(await contents(a)) === JSON.stringify(await contents(b)), 10_000)
    t.ok(converged, 'A and B hold the same documents and contents')
    t.deepEqual(await contents(b), await contents(a), 'the contents, side by side')
    t.deepEqual(errors.map((e) => e.code), [], 'nothing was refused')
    for (let d = 0; d < DOCS; d++) if (a.has(`doc${d}`)) forgotten += await a.use(`doc${d}`, (doc: Model) => doc._forgottenCopy().size)
    t.ok(forgotten > 0, `deletes were forgotten during the run (${forgotten})`)
    const c = await open('C')
    const fresh = linkCollections(a, c)
    await fresh.synced
    await quiet([fresh.a, fresh.b])
    t.deepEqual(await contents(c), await contents(a), 'a fresh collection synced from A holds what A holds')
    fresh.a.destroy()
    wire.a.destroy()
  })
}
