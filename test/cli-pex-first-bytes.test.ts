// A `scuttledb serve` listener peeks at a dialer's first bytes for the
// peer-exchange magic (lib/cli/peer-exchange.ts). A dialer that does not
// exchange addresses begins with a frame length; the listener must see that at
// its first byte and replicate at once, even when fewer bytes than the magic's
// eight have arrived (it waited for eight: a first segment cut short, or a peer
// that sends only a 4-byte frame prefix, held the connection in the handshake
// until the handshake timeout).
import { once } from 'node:events'
import { createConnection } from 'node:net'
import test from 'tape'
import { frame, until } from './helpers.js'
import { http, startNode } from './fixtures/net-helpers.js'

interface Peer { direction: string, state: string }

async function incoming (base: string): Promise<Peer[]> {
  const { body } = await http(base, 'GET', '/status')
  return (body as { peers: Peer[] }).peers.filter((p) => p.direction === 'incoming')
}

test('serve: a dialer without peer exchange that sends only 4 bytes (a frame length) is replicating at once, and syncs once the rest arrives', async (t) => {
  // Timers that cannot fire during the test: only the magic check may move the connection on.
  const node = await startNode(t, ['--handshake-timeout', '600000', '--idle-timeout', '600000'])
  await http(node.http, 'PUT', '/kv/greeting', 'hello')
  const socket = createConnection(node.port, '127.0.0.1')
  socket.on('error', () => {})
  t.teardown(() => { socket.destroy() })
  let received = Buffer.alloc(0)
  socket.on('data', (chunk: Buffer) => { received = Buffer.concat([received, chunk]) })
  await once(socket, 'connect')
  const header = frame({ id: 'AB12CD34', clock: {} })
  socket.write(header.subarray(0, 4))
  t.ok(await until(async () => (await incoming(node.http)).some((p) => p.state === 'replicating'), 10_000), 'the node left the handshake on the first byte')
  t.ok(await until(() => received.includes(Buffer.from(node.id)), 10_000), 'and sent its own header (it did not wait for more bytes)')
  socket.write(Buffer.concat([header.subarray(4), frame('SYNC')]))
  t.ok(await until(async () => (await incoming(node.http)).some((p) => p.state === 'synced'), 10_000), 'the rest of the header and SYNC complete the sync')
  t.ok(received.includes(Buffer.from('greeting')), 'having sent its history')
})
