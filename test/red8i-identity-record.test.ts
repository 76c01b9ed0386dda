import test from 'tape'
import { Model } from '../lib/index.js'
import { linkCollections, memoryCollection } from './collection-helpers.js'

// docs/collections.md: the resolver decides per peer identity what a peer may see;
// docs/protocol.md: `want since` is the receiver's record of the sender. That record
// is keyed by the *sender's* proven id and collection id only: nothing in it says
// under which identity the receiver was served. A node that synced with the server
// under identity K1 (which may not see 'private') records the server's seq S; when
// it later connects under identity K2 (which may read 'private' and always could:
// no answer of the resolver changed), it asks `want since S` and the server skips
// 'private' (seq <= S). K2 never gets it until someone changes it.

test('a node connecting under a second identity gets the documents that identity may read, whatever it recorded under the first', async (t) => {
  const server = await memoryCollection(t, {
    access: (peer, name) => name === 'private' ? (peer === 'K2' ? 'read' : 'none') : 'read'
  })
  const client = await memoryCollection(t)
  await (await server.doc('private', Model)).set('k', 'for K2 only')
  await (await server.doc('public', Model)).set('k', 'for all')

  // First as K1 (the client proves the server's id 'SERVER' both times).
  const first = linkCollections(server, client, { a: 'K1', b: 'SERVER' })
  await first.synced
  t.equal(await (await client.doc('public', Model)).get('k'), 'for all', 'K1 got the public document')
  first.a.destroy()
  await first.closed

  // Then as K2: same client collection, same server.
  const second = linkCollections(server, client, { a: 'K2', b: 'SERVER' })
  await second.synced
  t.ok(client.has('private'), 'the client holds the document K2 may read')
  t.equal(client.has('private') ? await (await client.doc('private', Model)).get('k') : undefined, 'for K2 only', 'with its value')
  second.a.destroy()
  await second.closed
})
