import type { Duplex } from 'node:stream'
import { authRequiredFrame } from '../net/auth-required.js'
import type { Handshake } from '../security/handshake.js'

/** A frame this large is a replication frame (a header with a clock), never an authentication hello. */
const MAX_HELLO = 4096

/**
 * The `handshake` of connections a node without a key dials: it peeks at the
 * peer's first frame and fails with a clear SCUTTLEDB_AUTH_PROTOCOL when it is
 * the authentication hello of a node with `--key` (which would otherwise be read
 * as a replication header, SCUTTLEDB_INVALID_MESSAGE). Every peer speaks first
 * (a header, a mux hello, or the authentication hello), so waiting for its first
 * frame cannot deadlock; the bytes are put back for the replication stream.
 */
export const probeAuthRequired: Handshake = async (socket, side) => {
  if (side !== 'client') return
  const first = await firstFrame(socket)
  if (first === undefined) return
  const refusal = authRequiredFrame(first, 'The peer requires authentication (it was started with --key): start this node with a --key the peer allows')
  if (refusal !== undefined) {
    // An empty frame, which no hello is: the peer learns (and logs) that this side does not speak the
    // handshake, as it did when our replication header arrived instead of a hello.
    socket.write(Buffer.alloc(4))
    throw refusal
  }
}

/**
 * The body of the peer's first length-prefixed frame when it is small enough to
 * be a hello, else undefined; everything read is unshifted back either way.
 */
async function firstFrame (socket: Duplex): Promise<Buffer | undefined> {
  return await new Promise((resolve) => {
    let buffer = Buffer.alloc(0)
    let finished = false
    const finish = (frame: Buffer | undefined): void => {
      if (finished) return
      finished = true
      socket.off('readable', onReadable)
      socket.off('end', onEnd)
      socket.off('close', onEnd)
      socket.off('error', onEnd)
      if (buffer.length > 0 && !socket.destroyed) socket.unshift(buffer)
      resolve(frame)
    }
    // The replication stream (or the connection's own error handling) reports ends and errors.
    const onEnd = (): void => { finish(undefined) }
    function onReadable (): void {
      for (let chunk = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null) {
        buffer = Buffer.concat([buffer, chunk])
      }
      if (buffer.length < 4) return
      const size = buffer.readUInt32BE(0)
      if (size === 0 || size > MAX_HELLO) finish(undefined)
      else if (buffer.length >= 4 + size) finish(buffer.subarray(4, 4 + size))
    }
    socket.on('readable', onReadable)
    socket.on('end', onEnd)
    socket.on('close', onEnd)
    socket.on('error', onEnd)
    onReadable()
    // Ended or gone before we listened (the peer hung up during the exchange): no event will come.
    if (socket.readableEnded || socket.destroyed) finish(undefined)
  })
}
