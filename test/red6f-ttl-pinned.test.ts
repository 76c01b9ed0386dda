import test from 'tape'
import { Model } from '../lib/index.js'
import { link, memoryModel } from './helpers.js'

// A virtual wall clock shared by every node: nothing here depends on real time.
let wall = 1_000_000
const now = (): number => wall
const TTL = 60_000

test('red6f: after a purge, a new node rebuilt from the purging node gets back a value whose delete was forgotten (the superseded write was pinned)', async (t) => {
  const a = await memoryModel(t, { id: 'A', now, tombstoneTTL: TTL } as object) as Model
  const x = await memoryModel(t, { id: 'X', now }) as Model
  // X writes k once (its latest update, so A keeps it pinned when A's delete supersedes it).
  await x.set('k', 'from-x')
  let l = link(a, x)
  await l.synced
  l.a.destroy()
  await l.closed
  await a.delete('k')
  await a.set('other', 1) // the delete is no longer A's latest: it can be forgotten
  wall += TTL + 1000
  t.comment(`A's purge forgot ${await a.purge()} deletes`)
  t.equal(await a.get('k'), undefined, 'A: k is deleted')
  // The documented way back for anyone: a new, empty node syncs from A.
  const fresh = await memoryModel(t, { id: 'F', now }) as Model
  l = link(a, fresh)
  await l.synced
  l.a.destroy()
  await l.closed
  t.equal(await fresh.get('k'), undefined, 'a node rebuilt from A does not hold the deleted value')
  // Once X writes again its old update leaves A's log, and the delete can go.
  await x.set('x2', 2)
  l = link(a, x)
  await l.synced
  l.a.destroy()
  await l.closed
  t.equal(await a.purge(), 1, 'A forgets the delete once no pinned update holds k')
  const fresh2 = await memoryModel(t, { id: 'G', now }) as Model
  l = link(a, fresh2)
  await l.synced
  l.a.destroy()
  await l.closed
  t.equal(await fresh2.get('k'), undefined, 'a node rebuilt from A then still does not hold the deleted value')
})
