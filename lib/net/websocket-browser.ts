import { Duplex } from 'stream'
import { checkConnectionOptions, type ConnectionOptions, type PeerAddress } from './connection.js'
import { netCodes, netError } from './errors.js'
import { connectTimeoutOption } from './keepalive.js'
import { ReplicationClient, type ReconnectOptions } from './reconnect.js'
import { checkTarget, type Target } from './target.js'

/** The part of the WHATWG WebSocket this client uses (browsers, Electron renderers, workers). */
export interface BrowserWebSocket {
  readonly readyState: number
  readonly bufferedAmount: number
  binaryType: string
  send: (data: Uint8Array) => void
  close: (code?: number, reason?: string) => void
  // Method syntax on purpose: its parameters compare bivariantly, so the DOM WebSocket (typed listeners) fits.
  addEventListener (type: string, listener: (event: never) => void): void
  removeEventListener (type: string, listener: (event: never) => void): void
}

/** A WHATWG WebSocket constructor. */
export type BrowserWebSocketConstructor = new (url: string) => BrowserWebSocket

/** Options of `connectWebSocket()` in the browser entry. */
export interface WebSocketConnectOptions extends ConnectionOptions, ReconnectOptions {
  /** `ws://host:port/path` or `wss://...`. */
  url: string
  /** Ms allowed for the connection and upgrade. Default 10000. */
  connectTimeout?: number
  /** Writes wait while the socket's `bufferedAmount` is above this many bytes. Default 1 MiB. */
  highWaterMark?: number
  /** The WebSocket constructor. Default `globalThis.WebSocket`. */
  WebSocket?: BrowserWebSocketConstructor
}

const OPEN = 1
const CLOSING = 2
/** How often a write waiting for `bufferedAmount` to fall checks it: the WebSocket API has no drain event. */
const DRAIN_POLL_MS = 10

/**
 * A byte stream over an open WHATWG WebSocket, one binary message per chunk.
 * Backpressure on writes comes from `bufferedAmount`; reads cannot be paused
 * (the API has no flow control), so the replication stream's own limits bound them.
 */
class WebSocketDuplex extends Duplex {
  readonly #ws: BrowserWebSocket
  readonly #highWater: number
  #drain: ReturnType<typeof setTimeout> | undefined
  #ended = false

  constructor (ws: BrowserWebSocket, highWater: number) {
    super()
    this.#ws = ws
    this.#highWater = highWater
    ws.addEventListener('message', (event: { data: unknown }) => {
      const { data } = event
      // The server sends binary messages; a text one is taken as its UTF-8 bytes.
      if (data instanceof ArrayBuffer) this.push(new Uint8Array(data))
      else if (typeof data === 'string') this.push(new TextEncoder().encode(data))
    })
    ws.addEventListener('close', (event: { code: number }) => {
      if (this.destroyed) return
      // We ended our side: this close is the end of the conversation.
      if (this.#ended) this.push(null)
      else this.destroy(netError(netCodes.PEER_CLOSED, `The WebSocket closed (code ${event.code})`))
    })
  }

  override _read (): void {}

  override _write (chunk: Uint8Array, _encoding: string, callback: (err?: Error | null) => void): void {
    if (this.#ws.readyState !== OPEN) {
      callback(netError(netCodes.CLOSED, 'The WebSocket is not open'))
      return
    }
    this.#ws.send(chunk)
    this.#whenDrained(callback)
  }

  #whenDrained (callback: (err?: Error | null) => void): void {
    if (this.#ws.bufferedAmount <= this.#highWater || this.#ws.readyState !== OPEN) {
      this.#drain = undefined
      callback()
      return
    }
    this.#drain = setTimeout(() => { this.#whenDrained(callback) }, DRAIN_POLL_MS)
  }

  override _final (callback: (err?: Error | null) => void): void {
    // A WebSocket cannot half-close: closing sends what is queued, then the close frame.
    this.#ended = true
    if (this.#ws.readyState < CLOSING) this.#ws.close(1000)
    callback()
  }

  override _destroy (err: Error | null, callback: (err?: Error | null) => void): void {
    clearTimeout(this.#drain)
    if (this.#ws.readyState < CLOSING) this.#ws.close(1000)
    callback(err)
  }
}

function ignore (): void {}

/** Open a WebSocket; rejects on close before open, on timeout or on abort, and leaves nothing behind. */
async function open (Ctor: BrowserWebSocketConstructor, url: string, ms: number, highWater: number, signal: AbortSignal): Promise<Duplex> {
  const ws = new Ctor(url)
  ws.binaryType = 'arraybuffer'
  // 'close' always follows 'error', and carries all we learn; listening keeps
  // EventEmitter-based implementations (ws on Node) from throwing it.
  ws.addEventListener('error', ignore)
  return await new Promise<Duplex>((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer)
      signal.removeEventListener('abort', onAbort)
      ws.removeEventListener('open', onOpen)
      ws.removeEventListener('close', onClose)
    }
    const fail = (err: Error): void => {
      cleanup()
      if (ws.readyState < CLOSING) ws.close()
      reject(err)
    }
    function onOpen (): void {
      cleanup()
      // Wrapped inside the listener, so no message is dispatched before we listen.
      resolve(new WebSocketDuplex(ws, highWater))
    }
    // A failed attempt fires 'error' (with no detail, by design) and then 'close'.
    function onClose (event: { code: number }): void {
      fail(netError(netCodes.CLOSED, `No WebSocket connection to ${url} (close code ${event.code})`))
    }
    function onAbort (): void {
      fail(signal.reason instanceof Error ? signal.reason : netError(netCodes.CLOSED, 'The client was closed'))
    }
    const timer = setTimeout(() => { fail(netError(netCodes.CONNECT_TIMEOUT, `No WebSocket connection to ${url} within ${ms} ms`)) }, ms)
    ws.addEventListener('open', onOpen)
    ws.addEventListener('close', onClose)
    if (signal.aborted) onAbort()
    else signal.addEventListener('abort', onAbort, { once: true })
  })
}

interface WindowEvents {
  addEventListener?: (type: string, listener: () => void) => void
  removeEventListener?: (type: string, listener: () => void) => void
}

/** The `url` of WebSocket connect options, checked: a ws: or wss: URL, or a coded error. */
export function webSocketUrl (options: { url: string }): URL {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object with a url')
  let url: URL
  try {
    url = new URL(options.url)
  } catch (err) {
    throw netError(netCodes.BAD_ADDRESS, `Not a URL: ${String(options.url)}`, err)
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw netError(netCodes.BAD_ADDRESS, `A WebSocket URL must start with ws: or wss:, not ${url.protocol}`)
  return url
}

/**
 * Connect to a replication peer (a Node `listenWebSocket()` or `scuttledb serve
 * --ws`) over the browser's own WebSocket and stay connected: reconnects with
 * capped exponential backoff and jitter, and at once when the browser comes back
 * `online`. Events: connecting, connected, synced, disconnected, close.
 */
export function connectWebSocket (target: Target, options: WebSocketConnectOptions): ReplicationClient {
  checkTarget(target)
  const url = webSocketUrl(options)
  checkConnectionOptions(options)
  const { highWaterMark = 1024 * 1024 } = options
  const connectTimeout = connectTimeoutOption(options.connectTimeout)
  if (!(highWaterMark >= 0)) throw new TypeError('highWaterMark must be a number of bytes')
  const Ctor = options.WebSocket ?? (globalThis as { WebSocket?: BrowserWebSocketConstructor }).WebSocket
  if (typeof Ctor !== 'function') throw new TypeError('No WebSocket here: pass options.WebSocket')
  const peer: PeerAddress = { remote: url.host, transport: url.protocol === 'wss:' ? 'wss' : 'ws', transportKeepAlive: true }
  const client = new ReplicationClient(target, async (signal) => {
    const socket = await open(Ctor, url.href, connectTimeout, highWaterMark, signal)
    return { socket, peer }
  }, options)
  // Back online: the next attempt should not wait out a long backoff.
  const events = globalThis as WindowEvents
  if (typeof events.addEventListener === 'function') {
    const online = (): void => { client.retryNow() }
    events.addEventListener('online', online)
    client.once('close', () => { events.removeEventListener?.('online', online) })
  }
  return client
}
