import test from 'tape'
import { codes } from '../lib/index.js'
import { frame, memoryCollection, scriptedPeer } from './collection-helpers.js'
import { until } from './helpers.js'

// README/docs: a peer's `docs` entries may cost a stream at most maxPeerEntryBytes
// (entryCost: 512 + name + type + 96 per clock source); past it the stream closes with
// SCUTTLEDB_OVERLOADED. #onEntries charges a name only the first time the peer announces
// it: an entry for a name already announced is free, yet its clock is still merged into
// the outbox's per-document `known` map (and replaces #peerClocks). A peer announces one
// name with an empty clock (512 bytes), then announces it again and again, each time
// with a clock of new sources: the stream's state grows without bound, never charged.

test('re-announcing a document with clocks of new sources is charged against maxPeerEntryBytes', async (t) => {
  const c = await memoryCollection(t, { maxPeerEntryBytes: 64 * 1024 })
  const { stream, code } = scriptedPeer(c, 'a', false)
  // 100 messages x 64 entries (all of 'a') x 100 new sources: 640,000 clock sources,
  // ~61 MB at entryCost's 96 bytes each, against a budget of 64 KiB.
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  const before = process.memoryUsage().heapUsed
  let source = 0
  for (let m = 0; m < 100 && !stream.destroyed; m++) {
    const d = Array.from({ length: 64 }, () => {
      const clock: Record<string, number> = {}
      for (let i = 0; i < 100; i++) clock[`S${source++}`] = 1
      return ['a', 'Model', clock, false]
    })
    stream.write(frame({ t: 'docs', d }))
    await new Promise((resolve) => setImmediate(resolve))
  }
  gc?.()
  t.comment(`heap grew by ${Math.round((process.memoryUsage().heapUsed - before) / 1e6)} MB (run with --expose-gc for a precise figure)`)
  t.ok(await until(() => stream.destroyed, 2000), `the stream closed (after ${source} clock sources announced for one name)`)
  t.equal(code(), codes.OVERLOADED, 'with SCUTTLEDB_OVERLOADED')
  stream.destroy()
})
