// A dialer that sends its peer-exchange frame a byte at a time (TCP_NODELAY, one
// byte a segment, within the handshake timeout) must cost the listener about what
// it sends: readUntil joined everything read so far with every chunk, so a frame
// of N bytes cost N^2/2 bytes copied (34 GB for the largest, 256 KiB). Every
// `scuttledb serve` listener runs this exchange on every incoming TCP connection,
// before any authentication when it has no key. The socket is a Duplex fed one
// byte per read, so that the count does not depend on how TCP cuts the bytes.
import test from 'tape'
import { Duplex } from 'node:stream'
import { exchangeAsServer, MAGIC } from '../lib/cli/peer-exchange.js'
import { pack } from '../lib/msgpack.js'

test('a peer-exchange frame dribbled one byte per read costs the listener linear copying, and is still read', async (t) => {
  const body = pack({ pex: 1, id: 'dribbler', entries: ['x'.repeat(64 * 1024)] })
  const head = Buffer.alloc(4)
  head.writeUInt32BE(body.length, 0)
  const bytes = Buffer.concat([MAGIC, head, body])
  const socket = new Duplex({ read () {}, write (_chunk, _encoding, callback) { callback() } })
  const concat = Buffer.concat
  let copied = 0
  Buffer.concat = function (list: readonly Uint8Array[], totalLength?: number) {
    copied += list.reduce((n, b) => n + b.length, 0)
    return concat.call(Buffer, list, totalLength)
  } as typeof Buffer.concat
  try {
    const exchanged = exchangeAsServer(socket, () => ({ id: 'listener', entries: [] }))
    for (let i = 0; i < bytes.length; i++) {
      socket.push(bytes.subarray(i, i + 1))
      // Let the listener read it: one byte per read.
      await new Promise((resolve) => setImmediate(resolve))
    }
    const theirs = await exchanged
    t.equal(theirs?.id, 'dribbler', 'the message is read')
  } finally {
    Buffer.concat = concat
  }
  t.ok(copied < 8 * bytes.length, `copied ${copied} bytes to read a ${bytes.length}-byte exchange (at most ${8 * bytes.length})`)
  socket.destroy()
})
