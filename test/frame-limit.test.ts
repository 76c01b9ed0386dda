import test from 'tape'
import { once } from 'node:events'
import { pipeline } from 'node:stream'
import { Model, type ScuttledbError } from '../lib/index.js'
import { memoryModel } from './helpers.js'

// An update the value domain accepts can still be longer than a stream's frame limit
// on the wire (JSON escapes grow a string up to six times; a maxFrameBytes below the
// value domain's bound). Sent, the peer would refuse it and close the stream, and every
// reconnect would stop at it again: it is skipped with `unsendable` instead.

async function syncOnce (a: Model, b: Model, options: { wrapper?: 'json', maxFrameBytes?: number }): Promise<ScuttledbError[]> {
  const skipped: ScuttledbError[] = []
  const onSkip = (err: ScuttledbError): void => { skipped.push(err) }
  a.on('unsendable', onSkip)
  const sa = a.createStream(options)
  const sb = b.createStream(options)
  const rejected: unknown[] = []
  b.on('rejected', (err) => rejected.push(err))
  const closed = new Promise<void>((resolve) => { pipeline(sa, sb, sa, () => { resolve() }) })
  const synced = Promise.all([once(sa, 'sync'), once(sb, 'sync')])
  synced.catch(() => {})
  await Promise.race([synced, closed.then(() => { throw new Error(`the streams closed before they synced (b rejected ${rejected.map((err) => (err as ScuttledbError).code).join(', ')})`) })])
  sa.destroy()
  await closed
  a.off('unsendable', onSkip)
  if (rejected.length > 0) throw new Error(`b rejected ${rejected.length} messages`)
  return skipped
}

test('on a JSON stream, a string whose escapes make its line longer than maxFrameBytes is skipped with unsendable; the rest syncs', async (t) => {
  const a = await memoryModel(t)
  const b = await memoryModel(t)
  await a.set('control', '\u0001'.repeat(3 * 1024 * 1024))
  await a.set('quotes', 'a"'.repeat(6 * 1024 * 1024))
  await a.set('after', 'small')
  const skipped = await syncOnce(a, b, { wrapper: 'json' })
  t.deepEqual(skipped.map((err) => err.code), ['SCUTTLEDB_UNSENDABLE', 'SCUTTLEDB_UNSENDABLE'], 'both long lines are skipped, coded')
  t.equal(await b.get('after'), 'small', 'the update after them arrives, and the stream synced')
  t.equal(await b.get('control'), undefined, 'the skipped values are not at the peer')
  // b's clock has moved past them: like binary on JSON, they never reach b (README, `unsendable`).
  t.deepEqual(await syncOnce(a, b, { wrapper: 'json' }), [], 'a second sync has nothing to send, and syncs')
  const c = await memoryModel(t)
  t.deepEqual(await syncOnce(a, c, {}), [], 'msgpack carries them to another peer')
  t.equal((await c.get('control') as string).length, 3 * 1024 * 1024, 'whole')
})

test('with a maxFrameBytes below an update\'s size, a msgpack stream skips that update with unsendable; the rest syncs', async (t) => {
  const a = await memoryModel(t)
  const b = await memoryModel(t)
  await a.set('big', 'x'.repeat(64 * 1024))
  await a.set('small', 1)
  const skipped = await syncOnce(a, b, { maxFrameBytes: 16 * 1024 })
  t.deepEqual(skipped.map((err) => err.code), ['SCUTTLEDB_UNSENDABLE'], 'the big update is skipped, coded')
  t.equal(await b.get('small'), 1, 'the small one arrives, and the stream synced')
  t.equal(await b.get('big'), undefined, 'the big one does not')
})
