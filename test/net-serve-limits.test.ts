// `scuttledb serve --max-connections N` (a child process on 127.0.0.1): the
// N+1th incoming connection is refused on the TCP and on the WebSocket port,
// the first N replicate, and the node goes on serving.
import { once } from 'node:events'
import { request, type IncomingMessage } from 'node:http'
import { createConnection, type Socket } from 'node:net'
import test, { type Test } from 'tape'
import {
  connect, connectWebSocket, listen, listenWebSocket, netCodes,
  type ConnectOptions, type Model, type ReplicationClient, type WebSocketConnectOptions
} from '../lib/index.js'
import { memoryModel, rejects, until } from './helpers.js'
import { http, runCli, startNode } from './fixtures/net-helpers.js'

/** A client that is closed when the test ends. */
function closing (t: Test, client: ReplicationClient): ReplicationClient {
  t.teardown(async () => { await client.close() })
  return client
}

/** The code of the first `disconnected` error of a client that does not retry. */
async function refusedWith (client: ReplicationClient): Promise<string | undefined> {
  const [err] = await once(client, 'disconnected') as [{ code?: string } | undefined]
  return err?.code
}

/** The status a WebSocket upgrade request gets (101 when it is accepted). */
async function upgradeStatus (port: number): Promise<number | undefined> {
  const req = request({ port, host: '127.0.0.1', headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' } })
  req.end()
  const status = await Promise.race([
    once(req, 'response').then(([res]) => { (res as IncomingMessage).resume(); return (res as IncomingMessage).statusCode }),
    once(req, 'upgrade').then(([, socket]) => { (socket as Socket).destroy(); return 101 })
  ])
  req.destroy()
  return status
}

async function holds (model: Model, key: string, value: unknown): Promise<boolean> {
  return await until(async () => await model.get(key) === value, 10_000)
}

test('serve --max-connections 2: a third TCP peer is refused, the first two replicate, and the node keeps serving', async (t) => {
  const node = await startNode(t, ['--max-connections', '2', '--ws', '0'])
  const put = await http(node.http, 'PUT', '/kv/greeting', 'hello')
  t.equal(put.status, 200, 'the node took a write')
  const tcp = (options: Partial<ConnectOptions> = {}): Omit<ConnectOptions, 'port'> & { port: number } => ({ port: node.port, minDelay: 20, maxDelay: 100, ...options })
  const [m1, m2, m3, m4] = await Promise.all([memoryModel(t), memoryModel(t), memoryModel(t), memoryModel(t)])
  const c1 = closing(t, connect(m1, tcp()))
  const c2 = closing(t, connect(m2, tcp()))
  await Promise.all([once(c1, 'synced'), once(c2, 'synced')])
  t.equal(await m1.get('greeting'), 'hello', 'the first peer replicated')
  t.equal(await m2.get('greeting'), 'hello', 'the second peer replicated')

  const c3 = closing(t, connect(m3, tcp({ reconnect: false })))
  // Over TCP the refusal is a bare close (Node drops the socket before anything can be said on it).
  t.ok(await refusedWith(c3) !== undefined, 'the third peer\'s connection failed')
  t.equal(await m3.get('greeting'), undefined, 'and it received nothing')
  t.ok(await until(() => node.log().includes(netCodes.TOO_MANY_CONNECTIONS), 10_000), 'the node logged the refusal with its code')

  await http(node.http, 'PUT', '/kv/later', 42)
  t.ok(await holds(m1, 'later', 42) && await holds(m2, 'later', 42), 'the first two still replicate live')
  await c1.close()
  const c4 = closing(t, connect(m4, tcp()))
  await once(c4, 'synced')
  t.equal(await m4.get('later'), 42, 'once one peer left, a new one is accepted (the limit is of open connections)')
  t.equal((await runCli(['get', 'greeting', '--node', node.http])).stdout.trim(), '"hello"', 'the HTTP API still answers')
  t.equal(node.child.exitCode, null, 'the node is still running')
})

test('serve --max-connections 2: a third WebSocket peer is answered 503 with SCUTTLEDB_TOO_MANY_CONNECTIONS', async (t) => {
  const node = await startNode(t, ['--max-connections', '2', '--ws', '0'])
  await http(node.http, 'PUT', '/kv/greeting', 'hello')
  const ws = (options: Partial<WebSocketConnectOptions> = {}): WebSocketConnectOptions => ({ url: `ws://127.0.0.1:${node.ws}/`, minDelay: 20, maxDelay: 100, ...options })
  const [m1, m2, m3] = await Promise.all([memoryModel(t), memoryModel(t), memoryModel(t)])
  const c1 = closing(t, connectWebSocket(m1, ws()))
  const c2 = closing(t, connectWebSocket(m2, ws()))
  await Promise.all([once(c1, 'synced'), once(c2, 'synced')])
  t.equal(await m1.get('greeting'), 'hello', 'two WebSocket peers replicate')
  t.equal(await upgradeStatus(node.ws), 503, 'a third upgrade is answered 503')
  const c3 = closing(t, connectWebSocket(m3, ws({ reconnect: false })))
  t.equal(await refusedWith(c3), netCodes.TOO_MANY_CONNECTIONS, 'the third client learns why it was refused')
  t.equal(await m3.get('greeting'), undefined, 'and received nothing')
  t.equal(node.child.exitCode, null, 'the node is still running')
})

test('listen() and listenWebSocket() take maxConnections as a positive integer (a TypeError otherwise)', async (t) => {
  const model = await memoryModel(t)
  for (const bad of [0, -1, 1.5, '2', Number.NaN]) {
    await rejects(t, listen(model, { maxConnections: bad as number }), TypeError, `listen() refuses ${String(bad)}`)
    await rejects(t, listenWebSocket(model, { maxConnections: bad as number }), TypeError, `listenWebSocket() refuses ${String(bad)}`)
  }
  const usage = await runCli(['serve', '--max-connections', '0', '--db', 'unused'])
  t.equal(usage.code, 2, 'serve --max-connections 0 is a usage error')
})

test('listenWebSocket({ maxConnections: 1 }): sockets that never upgrade are bounded too (a third is closed at once)', async (t) => {
  const model = await memoryModel(t)
  // No headers timeout: only the limit may close a silent socket here.
  const server = await listenWebSocket(model, { maxConnections: 1, handshakeTimeout: false })
  t.teardown(async () => { await server.close() })
  const errors: string[] = []
  server.on('connectionError', (err) => { errors.push(String((err as { code?: unknown }).code)) })
  const open = (): Socket => {
    const socket = createConnection(server.address.port, '127.0.0.1')
    socket.on('error', () => {})
    socket.resume()
    t.teardown(() => { socket.destroy() })
    return socket
  }
  // Two silent sockets: the one WebSocket connection allowed, and as many again waiting to upgrade.
  const silent = [open(), open()]
  await Promise.all(silent.map(async (s) => { await once(s, 'connect') }))
  const third = open()
  t.ok(await until(() => third.destroyed || third.readableEnded, 10_000), 'the third socket is closed by the server')
  t.deepEqual(errors, [netCodes.TOO_MANY_CONNECTIONS], 'and reported as connectionError with its code')
  t.ok(silent.every((s) => !s.destroyed), 'the first two are still open')
})

/** A raw TCP socket that sends a 4-byte length claiming `claim` bytes, then `sent` bytes of the frame. */
async function parkPartialFrame (t: Test, port: number, claim: number, sent: number): Promise<Socket> {
  const socket = createConnection(port, '127.0.0.1')
  socket.on('error', () => {})
  socket.resume()
  t.teardown(() => { socket.destroy() })
  await once(socket, 'connect')
  const bytes = Buffer.alloc(4 + sent, 0x61)
  bytes.writeUInt32BE(claim, 0)
  socket.write(bytes)
  return socket
}

interface BufferFigures { transport: string, bytes: number, peak: number, limit: number, refused: number }

async function buffers (base: string): Promise<BufferFigures> {
  const status = (await http(base, 'GET', '/status')).body as { buffers: BufferFigures[] }
  return status.buffers[0]
}

test('serve --max-buffered-bytes 20M: peers that park 8 MiB of a 16 MiB frame each are dropped with SCUTTLEDB_OVERLOADED, within the budget; an honest peer syncs; /status and /metrics show it', async (t) => {
  const MiB = 1024 * 1024
  // Long timers: only the budget may drop the silent hostile sockets here.
  const node = await startNode(t, ['--max-buffered-bytes', '20M', '--handshake-timeout', '600000', '--idle-timeout', '600000'])
  await http(node.http, 'PUT', '/kv/greeting', 'hello')
  const honest = await memoryModel(t)
  const client = closing(t, connect(honest, { port: node.port, minDelay: 20, maxDelay: 100 }))
  const hostile = await Promise.all(Array.from({ length: 4 }, async () => await parkPartialFrame(t, node.port, 16 * MiB, 8 * MiB)))
  await once(client, 'synced')
  t.equal(await honest.get('greeting'), 'hello', 'an honest peer connected at the same time synced')
  const closed = (): number => hostile.filter((s) => s.destroyed || s.readableEnded).length
  // Two hold their 8 MiB (16 MiB of the 20); the other two cannot fit.
  let figures = await buffers(node.http)
  t.ok(await until(async () => {
    figures = await buffers(node.http)
    return closed() >= 2 && figures.bytes === (4 - closed()) * (4 + 8 * MiB)
  }, 30_000), `at least two hostile peers were dropped, the others hold their partial frames (${JSON.stringify(figures)})`)
  t.equal(figures.limit, 20 * MiB, 'the status shows the limit')
  t.ok(figures.peak <= 20 * MiB, `what the node held never exceeded the budget (peak ${figures.peak})`)
  t.equal(figures.refused, closed(), 'and counts the refusals')
  t.ok(await until(() => node.log().includes('SCUTTLEDB_OVERLOADED'), 10_000), 'the node logged the drops with their code')
  const metrics = await (await fetch(`${node.http}/metrics`)).text()
  t.ok(metrics.includes(`scuttledb_buffered_bytes{transport="tcp"} ${figures.bytes}`), 'GET /metrics has the bytes held')
  t.ok(metrics.includes(`scuttledb_overloaded_total{transport="tcp"} ${figures.refused}`), 'and the refusals')
  await http(node.http, 'PUT', '/kv/later', 42)
  t.ok(await holds(honest, 'later', 42), 'the honest peer still replicates live')
  for (const socket of hostile) socket.destroy()
  t.ok(await until(async () => (await buffers(node.http)).bytes === 0, 10_000), 'once the hostile sockets close the node holds nothing')
  t.equal(node.child.exitCode, null, 'the node is still running')
  const usage = await runCli(['serve', '--max-buffered-bytes', '1M', '--db', 'unused'])
  t.equal(usage.code, 2, 'serve --max-buffered-bytes below one 16 MiB frame is a usage error')
})
