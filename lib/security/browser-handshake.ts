import type { Duplex } from 'stream'
import { readUInt32BE, writeUInt32BE } from '../bytes.js'
import { pack, unpack } from '../msgpack.js'
import type { Source } from '../protocol.js'
import { SecurityError, securityCodes, securityError, type SecurityErrorCode } from './errors.js'
import { browserIdOf, ed25519, rawEd25519Key, type BrowserKeyPair } from './browser-keys.js'

/** Options of `authenticateBrowser()`. */
export interface BrowserAuthenticateOptions {
  /** This peer's keys: it proves its id with them. */
  keys: BrowserKeyPair
  /** Peers allowed (ids, or a possibly async predicate). Default: any peer that proves an id. */
  allow?: Iterable<Source> | ((id: Source) => boolean | Promise<boolean>)
  /** Give up (AUTH_TIMEOUT) after this many ms. Default 10000. */
  timeout?: number
}

/** The protocol name (the same as `AUTH_PROTOCOL` of the Node entry). */
const AUTH_PROTOCOL = 'scuttledb-auth/1'
const NONCE_BYTES = 32
const MAX_FRAME = 16 * 1024

function frame (value: unknown): Uint8Array {
  const body = pack(value)
  const out = new Uint8Array(4 + body.length)
  writeUInt32BE(out, body.length, 0)
  out.set(body, 4)
  return out
}

function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i])
}

/** Read exactly `n` bytes, leaving what follows (the replication stream's) in the stream. */
async function readExactly (socket: Duplex, n: number): Promise<Uint8Array> {
  return await new Promise<Uint8Array>((resolve, reject) => {
    const cleanup = (): void => {
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
    if (socket.destroyed) onEnd()
    else tryRead()
  })
}

async function readFrame (socket: Duplex): Promise<Record<string, unknown>> {
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

function bytesField (message: Record<string, unknown>, name: string, max: number): Uint8Array {
  const value = message[name]
  if (!(value instanceof Uint8Array) || value.length === 0 || value.length > max) {
    throw securityError(securityCodes.AUTH_PROTOCOL, `Handshake field ${name} must be binary`)
  }
  return value
}

/**
 * The Node entry's `authenticate()` handshake (scuttledb-auth/1), for the
 * browser: both ends prove their ids by signing each other's random nonce, and
 * each accepts only allowed peers. Pass it as `handshake` to `connectWebSocket`.
 * Ed25519 peers only; no TLS binding (a page cannot read its TLS session's keys,
 * and over WebSocket neither side binds). Rejects with a coded SecurityError,
 * after telling the peer why.
 */
export function authenticateBrowser (options: BrowserAuthenticateOptions): (socket: Duplex, side: 'client' | 'server') => Promise<void> {
  if (options === null || typeof options !== 'object' || options.keys === undefined) throw new TypeError('authenticateBrowser() needs { keys }')
  const { keys, timeout = 10_000, allow } = options
  if (!(Number.isFinite(timeout) && timeout > 0)) throw new TypeError('timeout must be a positive number of ms')
  const set = allow === undefined || typeof allow === 'function' ? undefined : new Set(allow)
  const allowed = (id: Source): boolean | Promise<boolean> => typeof allow === 'function' ? allow(id) : set === undefined || set.has(id)
  return async (socket, side) => {
    if (side !== 'client' && side !== 'server') throw new TypeError("side must be 'client' or 'server'")
    const peerSide = side === 'client' ? 'server' : 'client'
    const nonce = new Uint8Array(NONCE_BYTES)
    globalThis.crypto.getRandomValues(nonce)
    let timer: ReturnType<typeof setTimeout> | undefined
    const expired = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => { reject(securityError(securityCodes.AUTH_TIMEOUT, `The handshake did not finish within ${timeout} ms`)) }, timeout)
    })
    expired.catch(() => {})
    let verdictSent = false
    const refuse = (code: SecurityErrorCode): void => {
      verdictSent = true
      if (!socket.writable) socket.destroy()
      else socket.end(frame({ ok: false, code }), () => { socket.destroy() })
    }
    const next = async (): Promise<Record<string, unknown>> => {
      const message = await readFrame(socket)
      if (message.ok === false) {
        verdictSent = true
        throw securityError(securityCodes.AUTH_REJECTED, `The peer refused this node (${typeof message.code === 'string' ? message.code : 'unknown'})`)
      }
      return message
    }
    const run = async (): Promise<void> => {
      socket.write(frame({ auth: AUTH_PROTOCOL, nonce }))
      const hello = await next()
      if (hello.auth !== AUTH_PROTOCOL) throw securityError(securityCodes.AUTH_PROTOCOL, 'The peer does not speak the scuttledb handshake')
      const challenge = bytesField(hello, 'nonce', NONCE_BYTES)
      if (challenge.length !== NONCE_BYTES) throw securityError(securityCodes.AUTH_PROTOCOL, 'Bad nonce size')
      if (equalBytes(challenge, nonce)) throw securityError(securityCodes.AUTH_FAILED, 'The peer reflected our challenge')
      const binding = new Uint8Array(0)
      socket.write(frame({ key: keys.publicKeyDer, sig: ed25519().sign(pack([AUTH_PROTOCOL, side, challenge, nonce, binding]), keys.secretKey) }))
      const proof = await next()
      const der = bytesField(proof, 'key', 4096)
      let raw: Uint8Array
      try {
        raw = rawEd25519Key(der)
      } catch (err) {
        throw securityError(securityCodes.AUTH_FAILED, 'The peer sent an unusable public key', err as Error)
      }
      const id = browserIdOf(der)
      let valid = false
      try {
        valid = ed25519().verify(bytesField(proof, 'sig', 4096), pack([AUTH_PROTOCOL, peerSide, nonce, challenge, binding]), raw, { zip215: false })
      } catch {}
      if (!valid) throw securityError(securityCodes.AUTH_FAILED, `The peer failed to prove id ${id}`)
      let admitted: boolean
      try {
        admitted = await allowed(id)
      } catch (err) {
        throw securityError(securityCodes.AUTH_DENIED, `Could not decide whether ${id} may connect`, err as Error)
      }
      if (!admitted) throw securityError(securityCodes.AUTH_DENIED, `Peer ${id} is not allowed to connect`)
      verdictSent = true
      socket.write(frame({ ok: true }))
      if ((await next()).ok !== true) throw securityError(securityCodes.AUTH_PROTOCOL, 'Expected the peer\'s verdict')
    }
    const ignore = (): void => {}
    socket.on('error', ignore)
    try {
      await Promise.race([run(), expired])
      socket.off('error', ignore)
    } catch (err) {
      const coded = err instanceof SecurityError ? err : securityError(securityCodes.AUTH_CLOSED, 'The handshake failed', err as Error)
      if (!verdictSent) refuse(coded.code)
      else socket.destroy()
      throw coded
    } finally {
      clearTimeout(timer)
    }
  }
}
