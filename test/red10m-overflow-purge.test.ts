import test from 'tape'
import { MemoryLevel } from 'memory-level'
import { Model, codes, type ScuttledbError } from '../lib/index.js'
import { link, stalledLink, until } from './helpers.js'

// A peer connected and admitted, then slow: a live delete it has not yet been sent is
// dropped from the overflowing live queue; the delete is forgotten (tombstoneTTL)
// before the stream re-reads history from what the peer holds. The re-read no longer
// finds the delete, and the peer's clock moves past it: it keeps the deleted value.
test('red10m: a delete forgotten while a slow peer\'s live queue overflowed is never sent to it: the deleted value stays at the peer', async (t) => {
  let wall = 1_800_000_000_000
  const now = (): number => wall
  const a = new Model({ db: new MemoryLevel(), id: 'A', now, tombstoneTTL: 1000 })
  const p = new Model({ db: new MemoryLevel(), id: 'P', now })
  await a.open()
  await p.open()
  t.teardown(async () => { await a.close(); await p.close() })

  const { a: sa, b: sb, resume } = await stalledLink(a, p)
  sa.on('error', () => {})
  sb.on('error', () => {})
  await a.set('k', 'secret')
  // Fill the wire so that A's stream stops pushing (backpressure).
  for (let i = 0; i < 800; i++) await a.set('fill' + i, 'x'.repeat(100))
  await a.delete('k')
  // Overflow the live queue: the delete is dropped from it, to be re-read from storage.
  const writes: Array<Promise<unknown>> = []
  for (let i = 0; i < 5000; i++) writes.push(a.set('more' + (i % 50), i))
  await Promise.all(writes)
  wall += 5000
  await a.set('after', 1)
  t.equal(await a.purge(), 1, 'the delete of k is forgotten')
  const rejected: string[] = []
  a.on('rejected', (err: ScuttledbError) => { rejected.push(err.code) })
  resume()
  await until(async () => rejected.length > 0 || (await p.get('after')) === 1, 10000)
  t.equal(await a.get('k'), undefined, 'k is deleted at A')
  if (await p.get('k') === undefined) {
    t.pass('P has the delete')
    return
  }
  // P kept the deleted value: then it must be refused as a stale peer, now and on every later sync.
  t.deepEqual(rejected, [codes.STALE_PEER], 'P, which never got the delete, is refused (SCUTTLEDB_STALE_PEER)')
  const again = link(a, p)
  again.synced.catch(() => {})
  await again.closed
  t.deepEqual(rejected, [codes.STALE_PEER, codes.STALE_PEER], 'and refused again when it reconnects')
})
