// A writers predicate may change (collections.md: "or those a predicate allows"). An
// update refused because its source was not allowed yet is not asked for again: the
// stream that refused it still recorded how far the peer was synced (otherwise every
// reconnect with a relay holding a permanently excluded source's updates would compare
// every document). docs/collections.md says so: it is taken once the document changes
// again at the peer.
import test from 'tape'
import { Collection, Model } from '../lib/index.js'
import { linkCollections, quiet } from './collection-helpers.js'
import { tempDir, until } from './helpers.js'

test('an update refused by writers is taken once its source is allowed and the document changes again at the peer', async (t) => {
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
  t.equal(c.typeOf('x') === undefined ? undefined : await c.use('x', async (doc: Model) => doc.get('k')), undefined, 'not asked for again by a sync with nothing new (as documented)')
  await b.use('x', async (doc: Model) => { await doc.set('k2', 'later') }, Model)
  const third = until(async () => c.typeOf('x') !== undefined && (await c.use('x', async (doc: Model) => doc.get('k2'))) === 'later', 10_000)
  t.ok(await third, 'the document\'s next change at b arrives')
  t.equal(await c.use('x', async (doc: Model) => doc.get('k')), 'from b', 'and with it the update refused before')
  second.a.destroy()
  second.b.destroy()
  await second.closed
})
