import net from 'node:net'
import { once } from 'node:events'
import test from 'tape'
import { seededRandom } from '../lib/index.js'
import { until } from './helpers.js'
import { http, startNode } from './fixtures/net-helpers.js'

/** Open a raw TCP connection, send `data`, and resolve once the node closes it. */
async function sendAndWaitClose (port: number, data: Buffer | string, end = false): Promise<string> {
  const socket = net.connect(port, '127.0.0.1')
  socket.on('error', () => {})
  let reply = ''
  socket.setEncoding('latin1').on('data', (s: string) => { reply += s })
  await once(socket, 'connect')
  if (end) socket.end(data)
  else socket.write(data)
  // Not events.once: it rejects on the ECONNRESET the node may answer with, and the
  // attacks are awaited one after another, so a rejection would go unhandled meanwhile.
  await new Promise((resolve) => socket.once('close', resolve))
  return reply
}

/** A client that sends one byte at a time, slowly, and never finishes (slow-loris). */
async function slowLoris (port: number, text: string): Promise<void> {
  const socket = net.connect(port, '127.0.0.1')
  socket.on('error', () => {})
  socket.resume()
  await once(socket, 'connect')
  let i = 0
  const timer = setInterval(() => { if (socket.writable) socket.write(text[i++ % text.length]) }, 40)
  await new Promise((resolve) => socket.once('close', resolve))
  clearInterval(timer)
}

function randomBytes (seed: number, n: number): Buffer {
  const random = seededRandom(seed)
  return Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)))
}

test('garbage on every port: the node logs it, drops that connection and keeps serving everyone else', async (t) => {
  const a = await startNode(t, ['--ws', '0', '--handshake-timeout', '400'])
  const b = await startNode(t, ['--peer', `127.0.0.1:${a.port}`])
  await http(a.http, 'PUT', '/kv/before', 1)
  t.ok(await until(async () => (await http(b.http, 'GET', '/kv/before')).status === 200), 'a healthy peer is replicating')
  const httpPort = Number(new URL(a.http).port)

  const attacks: Array<[string, Promise<unknown>]> = [
    ['random bytes on the replication port', sendAndWaitClose(a.port, randomBytes(7, 4096))],
    ['an HTTP request on the replication port', sendAndWaitClose(a.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n')],
    ['a truncated frame on the replication port', sendAndWaitClose(a.port, Buffer.from([0, 0, 0, 50, 0x82, 0xa2]), true)],
    ['a slow-loris on the replication port', slowLoris(a.port, '\x00\x00\x01\x00abcdef')],
    ['random bytes on the HTTP port', sendAndWaitClose(httpPort, randomBytes(8, 512))],
    ['a slow-loris on the HTTP port', slowLoris(httpPort, 'GET /status HTTP/1.1\r\nX-Slow: ')],
    ['random bytes on the WebSocket port', sendAndWaitClose(a.ws, randomBytes(9, 512))],
    ['a slow-loris on the WebSocket port', slowLoris(a.ws, 'GET / HTTP/1.1\r\nUpgrade: websocket\r\nX-Slow: ')]
  ]
  // Settle every attack now: they run at once, and one that rejects before its turn
  // in the loop below must fail its assertion, not crash the process unhandled.
  const outcomes = attacks.map(([name, attack]) => [name, attack.then(() => null, (err: Error) => err)] as const)
  for (const [name, outcome] of outcomes) {
    t.error(await outcome, `${name}: the node closed the connection`)
  }
  const plain = await fetch(`http://127.0.0.1:${a.ws}/`)
  t.equal(plain.status, 426, 'a plain HTTP request on the WebSocket port is told to upgrade')
  await plain.text()

  const log = a.log()
  t.ok(/dropped: SCUTTLEDB_FRAME_TOO_LARGE/.test(log), 'the log names an absurd frame length')
  t.ok(/dropped: SCUTTLEDB_INVALID_FRAME/.test(log), 'the log names the truncated frame')
  t.ok(/dropped: SCUTTLEDB_HANDSHAKE_TIMEOUT/.test(log), 'the log names the slow-loris')
  t.ok(/http: dropped/.test(log), 'the log names the HTTP garbage')
  t.ok(/refused:/.test(log), 'the log names the WebSocket garbage')

  await http(a.http, 'PUT', '/kv/after', 2)
  t.ok(await until(async () => (await http(b.http, 'GET', '/kv/after')).status === 200), 'the healthy peer still replicates')
  const status = (await http(a.http, 'GET', '/status')).body as { peers: Array<{ state: string }> }
  t.deepEqual(status.peers.map((p) => p.state), ['synced'], 'only the healthy peer is left connected')
  t.equal(await a.stop(), 0, 'the node shuts down cleanly afterwards')
})

test('an HTTP/1.0 request is served like an HTTP/1.1 one (docs/cli.md, Limits and timeouts)', async (t) => {
  const a = await startNode(t, [])
  await http(a.http, 'PUT', '/kv/old-client', 'hello')
  const reply = await sendAndWaitClose(Number(new URL(a.http).port), 'GET /kv/old-client HTTP/1.0\r\nHost: x\r\n\r\n')
  t.match(reply, /^HTTP\/1\.[01] 200 /, 'answered 200')
  t.equal(reply.slice(reply.indexOf('\r\n\r\n') + 4).trim(), '"hello"', 'with the value as JSON')
})
