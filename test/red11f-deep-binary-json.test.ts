import test from 'tape'
import type { Json } from '../lib/index.js'
import { MAX_DEPTH } from '../lib/value-domain.js'
import { link, memoryModel, until } from './helpers.js'

function nest (levels: number, inner: Json): Json {
  let value = inner
  for (let i = 0; i < levels; i++) value = [value]
  return value
}

// A JSON stream skips an update holding binary (it cannot carry it). The check looked
// MAX_DEPTH levels into the update, but the update is one level more than its change:
// binary at the bottom of a change nested as deep as set() accepts went out as
// {"type":"Buffer","data":[...]}, which the peer refused as too deep, closing the
// stream at it on every reconnect (and an original peer would have stored the object).
test('a JSON stream skips binary at the deepest level set() accepts, and goes on', async (t) => {
  const a = await memoryModel(t)
  const b = await memoryModel(t)
  const unsendable: string[] = []
  const rejected: string[] = []
  a.on('unsendable', (err) => { unsendable.push(err.code) })
  b.on('rejected', (err) => { rejected.push(`${err.code}: ${err.message}`) })
  // [key, value] is one level, so a Model value may nest MAX_DEPTH - 1 levels.
  await a.set('deep', nest(MAX_DEPTH - 1, Buffer.from([9])))
  await a.set('after', 1)
  const { synced, closed } = link(a, b, { wrapper: 'json' }, { wrapper: 'json' })
  const outcome = await Promise.race([synced.then(() => 'synced'), closed.then((err) => `closed: ${String(err)}`)])
  t.equal(outcome, 'synced', 'both sides synced')
  t.ok(await until(async () => (await b.get('after')) === 1), 'the later update arrived')
  t.same(rejected, [], 'the peer rejected nothing')
  t.same(unsendable, ['SCUTTLEDB_UNSENDABLE'], 'the binary update was skipped as unsendable')
  t.equal(await b.get('deep'), undefined, 'the peer holds no altered copy of it')
})
