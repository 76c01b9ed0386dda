import test from 'tape'
import { once } from 'node:events'
import { Model } from '../lib/index.js'
import { allHistory, frame, link, memoryModel, until } from './helpers.js'

/** Feed a hostile header (and SYNC) into a fresh stream of `x`, and wait until it closes. */
async function lie (x: Model, clock: Record<string, number>): Promise<void> {
  const s = x.createStream()
  s.on('error', () => {})
  s.resume()
  s.write(Buffer.concat([frame({ id: 'LIAR', clock }), frame('SYNC')]))
  await once(s, 'sync')
  s.end()
  s.destroy()
}

test('a header clock claiming a victim source ahead never makes the victim\'s genuine writes be dropped', async (t) => {
  const victim = await memoryModel(t, { id: 'VICTIM' })
  const relay = await memoryModel(t)
  await lie(relay, { VICTIM: Date.now() + 45_000 })
  t.deepEqual(relay.clock, {}, 'the claim did not move the stored clock')
  await victim.set('k', 'genuine')
  const l = link(victim, relay)
  await l.synced
  t.equal(await relay.get('k'), 'genuine', 'the victim\'s write made after the lie is accepted')
  await victim.set('k2', 'live')
  t.ok(await until(async () => await relay.get('k2') === 'live'), 'and so are its live writes')
  l.a.destroy()
  await l.closed
})

test('a header naming 100,000 invented sources adds none of them to the clock, and later peers inherit nothing', async (t) => {
  const x = await memoryModel(t)
  const clock: Record<string, number> = {}
  for (let i = 0; i < 100_000; i++) clock['invented-' + i] = 1_000 + i
  await lie(x, clock)
  t.deepEqual(x.clock, {}, 'no invented source entered the clock')
  await x.set('k', 1)
  const later = await memoryModel(t)
  const l = link(x, later)
  await l.synced
  t.deepEqual(Object.keys(later.clock), [x.id], 'a later peer\'s clock holds only the real source')
  t.equal((await allHistory(later)).length, 1, 'and only the real update')
  l.a.destroy()
  await l.closed
})
