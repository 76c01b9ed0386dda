/**
 * Closing a client or a server at any moment of a connection's life, on every
 * transport: it never raises an unheard error, always resolves, and leaves no
 * socket, server or timer behind (counted with process.getActiveResourcesInfo()).
 */
import net from 'node:net'
import tls from 'node:tls'
import { once } from 'node:events'
import test, { type Test } from 'tape'
import {
  authenticate, connect, connectWebSocket, generateKeys, listen, listenWebSocket,
  type ConnectionOptions, type Model, type ReplicationClient, type ReplicationServer, type Target
} from '../lib/index.js'
import { captureUncaught, memoryModel, sleep, until } from './helpers.js'
import { freePort, selfSignedCert } from './fixtures/net-helpers.js'

interface Transport { name: string, tls: boolean, ws: boolean, mux: boolean }

const TRANSPORTS: Transport[] = [
  { name: 'TCP', tls: false, ws: false, mux: false },
  { name: 'TLS', tls: true, ws: false, mux: false },
  { name: 'WebSocket', tls: false, ws: true, mux: false },
  { name: 'WSS', tls: true, ws: true, mux: false },
  { name: 'multiplexed TCP', tls: false, ws: false, mux: true },
  { name: 'multiplexed WSS', tls: true, ws: true, mux: true }
]

/** One test's world: a model, a certificate when the transport needs one, and what to close at the end. */
interface World {
  t: Test
  tr: Transport
  model: Model
  cert: { cert: string, key: string } | undefined
  cleanups: Array<() => Promise<void> | void>
}

function resourceCounts (): Map<string, number> {
  const counts = new Map<string, number>()
  for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1)
  return counts
}

function extraResources (before: Map<string, number>): string[] {
  const extra: string[] = []
  for (const [type, n] of resourceCounts()) if (n > (before.get(type) ?? 0)) extra.push(`${type} x${n - (before.get(type) ?? 0)}`)
  return extra
}

/**
 * Runs `body` in a fresh world, closes everything it opened, then asserts that
 * no uncaught error happened and that every handle and ref'd timer it created is gone.
 */
function closeTest (name: string, tr: Transport, body: (w: World) => Promise<void>): void {
  test(`${tr.name}: ${name}`, async (t) => {
    const cert = tr.tls ? await selfSignedCert(t) : undefined
    const model = await memoryModel(t)
    const uncaught = captureUncaught(t)
    const before = resourceCounts()
    const listeners = (): number => model.eventNames().reduce((n, e) => n + model.listenerCount(e), 0)
    const listenersBefore = listeners()
    const w: World = { t, tr, model, cert, cleanups: [] }
    try {
      await body(w)
    } finally {
      for (const cleanup of w.cleanups.reverse()) await cleanup()
    }
    // An unheard error is emitted a tick or more after the destroy that caused it.
    await sleep(20)
    t.ok(await until(() => extraResources(before).length === 0, 5000), `no socket, server or timer left behind (${extraResources(before).join(', ') || 'none'})`)
    t.ok(await until(() => model.streams === 0 && listeners() === listenersBefore, 5000), `the instance has no stream (${model.streams}) and no listener (${listeners() - listenersBefore} more) left`)
    t.deepEqual(uncaught.map((e) => (e as { code?: string }).code ?? String(e)), [], 'no uncaught error')
  })
}

function targetOf (w: World, model = w.model): Target {
  return w.tr.mux ? { docs: { doc: model } } : model
}

/** A real replication server for the world's transport (with peer options). */
async function realServer (w: World, options: ConnectionOptions & { docs?: Target } = {}): Promise<ReplicationServer> {
  const peer = await memoryModel(w.t)
  const { docs, ...rest } = options
  const target = docs ?? targetOf(w, peer)
  const tlsOptions = w.cert === undefined ? undefined : { cert: w.cert.cert, key: w.cert.key }
  const server = w.tr.ws ? await listenWebSocket(target, { ...rest, tls: tlsOptions }) : await listen(target, { ...rest, tls: tlsOptions })
  w.cleanups.push(async () => { await server.close() })
  return server
}

/** A server that accepts connections (completing TLS when `secure`) and then never says a word. */
async function silentServer (w: World, secure: boolean): Promise<{ port: number, accepted: Promise<unknown> }> {
  const sockets = new Set<net.Socket>()
  const cert = w.cert as { cert: string, key: string }
  const server = secure ? tls.createServer({ cert: cert.cert, key: cert.key }) : net.createServer()
  const accepted = once(server, secure ? 'secureConnection' : 'connection')
  server.on('connection', (socket: net.Socket) => {
    socket.on('error', () => {})
    sockets.add(socket)
  })
  server.on('tlsClientError', () => {})
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  w.cleanups.push(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise((resolve) => server.close(resolve))
  })
  return { port: (server.address() as net.AddressInfo).port, accepted }
}

/** A client of the world's transport to `port` that nobody else closes (the test must). */
function dial (w: World, port: number, options: ConnectionOptions & { minDelay?: number, maxDelay?: number } = {}): ReplicationClient {
  const tlsOptions = w.cert === undefined ? undefined : { ca: w.cert.cert }
  const common = { minDelay: 10, maxDelay: 50, keepAlive: 1000, ...options }
  const client = w.tr.ws
    ? connectWebSocket(targetOf(w), { url: `${w.tr.tls ? 'wss' : 'ws'}://127.0.0.1:${port}/`, tls: tlsOptions, ...common })
    : connect(targetOf(w), { port, tls: tlsOptions, ...common })
  // Safety net only: the test's own close() calls come first.
  w.cleanups.push(async () => { await client.close() })
  return client
}

/** True when `promise` settles within `ms` (its timer cleared either way, so it is no leak). */
async function within (promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<boolean>((resolve) => { timer = setTimeout(() => { resolve(false) }, ms) })
  try {
    return await Promise.race([promise.then(() => true), expired])
  } finally {
    clearTimeout(timer)
  }
}

/** Close, and assert it resolved, the client ended 'closed' and emitted 'close' exactly once. */
async function closeAndCheck (w: World, client: ReplicationClient, closing: Array<Promise<void>> = []): Promise<void> {
  let closes = 0
  client.on('close', () => { closes++ })
  if (closing.length === 0) closing.push(client.close())
  w.t.ok(await within(Promise.all(closing), 10_000), 'close() resolved')
  await client.close()
  w.t.equal(client.state, 'closed', 'the client is closed')
  await sleep(0)
  w.t.ok(closes <= 1, `'close' emitted at most once after the call (${closes})`)
}

// ---- the client closes ----

for (const tr of TRANSPORTS) {
  closeTest('close() in the same tick as connect(), before the first dial', tr, async (w) => {
    const server = await realServer(w)
    const client = dial(w, server.address.port)
    await closeAndCheck(w, client)
  })

  closeTest('close() from the connecting listener, as the first attempt begins', tr, async (w) => {
    const server = await realServer(w)
    const client = dial(w, server.address.port)
    const closing: Array<Promise<void>> = []
    client.once('connecting', () => { closing.push(client.close()) })
    await once(client, 'close')
    await closeAndCheck(w, client, closing)
  })

  closeTest('close() while the TCP connection is being opened', tr, async (w) => {
    const server = await realServer(w)
    const client = dial(w, server.address.port)
    const closing: Array<Promise<void>> = []
    // The attempt has created its socket and is waiting for it: close before any I/O.
    client.once('connecting', () => { queueMicrotask(() => { closing.push(client.close()) }) })
    await once(client, 'close')
    await closeAndCheck(w, client, closing)
  })

  if (tr.tls) {
    closeTest('close() during the TLS handshake (the server accepts TCP and never answers)', tr, async (w) => {
      const silent = await silentServer(w, false)
      const client = dial(w, silent.port)
      await silent.accepted
      await sleep(10)
      w.t.equal(client.state, 'connecting', 'still dialing')
      await closeAndCheck(w, client)
    })
  }

  if (tr.ws) {
    closeTest('close() during the WebSocket upgrade (the server never answers it)', tr, async (w) => {
      const silent = await silentServer(w, tr.tls)
      const client = dial(w, silent.port)
      await silent.accepted
      await sleep(10)
      w.t.equal(client.state, 'connecting', 'still dialing')
      await closeAndCheck(w, client)
    })
  }

  closeTest('close() during the auth handshake (the server never finishes it)', tr, async (w) => {
    const server = await realServer(w, { handshake: async () => await new Promise<void>(() => {}) })
    const client = dial(w, server.address.port, { handshake: authenticate({ keys: generateKeys() }) })
    await once(server, 'connection')
    w.t.ok(await until(() => client.connection?.state === 'handshake'), 'the client is in its handshake')
    await closeAndCheck(w, client)
  })

  closeTest('close() while backing off after a refused attempt', tr, async (w) => {
    const client = dial(w, await freePort(), { minDelay: 60_000, maxDelay: 60_000 })
    const [, retryIn] = await once(client, 'disconnected') as [Error, number | undefined]
    w.t.ok(retryIn !== undefined && retryIn > 0, 'a retry is scheduled')
    await closeAndCheck(w, client)
  })

  closeTest('close() while connected and synced', tr, async (w) => {
    const server = await realServer(w)
    const client = dial(w, server.address.port)
    await once(client, 'synced')
    await closeAndCheck(w, client)
  })

  closeTest('close() twice while the TCP connection is being opened, and once more after', tr, async (w) => {
    const server = await realServer(w)
    const client = dial(w, server.address.port)
    const closing: Array<Promise<void>> = []
    client.once('connecting', () => { queueMicrotask(() => { closing.push(client.close(), client.close()) }) })
    await once(client, 'close')
    await closeAndCheck(w, client, closing)
    await client.close()
  })

  if (tr.mux) {
    closeTest('close() while the peer is still resolving the document', tr, async (w) => {
      const server = await realServer(w, { docs: { docs: async () => await new Promise(() => {}) } })
      const client = dial(w, server.address.port)
      await once(client, 'connected')
      await closeAndCheck(w, client)
    })
  }
}

// ---- the server closes ----

/** A raw TCP connection to `port` that sends nothing. */
async function rawPeer (w: World, port: number): Promise<net.Socket> {
  const socket = net.connect({ port, host: '127.0.0.1' })
  socket.on('error', () => {})
  // Read (and drop) whatever comes, so the server's end is seen.
  socket.resume()
  w.cleanups.push(() => { socket.destroy() })
  await once(socket, 'connect')
  return socket
}

async function closeServer (w: World, server: ReplicationServer, twice = false): Promise<void> {
  const closing = twice ? [server.close(), server.close()] : [server.close()]
  w.t.ok(await within(Promise.all(closing), 10_000), 'server close() resolved')
  await server.close()
}

for (const tr of TRANSPORTS) {
  const what = tr.ws ? (tr.tls ? 'TLS handshake before its WebSocket upgrade' : 'WebSocket upgrade') : tr.tls ? 'TLS handshake' : 'replication header'
  closeTest(`server close() with a peer that connected and never started its ${what}`, tr, async (w) => {
    const server = await realServer(w)
    const socket = await rawPeer(w, server.address.port)
    // Give the server a moment to accept it (coverage, not correctness: close() must work either way).
    await sleep(20)
    await closeServer(w, server)
    if (!socket.destroyed) await once(socket, 'close')
    w.t.pass('the peer was disconnected')
  })

  closeTest('server close() during the auth handshake', tr, async (w) => {
    const server = await realServer(w, { handshake: authenticate({ keys: generateKeys() }) })
    const client = dial(w, server.address.port, { handshake: async () => await new Promise<void>(() => {}), minDelay: 60_000, maxDelay: 60_000 })
    const [connection] = await once(server, 'connection')
    w.t.equal(connection.state, 'handshake', 'the server side is in its handshake')
    await closeServer(w, server)
    await closeAndCheck(w, client)
  })

  closeTest('server close() twice while a client replicates, then the client closes while backing off', tr, async (w) => {
    const server = await realServer(w)
    const client = dial(w, server.address.port, { minDelay: 60_000, maxDelay: 60_000 })
    await once(client, 'synced')
    const disconnected = once(client, 'disconnected')
    await closeServer(w, server, true)
    await disconnected
    await closeAndCheck(w, client)
  })
}
