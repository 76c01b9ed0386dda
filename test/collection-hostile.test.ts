import test from 'tape'
import { once } from 'node:events'
import { Model, codes, seededRandom, type Collection, type CollectionStream } from '../lib/index.js'
import { COLLECTION_PROTOCOL } from '../lib/collection-protocol.js'
import { frame, linkCollections, memoryCollection } from './collection-helpers.js'
import { until } from './helpers.js'

const hello = frame({ t: 'hello', p: COLLECTION_PROTOCOL, id: 'EVIL', epoch: 'E', seq: 0 })
const update = frame([['k', 'v'], Date.now(), 'EVIL'])

/** Write `bytes` into a fresh stream of `c`; resolves with the code of the error it closed with. */
async function refusal (c: Collection, bytes: Buffer): Promise<string | undefined> {
  const stream: CollectionStream = c.createStream()
  stream.resume()
  let code = 'closed without an error'
  stream.once('error', (err: Error & { code?: string }) => { code = err.code ?? 'no code' })
  const closed = new Promise((resolve) => stream.once('close', resolve))
  stream.write(bytes)
  await closed
  return code
}

const cases: Array<[string, Buffer, string]> = [
  ['bytes that are not msgpack', Buffer.from([0, 0, 0, 2, 0xc1, 0xc1]), codes.INVALID_FRAME],
  ['a frame longer than maxFrameBytes', Buffer.from([0xff, 0xff, 0xff, 0xff, 1]), codes.FRAME_TOO_LARGE],
  ['an update before hello', update, codes.HEADER_EXPECTED],
  ['a hello of another protocol', frame({ t: 'hello', p: 'other/1', id: 'EVIL', epoch: 'E', seq: 0 }), codes.INVALID_MESSAGE],
  ['a second hello', Buffer.concat([hello, hello]), codes.DUPLICATE_HEADER],
  ['an update before any doc message', Buffer.concat([hello, update]), codes.INVALID_MESSAGE],
  ['a doc message for a document never offered', Buffer.concat([hello, frame({ t: 'doc', d: 'x' }), update]), codes.ACCESS_DENIED],
  ['a docs entry of the wrong shape', Buffer.concat([hello, frame({ t: 'docs', d: [['x', 'Model', { EVIL: 'soon' }, true]] })]), codes.INVALID_MESSAGE],
  ['a negative want', Buffer.concat([hello, frame({ t: 'want', since: -1 })]), codes.INVALID_MESSAGE],
  ['an unknown message', Buffer.concat([hello, frame({ t: 'boom' })]), codes.INVALID_MESSAGE],
  ['a name that is too long', Buffer.concat([hello, frame({ t: 'doc', d: 'x'.repeat(2000) })]), codes.INVALID_MESSAGE]
]

test('collection hostile input: each malformed message closes that stream with a coded error, stores nothing, and spares the others', async (t) => {
  const [c, peer] = [await memoryCollection(t), await memoryCollection(t)]
  await (await c.doc('kept', Model)).set('k', 1)
  const link = linkCollections(c, peer)
  await link.synced
  for (const [what, bytes, code] of cases) t.equal(await refusal(c, bytes), code, `${what}: ${code}`)
  t.equal(c.size, 1, 'no document was created')
  t.equal(link.a.destroyed, false, 'the honest peer\'s stream is still open')
  await (await c.doc('kept', Model)).set('after', true)
  t.ok(await until(async () => await (await peer.doc('kept', Model)).get('after') === true), 'and still replicates')
})

test('collection hostile input: an update with an invalid change for the document type is refused and not stored', async (t) => {
  const [c, peer] = [await memoryCollection(t), await memoryCollection(t)]
  await (await peer.doc('m', Model)).set('k', 'v')
  const link = linkCollections(c, peer)
  await link.synced
  // The peer offered m and c accepted it: now a Model change that is no [key, value] pair.
  const failed = once(link.a, 'error')
  link.b.push(Buffer.concat([frame({ t: 'doc', d: 'm' }), frame([42, Date.now(), 'EVIL'])]))
  const [err] = await failed as [{ code?: string }]
  t.equal(err.code, codes.INVALID_MESSAGE, 'INVALID_MESSAGE')
  t.deepEqual(await (await c.doc('m', Model)).toJSON(), { k: 'v' }, 'nothing from it was stored')
  await link.closed
})

test('collection hostile input: seeded random frames never crash the process or store anything', async (t) => {
  const seed = Number(process.env.SEED ?? Date.now() % 100000)
  const random = seededRandom(seed)
  const c = await memoryCollection(t)
  const pick = <T> (xs: T[]): T => xs[Math.floor(random() * xs.length)]
  const values = (): unknown => pick([
    { t: pick(['hello', 'want', 'docs', 'doc', 'done', 'x']), p: COLLECTION_PROTOCOL, id: pick(['A', '', 5]), epoch: pick(['E', null]), seq: pick([0, -1, 1.5, 2 ** 60]), since: pick([0, 'a']), d: pick(['doc', [['n', 'Model', {}, true]], [[1]], 'x'.repeat(3000)]) },
    [pick([['k', 1], 42, null]), pick([Date.now(), NaN, -1, 'x']), pick(['EVIL', '', '__proto__'])],
    'SYNC', null, 7, Buffer.from('raw')
  ])
  let refused = 0
  for (let i = 0; i < 200; i++) {
    const parts = Array.from({ length: 1 + Math.floor(random() * 4) }, () => frame(values()))
    if (random() < 0.5) parts.unshift(hello)
    let bytes = Buffer.concat(parts)
    if (random() < 0.2) bytes = bytes.subarray(0, Math.floor(random() * bytes.length))
    if (random() < 0.2 && bytes.length > 0) bytes[Math.floor(random() * bytes.length)] ^= 0xff
    const stream = c.createStream()
    stream.resume()
    stream.on('error', () => { refused++ })
    const closed = new Promise((resolve) => stream.once('close', resolve))
    stream.write(bytes)
    stream.end()
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 50))])
    stream.destroy()
    await closed
  }
  t.equal(c.size, 0, `nothing was stored (seed ${seed}, ${refused} refused)`)
  t.ok(refused > 0, 'malformed frames were refused')
})

test('collection hostile input: a peer announcing documents past maxPeerEntryBytes is closed with SCUTTLEDB_OVERLOADED, nothing created, the others go on', async (t) => {
  const c = await memoryCollection(t, { maxPeerEntryBytes: 64 * 1024 })
  const peer = await memoryCollection(t)
  await (await c.doc('kept', Model)).set('k', 1)
  const link = linkCollections(c, peer)
  await link.synced
  // Well-formed entries of new names, each frame far below maxFrameBytes: only the budget stops them.
  const docs = (from: number): Buffer => frame({ t: 'docs', d: Array.from({ length: 64 }, (_, i) => [`n-${from + i}-${'x'.repeat(500)}`, 'Model', {}, true]) })
  const rejected: string[] = []
  c.on('rejected', (err: Error & { code?: string }) => { rejected.push(err.code ?? '') })
  const within = c.createStream()
  within.resume()
  within.write(Buffer.concat([hello, frame({ t: 'want', since: 0 }), docs(0)]))
  t.ok(await until(() => within.counts.messagesReceived >= 3), 'entries within the budget are taken')
  t.equal(within.destroyed, false, 'and the stream stays open')
  within.destroy()
  t.equal(await refusal(c, Buffer.concat([hello, frame({ t: 'want', since: 0 }), ...Array.from({ length: 64 }, (_, i) => docs(i * 64))])), codes.OVERLOADED, 'past the budget: SCUTTLEDB_OVERLOADED')
  t.deepEqual(rejected, [codes.OVERLOADED], 'reported as rejected')
  t.deepEqual(c.names(), ['kept'], 'no document was created')
  await (await c.doc('kept', Model)).set('after', true)
  t.ok(await until(async () => await (await peer.doc('kept', Model)).get('after') === true), 'the honest peer still replicates')
})
