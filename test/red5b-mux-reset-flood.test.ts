import test from 'tape'
import net from 'node:net'
import { once } from 'node:events'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { MemoryLevel } from 'memory-level'
import { Model, listen } from '../lib/index.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

function frame (type: number, id: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const out = Buffer.alloc(9 + payload.length)
  out.writeUInt32BE(5 + payload.length, 0)
  out[4] = type
  out.writeUInt32BE(id, 5)
  payload.copy(out, 9)
  return out
}

const held = (): number => {
  gc()
  const { heapUsed, arrayBuffers } = process.memoryUsage()
  return heapUsed + arrayBuffers
}

// A multiplexed listener answers each OPEN of a name it does not serve with a RESET frame,
// pushed whatever the socket's backpressure. A peer that sends OPENs and never reads makes
// the listener queue RESETs without bound (about 4 bytes queued per byte received, plus a
// Uint8Array per frame): the memory its maxBufferedBytes is meant to bound.
test('red5b: a mux peer that floods OPENs of unknown names and never reads does not grow the listener without bound', async (t) => {
  const model = new Model({ db: new MemoryLevel() })
  await model.open()
  const server = await listen({ docs: { a: model } }, { port: 0 })
  const socket = net.connect(server.address.port, '127.0.0.1')
  await once(socket, 'connect')
  socket.pause() // never reads
  socket.on('error', () => {})
  socket.write(frame(0, 0, Buffer.from('scuttledb-mux/1')))
  const before = held()
  let id = 1
  let sent = 0
  // 20 MB of 10-byte OPEN frames (or less, if the listener drops the connection).
  for (let round = 0; round < 200 && !socket.destroyed; round++) {
    const chunk = Buffer.concat(Array.from({ length: 10_000 }, () => { const f = frame(1, id, Buffer.from('x')); id += 2; return f }))
    sent += chunk.length
    if (!socket.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = (): void => { socket.off('drain', done); socket.off('close', done); resolve() }
        socket.on('drain', done)
        socket.on('close', done)
      })
    }
  }
  // Let the listener take in what is in flight.
  await new Promise((resolve) => setTimeout(resolve, 500))
  const growth = held() - before
  t.comment(`peer sent ${(sent / 1e6).toFixed(1)} MB, read nothing; listener grew ${(growth / 1e6).toFixed(1)} MB, connections open: ${server.connections.length}`)
  t.ok(growth < 64e6, 'the listener holds less than 64 MB for a peer that reads nothing')
  socket.destroy()
  await server.close()
  await model.close()
})
