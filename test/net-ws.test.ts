import net from 'node:net'
import { once } from 'node:events'
import test, { type Test } from 'tape'
import { WebSocket } from 'ws'
import {
  connect, connectWebSocket, listen, listenWebSocket, netCodes,
  type Model, type ReplicationClient, type ReplicationServer
} from '../lib/index.js'
import { diskModel, memoryModel, until } from './helpers.js'
import { selfSignedCert } from './fixtures/net-helpers.js'

async function wsServer (t: Test, server: Promise<ReplicationServer>): Promise<ReplicationServer> {
  const s = await server
  t.teardown(async () => { await s.close() })
  return s
}

function client (t: Test, c: ReplicationClient): ReplicationClient {
  t.teardown(async () => { await c.close() })
  return c
}

async function converged (a: Model, b: Model): Promise<boolean> {
  return await until(async () => JSON.stringify(await a.toJSON()) === JSON.stringify(await b.toJSON()))
}

test('listenWebSocket() and connectWebSocket() replicate both ways and answer plain HTTP with 426', async (t) => {
  const a = await diskModel(t)
  const b = await diskModel(t)
  await a.set('over', 'websocket')
  await b.set('back', 1)
  const server = await wsServer(t, listenWebSocket(a, { port: 0, path: '/replicate' }))
  t.ok(server.address.url.startsWith('ws://127.0.0.1:') && server.address.url.endsWith('/replicate'), `the url names the endpoint (${server.address.url})`)
  const c = client(t, connectWebSocket(b, { url: server.address.url, minDelay: 10, maxDelay: 50 }))
  await once(c, 'synced')
  t.deepEqual(await b.toJSON(), { over: 'websocket', back: 1 }, 'history crossed')
  t.ok(await converged(a, b), 'both ways')
  await b.set('live', true)
  t.ok(await until(async () => await a.get('live') === true), 'a live update crossed back')
  const res = await fetch(`http://127.0.0.1:${server.address.port}/replicate`)
  t.equal(res.status, 426, 'a plain HTTP request gets 426 Upgrade Required')
  await res.text()
  t.equal(c.connection?.transport, 'ws', 'the connection says ws')
})

test('WSS and TLS over TCP with a self-signed certificate (made by openssl) replicate; an untrusting client is refused', async (t) => {
  const { cert, key } = await selfSignedCert(t)
  const a = await memoryModel(t)
  await a.set('secure', true)
  const wss = await wsServer(t, listenWebSocket(a, { port: 0, tls: { cert, key } }))
  const tls = await wsServer(t, listen(a, { port: 0, tls: { cert, key } }))
  t.equal(wss.transport, 'wss', 'the WebSocket server is wss')
  t.equal(tls.transport, 'tls', 'the TCP server is tls')
  const b = await memoryModel(t)
  const c = await memoryModel(t)
  const overWss = client(t, connectWebSocket(b, { url: wss.address.url, tls: { ca: cert } }))
  const overTls = client(t, connect(c, { port: tls.address.port, tls: { ca: cert } }))
  await Promise.all([once(overWss, 'synced'), once(overTls, 'synced')])
  t.equal(await b.get('secure'), true, 'replicated over wss')
  t.equal(await c.get('secure'), true, 'replicated over tls')
  const d = await memoryModel(t)
  const refused: string[] = []
  tls.on('connectionError', (err) => refused.push(err.message))
  const untrusting = client(t, connect(d, { port: tls.address.port, tls: true, reconnect: false }))
  const [err] = await once(untrusting, 'disconnected') as [Error & { code?: string }]
  t.ok(/SELF_SIGNED|CERT/.test(err.code ?? err.message), `a client that does not trust the certificate is refused (${err.code ?? ''})`)
  t.deepEqual(await d.toJSON(), {}, 'and gets nothing')
})

test('a WebSocket peer that stops answering pings is dropped with SCUTTLEDB_IDLE_TIMEOUT', async (t) => {
  const a = await memoryModel(t)
  const server = await wsServer(t, listenWebSocket(a, { port: 0, keepAlive: 30, idleTimeout: 200, handshakeTimeout: false }))
  const mute = new WebSocket(server.address.url, { autoPong: false })
  mute.on('error', () => {})
  await once(mute, 'open')
  const [, err] = await once(server, 'disconnect') as [unknown, Error & { code?: string }]
  t.equal(err.code, netCodes.IDLE_TIMEOUT, 'the server gave up on it')
  t.ok(await until(() => mute.readyState === WebSocket.CLOSED), 'its socket was closed')
  t.equal(a.streams, 0, 'its stream is gone')
})

test('a WebSocket client reconnects when the server comes back on the same port, with only what is missing', async (t) => {
  const a = await diskModel(t)
  const b = await diskModel(t)
  await a.set('before', 1)
  const first = await listenWebSocket(a, { port: 0 })
  const port = first.address.port
  const c = client(t, connectWebSocket(b, { url: `ws://127.0.0.1:${port}/`, minDelay: 10, maxDelay: 40 }))
  await once(c, 'synced')
  await first.close()
  await once(c, 'disconnected')
  await a.set('while-down', 2)
  const second = await wsServer(t, listenWebSocket(a, { port }))
  const [connection] = await once(c, 'synced') as [NonNullable<ReplicationClient['connection']>]
  t.equal(connection.progress.received, 1, 'only the missing update came over')
  t.ok(await converged(a, b), 'both hold the same data')
  t.equal(second.connections.length, 1, 'the new server holds the connection')
})

test('several documents over one WebSocket', async (t) => {
  const [a1, a2, b1, b2] = [await memoryModel(t), await memoryModel(t), await memoryModel(t), await memoryModel(t)]
  await a1.set('n', 1)
  await b2.set('n', 2)
  const server = await wsServer(t, listenWebSocket({ docs: { one: a1, two: a2 } }, { port: 0 }))
  const c = client(t, connectWebSocket({ docs: { one: b1, two: b2 } }, { url: server.address.url }))
  await once(c, 'synced')
  t.equal(await b1.get('n'), 1, 'document one replicated')
  // The client's sync says it has everything; the server commits what the client sent on its own sync.
  t.ok(await until(async () => await a2.get('n') === 2), 'document two replicated')
})

test('garbage on a WebSocket port is refused and the server keeps serving; bad URLs are coded', async (t) => {
  const a = await memoryModel(t)
  await a.set('still', 'serving')
  const server = await wsServer(t, listenWebSocket(a, { port: 0 }))
  const errors: string[] = []
  server.on('connectionError', (_err, remote) => errors.push(remote))
  const socket = net.connect(server.address.port, '127.0.0.1')
  socket.on('error', () => {})
  socket.resume()
  socket.write(Buffer.from('\x16\x03\x01garbage that is not HTTP\r\n\r\n'))
  await once(socket, 'close')
  t.equal(errors.length, 1, 'the bad client is reported')
  const b = await memoryModel(t)
  const c = client(t, connectWebSocket(b, { url: server.address.url }))
  await once(c, 'synced')
  t.equal(await b.get('still'), 'serving', 'a good client still replicates')
  t.throws(() => connectWebSocket(b, { url: 'not a url' }), (err: Error & { code?: string }) => err.code === netCodes.BAD_ADDRESS, 'a malformed URL is SCUTTLEDB_BAD_ADDRESS')
  t.throws(() => connectWebSocket(b, { url: 'http://127.0.0.1:1/' }), (err: Error & { code?: string }) => err.code === netCodes.BAD_ADDRESS, 'a non-ws URL is SCUTTLEDB_BAD_ADDRESS')
  const http = await listen(a, { port: 0 })
  t.teardown(async () => { await http.close() })
  const wrong = client(t, connectWebSocket(b, { url: `ws://127.0.0.1:${server.address.port}/`.replace(String(server.address.port), String(http.address.port)), reconnect: false, connectTimeout: 500 }))
  const [err] = await once(wrong, 'disconnected') as [Error]
  t.ok(err instanceof Error, 'a WebSocket client dialing a plain replication port fails cleanly')
})
