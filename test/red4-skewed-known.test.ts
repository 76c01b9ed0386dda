import test from 'tape'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { frame, memoryCollection, scriptedPeer } from './collection-helpers.js'
import { until } from './helpers.js'

// Promise: no unbounded memory from one peer; nothing from a hostile peer is stored.
// A collection stream's #onUpdates records every received update's (source, ts) in the
// outbox's per-document `known` map before it looks at the update. Updates refused as
// too far ahead (SCUTTLEDB_CLOCK_SKEW; after the first, every update of that document
// on this stream, #skewed) are not stored, yet each fresh source stays in `known` (and,
// for the first, in the pipeline's #held). With timestamps more than ~24.8 days ahead
// no resync timer closes the stream (SkewResync ignores delays past 2^31-1 ms), so the
// peer streamed refused updates of fresh sources forever and the heap grew with them.
// Now such a stream closes at once (SCUTTLEDB_CLOCK_SKEW), and a skewed document keeps
// nothing of what follows.

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

test('refused (too far ahead) updates of ever new sources do not grow a collection stream without bound', async (t) => {
  const c = await memoryCollection(t)
  const { stream, code } = scriptedPeer(c, 'a', true)
  // Wait for our answer (the victim accepts 'a'): its docs message.
  t.ok(await until(() => stream.counts.messagesSent >= 3), 'the victim answered the entry')
  const ahead = Date.now() + 40 * 24 * 3600 * 1000
  gc()
  const before = process.memoryUsage().heapUsed
  let n = 0
  for (let chunk = 0; chunk < 100 && !stream.destroyed; chunk++) {
    const frames = [frame({ t: 'doc', d: 'a' })]
    for (let i = 0; i < 4096; i++, n++) frames.push(frame([['k', n], ahead + n, `SOURCE-${n}`]))
    if (!stream.write(Buffer.concat(frames))) await new Promise((resolve) => { stream.once('drain', resolve); stream.once('close', resolve) })
  }
  await until(() => stream.writableLength === 0 || stream.destroyed)
  gc()
  const grown = process.memoryUsage().heapUsed - before
  t.comment(`${n} refused updates of fresh sources; heap grew by ${Math.round(grown / 1e6)} MB; stream destroyed: ${stream.destroyed} (${code() ?? 'no error'})`)
  t.comment(`document a: ${c.typeOf('a') ?? 'not created'}`)
  t.ok(stream.destroyed || grown < 8e6, 'the stream closed, or what it keeps of refused updates is bounded (< 8 MB)')
  stream.destroy()
})
