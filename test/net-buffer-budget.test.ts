// A listener's `maxBufferedBytes` (lib/buffer-budget.ts), with real sockets on
// 127.0.0.1: hostile peers that each park a large partial frame (over TCP,
// inside a WebSocket message, over multiplexed channels) are closed with
// SCUTTLEDB_OVERLOADED so that what the node holds stays within the budget; an
// honest peer connected at the same time syncs, and once the hostile sockets
// are gone nothing is held.
import { once } from 'node:events'
import { request } from 'node:http'
import { createConnection, type Socket } from 'node:net'
import test, { type Test } from 'tape'
import {
  connect, connectWebSocket, listen, listenWebSocket, Model, type ReplicationClient, type ReplicationServer
} from '../lib/index.js'
import { codes } from '../lib/errors.js'
import { memoryModel, rejects, until } from './helpers.js'
import { memoryCollection } from './collection-helpers.js'

const MiB = 1024 * 1024
const KiB = 1024
/** Each hostile peer claims a frame of 1 MiB and sends 900 KiB of it. */
const CLAIM = MiB
const SENT = 900 * KiB
/** Room for three of them: six are too many. */
const BUDGET = 3 * MiB
const HOSTILE = 6
/** The streams' limit; the budget must hold one such frame. */
const MAX_FRAME = MiB

/** Timers off: only the budget may close a silent hostile socket here. */
const quiet = { handshakeTimeout: false, idleTimeout: false, keepAlive: false } as const

function closing (t: Test, client: ReplicationClient): ReplicationClient {
  t.teardown(async () => { await client.close() })
  return client
}

/** A raw socket that stays open until the test ends (or the server closes it). */
async function raw (t: Test, port: number): Promise<Socket> {
  const socket = createConnection(port, '127.0.0.1')
  socket.on('error', () => {})
  socket.resume()
  t.teardown(() => { socket.destroy() })
  await once(socket, 'connect')
  return socket
}

/** A 4-byte length claiming `claim` bytes, then `sent` bytes of its body. */
function partialFrame (claim: number, sent: number): Buffer {
  const out = Buffer.alloc(4 + sent, 0x61)
  out.writeUInt32BE(claim, 0)
  return out
}

/** The codes of the connections the server closed, as they close. */
function disconnectCodes (server: ReplicationServer): string[] {
  const out: string[] = []
  server.on('disconnect', (_c, err) => { out.push(String((err as { code?: unknown } | undefined)?.code)) })
  return out
}

async function holds (model: Model, key: string, value: unknown): Promise<boolean> {
  return await until(async () => await model.get(key) === value, 10_000)
}

/** A write on the server's model reaches the honest peer. */
async function liveWrite (model: Model, honest: Model): Promise<boolean> {
  await model.set('after', 'storm')
  return await holds(honest, 'after', 'storm')
}

/** A server of a model holding `greeting`, the codes of the connections it closes, and a model for an honest peer. */
async function serving (t: Test, start: (model: Model) => Promise<ReplicationServer>): Promise<{ model: Model, server: ReplicationServer, closedCodes: string[], honest: Model }> {
  const model = await memoryModel(t)
  await model.set('greeting', 'hello')
  const server = await start(model)
  t.teardown(async () => { await server.close() })
  return { model, server, closedCodes: disconnectCodes(server), honest: await memoryModel(t) }
}

/** The shared part of each transport's test: hostile sockets, one honest peer, the budget's figures. */
async function storm (t: Test, server: ReplicationServer, hostile: Socket[], closedCodes: string[], held: number, live: () => Promise<boolean>): Promise<void> {
  const closed = (): number => hostile.filter((s) => s.destroyed || s.readableEnded).length
  // Each survivor ends up holding its whole partial frame; at most three fit.
  t.ok(await until(() => closed() >= HOSTILE - 3 && server.budget.used === (HOSTILE - closed()) * held, 20_000),
    `at least ${HOSTILE - 3} of the ${HOSTILE} hostile peers were closed, the others hold their partial frames`)
  t.ok(closedCodes.filter((c) => c === codes.OVERLOADED).length >= HOSTILE - 3, 'they were closed with SCUTTLEDB_OVERLOADED')
  t.ok(server.budget.peak <= BUDGET, `what the connections held never exceeded the budget (peak ${server.budget.peak} <= ${BUDGET})`)
  t.equal(server.budget.refused, closed(), 'the budget counted each refusal')
  t.ok(await live(), 'the honest peer still replicates live')
  for (const socket of hostile) socket.destroy()
  t.ok(await until(() => server.budget.used === 0 && server.budget.accounts === 1, 10_000), 'once the hostile sockets close nothing is held, and only the honest connection has an account')
}

test('listen({ maxBufferedBytes }): TCP peers that park large partial frames are closed with SCUTTLEDB_OVERLOADED; an honest peer syncs; nothing stays held', async (t) => {
  const { model, server, closedCodes, honest } = await serving(t, async (m) => await listen(m, { maxBufferedBytes: BUDGET, stream: { maxFrameBytes: MAX_FRAME }, ...quiet }))
  // A 200 KiB value: its frame is partial in the server's decoder for a while, and it is never the largest holder.
  await honest.set('big', 'b'.repeat(200 * KiB))
  const client = closing(t, connect(honest, { port: server.address.port }))
  const hostile = await Promise.all(Array.from({ length: HOSTILE }, async () => await raw(t, server.address.port)))
  for (const socket of hostile) socket.write(partialFrame(CLAIM, SENT))
  await once(client, 'synced')
  t.equal(await honest.get('greeting'), 'hello', 'the honest peer received the server\'s data')
  t.ok(await until(async () => (await model.get('big') as string | undefined)?.length === 200 * KiB, 10_000), 'and the server its large value')
  await storm(t, server, hostile, closedCodes, 4 + SENT, async () => await liveWrite(model, honest))
  t.deepEqual(Object.keys(await model.toJSON()).sort(), ['after', 'big', 'greeting'], 'nothing of the unfinished frames was stored')
})

test('listenWebSocket({ maxBufferedBytes }): WebSocket messages still being received count too; hostile peers are closed, an honest one syncs', async (t) => {
  const { model, server, closedCodes, honest } = await serving(t, async (m) => await listenWebSocket(m, { maxBufferedBytes: BUDGET, stream: { maxFrameBytes: MAX_FRAME }, ...quiet }))
  const client = closing(t, connectWebSocket(honest, { url: server.address.url }))
  const hostile = await Promise.all(Array.from({ length: HOSTILE }, async () => await upgraded(t, server.address.port)))
  // A binary message announced as CLAIM bytes, of which SENT arrive: ws buffers them before any stream sees one.
  for (const socket of hostile) socket.write(Buffer.concat([wsHeader(CLAIM), Buffer.alloc(SENT, 0x61)]))
  await once(client, 'synced')
  t.equal(await honest.get('greeting'), 'hello', 'the honest peer synced')
  // ws has read the message's header: what it holds is the payload so far.
  await storm(t, server, hostile, closedCodes, SENT, async () => await liveWrite(model, honest))
})

test('listen(collection.target(), { maxBufferedBytes }): a collection\'s streams reserve their partial frames too; hostile peers are closed, an honest collection syncs', async (t) => {
  const [x, y] = [await memoryCollection(t), await memoryCollection(t)]
  await x.use('shared', async (doc: Model) => { await doc.set('greeting', 'hello') }, Model)
  const server = await listen(x.target(), { maxBufferedBytes: BUDGET, stream: { maxFrameBytes: MAX_FRAME }, ...quiet })
  t.teardown(async () => { await server.close() })
  const closedCodes = disconnectCodes(server)
  const client = closing(t, connect(y.target(), { port: server.address.port }))
  const hostile = await Promise.all(Array.from({ length: HOSTILE }, async () => await raw(t, server.address.port)))
  for (const socket of hostile) socket.write(partialFrame(CLAIM, SENT))
  await once(client, 'synced')
  t.ok(await until(async () => await (await y.doc('shared', Model)).get('greeting') === 'hello', 10_000), 'the honest collection synced')
  await storm(t, server, hostile, closedCodes, 4 + SENT, async () => {
    await (await x.doc('shared', Model)).set('after', 'storm')
    return await until(async () => await (await y.doc('shared', Model)).get('after') === 'storm', 10_000)
  })
})

/** A raw socket upgraded to WebSocket, closed when the test ends. */
async function upgraded (t: Test, port: number): Promise<Socket> {
  const req = request({ port, host: '127.0.0.1', headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' } })
  req.end()
  const [, socket] = await once(req, 'upgrade') as [unknown, Socket]
  socket.on('error', () => {})
  socket.resume()
  t.teardown(() => { socket.destroy() })
  return socket
}

/** The header of a masked final binary WebSocket frame of `length` bytes (64-bit length form). */
function wsHeader (length: number): Buffer {
  const head = Buffer.alloc(14)
  head[0] = 0x82
  head[1] = 0x80 | 127
  head.writeBigUInt64BE(BigInt(length), 2)
  // Mask 0: the payload goes as sent.
  return head
}

test('listen({ docs }, { maxBufferedBytes }): partial frames over many multiplexed channels count against one connection, which is closed with SCUTTLEDB_OVERLOADED', async (t) => {
  // Any name is a document here, so a peer could open many: the budget bounds what they hold together.
  const { model, server, closedCodes, honest } = await serving(t, async (m) => await listen({ docs: () => m }, { maxBufferedBytes: 1.5 * MiB, stream: { maxFrameBytes: MAX_FRAME }, ...quiet }))
  const client = closing(t, connect({ docs: { main: honest } }, { port: server.address.port }))
  const socket = await raw(t, server.address.port)
  const frames = [muxFrame(0, 0, Buffer.from('scuttledb-mux/1'))]
  // Eight channels, each a partial 1 MiB replication frame of 240 KiB (within the 256 KiB credit): 1.9 MiB in all.
  for (let i = 0; i < 8; i++) {
    const id = 2 * i + 1
    frames.push(muxFrame(1, id, Buffer.from(`doc${i}`)))
    const body = partialFrame(CLAIM, 240 * KiB)
    for (let at = 0; at < body.length; at += 60 * KiB) frames.push(muxFrame(2, id, body.subarray(at, at + 60 * KiB)))
  }
  socket.write(Buffer.concat(frames))
  await once(client, 'synced')
  t.equal(await honest.get('greeting'), 'hello', 'the honest multiplexed peer synced')
  t.ok(await until(() => socket.destroyed || socket.readableEnded, 10_000), 'the hostile connection was closed')
  t.ok(await until(() => closedCodes.includes(codes.OVERLOADED), 10_000), 'with SCUTTLEDB_OVERLOADED')
  t.ok(server.budget.peak <= 1.5 * MiB, 'what it held never exceeded the budget')
  t.ok(await until(() => server.budget.used === 0, 10_000), 'nothing is held once it is gone')
  await model.set('after', 'storm')
  t.ok(await holds(honest, 'after', 'storm'), 'the honest peer still replicates')
})

/** One multiplexing frame: u32 length of what follows, u8 type, u32 channel, payload. */
function muxFrame (type: number, id: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9)
  head.writeUInt32BE(5 + payload.length, 0)
  head[4] = type
  head.writeUInt32BE(id, 5)
  return Buffer.concat([head, payload])
}

test('listen() frees a connection\'s reservation on every way it ends: a destroy mid-frame, a protocol error, a failed handshake', async (t) => {
  const model = await memoryModel(t)
  const handshake = async (socket: import('node:stream').Duplex): Promise<void> => {
    // Reads one byte: 'x' fails the handshake, anything else passes.
    const [chunk] = await once(socket, 'data') as [Buffer]
    socket.pause()
    if (chunk[0] === 0x78) throw new Error('refused')
    socket.unshift(chunk)
  }
  const server = await listen(model, { maxBufferedBytes: BUDGET, stream: { maxFrameBytes: MAX_FRAME }, handshake, ...quiet })
  t.teardown(async () => { await server.close() })
  const midFrame = await raw(t, server.address.port)
  midFrame.write(partialFrame(CLAIM, SENT))
  t.ok(await until(() => server.budget.used === 4 + SENT, 10_000), 'a partial frame is held')
  midFrame.destroy()
  t.ok(await until(() => server.budget.used === 0 && server.budget.accounts === 0, 10_000), 'a peer gone mid-frame leaves nothing held')

  // A frame of 0xc1 bytes (never valid msgpack): held while partial, then it fails to decode.
  const broken = await raw(t, server.address.port)
  const garbage = Buffer.alloc(4 + 300 * KiB, 0xc1)
  garbage.writeUInt32BE(300 * KiB, 0)
  broken.write(garbage.subarray(0, 200 * KiB))
  t.ok(await until(() => server.budget.used === 200 * KiB, 10_000), 'a partial frame is held')
  broken.write(garbage.subarray(200 * KiB))
  t.ok(await until(() => server.budget.accounts === 0, 10_000), 'a connection that ends in a protocol error gives its account back')
  t.equal(server.budget.used, 0, 'and holds nothing')

  const refused = await raw(t, server.address.port)
  refused.write(Buffer.from('x'))
  t.ok(await until(() => refused.destroyed || refused.readableEnded, 10_000), 'a failed handshake closes the connection')
  t.ok(await until(() => server.budget.accounts === 0 && server.budget.used === 0, 10_000), 'and its account')

  const parked = await raw(t, server.address.port)
  parked.write(partialFrame(CLAIM, SENT))
  t.ok(await until(() => server.budget.used === 4 + SENT, 10_000), 'a partial frame is held')
  await server.close()
  t.deepEqual([server.budget.used, server.budget.accounts], [0, 0], 'closing the server gives everything back')
})

test('listen() and listenWebSocket() take maxBufferedBytes as an integer that holds one frame of maxFrameBytes (a TypeError otherwise)', async (t) => {
  const model = await memoryModel(t)
  for (const [bad, stream] of [[0, {}], [-1, {}], [1.5, {}], ['8', {}], [16 * MiB, {}], [MiB, { maxFrameBytes: MiB }]] as const) {
    await rejects(t, listen(model, { maxBufferedBytes: bad as number, stream }), TypeError, `listen() refuses ${String(bad)} with ${JSON.stringify(stream)}`)
    await rejects(t, listenWebSocket(model, { maxBufferedBytes: bad as number, stream }), TypeError, `listenWebSocket() refuses ${String(bad)}`)
  }
  const server = await listen(model, { maxBufferedBytes: MiB + 4, stream: { maxFrameBytes: MiB } })
  t.equal(server.budget.limit, MiB + 4, 'one frame and its length is enough')
  await server.close()
  const byDefault = await listen(model)
  t.equal(byDefault.budget.limit, 128 * MiB, 'the default is 128 MiB')
  await byDefault.close()
})

test('listen(): one frame as large as maxFrameBytes passes a budget of just that on an otherwise idle listener', async (t) => {
  const model = await memoryModel(t)
  const server = await listen(model, { maxBufferedBytes: MAX_FRAME + 4, stream: { maxFrameBytes: MAX_FRAME }, ...quiet })
  t.teardown(async () => { await server.close() })
  const sender = await memoryModel(t)
  // A string whose update frame is close to maxFrameBytes (the update's other fields take a few dozen bytes).
  await sender.set('huge', 'h'.repeat(MAX_FRAME - 200))
  const client = closing(t, connect(sender, { port: server.address.port, stream: { maxFrameBytes: MAX_FRAME } }))
  await once(client, 'synced')
  t.ok(await until(async () => (await model.get('huge') as string | undefined)?.length === MAX_FRAME - 200, 10_000), 'the large frame arrived')
  t.equal(server.budget.refused, 0, 'nothing was refused')
  t.ok(server.budget.peak > MAX_FRAME / 2, `it was held while partial (peak ${server.budget.peak})`)
})
