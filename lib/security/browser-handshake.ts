import type { Duplex } from 'stream'
import { pack } from '../msgpack.js'
import type { Source } from '../protocol.js'
import { SecurityError, securityCodes, securityError } from './errors.js'
import { AUTH_PROTOCOL, bytesField, frame, NONCE_BYTES, readFrame, refuse } from './handshake-wire.js'
import { browserIdOf, ed25519, rawEd25519Key, verifyEd25519, type BrowserKeyPair } from './browser-keys.js'

/** Options of `authenticateBrowser()`. */
export interface BrowserAuthenticateOptions {
  /** This peer's keys: it proves its id with them. */
  keys: BrowserKeyPair
  /** Peers allowed (ids, or a possibly async predicate). Default: any peer that proves an id. */
  allow?: Iterable<Source> | ((id: Source) => boolean | Promise<boolean>)
  /** Give up (AUTH_TIMEOUT) after this many ms. Default 10000. */
  timeout?: number
}

function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i])
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
        valid = verifyEd25519(bytesField(proof, 'sig', 4096), pack([AUTH_PROTOCOL, peerSide, nonce, challenge, binding]), raw)
      } catch {}
      if (!valid) throw securityError(securityCodes.AUTH_FAILED, `The peer failed to prove id ${id}`)
      let admitted: unknown
      try {
        admitted = await allowed(id)
      } catch (err) {
        throw securityError(securityCodes.AUTH_DENIED, `Could not decide whether ${id} may connect`, err as Error)
      }
      // Only true admits, as in `writers`.
      if (admitted !== true) throw securityError(securityCodes.AUTH_DENIED, `Peer ${id} is not allowed to connect`)
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
      // Reject only once the refusal is on its way: the caller destroys the socket next.
      if (!verdictSent) await refuse(socket, coded.code)
      else socket.destroy()
      throw coded
    } finally {
      clearTimeout(timer)
    }
  }
}
