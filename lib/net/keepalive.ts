import { Transform, type TransformCallback } from 'stream'
import { netCodes, netError } from './errors.js'

/** Keep-alive settings shared by every transport. */
export interface KeepAliveOptions {
  /** Send a heartbeat after this many ms without output; false: never. Default 15000. */
  keepAlive?: number | false
  /** Drop the connection after this many ms without input; false: never. Default 45000. */
  idleTimeout?: number | false
}

/** The defaults: three missed heartbeats mark a peer dead. */
export const DEFAULT_KEEPALIVE = 15_000
export const DEFAULT_IDLE_TIMEOUT = 45_000

/** The longest delay setTimeout() keeps: a longer one (or Infinity) fires after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1

/** Normalise a keep-alive or timeout option (false and 0 switch it off). */
export function msOption (value: number | false | undefined, fallback: number, name: string): number | false {
  if (value === undefined) return fallback
  if (value === false || value === 0) return false
  if (!(typeof value === 'number' && value > 0 && value <= MAX_TIMER_MS)) throw new TypeError(`${name} must be a positive number of ms (at most ${MAX_TIMER_MS}) or false`)
  return value
}

/** Check a connection attempt's `connectTimeout`, which cannot be switched off. */
export function connectTimeoutOption (value: number | undefined): number {
  if (value === undefined) return 10_000
  if (!(typeof value === 'number' && value > 0 && value <= MAX_TIMER_MS)) throw new TypeError(`connectTimeout must be a positive number of ms (at most ${MAX_TIMER_MS}), not ${String(value)}`)
  return value
}

/** A pass-through whose timer each chunk resets and whose end or destruction stops it. */
abstract class TimedPassThrough extends Transform {
  protected timer: NodeJS.Timeout | undefined

  override _transform (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.timer?.refresh()
    callback(null, chunk)
  }

  override _flush (callback: TransformCallback): void {
    // clearTimeout clears an interval too.
    clearTimeout(this.timer)
    callback()
  }

  override _destroy (err: Error | null, callback: (err?: Error | null) => void): void {
    clearTimeout(this.timer)
    callback(err)
  }
}

/**
 * Passes input through and destroys itself with SCUTTLEDB_IDLE_TIMEOUT when
 * nothing arrives for `timeout` ms. A timer of our own rather than
 * `socket.setTimeout()`: that one is also reset by our own writes, so the
 * heartbeats we send would hide a dead peer.
 */
export class IdleWatch extends TimedPassThrough {
  constructor (timeout: number | false) {
    super()
    if (timeout !== false) {
      this.timer = setTimeout(() => {
        this.destroy(netError(netCodes.IDLE_TIMEOUT, `Nothing received from the peer for ${timeout} ms`))
      }, timeout)
      // The socket keeps the process alive while it is open; this timer should not.
      this.timer.unref?.()
    }
  }
}

/**
 * Passes output through and, once armed, pushes `ping` after `interval` ms
 * without output. Chunks from a replication stream are whole frames, so a
 * ping pushed between two of them never splits one.
 */
export class Heartbeat extends TimedPassThrough {
  readonly #interval: number | false
  readonly #ping: Uint8Array

  constructor (interval: number | false, ping: Uint8Array) {
    super()
    this.#interval = interval
    this.#ping = ping
  }

  /** Start sending heartbeats (call once the peer may receive them). */
  arm (): void {
    if (this.#interval === false || this.timer !== undefined || this.destroyed || this.writableEnded) return
    this.timer = setInterval(() => {
      // Output already queued proves nothing about the peer; only ping an idle line.
      if (this.readableLength === 0) this.push(this.#ping)
    }, this.#interval)
    this.timer.unref?.()
  }
}

/**
 * http.Server timeouts that drop a client which never finishes its request
 * headers (slow-loris) after `headersTimeout` ms (0: never). Node checks them
 * only every `connectionsCheckingInterval`, so that is kept short too.
 */
export function httpTimeouts (headersTimeout: number): { headersTimeout: number, requestTimeout: number, connectionsCheckingInterval: number } {
  if (headersTimeout === 0) return { headersTimeout: 0, requestTimeout: 0, connectionsCheckingInterval: 30_000 }
  return {
    headersTimeout,
    requestTimeout: Math.max(headersTimeout, 30_000),
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(headersTimeout / 2)))
  }
}
