import test, { type Test } from 'tape'
import { Counter, Value, type Scuttlebutt } from '../lib/index.js'
import { link, tempDir, until, type Link } from './helpers.js'

/** Open a Counter or Value on classic-level in a temp dir, closed when the test ends. */
async function openOn<T extends Scuttlebutt<any>> (t: Test, make: (db: string) => T): Promise<T> {
  const instance = make(await tempDir(t))
  await instance.open()
  t.teardown(async () => { await instance.close() })
  return instance
}

test('Counter and Value written on both sides while the link drops and comes back converge, and a fresh node agrees', async (t) => {
  const ca = await openOn(t, (db) => new Counter({ db, id: 'A' }))
  const cb = await openOn(t, (db) => new Counter({ db, id: 'B' }))
  const va = await openOn(t, (db) => new Value({ db, id: 'A' }))
  const vb = await openOn(t, (db) => new Value({ db, id: 'B' }))
  let links: Link[] | undefined = [link(ca, cb), link(va, vb)]
  await Promise.all(links.map(async (l) => await l.synced))
  const work: Array<Promise<unknown>> = []
  let expected = 0
  for (let i = 0; i < 400; i++) {
    const side = i % 2 === 0
    work.push((side ? ca : cb).increment(1 + (i % 3)))
    expected += 1 + (i % 3)
    work.push((side ? va : vb).set({ i, by: side ? 'A' : 'B' }))
    if (i % 60 === 30 && links !== undefined) {
      const old = links
      links = undefined
      for (const l of old) l.a.destroy()
      await Promise.all(old.map(async (l) => await l.closed))
    } else if (i % 60 === 45 && links === undefined) {
      links = [link(ca, cb), link(va, vb)]
      for (const l of links) { l.a.on('error', () => {}); l.b.on('error', () => {}); l.synced.catch(() => {}) }
    }
    if (i % 7 === 0) await Promise.all(work.splice(0))
  }
  await Promise.all(work)
  if (links === undefined) links = [link(ca, cb), link(va, vb)]
  t.ok(await until(async () => (await ca.value()) === expected && (await cb.value()) === expected, 10_000), `both counters reach ${expected}`)
  t.ok(await until(async () => JSON.stringify(await va.get()) === JSON.stringify(await vb.get()), 10_000), 'both values agree')
  t.deepEqual(await vb.get(), await va.get(), 'the values, side by side')
  const cc = await openOn(t, (db) => new Counter({ db, id: 'C' }))
  const vc = await openOn(t, (db) => new Value({ db, id: 'C' }))
  const fresh = [link(ca, cc), link(vb, vc)]
  await Promise.all(fresh.map(async (l) => await l.synced))
  t.equal(await cc.value(), expected, 'a fresh counter gets the total')
  t.deepEqual(await vc.get(), await va.get(), 'a fresh value gets the winner')
  for (const l of [...fresh, ...links]) l.a.destroy()
})
