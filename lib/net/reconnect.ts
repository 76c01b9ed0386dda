import { EventEmitter } from 'events'
import type { Duplex } from 'stream'
import type { SyncProgress } from '../stream.js'
import { Connection, type ConnectionOptions, type PeerAddress } from './connection.js'
import { sinkErrors } from './dial.js'
import { codeOf, netCodes, netError } from './errors.js'
import { checkTarget, type Target } from './target.js'
import { codes, error } from '../errors.js'

/** True when the instance (or collection) a client replicates is closing or closed. */
function targetClosed (target: Target): boolean {
  const status = (target as { status?: unknown }).status
  return status === 'closing' || status === 'closed'
}

/** How a client retries. */
export interface ReconnectOptions {
  /** Reconnect after a failure or a close. Default true. */
  reconnect?: boolean
  /** Delay before the first retry, ms. Default 250. */
  minDelay?: number
  /** The longest delay, ms. Default 30000. */
  maxDelay?: number
  /** Growth of the delay per failed attempt. Default 2. */
  factor?: number
  /** Fraction of each delay removed at random, 0 to 1, so peers do not retry in step. Default 0.5. */
  jitter?: number
  /** A random source in [0, 1), for reproducible tests. Default Math.random. */
  random?: () => number
}

/** Opens one raw connection; rejects when it cannot. Aborted when the client closes. */
export type Dialer = (signal: AbortSignal) => Promise<{ socket: Duplex, peer: PeerAddress }>

/** Where a client is. */
export type ClientState = 'connecting' | 'connected' | 'synced' | 'disconnected' | 'closed'

/** Events of a ReplicationClient. */
export interface ReplicationClientEvents {
  /** A connection attempt begins (1 for the first after a success). */
  connecting: [attempt: number]
  /** Connected: the handshake passed and replication has started. */
  connected: [connection: Connection]
  /** The connection's initial exchange is complete. */
  synced: [connection: Connection]
  /** Progress of the initial exchange. */
  progress: [progress: SyncProgress]
  /** A multiplexed document failed or was refused; the connection goes on. */
  channelError: [name: string, err: Error]
  /** The attempt failed or the connection ended; `retryIn` is the delay before the next attempt (undefined: none). */
  disconnected: [err: Error | undefined, retryIn: number | undefined]
  /** close() finished, or the client gave up (reconnect: false, or its instance was closed). */
  close: []
}

/** The delay before retry number `attempt` (1-based): capped exponential backoff with jitter. */
export function backoff (attempt: number, options: ReconnectOptions = {}): number {
  const { minDelay = 250, maxDelay = 30_000, factor = 2, jitter = 0.5, random = Math.random } = options
  const base = Math.min(maxDelay, minDelay * factor ** Math.max(0, attempt - 1))
  return Math.round(base * (1 - jitter * random()))
}

function checkReconnect (options: ReconnectOptions): void {
  const { minDelay = 250, maxDelay = 30_000, factor = 2, jitter = 0.5 } = options
  // typeof: null, false and '' compare as 0, which would redial in a tight loop.
  if (![minDelay, maxDelay, factor, jitter].every((n) => typeof n === 'number')) throw new TypeError('minDelay, maxDelay, factor and jitter must be numbers')
  if (!(minDelay >= 0 && maxDelay >= minDelay)) throw new TypeError('minDelay and maxDelay must be numbers with 0 <= minDelay <= maxDelay')
  if (!(factor >= 1)) throw new TypeError('factor must be at least 1')
  if (!(jitter >= 0 && jitter <= 1)) throw new TypeError('jitter must be between 0 and 1')
}

/**
 * A replication client that keeps one connection to a peer open: it dials,
 * replicates, and after a failure or a close dials again after a backoff. Each
 * new connection sends the current clock, so only the missing history is
 * exchanged. Created by `connect()` and `connectWebSocket()`.
 */
export class ReplicationClient extends EventEmitter<ReplicationClientEvents> {
  readonly #target: Target
  readonly #dial: Dialer
  readonly #options: ConnectionOptions & ReconnectOptions
  #state: ClientState = 'connecting'
  #attempt = 0
  #connection: Connection | undefined
  #abort = new AbortController()
  #wake: (() => void) | undefined
  readonly #running: Promise<void>

  /** @internal Use `connect()` or `connectWebSocket()`. */
  constructor (target: Target, dial: Dialer, options: ConnectionOptions & ReconnectOptions) {
    super()
    checkTarget(target)
    checkReconnect(options)
    this.#target = target
    this.#dial = dial
    this.#options = options
    // Next tick: the caller attaches listeners before the first event.
    this.#running = new Promise<void>((resolve) => { queueMicrotask(resolve) }).then(async () => { await this.#run() })
  }

  /** connecting, connected, synced, disconnected or closed. */
  get state (): ClientState {
    return this.#state
  }

  /** The current connection, while there is one. */
  get connection (): Connection | undefined {
    return this.#connection
  }

  /** Failed attempts since the last successful sync. */
  get attempts (): number {
    return this.#attempt
  }

  /** While waiting to retry, dial now (e.g. the network is back); otherwise nothing. */
  retryNow (): void {
    this.#wake?.()
  }

  /** Stop: closes the connection, cancels any retry. Resolves once everything is closed. */
  async close (): Promise<void> {
    if (!this.#abort.signal.aborted) {
      this.#abort.abort(netError(netCodes.CLOSED, 'The client was closed'))
      this.#connection?.close()
      this.#wake?.()
    }
    await this.#running
  }

  async #run (): Promise<void> {
    const signal = this.#abort.signal
    // The instance closing ends a backoff wait at once: retrying could only fail, and
    // the timer would keep the process alive for up to maxDelay.
    const lifecycle = (this.#target as { _lifecycleEmitter?: unknown })._lifecycleEmitter
    const onClose = (): void => { this.#wake?.() }
    if (lifecycle instanceof EventEmitter) lifecycle.once('close', onClose)
    while (!signal.aborted) {
      this.#attempt++
      this.#state = 'connecting'
      this.emit('connecting', this.#attempt)
      let failure: Error | undefined
      try {
        const { socket, peer } = await this.#dial(signal)
        if (signal.aborted) {
          // Closed as the dial finished: nothing listens to this socket any more.
          sinkErrors(socket)
          socket.destroy()
          break
        }
        failure = await this.#replicate(socket, peer)
      } catch (err) {
        failure = err as Error
      }
      if (signal.aborted) break
      // The instance replicated here was closed: its streams ended under the connection
      // (a premature close, as the socket sees it). Said as what it is, and not retried.
      if (targetClosed(this.#target)) failure = error(codes.NOT_OPEN, 'The instance replicated was closed', failure === undefined ? undefined : { cause: failure })
      // A closed instance never reopens, and a peer of another data type stays one: retrying could only fail again.
      const hopeless = this.#options.reconnect === false || codeOf(failure) === 'SCUTTLEDB_NOT_OPEN' || codeOf(failure) === 'SCUTTLEDB_TYPE_MISMATCH'
      const retryIn = hopeless ? undefined : backoff(this.#attempt, this.#options)
      this.#state = 'disconnected'
      // Wakeable before the event: a listener may call retryNow() or close() at once,
      // and neither may wait out the delay (close() would hang for up to maxDelay).
      let woken = false
      let wake = (): void => { woken = true }
      this.#wake = () => { wake() }
      this.emit('disconnected', failure, retryIn)
      if (retryIn !== undefined && !signal.aborted && !woken) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, retryIn)
          wake = () => { clearTimeout(timer); resolve() }
        })
      }
      this.#wake = undefined
      if (retryIn === undefined || targetClosed(this.#target)) break
    }
    if (lifecycle instanceof EventEmitter) lifecycle.off('close', onClose)
    this.#state = 'closed'
    this.emit('close')
  }

  async #replicate (socket: Duplex, peer: PeerAddress): Promise<Error | undefined> {
    const connection = new Connection(this.#target, socket, 'client', peer, this.#options)
    this.#connection = connection
    connection.on('open', () => {
      this.#state = 'connected'
      this.emit('connected', connection)
    })
    connection.on('synced', () => {
      // A connection that synced is healthy: the next failure starts the backoff over.
      this.#attempt = 0
      this.#state = 'synced'
      this.emit('synced', connection)
    })
    connection.on('progress', (progress) => { this.emit('progress', progress) })
    connection.on('channelError', (name, err) => { this.emit('channelError', name, err) })
    const err = await connection.closed
    this.#connection = undefined
    return err
  }
}
