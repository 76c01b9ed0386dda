// A peer that says hello and want and then never reads: the listing of every
// document (docs messages, 4096 entries each) is pushed at once, whatever the
// peer reads, so each such connection holds the whole catalog's listing in
// memory (docs/protocol.md: the sender works "only while the stream is read").
import test from 'tape'
import { Collection, Model } from '../lib/index.js'
import { COLLECTION_PROTOCOL } from '../lib/collection-protocol.js'
import { divergent, frame, linkCollections, quiet } from './collection-helpers.js'
import { tempDir } from './helpers.js'

const DOCS = 12000

test('a collection peer that never reads is not pushed the listing of every document at once', async (t) => {
  const c = new Collection({ db: await tempDir(t) })
  await c.open()
  t.teardown(async () => { await c.close() })
  const pad = 'n'.repeat(200)
  for (let i = 0; i < DOCS; i++) await c.use(`${pad}${i}`, async (doc: Model) => { await doc.set('i', i) }, Model)
  const stream = c.createStream()
  t.teardown(() => { stream.destroy() })
  stream.write(frame({ t: 'hello', p: COLLECTION_PROTOCOL, id: 'SLOW', epoch: 'E', seq: 0 }))
  stream.write(frame({ t: 'want', since: 0 }))
  await quiet([stream], 200)
  // One docs message (4096 entries) may be over the high-water mark; the whole listing may not.
  const oneMessage = 4096 * (pad.length + 120)
  t.comment(`sent ${stream.counts.messagesSent} messages, ${stream.readableLength} bytes unread`)
  t.ok(stream.readableLength <= stream.readableHighWaterMark + oneMessage, `${stream.readableLength} bytes pushed to a peer that read none (at most ${stream.readableHighWaterMark + oneMessage})`)
  // Read, and the rest of the listing follows.
  const entries: number[] = []
  stream.on('data', () => {})
  await quiet([stream], 200)
  entries.push(stream.counts.messagesSent)
  t.ok(entries[0] >= 2 + Math.ceil(DOCS / 4096), `once read, every docs message is sent (${entries[0]} messages)`)
  // Two honest collections, each listing more than one docs message to the other, still sync both ways.
  const other = new Collection({ db: await tempDir(t) })
  await other.open()
  t.teardown(async () => { await other.close() })
  for (let i = 0; i < 5000; i++) await other.use(`other${i}`, async (doc: Model) => { await doc.set('i', i) }, Model)
  const link = linkCollections(c, other)
  await link.synced
  t.deepEqual(await divergent(c, other), [], 'an honest peer syncs every document both ways')
})

test('a peer that ends its side while the listing waits for it to read gets a clean end, not a push after EOF', async (t) => {
  const c = new Collection({ db: await tempDir(t) })
  await c.open()
  t.teardown(async () => { await c.close() })
  const pad = 'n'.repeat(200)
  for (let i = 0; i < 9000; i++) await c.use(`${pad}${i}`, async (doc: Model) => { await doc.set('i', i) }, Model)
  const stream = c.createStream()
  const errors: string[] = []
  stream.on('error', (err: Error & { code?: string }) => { errors.push(err.code ?? err.message) })
  stream.write(frame({ t: 'hello', p: COLLECTION_PROTOCOL, id: 'SLOW', epoch: 'E', seq: 0 }))
  stream.write(frame({ t: 'want', since: 0 }))
  stream.end()
  await quiet([stream], 200)
  const ended = new Promise<boolean>((resolve) => {
    stream.once('end', () => { resolve(true) })
    stream.once('close', () => { resolve(false) })
  })
  stream.on('data', () => {})
  t.equal(await ended, true, 'the output ends')
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.comment(`sent ${stream.counts.messagesSent} messages`)
  t.deepEqual(errors, [], 'without an error')
})
