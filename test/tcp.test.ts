import net from 'node:net'
import { once } from 'node:events'
import { pipeline } from 'node:stream'
import { isDeepStrictEqual } from 'node:util'
import test, { type Test } from 'tape'
import type { Model, ReplicationStream, SyncProgress } from '../lib/index.js'
import { diskModel, sleep, until } from './helpers.js'

/** One end of a TCP replication connection. */
interface End {
  stream: ReplicationStream
  socket: net.Socket
  /** Resolves with this end's progress when its stream emits `sync`. */
  synced: Promise<SyncProgress>
  /** Resolves when the pipeline has finished (with its error, if any). */
  closed: Promise<Error | null | undefined>
}

function attach (model: Model, socket: net.Socket): End {
  const stream = model.createStream()
  const synced = once(stream, 'sync').then(() => stream.progress)
  synced.catch(() => {})
  const closed = new Promise<Error | null | undefined>((resolve) => { pipeline(stream, socket, stream, (err) => { resolve(err) }) })
  return { stream, socket, synced, closed }
}

interface Connection { server: End, client: End }

/**
 * A TCP server on 127.0.0.1 for `model` (a fresh stream per connection); `dial`
 * connects another model to it. Everything is torn down when the test ends.
 */
async function serve (t: Test, model: Model): Promise<{ dial: (client: Model) => Promise<Connection>, server: net.Server }> {
  const accepted: End[] = []
  const server = net.createServer((socket) => { accepted.push(attach(model, socket)) })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as net.AddressInfo
  const sockets: net.Socket[] = []
  t.teardown(async () => {
    for (const socket of sockets) socket.destroy()
    for (const end of accepted) end.socket.destroy()
    await new Promise((resolve) => server.close(resolve))
  })
  const dial = async (client: Model): Promise<Connection> => {
    const connection = once(server, 'connection')
    const socket = net.connect(port, '127.0.0.1')
    sockets.push(socket)
    const end = attach(client, socket)
    await connection
    return { server: accepted[accepted.length - 1], client: end }
  }
  return { dial, server }
}

async function connect (t: Test, server: Model, client: Model): Promise<Connection> {
  return await (await serve(t, server)).dial(client)
}

async function synced (...connections: Connection[]): Promise<void> {
  await Promise.all(connections.flatMap((c) => [c.server.synced, c.client.synced]))
}

async function sameState (t: Test, models: Model[], msg: string): Promise<void> {
  const ok = await until(async () => {
    const jsons = await Promise.all(models.map(async (m) => await m.toJSON()))
    return models.every((m, i) => isDeepStrictEqual(jsons[i], jsons[0]) && isDeepStrictEqual(m.clock, models[0].clock))
  })
  t.ok(ok, msg)
  for (const m of models.slice(1)) t.deepEqual(await m.toJSON(), await models[0].toJSON(), `${msg}: ${m.id} holds what ${models[0].id} holds`)
}

/** Count `update` events, so duplicates (echoes) would show. */
function countUpdates (models: Model[]): Map<Model, number> {
  const counts = new Map<Model, number>(models.map((m) => [m, 0]))
  for (const m of models) m.on('update', () => { counts.set(m, (counts.get(m) ?? 0) + 1) })
  return counts
}

test('two nodes replicate over TCP: history both ways, then live updates', async (t) => {
  const a = await diskModel(t)
  const b = await diskModel(t)
  await a.set('a1', 1)
  await a.set('a2', { nested: [1, 2] })
  await b.set('b1', 'one')
  const c = await connect(t, a, b)
  await synced(c)
  t.deepEqual(await b.toJSON(), { a1: 1, a2: { nested: [1, 2] }, b1: 'one' }, 'the client has both histories at sync')
  t.deepEqual(await a.toJSON(), await b.toJSON(), 'the server has both histories at sync')
  await Promise.all([a.set('live-a', true), b.set('live-b', false)])
  await sameState(t, [a, b], 'live updates cross the socket both ways')
  t.equal(await a.get('live-b'), false, 'the server sees the client\'s live write')
})

for (const shape of ['line', 'triangle'] as const) {
  test(`three nodes in a ${shape} over TCP converge without an echo storm`, async (t) => {
    const nodes = [await diskModel(t), await diskModel(t), await diskModel(t)]
    const updates = countUpdates(nodes)
    let writes = 0
    for (const [i, node] of nodes.entries()) {
      for (let k = 0; k < 3; k++, writes++) await node.set(`h${i}-${k}`, k)
    }
    const links = [await connect(t, nodes[0], nodes[1]), await connect(t, nodes[1], nodes[2])]
    if (shape === 'triangle') links.push(await connect(t, nodes[2], nodes[0]))
    await synced(...links)
    await Promise.all(nodes.map(async (node, i) => { for (let k = 0; k < 3; k++, writes++) await node.set(`l${i}-${k}`, k) }))
    await sameState(t, nodes, `the ${shape} converges`)
    t.equal(Object.keys(await nodes[0].toJSON()).length, writes, 'every distinct write is held')

    const sentOf = (): number => links.reduce((sum, l) => sum + l.server.stream.progress.sent + l.client.stream.progress.sent, 0)
    // Every update frame sent is committed or dropped as old by its receiver (redundant copies may still be in flight).
    const processed = (): number => nodes.reduce((sum, n) => sum + n.stats.committed + n.stats.old, 0) - writes
    t.ok(await until(() => sentOf() === processed()), 'every update frame sent has been processed')
    const before = { stats: nodes.map((n) => ({ ...n.stats })), sent: sentOf() }
    await sleep(200)
    t.deepEqual(nodes.map((n) => ({ ...n.stats })), before.stats, 'no node commits or drops anything once converged')
    t.equal(sentOf(), before.sent, 'no stream sends anything once converged')
    for (const node of nodes) {
      t.equal(updates.get(node), writes, `${node.id} emits one update per distinct write`)
      t.equal(node.stats.committed, writes, `${node.id} committed each write once`)
      // A remote write reaches a node at most once per link: in a line never twice, in a triangle
      // at most one redundant copy of each of the other nodes' writes.
      const bound = shape === 'line' ? 0 : writes - writes / nodes.length
      t.ok(node.stats.old <= bound, `${node.id} dropped ${node.stats.old} redundant copies (at most ${bound})`)
    }
  })
}

test('a transport error on one side ends the replication stream on both sides', async (t) => {
  const a = await diskModel(t)
  const b = await diskModel(t)
  const c = await connect(t, a, b)
  await synced(c)
  t.equal(a.streams, 1, 'the server has one stream open')
  c.client.socket.destroy(new Error('ECONNRESET'))
  t.ok(await until(() => a.streams === 0 && b.streams === 0), 'both instances are back to zero open streams')
  t.ok((await c.client.closed) instanceof Error, 'the client pipeline ends with the transport error')
  await c.server.closed
  t.ok(c.server.stream.destroyed && c.client.stream.destroyed, 'both replication streams are destroyed')
})

test('200 connect/disconnect cycles with transport errors leak no listeners or streams', async (t) => {
  const a = await diskModel(t)
  const b = await diskModel(t)
  const { dial, server } = await serve(t, a)
  const listeners = (m: Model): Record<string, number> =>
    Object.fromEntries(['update', 'change', 'old', 'rejected', 'unstream', 'dispose', ...m.eventNames()].map((e) => [String(e), m.listenerCount(e)]))
  const start = { a: listeners(a), b: listeners(b) }
  for (let i = 0; i < 200; i++) {
    const c = await dial(b)
    await synced(c)
    // Alternate the side whose socket fails.
    ;(i % 2 === 0 ? c.client : c.server).socket.destroy(new Error('ECONNRESET'))
    await Promise.all([c.client.closed, c.server.closed])
    if (!await until(() => a.streams === 0 && b.streams === 0)) {
      t.fail(`cycle ${i}: streams still open (server ${a.streams}, client ${b.streams})`)
      return
    }
  }
  t.deepEqual({ a: listeners(a), b: listeners(b) }, start, 'listener counts are back to the start')
  t.equal(a.streams + b.streams, 0, 'no stream is left open')
  const open = await new Promise<number>((resolve, reject) => server.getConnections((err, n) => { err == null ? resolve(n) : reject(err) }))
  t.equal(open, 0, 'the server holds no connection')
})

test('writes made while disconnected are exchanged on reconnect, and only those', async (t) => {
  const a = await diskModel(t)
  const b = await diskModel(t)
  const { dial } = await serve(t, a)
  await a.set('shared-a', 1)
  await b.set('shared-b', 2)
  const first = await dial(b)
  await synced(first)
  first.server.socket.destroy(new Error('ECONNRESET'))
  await Promise.all([first.client.closed, first.server.closed])

  for (let k = 0; k < 3; k++) await a.set(`offline-a${k}`, k)
  for (let k = 0; k < 2; k++) await b.set(`offline-b${k}`, k)
  const again = await dial(b)
  const [serverProgress, clientProgress] = await Promise.all([again.server.synced, again.client.synced])
  t.equal(serverProgress.sent, 3, 'the server sends only its 3 missing updates')
  t.equal(serverProgress.received, 2, 'the server receives only the client\'s 2 missing updates')
  t.equal(clientProgress.sent, 2, 'the client sends only its 2 missing updates')
  t.deepEqual(await a.toJSON(), await b.toJSON(), 'both sides hold the same data after the reconnect')
  t.equal(Object.keys(await a.toJSON()).length, 7, 'every write is held')
})

test('read-only replication over TCP: master to replica only, history sent once, nothing left after close', async (t) => {
  const master = await diskModel(t)
  const replica = await diskModel(t)
  await master.set('m', 1)
  await replica.set('r', 1)
  const server = net.createServer((socket) => {
    const s = master.createStream({ writable: false, sendClock: true })
    pipeline(s, socket, s, () => {})
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => { await new Promise((resolve) => server.close(resolve)) })
  const socket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1')
  const s = replica.createStream({ readable: false, sendClock: true })
  const closed = new Promise((resolve) => { pipeline(s, socket, s, resolve) })
  await once(s, 'sync')
  await master.set('m2', 2)
  await replica.set('r2', 2)
  t.ok(await until(async () => (await replica.get('m2')) === 2), 'live updates reach the replica')
  t.equal(await replica.get('m'), 1, 'history reached the replica')
  await sleep(50)
  t.equal(await master.get('r'), undefined, 'replica history does not reach the master')
  t.equal(await master.get('r2'), undefined, 'replica live updates do not reach the master')
  t.equal(s.progress.received, 2, 'history was sent once, then one live update')
  socket.destroy()
  await closed
  t.ok(await until(() => master.streams === 0 && replica.streams === 0), 'both streams are gone after the socket closes')
})
