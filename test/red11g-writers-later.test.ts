// A writers predicate may change (collections.md: "or those a predicate allows"):
// an update refused because its source was not allowed yet is never taken once it
// is, because the stream that refused it still recorded how far the peer was
// synced, and the next sync skips the document. Skipped: whether a writers
// refusal should keep the record from being written (every reconnect with a relay
// holding a permanently excluded source's updates would then compare everything)
// is a design decision; docs/security.md's key rotation asks to allow first.
import test from 'tape'
import { Collection, Model } from '../lib/index.js'
import { linkCollections, quiet } from './collection-helpers.js'
import { tempDir } from './helpers.js'

test.skip('an update refused by writers is taken by a later sync once its source is allowed', async (t) => {
  const allowed = new Set<string>()
  const b = new Collection({ db: await tempDir(t) })
  await b.open()
  t.teardown(async () => { await b.close() })
  const c = new Collection({ db: await tempDir(t), writers: (source: string) => allowed.has(source) })
  await c.open()
  t.teardown(async () => { await c.close() })
  await b.use('x', async (doc: Model) => { await doc.set('k', 'from b') }, Model)
  const first = linkCollections(b, c)
  await first.synced
  await quiet([first.a, first.b])
  t.equal(c.typeOf('x') === undefined ? undefined : await c.use('x', async (doc: Model) => doc.get('k')), undefined, 'refused while b is not a writer')
  first.a.destroy()
  first.b.destroy()
  await first.closed
  allowed.add(b._catalog.id)
  const second = linkCollections(b, c)
  await second.synced
  await quiet([second.a, second.b])
  t.equal(c.typeOf('x') === undefined ? undefined : await c.use('x', async (doc: Model) => doc.get('k')), 'from b', 'taken once b is allowed')
})
