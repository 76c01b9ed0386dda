import { KeyObject, randomBytes, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto'
import type { Duplex } from 'node:stream'
import { pack } from '../msgpack.js'
import type { Source } from '../protocol.js'
import { SecurityError, securityCodes, securityError } from './errors.js'
import { AUTH_PROTOCOL, bytesField as wireBytesField, frame, NONCE_BYTES, readFrame, refuse } from './handshake-wire.js'
import { publicKeyFromDer, type KeyPair, type PublicKeyInfo } from './keys.js'

/** Which end of the connection this side is; the two must differ. */
export type Side = 'client' | 'server'

/** The transports' `handshake` slot: runs on the raw connection before replication; rejects to refuse it. */
export type Handshake = (socket: Duplex, side: Side) => Promise<void>

/** Options of `authenticate()` and `authenticateSocket()`. */
export interface AuthenticateOptions {
  /** This node's keys: it proves its id (the hash of the public key) with them. */
  keys: KeyPair
  /** Peers allowed to connect (ids, or a possibly async predicate). Default: any peer that proves an id. */
  allow?: Iterable<Source> | ((id: Source) => boolean | Promise<boolean>)
  /** Give up (AUTH_TIMEOUT) after this many ms. Default 10000. */
  timeout?: number
  /**
   * On a TLS socket, sign the session's exported keying material too, so a proof
   * cannot be relayed into another TLS session (a TLS-terminating man in the
   * middle fails). Default true; turn off behind a TLS-terminating proxy.
   */
  bindTls?: boolean
  /** Called with the peer's proven id before the handshake resolves. */
  onPeer?: (peer: PeerIdentity, socket: Duplex, side: Side) => void
}

/** What the handshake proved about the peer. */
export interface PeerIdentity {
  id: Source
  type: PublicKeyInfo['type']
}

/** The protocol name in the hello; also the first element of every signed proof. */
export { AUTH_PROTOCOL }
const DEFAULT_TIMEOUT = 10_000

/** The bytes a side signs: protocol, its own role, the peer's challenge, its own nonce, the TLS binding. */
function proofBytes (role: Side, challenge: Buffer, own: Buffer, binding: Buffer): Buffer {
  return pack([AUTH_PROTOCOL, role, challenge, own, binding])
}

/** A binary field of a handshake message as a Buffer (node:crypto's key and signature calls take them). */
function bytesField (message: Record<string, unknown>, name: string, max: number): Buffer {
  return Buffer.from(wireBytesField(message, name, max))
}

function allowPredicate (allow: AuthenticateOptions['allow']): (id: Source) => boolean | Promise<boolean> {
  if (allow === undefined) return () => true
  if (typeof allow === 'function') return allow
  const set = new Set(allow)
  return (id) => set.has(id)
}

/** The TLS keying material both ends of one TLS session share; empty on plain sockets. */
function tlsBinding (socket: Duplex, enabled: boolean): Buffer {
  const exporter = (socket as Partial<{ exportKeyingMaterial: (length: number, label: string) => Buffer }>).exportKeyingMaterial
  if (!enabled || typeof exporter !== 'function') return Buffer.alloc(0)
  return exporter.call(socket, 32, 'EXPORTER-scuttledb-auth')
}

/**
 * Mutual challenge-response on a fresh connection. Each side sends a hello with a
 * random nonce; each then proves its id by signing the peer's nonce (with its
 * role, its own nonce and any TLS binding) and sends the proof with its public
 * key; each checks the peer's key hashes to an allowed id and the signature
 * verifies, then sends its verdict. Resolves with the peer's identity once both
 * verdicts are positive. On failure the socket is ended after telling the
 * peer the code, and the promise rejects with a coded SecurityError once that
 * refusal was flushed (at most 1 s later), so a caller that destroys the
 * socket then does not cut it off.
 */
export async function authenticateSocket (socket: Duplex, side: Side, options: AuthenticateOptions): Promise<PeerIdentity> {
  if (side !== 'client' && side !== 'server') throw new TypeError("side must be 'client' or 'server'")
  const { keys, timeout = DEFAULT_TIMEOUT, bindTls = true } = options
  if (!(Number.isFinite(timeout) && timeout > 0)) throw new TypeError('timeout must be a positive number of ms')
  const allowed = allowPredicate(options.allow)
  const peerSide: Side = side === 'client' ? 'server' : 'client'
  const nonce = randomBytes(NONCE_BYTES)
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(securityError(securityCodes.AUTH_TIMEOUT, `The handshake did not finish within ${timeout} ms`)) }, timeout)
  })
  expired.catch(() => {})
  // Set once a verdict was sent, or the peer sent its refusal: a later failure only closes the socket.
  let verdictSent = false
  /** The next message; a refusal from the peer may come in place of any of them. */
  const next = async (): Promise<Record<string, unknown>> => {
    const message = await readFrame(socket)
    if (message.ok === false) {
      verdictSent = true
      const code = typeof message.code === 'string' ? message.code : 'unknown'
      throw securityError(securityCodes.AUTH_REJECTED, `The peer refused this node (${code})`)
    }
    return message
  }

  const run = async (): Promise<PeerIdentity> => {
    socket.write(frame({ auth: AUTH_PROTOCOL, nonce }))
    const hello = await next()
    if (hello.auth !== AUTH_PROTOCOL) throw securityError(securityCodes.AUTH_PROTOCOL, 'The peer does not speak the scuttledb handshake')
    const challenge = bytesField(hello, 'nonce', NONCE_BYTES)
    if (challenge.length !== NONCE_BYTES) throw securityError(securityCodes.AUTH_PROTOCOL, 'Bad nonce size')
    // Our own nonce coming back means a reflected connection (we are talking to ourselves).
    if (challenge.equals(nonce)) throw securityError(securityCodes.AUTH_FAILED, 'The peer reflected our challenge')
    const binding = tlsBinding(socket, bindTls)
    const algorithm = keys.type === 'ed25519' ? null : 'sha256'
    const signature = cryptoSign(algorithm, proofBytes(side, challenge, nonce, binding), keys.privateKey)
    socket.write(frame({ key: keys.publicKeyDer, sig: signature }))

    const proof = await next()
    let peer: PublicKeyInfo
    try {
      peer = publicKeyFromDer(bytesField(proof, 'key', 4096))
    } catch (err) {
      throw err instanceof SecurityError && err.code === securityCodes.AUTH_PROTOCOL
        ? err
        : securityError(securityCodes.AUTH_FAILED, 'The peer sent an unusable public key', err as Error)
    }
    const peerSignature = bytesField(proof, 'sig', 4096)
    const message = proofBytes(peerSide, nonce, challenge, binding)
    let valid = false
    try {
      valid = cryptoVerify(peer.type === 'ed25519' ? null : 'sha256', message, peer.publicKey, peerSignature)
    } catch {}
    if (!valid) throw securityError(securityCodes.AUTH_FAILED, `The peer failed to prove id ${peer.id}`)
    let admitted: unknown
    try {
      admitted = await allowed(peer.id)
    } catch (err) {
      // Fail closed: an allow-list that cannot answer admits no one.
      throw securityError(securityCodes.AUTH_DENIED, `Could not decide whether ${peer.id} may connect`, err as Error)
    }
    // Only true admits, as in `writers`: a record, 'deny' or a response object is no yes.
    if (admitted !== true) throw securityError(securityCodes.AUTH_DENIED, `Peer ${peer.id} is not allowed to connect`)
    verdictSent = true
    socket.write(frame({ ok: true }))

    if ((await next()).ok !== true) throw securityError(securityCodes.AUTH_PROTOCOL, 'Expected the peer\'s verdict')
    const identity: PeerIdentity = { id: peer.id, type: peer.type }
    options.onPeer?.(identity, socket, side)
    return identity
  }

  // Between reads nothing else may listen for errors (a reset while an async
  // allow-list runs): keep one listener for the whole handshake; the pending
  // read, if any, reports the failure.
  // On failure it stays: the socket is being closed and may still report a reset.
  const ignore = (): void => {}
  socket.on('error', ignore)
  try {
    const identity = await Promise.race([run(), expired])
    socket.off('error', ignore)
    return identity
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

/**
 * A handshake for the transports' `handshake` option: both sides must prove
 * their ids, and each accepts only allowed peers. See `authenticateSocket`.
 */
export function authenticate (options: AuthenticateOptions): Handshake {
  if (options === null || typeof options !== 'object' || options.keys === undefined) {
    throw new TypeError('authenticate() needs { keys }')
  }
  // Checked here, at the call, not at each connection's handshake.
  const { keys, timeout = DEFAULT_TIMEOUT, allow } = options
  if (keys === null || typeof keys !== 'object' || !(keys.privateKey instanceof KeyObject) || keys.privateKey.type !== 'private' || typeof keys.id !== 'string') {
    throw new TypeError('options.keys must be a key pair (generateKeys(), loadKeys())')
  }
  if (!(Number.isFinite(timeout) && timeout > 0)) throw new TypeError('timeout must be a positive number of ms')
  if (allow !== undefined && typeof allow !== 'function' && (allow === null || typeof allow !== 'object' || typeof (allow as Iterable<Source>)[Symbol.iterator] !== 'function' || typeof allow === 'string')) {
    throw new TypeError('options.allow must be ids (an iterable) or a function')
  }
  return async (socket, side) => { await authenticateSocket(socket, side, options) }
}
