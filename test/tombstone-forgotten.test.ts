// Deletes forgotten past tombstoneTTL must not come back (docs/storage.md), found by
// red-team round 6 (f). A virtual wall clock shared by every node: nothing here depends on real time.
import test from 'tape'
import { Model, codes, type Scuttlebutt } from '../lib/index.js'
import { link, memoryModel } from './helpers.js'

let wall = 1_000_000
const now = (): number => wall
const TTL = 60_000

/** Connect two instances until both are synced (or the link closes), then disconnect them. */
async function syncOnce (x: Scuttlebutt<any>, y: Scuttlebutt<any>): Promise<void> {
  const l = link(x, y)
  await Promise.race([l.synced, l.closed])
  l.a.destroy()
  await l.closed
}

test('red6f: after a purge, a new node rebuilt from the purging node gets back a value whose delete was forgotten (the superseded write was pinned)', async (t) => {
  const a = await memoryModel(t, { id: 'A', now, tombstoneTTL: TTL } as object) as Model
  const x = await memoryModel(t, { id: 'X', now }) as Model
  // X writes k once (its latest update, so A keeps it pinned when A's delete supersedes it).
  await x.set('k', 'from-x')
  await syncOnce(a, x)
  await a.delete('k')
  await a.set('other', 1) // the delete is no longer A's latest: it can be forgotten
  wall += TTL + 1000
  t.comment(`A's purge forgot ${await a.purge()} deletes`)
  t.equal(await a.get('k'), undefined, 'A: k is deleted')
  // The documented way back for anyone: a new, empty node syncs from A.
  const fresh = await memoryModel(t, { id: 'F', now }) as Model
  await syncOnce(a, fresh)
  t.equal(await fresh.get('k'), undefined, 'a node rebuilt from A does not hold the deleted value')
  // Once X writes again its old update leaves A's log, and the delete can go.
  await x.set('x2', 2)
  await syncOnce(a, x)
  t.equal(await a.purge(), 1, 'A forgets the delete once no pinned update holds k')
  const fresh2 = await memoryModel(t, { id: 'G', now }) as Model
  await syncOnce(a, fresh2)
  t.equal(await fresh2.get('k'), undefined, 'a node rebuilt from A then still does not hold the deleted value')
})

// Red-team round 6 (f): P saw A's delete of k and, from C (cut off from A), an older write of
// k that the delete beats. Once A had forgotten the delete, P was admitted (its clock covers
// it) and sent C's write, which A had never had: the deleted value came back at A, and A and
// P disagreed on k for good. An update older than a forgotten delete took longer than
// tombstoneTTL to arrive; it is now refused (SCUTTLEDB_STALE_UPDATE), not stored.
test('red6f: a delete forgotten past tombstoneTTL is not brought back by a relay that saw the delete', async (t) => {
  const a = await memoryModel(t, { id: 'A', now, tombstoneTTL: TTL } as object) as Model
  const c = await memoryModel(t, { id: 'C', now }) as Model
  const p = await memoryModel(t, { id: 'P', now }) as Model
  // C writes k while cut off from everyone.
  await c.set('k', 'old')
  wall += 1000
  // A sets and deletes k; it never saw C's (older) write.
  await a.set('k', 'a-value')
  await a.delete('k')
  // P syncs with A (gets the delete), then with C (gets C's older write, which the delete beats).
  await syncOnce(a, p)
  await syncOnce(c, p)
  t.equal(await p.get('k'), undefined, 'P: k is deleted (A\'s delete beats C\'s older write)')
  // A writes again (the delete is no longer its latest update) and, past the TTL, forgets the delete.
  await a.set('other', 1)
  wall += TTL + 1000
  const purged = await a.purge()
  t.equal(purged, 1, 'A forgot its delete of k')
  // P comes back: its clock has A's delete, so it is admitted... and sends C's write, which A never had.
  const rejected: string[] = []
  a.on('rejected', (err: Error & { code?: string }) => rejected.push(err.code ?? ''))
  await syncOnce(a, p)
  const [atA, atP] = [await a.get('k'), await p.get('k')]
  t.comment(`A refused: ${JSON.stringify(rejected)}; k at A: ${JSON.stringify(atA)}, at P: ${JSON.stringify(atP)}`)
  t.equal(atA, undefined, 'the deleted value does not come back at A')
  t.equal(atA, atP, 'A and P agree on k after a sync')
  t.deepEqual(rejected, [codes.STALE_UPDATE], 'C\'s older write is refused as SCUTTLEDB_STALE_UPDATE')
  t.equal(a.clock.C, undefined, 'and moves no clock entry at A')
  // A new node rebuilt from A (the documented way back) does not get it either.
  const fresh = await memoryModel(t, { id: 'N', now }) as Model
  await syncOnce(a, fresh)
  t.equal(await fresh.get('k'), undefined, 'a node rebuilt from A holds no k')
})
