import net from 'node:net'
import { once } from 'node:events'
import test, { type Test } from 'tape'
import { MemoryLevel } from 'memory-level'
import { Model, connect, listen, netCodes, type Documents, type ReplicationClient, type ReplicationServer, type Transaction, type Update } from '../lib/index.js'
import { diskModel, memoryModel, until } from './helpers.js'

/** A Model whose commits wait until `release()`: a document whose storage is stuck. */
class GatedModel extends Model {
  #open: () => void = () => {}
  #gate = new Promise<void>((resolve) => { this.#open = resolve })
  release (): void { this.#open() }
  protected override async _prefetch (updates: Update[], tx: Transaction): Promise<void> {
    await this.#gate
    await super._prefetch(updates, tx)
  }
}

async function muxServer (t: Test, docs: Documents['docs'], options: Parameters<typeof listen>[1] = {}): Promise<ReplicationServer> {
  const server = await listen({ docs }, { port: 0, ...options })
  t.teardown(async () => { await server.close() })
  return server
}

function muxClient (t: Test, target: Documents, port: number): ReplicationClient {
  const client = connect(target, { port, minDelay: 10, maxDelay: 50 })
  t.teardown(async () => { await client.close() })
  return client
}

/** One mux frame: u32 length, u8 type, u32 channel, payload. */
function frame (type: number, channel: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const out = Buffer.alloc(9 + payload.length)
  out.writeUInt32BE(5 + payload.length, 0)
  out.writeUInt8(type, 4)
  out.writeUInt32BE(channel, 5)
  payload.copy(out, 9)
  return out
}

test('one socket replicates several named documents, each with its own history', async (t) => {
  const [a1, a2, b1, b2] = [await diskModel(t), await diskModel(t), await diskModel(t), await diskModel(t)]
  await a1.set('doc', 'one')
  await a2.set('doc', 'two')
  await b2.set('from-b', true)
  const server = await muxServer(t, { one: a1, two: a2 })
  const client = muxClient(t, { docs: { one: b1, two: b2 } }, server.address.port)
  await once(client, 'synced')
  t.deepEqual(await b1.toJSON(), { doc: 'one' }, 'document one arrived in its own instance')
  t.ok(await until(async () => await a2.get('from-b') === true), 'document two replicated both ways')
  t.equal(server.connections.length, 1, 'over one connection')
  t.equal(client.connection?.streams.length, 2, 'with one replication stream per document')
  await a1.set('live', 1)
  t.ok(await until(async () => await b1.get('live') === 1), 'live updates go to the right document')
  t.equal(await b2.get('live'), undefined, 'and only there')
})

test('an async resolver serves documents on demand; an unknown name is refused and the rest go on', async (t) => {
  const a = await memoryModel(t)
  await a.set('k', 'v')
  const asked: string[] = []
  const server = await muxServer(t, async (name) => {
    asked.push(name)
    return name === 'known' ? a : undefined
  })
  const b = await memoryModel(t)
  const c = await memoryModel(t)
  const client = muxClient(t, { docs: { known: b, missing: c } }, server.address.port)
  const refused: Array<[string, string]> = []
  client.on('channelError', (name, err) => refused.push([name, (err as Error & { code: string }).code]))
  await once(client, 'synced')
  t.deepEqual(asked.sort(), ['known', 'missing'], 'the resolver was asked for each name')
  t.deepEqual(refused, [['missing', netCodes.UNKNOWN_DOCUMENT]], 'the client hears the document is unknown there')
  t.deepEqual(await b.toJSON(), { k: 'v' }, 'the known document replicated')
  t.equal(c.streams, 0, 'the refused document has no stream left')
})

test('a document whose storage is stuck does not hold up the others (per-document credit)', async (t) => {
  const big = await memoryModel(t)
  const small = await memoryModel(t)
  // More updates than the receiver queues (4096), so its stuck commits must push back on the wire.
  const pad = 'x'.repeat(64)
  await Promise.all(Array.from({ length: 6000 }, async (_, i) => { await big.set(`k${i}`, pad) }))
  await small.set('hello', 'world')
  const server = await muxServer(t, { big, small })
  const stuck = new GatedModel({ db: new MemoryLevel() })
  await stuck.open()
  t.teardown(async () => { stuck.release(); await stuck.close() })
  const other = await memoryModel(t)
  const client = muxClient(t, { docs: { big: stuck, small: other } }, server.address.port)
  await once(client, 'connected')
  t.ok(await until(async () => await other.get('hello') === 'world'), 'the other document syncs while one is stuck')
  const [bigStream] = server.connections[0].streams.filter((s) => s.progress.sent > 0 && !s.progress.syncSent)
  t.ok(bigStream !== undefined, 'the stuck document\'s sender has not finished its history')
  t.equal(client.state, 'connected', 'the connection is not synced while a document is stuck')
  stuck.release()
  await once(client, 'synced')
  t.equal(Object.keys(await stuck.toJSON()).length, 6000, 'once unstuck, the whole history arrives')
})

test('closing one document\'s instance resets its channel only', async (t) => {
  const [a1, a2, b2] = [await memoryModel(t), await memoryModel(t), await memoryModel(t)]
  const b1 = new Model({ db: new MemoryLevel() })
  await b1.open()
  const server = await muxServer(t, { one: a1, two: a2 })
  const client = muxClient(t, { docs: { one: b1, two: b2 } }, server.address.port)
  await once(client, 'synced')
  await b1.close()
  t.ok(await until(() => a1.streams === 0), 'the peer\'s stream for that document closes')
  await a2.set('still', 'here')
  t.ok(await until(async () => await b2.get('still') === 'here'), 'the other document keeps replicating')
  t.equal(server.connections.length, 1, 'on the same connection')
})

test('a peer that does not speak the multiplexing protocol is dropped with SCUTTLEDB_MUX_PROTOCOL', async (t) => {
  const a = await memoryModel(t)
  const server = await muxServer(t, { a })
  const plain = await memoryModel(t)
  // A plain (one-document) client sends a replication header where a hello belongs.
  const client = connect(plain, { port: server.address.port, reconnect: false })
  const [, err] = await once(server, 'disconnect') as [unknown, Error & { code?: string }]
  t.equal(err.code, netCodes.MUX_PROTOCOL, 'the server names the mismatch')
  await client.close()
  t.equal(a.streams + plain.streams, 0, 'no stream is left on either side')
})

test('a peer that sends more than its credit is dropped; frames for unknown channels are ignored', async (t) => {
  // A resolver that never answers: DATA for the document waits in its inbox and no credit comes back.
  const server = await muxServer(t, async () => await new Promise<undefined>(() => {}))
  const socket = net.connect(server.address.port, '127.0.0.1')
  socket.on('error', () => {})
  socket.resume()
  const chunk = Buffer.alloc(60 * 1024)
  socket.write(frame(0, 0, Buffer.from('scuttledb-mux/1')))
  socket.write(frame(2, 99, Buffer.from('stray data')))
  socket.write(frame(1, 1, Buffer.from('a')))
  // The window is 256 KiB: the fifth 60 KiB frame exceeds it.
  for (let i = 0; i < 5; i++) socket.write(frame(2, 1, chunk))
  const [, err] = await once(server, 'disconnect') as [unknown, Error & { code?: string }]
  t.equal(err.code, netCodes.MUX_PROTOCOL, 'the connection is dropped, not buffered without bound')
  t.equal(server.connections.length, 0, 'the server holds no connection')
})

test('a frame with an absurd length or an unknown type ends the connection', async (t) => {
  const a = await memoryModel(t)
  const server = await muxServer(t, { a })
  for (const bad of [Buffer.from([0xff, 0xff, 0xff, 0xff, 0]), frame(42, 0)]) {
    const socket = net.connect(server.address.port, '127.0.0.1')
    socket.on('error', () => {})
    socket.resume()
    socket.write(Buffer.concat([frame(0, 0, Buffer.from('scuttledb-mux/1')), bad]))
    const [, err] = await once(server, 'disconnect') as [unknown, Error & { code?: string }]
    t.equal(err.code, netCodes.MUX_PROTOCOL, `dropped with SCUTTLEDB_MUX_PROTOCOL (${bad.length} bytes of garbage)`)
    socket.destroy()
  }
})
