import test from 'tape'
import { cp } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { Model } from '../lib/index.js'
import { link, memoryModel, tempDir } from './helpers.js'

const fixtures = fileURLToPath(new URL('../../test/fixtures/format-1/', import.meta.url))

// Not fixed (a design decision): format 1 deleted a source's superseded latest update, so after the
// upgrade the clock entry of FIXTURE-B (1796156329852) is backed by no update; a peer synced from it
// stops at 1796156329849, and the stream's progress.behind (and scuttledb_peer_behind_sources) stays
// { sources: 1 } for good, though the peer holds everything. Either the upgrade lowers such entries
// of other sources to their latest held update, or it is documented.
test.skip('a Model upgraded from 0.1.0: a peer synced from it ends with the same clock', async (t) => {
  const dir = join(await tempDir(t), 'model')
  await cp(join(fixtures, 'model'), dir, { recursive: true })
  const model = new Model({ db: dir })
  await model.open()
  t.teardown(async () => { await model.close() })
  const peer = await memoryModel(t)
  const l = link(model, peer)
  await l.synced
  t.deepEqual(peer.clock, model.clock, 'the peer has every clock entry the upgraded node has')
  t.deepEqual(l.a.progress.behind, { sources: 0, ms: 0 }, 'the upgraded node knows the peer has everything')
  l.a.destroy()
  await l.closed
})
