import test, { type Test } from 'tape'
import { once } from 'node:events'
import { Collection, Model, authenticatePeer, codes, connect, generateKeys, listen, type Access, type CollectionOptions, type CollectionStream, type Connection } from '../lib/index.js'
import { differences, divergent, frame, linkCollections, memoryCollection, quiet, snapshot } from './collection-helpers.js'
import { tempDir, until } from './helpers.js'

async function diskCollection (t: Test, options: Partial<CollectionOptions> = {}): Promise<Collection> {
  const c = new Collection({ db: await tempDir(t), ...options })
  await c.open()
  t.teardown(async () => { await c.close() })
  return c
}

function streamOf (connection: Connection): CollectionStream {
  return connection.streams[0] as unknown as CollectionStream
}

test('collection over TCP: listen() and connect() sync two collections on disk, then a reconnect with nothing new is four messages a side', async (t) => {
  const [x, y] = [await diskCollection(t), await diskCollection(t)]
  for (let i = 0; i < 20; i++) await x.use(`x${i}`, async (doc: Model) => { await doc.set('i', i) }, Model)
  for (let i = 0; i < 20; i++) await y.use(`y${i}`, async (doc: Model) => { await doc.set('i', i) }, Model)
  const server = await listen(x.target(), { port: 0 })
  t.teardown(async () => { await server.close() })
  const first = connect(y.target(), { port: server.address.port, minDelay: 10, maxDelay: 50 })
  const [connection] = await once(first, 'synced') as [Connection]
  await quiet([streamOf(connection)])
  t.deepEqual(await divergent(x, y), [], 'both hold all 40 documents')
  await first.close()

  const second = connect(y.target(), { port: server.address.port, minDelay: 10, maxDelay: 50 })
  t.teardown(async () => { await second.close() })
  const [again] = await once(second, 'synced') as [Connection]
  const stream = streamOf(again)
  await quiet([stream])
  t.equal(stream.counts.updatesSent + stream.counts.updatesReceived, 0, 'no update crossed')
  t.ok(stream.counts.messagesSent <= 4 && stream.counts.messagesReceived <= 4, `hello, want and two done markers each way (${stream.counts.messagesSent} sent, ${stream.counts.messagesReceived} received)`)
  await (await x.doc('x3', Model)).set('live', true)
  t.ok(await until(async () => await (await y.doc('x3', Model)).get('live') === true), 'live updates flow over TCP')
})

/** Access by (peer, name): names starting with the peer's id are writable, `public/` readable, the rest hidden. */
function rules (peer: string | undefined, name: string): Access {
  if (peer !== undefined && name.startsWith(`${peer}/`)) return 'write'
  if (name.startsWith('public/')) return 'read'
  return 'none'
}

test('collection access: a peer never learns hidden names, a reader cannot write, a writer can', async (t) => {
  const server = await memoryCollection(t, { access: rules })
  const client = await memoryCollection(t)
  await (await server.doc('secret', Model)).set('k', 'hidden')
  await (await server.doc('public/news', Model)).set('k', 'read me')
  await (await server.doc('alice/notes', Model)).set('k', 'yours')
  await (await client.doc('alice/notes', Model)).set('mine', 'from alice')
  await (await client.doc('public/news', Model)).set('forged', 'by alice')
  await (await client.doc('bob/notes', Model)).set('k', 'alice writes as bob')
  const link = linkCollections(server, client, { a: 'alice' })
  const wire: Buffer[] = []
  link.a.on('data', (chunk: Buffer) => { wire.push(chunk) })
  await link.synced
  await quiet([link.a, link.b])
  t.equal(Buffer.concat(wire).includes('secret'), false, 'the hidden name never crossed the wire')
  t.equal(client.has('secret'), false, 'the hidden document never reached the peer')
  t.equal(await (await client.doc('public/news', Model)).get('k'), 'read me', 'a readable one did')
  t.equal(await (await server.doc('public/news', Model)).get('forged'), undefined, 'the reader\'s change was not taken')
  t.equal(await (await server.doc('alice/notes', Model)).get('mine'), 'from alice', 'the writer\'s change was')
  t.equal(server.has('bob/notes'), false, 'a document the peer may not see was not created from it')
  t.equal(link.a.destroyed, false, 'a peer that keeps to its rights keeps its stream')
})

test('collection access: updates for a read-only document are refused with ACCESS_DENIED and nothing is stored', async (t) => {
  const server = await memoryCollection(t, { access: rules })
  const honest = await memoryCollection(t)
  await (await server.doc('public/news', Model)).set('k', 'read me')
  const link = linkCollections(server, honest, { a: 'mallory' })
  await link.synced
  // A peer that ignores its rights: it sends a doc switch and an update for a read-only document.
  const rejected = once(server, 'rejected')
  const errored = once(link.a, 'error')
  link.b.push(frame({ t: 'doc', d: 'public/news' }))
  link.b.push(frame([['k', 'forged'], Date.now(), 'MALLORY']))
  const [err] = await errored as [Error & { code?: string }]
  t.equal(err.code, codes.ACCESS_DENIED, 'the stream failed with ACCESS_DENIED')
  t.equal(((await rejected)[0] as { code?: string }).code, codes.ACCESS_DENIED, 'and the collection reported it')
  t.equal(await (await server.doc('public/news', Model)).get('k'), 'read me', 'nothing from it was stored')
  await link.closed
})

test('collection access over TCP: the resolver sees the id the peer proved in the handshake', async (t) => {
  const [serverKeys, aliceKeys] = [generateKeys(), generateKeys()]
  const seen = new Set<string | undefined>()
  const server = await diskCollection(t, {
    access: (peer, name) => {
      seen.add(peer)
      return peer === aliceKeys.id && name.startsWith('alice/') ? 'write' : 'none'
    }
  })
  const client = await diskCollection(t)
  await (await server.doc('alice/inbox', Model)).set('hello', 'alice')
  await (await server.doc('other', Model)).set('k', 'hidden')
  await (await client.doc('alice/outbox', Model)).set('sent', 1)
  const listener = await listen(server.target(), { port: 0, handshake: authenticatePeer({ keys: serverKeys }) })
  t.teardown(async () => { await listener.close() })
  const dialer = connect(client.target(), { port: listener.address.port, handshake: authenticatePeer({ keys: aliceKeys }), minDelay: 10, maxDelay: 50 })
  t.teardown(async () => { await dialer.close() })
  const [connection] = await once(dialer, 'synced') as [Connection]
  await quiet([streamOf(connection)])
  t.deepEqual([...seen], [aliceKeys.id], 'the resolver was asked with the proven id only')
  t.equal(await (await client.doc('alice/inbox', Model)).get('hello'), 'alice', 'alice got her document')
  t.equal(client.has('other'), false, 'and not the hidden one')
  t.equal(await (await server.doc('alice/outbox', Model)).get('sent'), 1, 'her own document was accepted')
})

test('collection access: an asynchronous resolver is obeyed like a synchronous one', async (t) => {
  const server = await memoryCollection(t, { access: async (peer, name) => { await new Promise((resolve) => setTimeout(resolve, 1)); return rules(peer, name) } })
  const client = await memoryCollection(t)
  await (await server.doc('secret', Model)).set('k', 'hidden')
  await (await server.doc('public/news', Model)).set('k', 'read me')
  await (await client.doc('carol/notes', Model)).set('k', 'mine')
  await (await client.doc('public/news', Model)).set('forged', true)
  const link = linkCollections(server, client, { a: 'carol' })
  await link.synced
  await quiet([link.a, link.b])
  t.equal(client.has('secret'), false, 'hidden')
  t.equal(await (await client.doc('public/news', Model)).get('k'), 'read me', 'readable')
  t.equal(await (await server.doc('public/news', Model)).get('forged'), undefined, 'not writable')
  t.equal(await (await server.doc('carol/notes', Model)).get('k'), 'mine', 'writable')
})

test('collection sync: a document of another type at the peer is reported and left alone', async (t) => {
  const [x, y] = [await memoryCollection(t), await memoryCollection(t)]
  await (await x.doc('clash', Model)).set('k', 1)
  await (await y.doc('clash', 'Value')).localUpdate(2)
  await (await x.doc('fine', Model)).set('k', 1)
  const errors: string[] = []
  y.on('documentError', (name, err) => { errors.push(`${name} ${err.code}`) })
  const link = linkCollections(x, y)
  await link.synced
  await quiet([link.a, link.b])
  t.deepEqual(errors, [`clash ${codes.TYPE_MISMATCH}`], 'TYPE_MISMATCH reported for that document')
  t.equal(y.typeOf('clash'), 'Value', 'it kept its own type')
  t.equal(await (await y.doc('fine', Model)).get('k'), 1, 'the others synced')
})
