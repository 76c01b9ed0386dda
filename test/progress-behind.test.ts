import test from 'tape'
import { memoryModel, link, stalledLink, until } from './helpers.js'

test('stream.progress.behind says how far the peer is behind: 0 once synced, growing while the peer stalls, 0 again after', async (t) => {
  const a = await memoryModel(t)
  const b = await memoryModel(t)
  await a.set('x', 1)
  const l = link(a, b)
  await l.synced
  t.deepEqual(l.a.progress.behind, { sources: 0, ms: 0 }, 'synced: the peer has everything')
  t.deepEqual(l.b.progress.behind, { sources: 0, ms: 0 }, 'and the other way')
  l.a.destroy()
  await l.closed

  const { a: sa, resume } = await stalledLink(a, b)
  // Enough live writes to fill the stalled wire: the last of them cannot have been sent.
  for (let i = 0; i < 2000; i++) await a.set('k' + i, 'v'.repeat(100))
  const behind = sa.progress.behind
  t.equal(behind.sources, 1, 'one source (a) the peer lacks newer updates of')
  // Known is what the stream has sent (into its buffer too): the gap is the unsent tail's span.
  t.ok(behind.ms > 0, `a gap in ms between a's latest and the last sent (${behind.ms} ms)`)
  resume()
  t.ok(await until(() => sa.progress.behind.sources === 0), 'once the wire drains the peer is back to 0')
  t.equal(await b.get('k1999'), 'v'.repeat(100), 'and holds the last write')
  sa.destroy()
})
