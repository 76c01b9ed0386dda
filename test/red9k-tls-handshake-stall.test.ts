import net from 'node:net'
import { once } from 'node:events'
import test, { type Test } from 'tape'
import {
  connect, connectWebSocket, listen, listenWebSocket,
  type ReplicationClient, type ReplicationServer
} from '../lib/index.js'
import { memoryModel } from './helpers.js'
import { selfSignedCert } from './fixtures/net-helpers.js'

/** Generous: a stalled TLS handshake must be dropped after handshakeTimeout (200 ms), not hang. */
const HUNG_MS = 20_000

async function server (t: Test, s: Promise<ReplicationServer>): Promise<ReplicationServer> {
  const server = await s
  t.teardown(async () => { await server.close() })
  return server
}

function client (t: Test, c: ReplicationClient): ReplicationClient {
  t.teardown(async () => { await c.close() })
  return c
}

/** A TCP socket that connects and never sends a byte of its TLS ClientHello (a TLS slow-loris). */
async function stall (t: Test, port: number): Promise<{ closed: Promise<'closed' | 'hung'> }> {
  const socket = net.connect(port, '127.0.0.1')
  socket.on('error', () => {})
  socket.resume()
  await once(socket, 'connect')
  t.teardown(() => { socket.destroy() })
  let timer: NodeJS.Timeout | undefined
  const closed = Promise.race([
    once(socket, 'close').then(() => 'closed' as const),
    new Promise<'hung'>((resolve) => { timer = setTimeout(() => { resolve('hung') }, HUNG_MS) })
  ]).finally(() => { clearTimeout(timer) })
  return { closed }
}

async function synced (c: ReplicationClient): Promise<'synced' | 'hung'> {
  let timer: NodeJS.Timeout | undefined
  return await Promise.race([
    once(c, 'synced').then(() => 'synced' as const),
    new Promise<'hung'>((resolve) => { timer = setTimeout(() => { resolve('hung') }, HUNG_MS) })
  ]).finally(() => { clearTimeout(timer) })
}

test('red9k: listen({ tls, handshakeTimeout }) drops a peer that stalls its TLS handshake, so it cannot hold a maxConnections slot', async (t) => {
  const { cert, key } = await selfSignedCert(t)
  const a = await memoryModel(t)
  await a.set('k', 'v')
  const s = await server(t, listen(a, { tls: { cert, key }, handshakeTimeout: 200, maxConnections: 2 }))
  const stalls = [await stall(t, s.address.port), await stall(t, s.address.port)]
  const b = await memoryModel(t)
  const c = client(t, connect(b, { port: s.address.port, tls: { ca: cert }, minDelay: 50, maxDelay: 200 }))
  t.equal(await synced(c), 'synced', 'an honest TLS peer syncs once the stalled handshakes are dropped')
  t.equal(await b.get('k'), 'v', 'it got the data')
  t.deepEqual(await Promise.all(stalls.map(async (x) => await x.closed)), ['closed', 'closed'], 'the stalled sockets were closed')
})

test('red9k: listenWebSocket({ tls, handshakeTimeout }) drops a peer that stalls its TLS handshake within handshakeTimeout, so it cannot hold a maxConnections slot', async (t) => {
  const { cert, key } = await selfSignedCert(t)
  const a = await memoryModel(t)
  await a.set('k', 'v')
  // maxConnections 1: at most 2 sockets may wait to upgrade; two stalled TLS handshakes fill them.
  const s = await server(t, listenWebSocket(a, { tls: { cert, key }, handshakeTimeout: 200, maxConnections: 1 }))
  const stalls = [await stall(t, s.address.port), await stall(t, s.address.port)]
  const b = await memoryModel(t)
  const c = client(t, connectWebSocket(b, { url: s.address.url, tls: { ca: cert }, minDelay: 50, maxDelay: 200 }))
  t.equal(await synced(c), 'synced', 'an honest WSS peer syncs once the stalled handshakes are dropped')
  t.equal(await b.get('k'), 'v', 'it got the data')
  t.deepEqual(await Promise.all(stalls.map(async (x) => await x.closed)), ['closed', 'closed'], 'the stalled sockets were closed')
})
