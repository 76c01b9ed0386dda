import { Duplex } from 'stream'
import { copy } from '../bytes.js'
import { netCodes, netError } from './errors.js'

/**
 * The part of a message port this helper uses: a WHATWG `MessagePort` (browsers,
 * Electron renderers, workers), Node's `worker_threads` MessagePort, Electron's
 * `MessagePortMain` (`on`/`off`), or anything with `postMessage` and `onmessage`.
 */
export interface MessagePortLike {
  postMessage: (message: unknown, transfer?: never[]) => void
  // Method syntax and `never` listeners on purpose: parameters compare bivariantly, so DOM,
  // Node and Electron ports (typed, overloaded listeners) all fit.
  addEventListener? (type: string, listener: never): void
  removeEventListener? (type: string, listener: never): void
  on? (type: string, listener: never): unknown
  off? (type: string, listener: never): unknown
  onmessage?: ((event: never) => void) | null
  start?: () => void
  close?: () => void
}

/** Options of `messagePortStream()`. */
export interface MessagePortStreamOptions {
  /**
   * Transfer each frame's memory to the other side instead of copying it. Default
   * true, except on ports without `addEventListener` (Electron's MessagePortMain
   * transfers only ports).
   */
  transfer?: boolean
  /** Writes wait while the peer has not yet read this many bytes. Default 1 MiB. */
  highWaterMark?: number
  /** Close the port when the stream closes. Default true. */
  closePort?: boolean
}

/** Control messages; a frame of bytes travels as a bare Uint8Array. */
type Control = { scuttledb: 'ack', bytes: number } | { scuttledb: 'end' } | { scuttledb: 'close' }

function isControl (value: unknown): value is Control {
  if (value === null || typeof value !== 'object') return false
  const { scuttledb, bytes } = value as { scuttledb?: unknown, bytes?: unknown }
  if (scuttledb === 'ack') return Number.isSafeInteger(bytes) && (bytes as number) > 0
  return scuttledb === 'end' || scuttledb === 'close'
}

/**
 * A byte stream over a message port, one message per chunk. Flow control is by
 * credit: the reader acknowledges the bytes its consumer has taken, and a writer
 * waits while more than `highWaterMark` bytes are unacknowledged, since
 * `postMessage` itself never pushes back. `end()` ends the peer's readable side;
 * `destroy()`, a closed port or a closed peer ends the other side too.
 */
class MessagePortDuplex extends Duplex {
  readonly #port: MessagePortLike
  readonly #transfer: boolean
  readonly #highWater: number
  readonly #closePort: boolean
  readonly #detach: () => void
  /** Bytes sent and not yet acknowledged by the peer. */
  #unacked = 0
  /** Bytes received and pushed, not yet acknowledged to the peer. */
  #toAck = 0
  #waiting: (() => void) | undefined
  #readEnded = false
  #writeEnded = false

  constructor (port: MessagePortLike, options: Required<MessagePortStreamOptions>) {
    super()
    this.#port = port
    this.#transfer = options.transfer
    this.#highWater = options.highWaterMark
    this.#closePort = options.closePort
    this.#detach = listen(port, (data) => { this.#receive(data) }, () => { this.#peerGone() })
  }

  #post (message: unknown, transfer?: ArrayBuffer): void {
    try {
      if (transfer === undefined) this.#port.postMessage(message)
      else this.#port.postMessage(message, [transfer] as never[])
    } catch (err) {
      this.destroy(netError(netCodes.CLOSED, 'The message port is closed', err as Error))
    }
  }

  #receive (data: unknown): void {
    if (this.destroyed) return
    if (data instanceof Uint8Array) {
      if (this.#readEnded) return
      this.#toAck += data.length
      // Acknowledge at once while the consumer keeps up; else when it next reads.
      if (this.push(data)) this.#ack()
      return
    }
    if (!isControl(data)) {
      this.destroy(netError(netCodes.CLOSED, 'A message on the port that this stream did not send'))
      return
    }
    if (data.scuttledb === 'ack') {
      this.#unacked = Math.max(0, this.#unacked - data.bytes)
      if (this.#unacked <= this.#highWater) this.#resume()
    } else if (data.scuttledb === 'end') {
      this.#readEnded = true
      this.push(null)
    } else {
      this.#peerGone()
    }
  }

  #peerGone (): void {
    if (this.destroyed) return
    // Both directions ended cleanly: the peer's close is only the last step.
    if (this.#readEnded && this.#writeEnded) this.destroy()
    else this.destroy(netError(netCodes.PEER_CLOSED, 'The other end of the message port closed'))
  }

  #ack (): void {
    if (this.#toAck === 0) return
    const bytes = this.#toAck
    this.#toAck = 0
    this.#post({ scuttledb: 'ack', bytes })
  }

  #resume (): void {
    const waiting = this.#waiting
    this.#waiting = undefined
    waiting?.()
  }

  override _read (): void {
    this.#ack()
  }

  override _write (chunk: Uint8Array, _encoding: string, callback: (err?: Error | null) => void): void {
    // A copy we own: the writer's chunk may be a view into a pooled buffer that transfer would detach.
    const frame = copy(chunk)
    this.#unacked += frame.length
    this.#post(frame, this.#transfer ? frame.buffer as ArrayBuffer : undefined)
    if (this.#unacked <= this.#highWater) callback()
    else this.#waiting = () => { callback() }
  }

  override _final (callback: (err?: Error | null) => void): void {
    this.#writeEnded = true
    this.#post({ scuttledb: 'end' })
    callback()
  }

  override _destroy (err: Error | null, callback: (err?: Error | null) => void): void {
    this.#detach()
    this.#waiting = undefined
    this.#post({ scuttledb: 'close' })
    if (this.#closePort) this.#port.close?.()
    callback(err)
  }
}

/** Listen for messages and for the port's own close; returns the function that stops both. */
function listen (port: MessagePortLike, onData: (data: unknown) => void, onClose: () => void): () => void {
  if (typeof port.addEventListener === 'function') {
    const message = (event: { data: unknown }): void => { onData(event.data) }
    port.addEventListener('message', message as never)
    port.addEventListener('close', onClose as never)
    // A WHATWG port delivers nothing until started when listened to with addEventListener.
    port.start?.()
    return () => {
      port.removeEventListener?.('message', message as never)
      port.removeEventListener?.('close', onClose as never)
    }
  }
  if (typeof port.on === 'function') {
    // Electron's MessagePortMain: 'message' carries { data, ports }.
    const message = (event: { data: unknown }): void => { onData(event.data) }
    port.on('message', message as never)
    port.on('close', onClose as never)
    port.start?.()
    return () => {
      port.off?.('message', message as never)
      port.off?.('close', onClose as never)
    }
  }
  const message = (event: { data: unknown }): void => { onData(event.data) }
  port.onmessage = message
  return () => { if (port.onmessage === message) port.onmessage = null }
}

/**
 * A replication byte stream (a Duplex) over a message port or IPC channel: for an
 * Electron main process holding a classic-level database and renderers replicating
 * with it (`pipeline(duplex, model.createStream(), duplex)` on each end). Both ends
 * of the channel must use it. Frames are Uint8Array; writes wait on the peer's
 * reading; either side closing ends the other.
 */
export function messagePortStream (port: MessagePortLike, options: MessagePortStreamOptions = {}): Duplex {
  if (port === null || typeof port !== 'object' || typeof port.postMessage !== 'function') {
    throw new TypeError('port must have postMessage()')
  }
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object')
  const { highWaterMark = 1024 * 1024, closePort = true } = options
  const transfer = options.transfer ?? typeof port.addEventListener === 'function'
  if (!(Number.isFinite(highWaterMark) && highWaterMark >= 0)) throw new TypeError('highWaterMark must be a number of bytes')
  if (typeof transfer !== 'boolean') throw new TypeError('transfer must be a boolean')
  if (typeof closePort !== 'boolean') throw new TypeError('closePort must be a boolean')
  return new MessagePortDuplex(port, { transfer, highWaterMark, closePort })
}
