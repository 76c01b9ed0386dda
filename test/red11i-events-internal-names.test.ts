// Red-team round 11i (docs/protocol.md, "Newline JSON"). An original Events replays
// every received event with its own emit, and `_update` is the original's internal
// "send this update to my streams" event: an event named `_update` makes the original
// send its argument to its peers as an update. This test checks what the docs now say.
import { createRequire } from 'node:module'
import test from 'tape'
import { Events } from '../lib/index.js'
import { allHistory, tempDir, until } from './helpers.js'
import type { OriginalConstructor, OriginalEvents } from './original.js'

const require = createRequire(import.meta.url)
const OEvents = require('scuttlebutt/events.js') as OriginalConstructor<OriginalEvents>

test('an event named _update, replayed by an original, comes back as an update of another source', async (t) => {
  const ev = new Events({ db: await tempDir(t) })
  await ev.open()
  t.teardown(async () => { await ev.close() })
  const o = new OEvents()
  const s = ev.createStream({ wrapper: 'json' })
  const os = o.createStream()
  const errors: unknown[] = []
  s.on('error', (err) => errors.push(err))
  s.pipe(os).pipe(s)
  t.teardown(() => { s.destroy() })
  const ts = Date.now() + 1
  await ev.record('_update', [['made-up', 'payload'], ts, 'never-recorded'])
  t.ok(await until(() => ev.stats.committed === 2), 'a second update arrives back from the original')
  const sources = (await allHistory(ev)).map((u) => (u as [unknown, number, string])[2])
  t.ok(sources.includes('never-recorded'), 'scuttledb stored an event of a source that never recorded it')
  t.deepEqual(o.history({}).map((u) => u[2]), [ev.id], 'the original itself keeps only the _update event')
  t.deepEqual(errors, [], 'no error on the stream')
})
