import type { Duplex } from 'stream'
import { readUInt32BE, writeUInt32BE } from '../bytes.js'
import { pack, unpack } from '../msgpack.js'
import { securityCodes, securityError } from './errors.js'

// The framing of the scuttledb-auth/1 handshake, shared by the Node entry
// (handshake.ts) and the browser's (browser-handshake.ts): plain Uint8Array code.

/** The handshake's protocol name. */
export const AUTH_PROTOCOL = 'scuttledb-auth/1'
/** Bytes of each side's random nonce. */
export const NONCE_BYTES = 32
/** The largest handshake message. */
export const MAX_FRAME = 16 * 1024

/** One handshake message: a u32 BE length, then msgpack. */
export function frame (value: unknown): Uint8Array {
  const body = pack(value)
  const out = new Uint8Array(4 + body.length)
  writeUInt32BE(out, body.length, 0)
  out.set(body, 4)
  return out
}

/** Read exactly `n` bytes, leaving what follows (the replication stream's) in the stream. */
export async function readExactly (socket: Duplex, n: number): Promise<Uint8Array> {
  return await new Promise<Uint8Array>((resolve, reject) => {
    let settled = false
    const cleanup = (): void => {
      settled = true
      socket.off('readable', tryRead)
      socket.off('end', onEnd)
      socket.off('close', onEnd)
      socket.off('error', onEnd)
    }
    function onEnd (): void {
      cleanup()
      reject(securityError(securityCodes.AUTH_CLOSED, 'The connection closed during the handshake'))
    }
    function tryRead (): void {
      const chunk = socket.read(n) as Uint8Array | null
      if (chunk === null) return
      cleanup()
      if (chunk.length < n) onEnd()
      // A plain Uint8Array view: in a page, streams hand out the buffer package's Buffer, which msgpackr packs as a map.
      else resolve(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length))
    }
    socket.on('readable', tryRead)
    socket.on('end', onEnd)
    socket.on('close', onEnd)
    socket.on('error', onEnd)
    // Bytes that arrived before the connection died are still read: a refusal
    // the peer sent just before a reset must reach this side as a refusal.
    tryRead()
    if (!settled && (socket.destroyed || socket.readableEnded)) onEnd()
  })
}

/** Read one handshake message: a msgpack map. */
export async function readFrame (socket: Duplex): Promise<Record<string, unknown>> {
  const size = readUInt32BE(await readExactly(socket, 4), 0)
  if (size === 0 || size > MAX_FRAME) throw securityError(securityCodes.AUTH_PROTOCOL, 'The peer does not speak the scuttledb handshake')
  let value: unknown
  try {
    value = unpack(await readExactly(socket, size))
  } catch (err) {
    throw securityError(securityCodes.AUTH_PROTOCOL, 'Undecodable handshake message', err as Error)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value) || ArrayBuffer.isView(value)) {
    throw securityError(securityCodes.AUTH_PROTOCOL, 'A handshake message must be a map')
  }
  return value as Record<string, unknown>
}

/** A binary field of a handshake message, at most `max` bytes. */
export function bytesField (message: Record<string, unknown>, name: string, max: number): Uint8Array {
  const value = message[name]
  if (!(value instanceof Uint8Array) || value.length === 0 || value.length > max) {
    throw securityError(securityCodes.AUTH_PROTOCOL, `Handshake field ${name} must be binary`)
  }
  return value
}

/** How long a refusal waits for its verdict to drain before the socket is destroyed anyway. */
export const REFUSAL_GRACE_MS = 1000

/**
 * Send the refusal `{ ok: false, code }` as the last bytes and close the socket;
 * resolves once the verdict was flushed (or the socket closed, or `graceMs`
 * passed: a peer that does not read cannot hold the socket). The caller must
 * wait for it before anything else destroys the socket: over a WebSocket duplex
 * an earlier message can still be in flight, the verdict then waits in the
 * duplex's buffer, and a destroy drops it, so the peer saw only a close.
 */
export async function refuse (socket: Duplex, code: string, graceMs = REFUSAL_GRACE_MS): Promise<void> {
  if (!socket.writable) {
    socket.destroy()
    return
  }
  await new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer)
      socket.off('close', done)
      socket.destroy()
      resolve()
    }
    const timer = setTimeout(done, graceMs)
    // The socket keeps a process alive while it is open; this timer should not (a no-op in a page).
    ;(timer as { unref?: () => void }).unref?.()
    socket.once('close', done)
    socket.end(frame({ ok: false, code }), done)
  })
}
