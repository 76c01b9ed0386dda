// A hostile multiplexing peer over real TCP: opening one document on many channels
// must not multiply its replication streams (each would send the whole history).
import net from 'node:net'
import test from 'tape'
import { listen, netCodes } from '../lib/index.js'
import { memoryModel, until } from './helpers.js'

const HELLO = 0
const OPEN = 1
const RESET = 4

/** One mux frame: u32 length, u8 type, u32 channel, payload. */
function frame (type: number, channel: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const out = Buffer.alloc(9 + payload.length)
  out.writeUInt32BE(5 + payload.length, 0)
  out.writeUInt8(type, 4)
  out.writeUInt32BE(channel, 5)
  payload.copy(out, 9)
  return out
}

/** The frames a raw peer has received so far, as [type, channel, payload text]. */
function received (socket: net.Socket): () => Array<[number, number, string]> {
  let buf = Buffer.alloc(0)
  socket.on('data', (chunk: Buffer) => { buf = Buffer.concat([buf, chunk]) })
  return () => {
    const out: Array<[number, number, string]> = []
    for (let at = 0; at + 4 <= buf.length && at + 4 + buf.readUInt32BE(at) <= buf.length; at += 4 + buf.readUInt32BE(at)) {
      out.push([buf[at + 4], buf.readUInt32BE(at + 5), buf.subarray(at + 9, at + 4 + buf.readUInt32BE(at)).toString('latin1')])
    }
    return out
  }
}

test('a peer that opens the same document on many channels gets one stream; the copies are reset with SCUTTLEDB_MUX_PROTOCOL', async (t) => {
  const a = await memoryModel(t)
  await a.set('k', 'v')
  const server = await listen({ docs: { a } }, { port: 0 })
  t.teardown(async () => { await server.close() })
  const errors: string[] = []
  server.on('connection', (c) => { c.on('channelError', (_name, err) => { errors.push(String((err as { code?: unknown }).code)) }) })
  const socket = net.connect(server.address.port, '127.0.0.1')
  socket.on('error', () => {})
  t.teardown(() => { socket.destroy() })
  const frames = received(socket)
  const copies = 50
  const opens = [frame(HELLO, 0, Buffer.from('scuttledb-mux/1'))]
  // Client channels are odd: 1 is the first open, 3, 5, ... the copies.
  for (let i = 0; i <= copies; i++) opens.push(frame(OPEN, 2 * i + 1, Buffer.from('a')))
  socket.write(Buffer.concat(opens))
  const resets = (): Array<[number, number, string]> => frames().filter(([type]) => type === RESET)
  t.ok(await until(() => resets().length >= copies), 'every copy was reset')
  t.deepEqual(resets().map(([, channel]) => channel), Array.from({ length: copies }, (_, i) => 2 * i + 3), 'only the copies, not the first channel')
  t.ok(resets().every(([, , reason]) => reason === netCodes.MUX_PROTOCOL), 'each with SCUTTLEDB_MUX_PROTOCOL as the reason')
  t.equal(a.streams, 1, 'the document has one replication stream')
  t.equal(errors.length, copies, 'each refusal is reported as a channelError')
  t.ok(errors.every((code) => code === netCodes.MUX_PROTOCOL), 'coded')
  t.equal(server.connections.length, 1, 'the connection itself goes on')
  socket.destroy()
  t.ok(await until(() => server.connections.length === 0 && a.streams === 0), 'closing the socket closes the connection and its stream')
})
