// Peer exchange without --key: a hostile peer can invent ids, and the docs
// bound what it can make a node hold (64 entries a message, 256 in the book).
// Nothing bounds how often the node dials one address: 64 invented ids that all
// name the same address make the node dial it 64 times within a second, one
// message after another, so one cheap connection turns the node into a
// connection storm at any host and port the hostile peer chooses.
import { once } from 'node:events'
import net from 'node:net'
import { pack } from 'msgpackr'
import test from 'tape'
import { until } from './helpers.js'
import { startNode } from './fixtures/net-helpers.js'

const MAGIC = Buffer.from('SDBPEX1\n', 'latin1')

/** Dial `port` as a peer-exchange dialer, send `entries`, wait for the answer and hang up. */
async function feed (port: number, id: string, entries: unknown[]): Promise<void> {
  const body = pack({ pex: 1, id, entries })
  const head = Buffer.alloc(4)
  head.writeUInt32BE(body.length)
  const socket = net.connect(port, '127.0.0.1')
  socket.on('error', () => {})
  socket.write(Buffer.concat([MAGIC, head, body]))
  await once(socket, 'data')
  socket.destroy()
}

/** A listener that counts connections and answers each with a (malformed) empty frame, then ends. */
async function victim (t: test.Test, answer: (s: net.Socket) => void): Promise<{ port: number, hits: () => number }> {
  let hits = 0
  const server = net.createServer((s) => { hits++; s.on('error', () => {}); answer(s) })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { server.close() })
  return { port: (server.address() as net.AddressInfo).port, hits: () => hits }
}

test('red3: 64 invented ids naming one address do not make a node dial that address 64 times', async (t) => {
  const v = await victim(t, (s) => { s.end(Buffer.alloc(4)) })
  const node = await startNode(t, ['--max-peers', '6'])
  const now = Date.now()
  const entries = Array.from({ length: 64 }, (_, i) => [`INVENTED${i}`, `tcp://127.0.0.1:${v.port}`, now])
  await feed(node.port, 'HOSTILE', entries)
  t.ok(await until(() => v.hits() >= 1), 'the node dialed the address it learned')
  // A node that dials one address once (or once per --max-peers slot) never gets past 6.
  await until(() => v.hits() > 6, 3000)
  t.ok(v.hits() <= 6, `the node dialed 127.0.0.1:${v.port} ${v.hits()} times (and counting) for one 64-entry message: at most 6 expected`)
})

test('red3: a learned address whose listener hangs up at once is given up at once, not after the handshake timeout', async (t) => {
  const v = await victim(t, (s) => { s.destroy() })
  const node = await startNode(t, ['--max-peers', '1', '--handshake-timeout', '600000'])
  await feed(node.port, 'HOSTILE', [['GONE', `tcp://127.0.0.1:${v.port}`, Date.now()]])
  t.ok(await until(() => v.hits() >= 1), 'the node dialed the learned address')
  t.ok(await until(() => /discovered peer tcp:\/\/127\.0\.0\.1:\d+ dropped/.test(node.log()), 5000),
    'and gave it up (logged as dropped) once the listener closed the connection')
})
