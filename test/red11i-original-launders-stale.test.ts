// Red-team round 11i (docs/storage.md, "The returning peer"). A peer offline longer
// than tombstoneTTL is refused (SCUTTLEDB_STALE_PEER) by the header's `forgot`. The
// original scuttlebutt has no `forgot`: an original that synced from the node after
// the purge lets the stale peer through, and the deleted value stays there for good.
// This test checks what the docs now say.
import { createRequire } from 'node:module'
import test from 'tape'
import { Model, type ReplicationStream, type StreamOptions } from '../lib/index.js'
import { tempDir, sleep } from './helpers.js'
import type { OriginalConstructor, OriginalModel } from './original.js'

const require = createRequire(import.meta.url)
const OModel = require('scuttlebutt/model.js') as OriginalConstructor<OriginalModel>

/** Replicate scuttledb stream `x` with `y` for a while, then close; resolves with x's error codes. */
async function exchange (x: ReplicationStream, y: NodeJS.ReadWriteStream): Promise<string[]> {
  const codes: string[] = []
  x.on('error', (err) => codes.push(String((err as { code?: string }).code)))
  x.pipe(y).pipe(x)
  await sleep(300)
  x.destroy()
  return codes
}

test('a stale node that syncs through an original keeps the value of a forgotten delete, and is not refused afterwards', async (t) => {
  let shift = 0
  const now = (): number => Date.now() + shift
  const a = new Model({ db: await tempDir(t), tombstoneTTL: 1000, now })
  const b = new Model({ db: await tempDir(t), now })
  await a.open()
  await b.open()
  t.teardown(async () => { await a.close(); await b.close() })
  const json: StreamOptions = { wrapper: 'json' }
  await a.set('k', 'v')
  t.deepEqual(await exchange(a.createStream(), b.createStream()), [], 'b syncs from a')
  await a.delete('k')
  await a.set('j', 1)
  shift += 5000
  await a.purge()
  const o = new OModel()
  t.deepEqual(await exchange(a.createStream(json), o.createStream()), [], 'a fresh original syncs from a after the purge')
  t.deepEqual(await exchange(b.createStream(json), o.createStream()), [], 'b syncs through the original without a refusal')
  t.deepEqual(await b.toJSON(), { j: 1, k: 'v' }, 'b keeps the deleted value')
  t.deepEqual(await a.toJSON(), { j: 1 }, 'a does not hold it')
  const direct = await exchange(a.createStream(), b.createStream())
  t.deepEqual(direct, [], 'a direct link from a to b is not refused any more')
  t.deepEqual(await b.toJSON(), { j: 1, k: 'v' }, 'and b still holds it')
})
