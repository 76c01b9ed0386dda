import test from 'tape'
import { once } from 'node:events'
import { Model, type ScuttledbError } from '../lib/index.js'
import { link, tempDir, until } from './helpers.js'

// A peer offline past the TTL reconnects while the delete it missed is past the TTL but not
// yet purged; the purge then runs at some moment of its sync. Either it is refused, or it is
// sent the delete: it never keeps the deleted value while A has forgotten it.
for (const delay of [0, 1, 2, 3, 5, 8, 13]) {
  test(`a stale peer whose sync races the purge of the delete it missed (purge after ${delay} turns) is refused or gets the delete`, async (t) => {
    let wall = 1_800_000_000_000
    const now = (): number => wall
    const TTL = 60_000
    const open = async (id: string, ttl?: number): Promise<Model> => {
      const m = new Model({ db: await tempDir(t), id, now, tombstoneTTL: ttl, maxClockSkew: Infinity })
      await m.open()
      t.teardown(async () => { await m.close() })
      return m
    }
    const a = await open('A', TTL)
    const b = await open('B')
    await a.set('k', 'old')
    for (let i = 0; i < 20; i++) await a.set(`x${i}`, i)
    const first = link(a, b)
    await first.synced
    first.a.destroy()
    await first.closed
    await a.delete('k')
    for (let i = 0; i < 200; i++) await a.set(`later${i}`, i)
    wall += TTL + 1000
    const refused: ScuttledbError[] = []
    a.on('rejected', (err) => refused.push(err))
    b.on('rejected', (err) => refused.push(err))
    const back = link(a, b)
    back.a.on('error', () => {})
    back.b.on('error', () => {})
    back.synced.catch(() => {})
    for (let i = 0; i < delay; i++) await new Promise((resolve) => setImmediate(resolve))
    const purged = await a.purge()
    t.equal(purged, 1, 'A forgets the delete of k')
    const settled = await until(async () => refused.length > 0 || back.a.destroyed || JSON.stringify(await a.toJSON()) === JSON.stringify(await b.toJSON()), 10_000)
    t.ok(settled, 'the sync settles')
    if (refused.length === 0) {
      await Promise.race([back.synced, once(back.a, 'close')])
      t.equal(await b.get('k'), undefined, 'B, admitted, does not keep the deleted value')
      t.deepEqual(await b.toJSON(), await a.toJSON(), 'and holds what A holds')
    } else {
      t.ok(refused.every((e) => e.code === 'SCUTTLEDB_STALE_PEER' || e.code === 'SCUTTLEDB_STALE'), `B is refused (${refused.map((e) => e.code).join(', ')})`)
    }
    back.a.destroy()
  })
}
