import net from 'node:net'
import crypto from 'node:crypto'
import { once } from 'node:events'
import test from 'tape'
import { listenWebSocket } from '../lib/index.js'
import { frame, memoryModel, until } from './helpers.js'

/** Generous: a connection whose WebSocket is gone must close; failing means it never does. */
const HUNG_MS = 20_000

/** A masked client WebSocket frame. */
function wsFrame (opcode: number, payload: Buffer): Buffer {
  const mask = crypto.randomBytes(4)
  const masked = Buffer.from(payload.map((byte, i) => byte ^ (mask[i % 4] as number)))
  const len = payload.length
  const head = len < 126 ? Buffer.from([0x80 | opcode, 0x80 | len]) : Buffer.from([0x80 | opcode, 0x80 | 126, len >> 8, len & 0xff])
  return Buffer.concat([head, mask, masked])
}

test('red9k: a WebSocket peer that floods pings without reading is cut off by ws, and its Connection closes with it (not left replicating for ever)', async (t) => {
  const a = await memoryModel(t)
  // Enough history that the server's output is stuck behind a peer that does not read.
  for (let i = 0; i < 2000; i++) await a.set(`k${i}`, 'x'.repeat(1000))
  const server = await listenWebSocket(a)
  t.teardown(async () => { await server.close() })
  const errors: Array<Error | undefined> = []
  server.on('disconnect', (_c, err) => { errors.push(err) })
  const socket = net.connect(server.address.port, '127.0.0.1')
  socket.on('error', () => {})
  t.teardown(() => { socket.destroy() })
  await once(socket, 'connect')
  socket.write(`GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`)
  socket.write(wsFrame(2, frame({ id: 'hostile-peer', clock: {} })))
  await until(() => server.connections.some((c) => c.peerId === 'hostile-peer'))
  t.equal(server.connections.length, 1, 'the peer is connected and sent its header')
  socket.pause()
  const ping = wsFrame(9, Buffer.alloc(125))
  for (let n = 0; n < 200_000 && !socket.destroyed; n++) {
    if (!socket.write(ping)) await Promise.race([once(socket, 'drain'), once(socket, 'close'), new Promise((resolve) => setTimeout(resolve, 1000))]).catch(() => {})
  }
  t.ok(socket.destroyed, 'the flooding socket was cut off (ws limits pending pongs)')
  t.ok(await until(() => server.connections.length === 0, HUNG_MS), `its Connection closed too (still open: ${server.connections.map((c) => c.state).join(', ')})`)
  t.equal(errors.length, 1, 'disconnect was reported')
})
