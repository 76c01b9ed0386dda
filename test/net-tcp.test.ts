import net from 'node:net'
import { once } from 'node:events'
import test, { type Test } from 'tape'
import { backoff, codes, connect, listen, netCodes, type Model, type ReplicationClient, type ReplicationServer } from '../lib/index.js'
import { diskModel, until } from './helpers.js'

async function serverFor (t: Test, model: Model, options: Parameters<typeof listen>[1] = {}): Promise<ReplicationServer> {
  const server = await listen(model, { port: 0, ...options })
  t.teardown(async () => { await server.close() })
  return server
}

function clientFor (t: Test, model: Model, port: number, options: Partial<Parameters<typeof connect>[1]> = {}): ReplicationClient {
  const client = connect(model, { port, minDelay: 10, maxDelay: 50, ...options })
  t.teardown(async () => { await client.close() })
  return client
}

test('listen() and connect() replicate history both ways, then live updates', async (t) => {
  const a = await diskModel(t)
  const b = await diskModel(t)
  await a.set('from-a', 1)
  await b.set('from-b', 2)
  const server = await serverFor(t, a)
  t.equal(server.address.host, '127.0.0.1', 'binds to 127.0.0.1 by default')
  t.ok(server.address.port > 0, 'port 0 picks a free port')
  const states: string[] = []
  const client = clientFor(t, b, server.address.port)
  for (const state of ['connecting', 'connected', 'synced'] as const) client.on(state, () => states.push(state))
  await once(client, 'synced')
  t.deepEqual(states, ['connecting', 'connected', 'synced'], 'the client reports connecting, connected, synced')
  t.equal(client.state, 'synced', 'state says synced')
  t.deepEqual(await b.toJSON(), { 'from-a': 1, 'from-b': 2 }, 'the client holds both histories')
  t.equal(client.connection?.peerId, a.id, 'the connection knows the peer id from its header')
  await a.set('live', true)
  t.ok(await until(async () => await b.get('live') === true), 'a live update crosses')
  t.equal(server.connections.length, 1, 'the server holds one connection')
})

test('an error on either side destroys both; 50 cycles leak no streams, listeners or connections', async (t) => {
  const a = await diskModel(t)
  const b = await diskModel(t)
  const server = await serverFor(t, a)
  const client = clientFor(t, b, server.address.port, { minDelay: 1, maxDelay: 2, jitter: 0 })
  const listeners = (m: Model): number => m.eventNames().reduce((n, e) => n + m.listenerCount(e), 0)
  const start = { a: listeners(a), b: listeners(b) }
  for (let i = 0; i < 50; i++) {
    if (client.state !== 'synced') await once(client, 'synced')
    const connection = i % 2 === 0 ? client.connection : server.connections[0]
    connection?.close()
    await connection?.closed
    if (!await until(() => a.streams <= 1 && b.streams <= 1 && server.connections.length <= 1)) {
      t.fail(`cycle ${i}: streams left open (${a.streams}, ${b.streams})`)
      return
    }
  }
  await client.close()
  t.ok(await until(() => a.streams === 0 && b.streams === 0 && server.connections.length === 0), 'both instances are back to zero streams and the server to zero connections')
  t.deepEqual({ a: listeners(a), b: listeners(b) }, start, 'listener counts on the instances are back to the start')
})

test('after a reconnect only the missing history is exchanged (resume from the stored clock)', async (t) => {
  const a = await diskModel(t)
  const b = await diskModel(t)
  for (let i = 0; i < 20; i++) await a.set(`old${i}`, i)
  const server = await serverFor(t, a)
  const client = clientFor(t, b, server.address.port)
  await once(client, 'synced')
  server.connections[0].close()
  await once(client, 'disconnected')
  await a.set('new-a', 1)
  await b.set('new-b', 2)
  const [connection] = await once(client, 'synced') as [NonNullable<ReplicationClient['connection']>]
  t.deepEqual({ sent: connection.progress.sent, received: connection.progress.received }, { sent: 1, received: 1 }, 'one update each way, not the whole history again')
  t.ok(await until(async () => JSON.stringify(await a.toJSON()) === JSON.stringify(await b.toJSON())), 'both hold the same data')
})

test('backoff() grows by factor, is capped at maxDelay, and jitter only shortens it', (t) => {
  const options = { minDelay: 10, maxDelay: 100, factor: 2 }
  t.deepEqual([1, 2, 3, 4, 5, 9].map((n) => backoff(n, { ...options, jitter: 0 })), [10, 20, 40, 80, 100, 100], 'exponential, then capped')
  t.equal(backoff(3, { ...options, jitter: 0.5, random: () => 0.999999 }), 20, 'full jitter halves the delay at most')
  t.equal(backoff(3, { ...options, jitter: 0.5, random: () => 0 }), 40, 'zero jitter draw keeps the delay')
  const target = { createStream: () => { throw new Error('unused') } }
  t.throws(() => connect(target, { port: 1, minDelay: 10, maxDelay: 5 }), TypeError, 'maxDelay below minDelay is a TypeError')
  t.throws(() => connect(target, { port: 1, idleTimeout: -5 }), TypeError, 'a negative timeout is a TypeError at the call')
  t.throws(() => connect({} as typeof target, { port: 1 }), TypeError, 'a target that cannot replicate is a TypeError')
  t.end()
})

test('a client retries a closed port with growing, capped delays and stops on close()', async (t) => {
  const b = await diskModel(t)
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)) })
  })
  const client = clientFor(t, b, port, { minDelay: 5, maxDelay: 20, jitter: 0 })
  const delays: number[] = []
  const errors: string[] = []
  client.on('disconnected', (err, retryIn) => { delays.push(retryIn ?? -1); errors.push((err as NodeJS.ErrnoException).code ?? '') })
  t.ok(await until(() => delays.length >= 5), 'it keeps retrying')
  await client.close()
  t.deepEqual(delays.slice(0, 5), [5, 10, 20, 20, 20], 'delays double up to maxDelay')
  t.equal(errors[0], 'ECONNREFUSED', 'each failure carries the connect error')
  t.equal(client.state, 'closed', 'closed after close()')
  const count = delays.length
  await new Promise((resolve) => setTimeout(resolve, 60))
  t.equal(delays.length, count, 'no attempt after close()')
})

test('a client with reconnect: false gives up after the first failure', async (t) => {
  const b = await diskModel(t)
  const client = connect(b, { port: 1, reconnect: false })
  const closed = once(client, 'close')
  const [err, retryIn] = await once(client, 'disconnected') as [NodeJS.ErrnoException, number | undefined]
  t.ok(err instanceof Error, 'the failure is reported')
  t.equal(retryIn, undefined, 'no retry is scheduled')
  await closed
  t.equal(client.state, 'closed', 'the client is closed')
})

test('a frozen link is noticed by the idle timeout on both sides; heartbeats keep an idle link up', async (t) => {
  const a = await diskModel(t)
  const b = await diskModel(t)
  const server = await serverFor(t, a, { keepAlive: 30, idleTimeout: 300 })
  // A proxy we can freeze: it stops forwarding without closing anything, like a dead host.
  let frozen = false
  const proxy = net.createServer((inbound) => {
    const outbound = net.connect(server.address.port, '127.0.0.1')
    inbound.on('data', (chunk) => { if (!frozen) outbound.write(chunk) })
    outbound.on('data', (chunk) => { if (!frozen) inbound.write(chunk) })
    inbound.on('error', () => {})
    outbound.on('error', () => {})
    t.teardown(() => { inbound.destroy(); outbound.destroy() })
  }).listen(0, '127.0.0.1')
  await once(proxy, 'listening')
  t.teardown(async () => { await new Promise((resolve) => proxy.close(resolve)) })
  const client = clientFor(t, b, (proxy.address() as net.AddressInfo).port, { keepAlive: 30, idleTimeout: 300, minDelay: 5000, maxDelay: 5000 })
  let drops = 0
  client.on('disconnected', () => { drops++ })
  await once(client, 'synced')
  await new Promise((resolve) => setTimeout(resolve, 700))
  t.equal(drops, 0, 'an idle but healthy link stays up past the idle timeout (heartbeats)')
  frozen = true
  const [err] = await once(client, 'disconnected') as [Error & { code?: string }]
  t.equal(err.code, netCodes.IDLE_TIMEOUT, 'the client drops the frozen link with SCUTTLEDB_IDLE_TIMEOUT')
  t.ok(await until(() => server.connections.length === 0 && a.streams === 0), 'the server drops its side too')
  t.equal(b.streams, 0, 'the client instance has no stream left')
})

test('a rejected handshake closes that connection with a coded error; the server keeps serving', async (t) => {
  const a = await diskModel(t)
  await a.set('secret', 42)
  // A toy handshake: each side sends a token line and checks the peer's.
  const handshake = (token: string) => async (socket: import('node:stream').Duplex): Promise<void> => {
    socket.write(`${token}\n`)
    let line = ''
    while (!line.includes('\n')) {
      const chunk = socket.read() as Buffer | null
      if (chunk === null) { await once(socket, 'readable'); continue }
      line += chunk.toString('latin1')
    }
    const [first, rest] = [line.slice(0, line.indexOf('\n')), line.slice(line.indexOf('\n') + 1)]
    if (rest.length > 0) socket.unshift(Buffer.from(rest, 'latin1'))
    if (first !== 'open-sesame') throw Object.assign(new Error('bad token'), { code: 'TEST_DENIED' })
  }
  const server = await serverFor(t, a, { handshake: handshake('open-sesame') })
  const dropped: Array<Error | undefined> = []
  server.on('disconnect', (_c, err) => dropped.push(err))
  const intruder = await diskModel(t)
  const bad = clientFor(t, intruder, server.address.port, { handshake: handshake('guess'), minDelay: 5000, maxDelay: 5000 })
  const [err] = await once(bad, 'disconnected') as [Error & { code?: string, cause?: Error & { code?: string } }]
  t.ok(await until(() => dropped.length === 1), 'the server dropped the connection')
  t.equal((dropped[0] as Error & { code?: string }).code, netCodes.HANDSHAKE_FAILED, 'the server side closes with SCUTTLEDB_HANDSHAKE_FAILED')
  t.equal((dropped[0]?.cause as Error & { code?: string }).code, 'TEST_DENIED', 'the handshake error is the cause')
  t.equal(err.code, netCodes.PEER_CLOSED, 'the refused client is told the peer closed before the sync')
  t.deepEqual(await intruder.toJSON(), {}, 'nothing replicated to the refused client')
  const friend = await diskModel(t)
  const good = clientFor(t, friend, server.address.port, { handshake: handshake('open-sesame') })
  await once(good, 'synced')
  t.equal(await friend.get('secret'), 42, 'a client that passes the handshake replicates')
})

test('a peer that connects and never sends its header is dropped (SCUTTLEDB_HANDSHAKE_TIMEOUT)', async (t) => {
  const a = await diskModel(t)
  const server = await serverFor(t, a, { handshakeTimeout: 150 })
  const socket = net.connect(server.address.port, '127.0.0.1')
  socket.on('error', () => {})
  socket.resume()
  socket.write(Buffer.from([0, 0, 0, 100, 1, 2]))
  const [, err] = await once(server, 'disconnect') as [unknown, Error & { code?: string }]
  t.equal(err.code, netCodes.HANDSHAKE_TIMEOUT, 'the half-sent header times out')
  await once(socket, 'close')
  t.equal(a.streams, 0, 'its stream is gone')
})

test('port errors are coded: EADDRINUSE is SCUTTLEDB_ADDRESS_IN_USE, a bad port SCUTTLEDB_BAD_ADDRESS', async (t) => {
  const a = await diskModel(t)
  const server = await serverFor(t, a)
  try {
    await listen(a, { port: server.address.port })
    t.fail('listening twice on one port succeeded')
  } catch (err) {
    t.equal((err as { code?: string }).code, netCodes.ADDRESS_IN_USE, 'a port in use')
  }
  try {
    await listen(a, { port: 70000 })
    t.fail('port 70000 accepted')
  } catch (err) {
    t.equal((err as { code?: string }).code, netCodes.BAD_ADDRESS, 'a port out of range')
  }
  t.throws(() => connect(a, { port: -1 }), /port/, 'connect() checks the port')
})

test('garbage on a listen() port drops that connection with the stream error and the instance reports it', async (t) => {
  const a = await diskModel(t)
  const server = await serverFor(t, a)
  const rejected: string[] = []
  a.on('rejected', (err) => rejected.push(err.code))
  const socket = net.connect(server.address.port, '127.0.0.1')
  socket.on('error', () => {})
  socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
  const [, err] = await once(server, 'disconnect') as [unknown, Error & { code?: string }]
  t.equal(err.code, codes.FRAME_TOO_LARGE, 'an HTTP request reads as an absurd frame length')
  t.deepEqual(rejected, [codes.FRAME_TOO_LARGE], 'the instance emits rejected with the code')
})
