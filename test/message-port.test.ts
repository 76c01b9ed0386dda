import test, { type Test } from 'tape'
import { EventEmitter, once } from 'node:events'
import { pipeline, type Duplex } from 'node:stream'
import { MessageChannel, type MessagePort } from 'node:worker_threads'
import { messagePortStream, type Model } from '../lib/index.js'
import { diskModel, memoryModel, sleep } from './helpers.js'

/** A message channel whose ports are closed when the test ends. */
function channel (t: Test): { port1: MessagePort, port2: MessagePort } {
  const ports = new MessageChannel()
  t.teardown(() => { ports.port1.close(); ports.port2.close() })
  return ports
}

/** Replicate `model` over one end of a channel, as the main process or a renderer would. */
function replicate (model: Model, port: MessagePort): { stream: ReturnType<Model['createStream']>, duplex: Duplex, done: Promise<Error | undefined> } {
  const stream = model.createStream()
  const duplex = messagePortStream(port)
  const done = new Promise<Error | undefined>((resolve) => { pipeline(duplex, stream, duplex, (err) => { resolve(err ?? undefined) }) })
  return { stream, duplex, done }
}

/** The error a stream closes with (undefined: a clean close). */
async function closedWith (stream: Duplex): Promise<{ code?: string } | undefined> {
  let error: { code?: string } | undefined
  stream.on('error', (err: Error & { code?: string }) => { error = err })
  // Not once(): it rejects on 'error', and the error is what we want to see.
  if (!stream.closed) await new Promise((resolve) => stream.once('close', resolve))
  return error
}

test('a classic-level model and a renderer model sync both ways over a MessageChannel, history and live', async (t) => {
  const main = await diskModel(t)
  const renderer = await memoryModel(t)
  await main.set('fromMain', 1)
  await renderer.set('fromRenderer', Uint8Array.of(1, 2, 3))
  const { port1, port2 } = channel(t)
  const a = replicate(main, port1)
  const b = replicate(renderer, port2)
  await Promise.all([once(a.stream, 'sync'), once(b.stream, 'sync')])
  t.equal(await renderer.get('fromMain'), 1, 'the renderer has the main process\'s value')
  t.deepEqual([...(await main.get('fromRenderer')) as Uint8Array], [1, 2, 3], 'the main process has the renderer\'s binary value')
  const live = once(main, 'change')
  await renderer.set('live', 'yes')
  await live
  t.equal(await main.get('live'), 'yes', 'a live update crossed the channel')
  a.stream.destroy()
  const [, errB] = await Promise.all([a.done, b.done])
  t.ok(a.duplex.destroyed, 'the main side\'s duplex closed with its stream')
  t.equal((errB as { code?: string } | undefined)?.code, 'SCUTTLEDB_PEER_CLOSED', 'destroying one side closes the other with SCUTTLEDB_PEER_CLOSED')
})

test('end() on one side ends the other, both close cleanly, and no listener is left on either port', async (t) => {
  const { port1, port2 } = channel(t)
  const a = messagePortStream(port1)
  const b = messagePortStream(port2)
  const received: number[] = []
  b.on('data', (chunk: Uint8Array) => { received.push(...chunk) })
  a.write(Uint8Array.of(1, 2))
  a.end(Uint8Array.of(3))
  await once(b, 'end')
  t.deepEqual(received, [1, 2, 3], 'every byte, in order, then end')
  b.end()
  a.resume()
  t.equal(await closedWith(a), undefined, 'the first side closed without error')
  t.equal(await closedWith(b), undefined, 'the second side closed without error')
  for (const [name, port] of [['port1', port1], ['port2', port2]] as const) {
    t.equal(port.listenerCount('message') + port.listenerCount('close'), 0, `no listener left on ${name}`)
  }
})

test('destroy() or a closed port on either side closes the other with SCUTTLEDB_PEER_CLOSED', async (t) => {
  for (const how of ['destroy() on port1\'s side', 'destroy() on port2\'s side', 'port1.close()', 'port2.close()']) {
    const { port1, port2 } = channel(t)
    const a = messagePortStream(port1)
    const b = messagePortStream(port2)
    const [closer, other] = how.includes('port1') ? [a, b] : [b, a]
    const otherClosed = closedWith(other)
    const closerClosed = closedWith(closer)
    if (how.startsWith('destroy')) closer.destroy()
    else (how.includes('port1') ? port1 : port2).close()
    t.equal((await otherClosed)?.code, 'SCUTTLEDB_PEER_CLOSED', `${how}: the other side closed, coded`)
    await closerClosed
    t.ok(closer.destroyed && other.destroyed, `${how}: both streams are destroyed`)
    t.equal(port1.listenerCount('message') + port2.listenerCount('message'), 0, `${how}: no message listener left`)
  }
})

test('writes wait while the reader does not read, and go on when it does', async (t) => {
  const { port1, port2 } = channel(t)
  const a = messagePortStream(port1, { highWaterMark: 64 * 1024 })
  const b = messagePortStream(port2)
  t.teardown(() => { a.destroy(); b.destroy() })
  const CHUNK = 16 * 1024
  const COUNT = 64
  let done = 0
  for (let i = 0; i < COUNT; i++) a.write(new Uint8Array(CHUNK).fill(i % 256), () => { done++ })
  // b is paused: it acknowledges only up to its own buffer, so a stops well short of 1 MiB.
  await sleep(200)
  const stalled = done
  t.ok(stalled < COUNT / 2, `only ${stalled} of ${COUNT} writes completed while nothing read`)
  let bytes = 0
  b.on('data', (chunk: Uint8Array) => { bytes += chunk.length })
  for (let waited = 0; bytes < CHUNK * COUNT && waited < 200; waited++) await sleep(50)
  t.equal(bytes, CHUNK * COUNT, 'every byte arrived once the reader read')
  t.equal(done, COUNT, 'every write completed')
})

test('a written chunk is copied before its memory is transferred, so the writer\'s buffer stays usable', async (t) => {
  const { port1, port2 } = channel(t)
  const a = messagePortStream(port1)
  const b = messagePortStream(port2)
  t.teardown(() => { a.destroy(); b.destroy() })
  // Buffer.from of a short string is a view into Node's shared pool.
  const pooled = Buffer.from('pooled')
  a.write(pooled)
  const [chunk] = await once(b, 'data') as [Uint8Array]
  t.equal(Buffer.from(chunk).toString(), 'pooled', 'the bytes arrived')
  t.equal(pooled.toString(), 'pooled', 'the writer\'s buffer was not detached')
})

test('a port without addEventListener (Electron\'s MessagePortMain shape: on/off, events with data) works, without transfer', async (t) => {
  const { port1, port2 } = channel(t)
  // MessagePortMain: on('message', ({ data, ports }) => ...), postMessage(message, ports?) that transfers only ports.
  const mainPort = Object.assign(new EventEmitter(), {
    postMessage: (message: unknown, transfer?: unknown[]): void => {
      if (transfer !== undefined && transfer.length > 0) throw new TypeError('MessagePortMain transfers only ports')
      port1.postMessage(message)
    },
    start: () => { port1.on('message', (data) => { mainPort.emit('message', { data, ports: [] }) }) },
    close: () => { port1.close() }
  })
  port1.on('close', () => { mainPort.emit('close') })
  const main = await memoryModel(t)
  const renderer = await memoryModel(t)
  await main.set('k', 'v')
  const sa = main.createStream()
  const sb = renderer.createStream()
  const da = messagePortStream(mainPort)
  const db = messagePortStream(port2)
  pipeline(da, sa, da, () => {})
  const closed = new Promise<{ code?: string } | null>((resolve) => { pipeline(db, sb, db, resolve) })
  await Promise.all([once(sa, 'sync'), once(sb, 'sync')])
  t.equal(await renderer.get('k'), 'v', 'synced over the MessagePortMain-shaped port')
  da.destroy()
  t.equal((await closed)?.code, 'SCUTTLEDB_PEER_CLOSED', 'its close reached the other side')
  t.equal(mainPort.listenerCount('message') + mainPort.listenerCount('close'), 0, 'no listener left on it')
})

test('messagePortStream refuses a non-port and bad options with a TypeError, and a foreign message with SCUTTLEDB_CLOSED', async (t) => {
  const { port1, port2 } = channel(t)
  t.throws(() => messagePortStream({} as never), TypeError, 'no postMessage')
  t.throws(() => messagePortStream(port1, { highWaterMark: -1 }), TypeError, 'negative highWaterMark')
  t.throws(() => messagePortStream(port1, { transfer: 'yes' as never }), TypeError, 'transfer not a boolean')
  t.throws(() => messagePortStream(port1, { closePort: 1 as never }), TypeError, 'closePort not a boolean')
  const b = messagePortStream(port2)
  const closed = closedWith(b)
  port1.postMessage({ hello: 'not a frame' })
  t.equal((await closed)?.code, 'SCUTTLEDB_CLOSED', 'a message it did not send destroys the stream, coded')
})
