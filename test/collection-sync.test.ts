import test from 'tape'
import { Events, Model, Value, seededRandom, type Collection } from '../lib/index.js'
import { differences, divergent, linkCollections, memoryCollection, quiet, snapshot } from './collection-helpers.js'
import { until } from './helpers.js'

test('collection sync: two collections exchange every document, with its type, both ways', async (t) => {
  const [x, y] = [await memoryCollection(t), await memoryCollection(t)]
  await (await x.doc('m', Model)).set('from', 'x')
  await (await x.doc('v', Value)).set(1)
  await (await y.doc('e', Events)).emit('hi', 'y')
  await (await y.doc('m', Model)).set('y-key', true)
  const link = linkCollections(x, y)
  await link.synced
  t.equal(y.typeOf('v'), 'Value', 'the type travelled with the document')
  t.equal(x.typeOf('e'), 'Events', 'both ways')
  t.deepEqual(await divergent(x, y), [], 'both hold the same documents and histories')
  t.deepEqual(await (await x.doc('m', Model)).toJSON(), { from: 'x', 'y-key': true }, 'a document both wrote merged')
})

test('collection sync: after the sync, writes to any document go live to the peer', async (t) => {
  const [x, y] = [await memoryCollection(t), await memoryCollection(t)]
  await (await x.doc('first', Model)).set('a', 1)
  const link = linkCollections(x, y)
  await link.synced
  await (await x.doc('first', Model)).set('b', 2)
  await (await x.doc('new', Model)).set('c', 3)
  t.ok(await until(async () => y.has('new') && await (await y.doc('new', Model)).get('c') === 3), 'a new document arrived live')
  t.ok(await until(async () => await (await y.doc('first', Model)).get('b') === 2), 'a change to a known one too')
  await (await y.doc('new', Model)).set('back', true)
  t.ok(await until(async () => await (await x.doc('new', Model)).get('back') === true), 'and back')
})

test('collection sync: a reconnect with nothing new exchanges a constant number of messages', async (t) => {
  const [x, y] = [await memoryCollection(t), await memoryCollection(t)]
  for (let i = 0; i < 50; i++) await (await x.doc(`x${i}`, Model)).set('k', i)
  for (let i = 0; i < 50; i++) await (await y.doc(`y${i}`, Model)).set('k', i)
  const first = linkCollections(x, y)
  await first.synced
  await quiet([first.a, first.b])
  const firstMessages = first.a.counts.messagesSent + first.b.counts.messagesSent
  first.a.destroy()
  await first.closed
  const second = linkCollections(x, y)
  await second.synced
  await quiet([second.a, second.b])
  const counts = [second.a.counts, second.b.counts]
  t.deepEqual(counts.map((c) => c.updatesSent), [0, 0], 'no update was sent')
  t.ok(counts.every((c) => c.messagesSent <= 4), `each side sent at most hello, want and two done markers (${counts.map((c) => c.messagesSent).join(', ')}; the first sync sent ${firstMessages})`)
})

test('collection sync: a reconnect sends only the documents that changed', async (t) => {
  const [x, y] = [await memoryCollection(t), await memoryCollection(t)]
  for (let i = 0; i < 40; i++) await (await x.doc(`d${i}`, Model)).set('k', i)
  const first = linkCollections(x, y)
  await first.synced
  await quiet([first.a, first.b])
  first.a.destroy()
  await first.closed
  await (await x.doc('d7', Model)).set('k', 'changed')
  await (await y.doc('d9', Model)).set('other', 'side')
  const second = linkCollections(x, y)
  await second.synced
  await quiet([second.a, second.b])
  t.equal(second.a.counts.updatesSent, 1, 'x sent the one update')
  t.equal(second.b.counts.updatesSent, 1, 'y sent the one update')
  t.equal(await (await y.doc('d7', Model)).get('k'), 'changed', 'it arrived')
  t.equal(await (await x.doc('d9', Model)).get('other'), 'side', 'both ways')
  t.ok(second.a.counts.messagesSent < 10, `a handful of messages (${second.a.counts.messagesSent})`)
})

test('collection sync: a document changed through a third collection is sent on reconnect', async (t) => {
  const [x, y, z] = [await memoryCollection(t), await memoryCollection(t), await memoryCollection(t)]
  await (await x.doc('shared', Model)).set('v', 1)
  const xy = linkCollections(x, y)
  await xy.synced
  await quiet([xy.a, xy.b])
  xy.a.destroy()
  await xy.closed
  // z changes it and tells only y; x must then get it from y although x and y had confirmed each other.
  const zy = linkCollections(z, y)
  await zy.synced
  await (await z.doc('shared', Model)).set('v', 2)
  t.ok(await until(async () => await (await y.doc('shared', Model)).get('v') === 2), 'y has the relayed change')
  const again = linkCollections(x, y)
  await again.synced
  t.ok(await until(async () => await (await x.doc('shared', Model)).get('v') === 2), 'x got the change made at z')
})

test('collection sync: three collections with seeded random writes to random documents converge', async (t) => {
  const seed = Number(process.env.SEED ?? Date.now() % 100000)
  t.comment(`seed ${seed}`)
  const random = seededRandom(seed)
  const nodes: Collection[] = [await memoryCollection(t, { maxOpen: 5 }), await memoryCollection(t, { maxOpen: 5 }), await memoryCollection(t, { maxOpen: 5 })]
  const types = ['Model', 'Value', 'Events'] as const
  const write = async (): Promise<void> => {
    const node = nodes[Math.floor(random() * 3)]
    const index = Math.floor(random() * 30)
    const type = types[index % 3]
    const name = `doc-${index}`
    await node.use(name, async (doc) => {
      if (doc instanceof Model) await doc.set(`k${Math.floor(random() * 5)}`, random())
      else if (doc instanceof Value) await doc.set(random())
      else if (doc instanceof Events) await doc.emit('e', random())
    }, type)
  }
  for (let i = 0; i < 100; i++) await write()
  // A line x - y - z: z learns x's writes through y.
  const xy = linkCollections(nodes[0], nodes[1])
  const yz = linkCollections(nodes[1], nodes[2])
  await Promise.all([xy.synced, yz.synced])
  for (let i = 0; i < 100; i++) await write()
  await quiet([xy.a, xy.b, yz.a, yz.b], 100)
  const [a, b, c] = [await snapshot(nodes[0]), await snapshot(nodes[1]), await snapshot(nodes[2])]
  t.deepEqual(differences(a, b), [], `x and y converged (seed ${seed})`)
  for (const name of differences(a, b).slice(0, 2)) {
    const clocks = await Promise.all(nodes.map(async (n) => await n.use(name, async (doc) => JSON.stringify(doc.clock))))
    t.comment(`${name}: x ${JSON.stringify(a[name])} y ${JSON.stringify(b[name])} z ${JSON.stringify(c[name])} clocks ${clocks.join(' ')} ids ${nodes.map((n) => n.id).join(' ')}`)
  }
  t.deepEqual(differences(b, c), [], `y and z converged (seed ${seed})`)
  t.ok(nodes.every((n) => n.opened.length <= 5 + 8), 'no node held many more documents open than maxOpen')
})

test('collection sync: lazy open and idle close under maxOpen while a sync runs', async (t) => {
  const [x, y] = [await memoryCollection(t, { maxOpen: 3 }), await memoryCollection(t, { maxOpen: 3 })]
  for (let i = 0; i < 60; i++) await x.use(`d${i}`, async (doc: Model) => { await doc.set('k', i) }, Model)
  let most = 0
  y.on('documentOpen', () => { most = Math.max(most, y.opened.length) })
  const link = linkCollections(x, y)
  await link.synced
  t.equal(y.size, 60, 'every document arrived')
  t.ok(most <= 3 + 64 + 8, `at most maxOpen plus what was in flight was open (${most})`)
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.ok(y.opened.length <= 3, `idle documents were closed (${y.opened.length} open)`)
  t.deepEqual(await divergent(x, y), [], 'with every update')
  link.a.destroy()
  await link.closed
})
