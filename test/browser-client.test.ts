import test from 'tape'
import { once } from 'node:events'
import { createServer, type Socket } from 'node:net'
import { WebSocket } from 'ws'
import { connectWebSocket, type BrowserWebSocketConstructor } from '../lib/browser.js'
import { listenWebSocket } from '../lib/index.js'
import { memoryModel } from './helpers.js'

// The browser client on Node, over ws's WHATWG-style WebSocket (addEventListener, binaryType):
// its options, failures and codes, fast and with coverage; test/browser.test.ts runs it in Chromium.
const Ws = WebSocket as unknown as BrowserWebSocketConstructor

test('the browser connectWebSocket refuses a bad URL with SCUTTLEDB_BAD_ADDRESS and bad options with a TypeError', async (t) => {
  const model = await memoryModel(t)
  for (const url of ['not a url', 'http://127.0.0.1:1/']) {
    try {
      connectWebSocket(model, { url, WebSocket: Ws })
      t.fail(`${url} accepted`)
    } catch (err) {
      t.equal((err as { code?: string }).code, 'SCUTTLEDB_BAD_ADDRESS', `${url} refused`)
    }
  }
  t.throws(() => connectWebSocket(model, { url: 'ws://127.0.0.1:1/', connectTimeout: 0, WebSocket: Ws }), TypeError, 'connectTimeout 0')
  t.throws(() => connectWebSocket(model, { url: 'ws://127.0.0.1:1/', highWaterMark: -1, WebSocket: Ws }), TypeError, 'negative highWaterMark')
  const global = globalThis as { WebSocket?: unknown }
  const saved = global.WebSocket
  delete global.WebSocket
  try {
    t.throws(() => connectWebSocket(model, { url: 'ws://127.0.0.1:1/' }), TypeError, 'no WebSocket here and none given')
  } finally {
    if (saved !== undefined) global.WebSocket = saved
  }
})

test('the browser connectWebSocket reports a refused connection as disconnected with SCUTTLEDB_CLOSED and a retry delay', async (t) => {
  const model = await memoryModel(t)
  // A port that was free a moment ago: nothing listens on it.
  const probe = createServer()
  probe.listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const { port } = probe.address() as { port: number }
  await new Promise((resolve) => probe.close(resolve))
  const client = connectWebSocket(model, { url: `ws://127.0.0.1:${port}/`, WebSocket: Ws, minDelay: 1000, maxDelay: 1000, jitter: 0 })
  const [err, retryIn] = await once(client, 'disconnected') as [{ code?: string }, number]
  t.equal(err.code, 'SCUTTLEDB_CLOSED', 'coded')
  t.equal(retryIn, 1000, 'retries after minDelay')
  await client.close()
  t.equal(client.state, 'closed', 'closed')
})

test('the browser connectWebSocket syncs with listenWebSocket both ways, and retryNow() dials at once', async (t) => {
  const a = await memoryModel(t)
  const b = await memoryModel(t)
  await a.set('x', 1)
  await b.set('y', Uint8Array.of(1, 2))
  const server = await listenWebSocket(a)
  t.teardown(async () => { await server.close() })
  const client = connectWebSocket(b, { url: server.address.url, WebSocket: Ws, minDelay: 60_000, maxDelay: 60_000 })
  t.teardown(async () => { await client.close() })
  await once(client, 'synced')
  t.equal(await b.get('x'), 1, 'the server\'s value arrived')
  t.deepEqual([...(await a.get('y')) as Uint8Array], [1, 2], 'the client\'s binary value arrived')
  client.connection?.close()
  await once(client, 'disconnected')
  // A minute's backoff: only retryNow() makes the next attempt happen within the test.
  client.retryNow()
  await once(client, 'synced')
  t.equal(client.state, 'synced', 'synced again at once')
})

test('the browser connectWebSocket gives up on a server that never upgrades with SCUTTLEDB_CONNECT_TIMEOUT', async (t) => {
  const model = await memoryModel(t)
  // Accepts TCP and never answers the upgrade request.
  const sockets = new Set<Socket>()
  const silent = createServer((socket) => { sockets.add(socket) })
  silent.listen(0, '127.0.0.1')
  await once(silent, 'listening')
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    silent.close()
  })
  const { port } = silent.address() as { port: number }
  const client = connectWebSocket(model, { url: `ws://127.0.0.1:${port}/`, WebSocket: Ws, connectTimeout: 100, reconnect: false })
  // 'close' follows 'disconnected' at once when there is no retry.
  const closed = once(client, 'close')
  const [err, retryIn] = await once(client, 'disconnected') as [{ code?: string }, number | undefined]
  t.equal(err.code, 'SCUTTLEDB_CONNECT_TIMEOUT', 'coded')
  t.equal(retryIn, undefined, 'no retry with reconnect: false')
  await closed
  t.equal(client.state, 'closed', 'the client closed')
})
