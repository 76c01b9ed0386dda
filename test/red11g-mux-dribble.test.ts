// A multiplexing peer that sends its frames a byte at a time (TCP_NODELAY, one
// byte a segment) must cost the receiver about what it sends, not the square of
// a frame's length: each arriving byte used to copy the whole partial frame
// again (Multiplexer#_write joined its input with every chunk). The real
// Multiplexer is fed in-process, so that every chunk is exactly one byte.
import test from 'tape'
import { once } from 'node:events'
import { Multiplexer } from '../lib/index.js'
import { memoryModel } from './helpers.js'

const HELLO = 0
const OPEN = 1
const PING = 6

function frame (type: number, channel: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const out = Buffer.alloc(9 + payload.length)
  out.writeUInt32BE(5 + payload.length, 0)
  out.writeUInt8(type, 4)
  out.writeUInt32BE(channel, 5)
  payload.copy(out, 9)
  return out
}

/** Bytes copied by Uint8Array#set (what joining buffers costs) while `run` runs. */
async function copied (run: () => Promise<void>): Promise<number> {
  const set = Uint8Array.prototype.set
  let bytes = 0
  Uint8Array.prototype.set = function (this: Uint8Array, source: ArrayLike<number>, offset?: number) {
    bytes += source.length
    return set.call(this, source, offset)
  }
  try {
    await run()
  } finally {
    Uint8Array.prototype.set = set
  }
  return bytes
}

test('a mux frame dribbled one byte per chunk costs the receiver linear copying, and the connection goes on', async (t) => {
  const model = await memoryModel(t)
  const mux = new Multiplexer({ side: 'server', resolve: (name) => name === 'a' ? model : undefined, open: [], keepAlive: false })
  t.teardown(() => { mux.destroy() })
  mux.resume()
  mux.write(frame(HELLO, 0, Buffer.from('scuttledb-mux/1')))
  // The largest frame the protocol allows: a PING with a 64 KiB payload (ignored).
  const big = frame(PING, 0, Buffer.alloc(64 * 1024, 0x61))
  const bytes = await copied(async () => {
    for (let i = 0; i < big.length; i++) {
      const ok = mux.write(big.subarray(i, i + 1))
      if (!ok) await once(mux, 'drain')
    }
  })
  t.ok(bytes < 8 * big.length, `copied ${bytes} bytes to take in a ${big.length}-byte frame (at most ${8 * big.length})`)
  t.equal(mux.destroyed, false, 'the connection is still up')
  const attached = once(mux, 'channel')
  mux.write(frame(OPEN, 1, Buffer.from('a')))
  const [name] = await attached as [string]
  t.equal(name, 'a', 'and still opens documents')
})
