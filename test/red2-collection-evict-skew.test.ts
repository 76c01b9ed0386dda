import test from 'tape'
import { join } from 'node:path'
import { Collection, Model, type ScuttledbError } from '../lib/index.js'
import { divergent, linkCollections } from './collection-helpers.js'
import { tempDir, until } from './helpers.js'

// The first round's fix for an update refused as too far ahead (README,
// SCUTTLEDB_CLOCK_SKEW: "Later updates of the same source from the same stream are
// held back with this code too, until the refused one has arrived") keeps what it
// held back in the document's instance (its update pipeline). A collection closes an
// idle document beyond `maxOpen` while the stream goes on: the next update of that
// document from the same stream opens a new instance, which has held nothing back,
// and takes it past the refused one. The receiver's clock then stands past the
// refused update: no later sync asks for it, and the replicas never converge
// (README: "Peers converge: no update may fail to reach a peer that stays connected
// or reconnects"). Each node's wall clock is given by `now` (no real time is judged).

test('a collection document evicted after an update too far ahead does not take its source\'s later update past it', async (t) => {
  const dir = await tempDir(t)
  let offset = 0 // b's clock, behind a's by two minutes until it is corrected
  const a = new Collection({ db: join(dir, 'a'), id: 'A', now: () => Date.now() + 120_000 })
  const b = new Collection({ db: join(dir, 'b'), id: 'B', maxOpen: 1, now: () => Date.now() + offset })
  await a.open()
  await b.open()
  t.teardown(async () => { await a.close(); await b.close() })
  const errors: string[] = []
  b.on('documentError', (name: string, err: ScuttledbError) => { errors.push(`${name} ${err.code}`) })
  const closed: string[] = []
  b.on('documentClose', (name: string) => { closed.push(name) })

  const first = linkCollections(a, b)
  await first.synced
  await a.use('d', async (d: Model) => { await d.set('k1', 'first') }, Model)
  t.ok(await until(() => errors.includes('d SCUTTLEDB_CLOCK_SKEW')), 'b refused k1 of d as too far ahead; the stream went on')
  // Another document's update arrives at b, which holds at most one open: d is closed.
  await a.use('e', async (e: Model) => { await e.set('x', 1) }, Model)
  t.ok(await until(() => closed.includes('d')), 'b closed the idle document d (maxOpen: 1)')

  offset = 120_000 // b's clock is corrected (an NTP step); a writes d again
  const before = errors.length
  await a.use('d', async (d: Model) => { await d.set('k2', 'second') }, Model)
  // b takes k2 (then k1 is skipped for good) or holds it back (as the fix intends).
  await until(async () => errors.length > before || (await b.use('d', async (d: Model) => await d.get('k2'), Model)) === 'second')
  first.a.destroy()
  await first.closed

  const second = linkCollections(a, b)
  await second.synced
  const arrived = await until(async () => (await b.use('d', async (d: Model) => await d.get('k1'), Model)) === 'first')
  t.ok(arrived, 'k1 reached b on the next sync, once within the skew')
  t.deepEqual(await divergent(a, b), [], 'a and b hold the same histories')
  second.a.destroy()
  await second.closed
})
