import test from 'tape'
import { cp } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { Model } from '../lib/index.js'
import { link, memoryModel, tempDir } from './helpers.js'

const fixtures = fileURLToPath(new URL('../../test/fixtures/format-1/', import.meta.url))

// docs/storage.md (Format versions and upgrades): format 1 deleted a source's superseded latest
// update, so after the upgrade the clock entry of FIXTURE-B (1796156329852) is backed by no update.
// The clock is not rewritten (lowering it would invite back what the database forgot on purpose):
// a peer synced from it holds every update and value, and ends FIXTURE-B one update short, which
// the stream's progress.behind counts until FIXTURE-B writes again.
test('a Model upgraded from 0.1.0: a peer synced from it holds everything; behind counts the source whose latest 0.1.0 deleted', async (t) => {
  const dir = join(await tempDir(t), 'model')
  await cp(join(fixtures, 'model'), dir, { recursive: true })
  const model = new Model({ db: dir })
  await model.open()
  t.teardown(async () => { await model.close() })
  const peer = await memoryModel(t)
  const l = link(model, peer)
  await l.synced
  t.deepEqual(await peer.toJSON(), await model.toJSON(), 'the peer holds every value')
  const differs = Object.entries(model.clock).filter(([source, ts]) => peer.clock[source] !== ts).map(([source]) => source)
  t.deepEqual(differs, ['FIXTURE-B'], 'only the source whose latest update 0.1.0 deleted differs')
  t.ok((peer.clock['FIXTURE-B'] ?? 0) < (model.clock['FIXTURE-B'] ?? 0), 'the peer ends it one update short')
  t.deepEqual(l.a.progress.behind.sources, 1, 'progress.behind counts that source, as documented')
  l.a.destroy()
  await l.closed
})
