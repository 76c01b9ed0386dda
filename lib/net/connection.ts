import { EventEmitter } from 'events'
import { pipeline, type Duplex } from 'stream'
import { codecs } from '../codec.js'
import { SYNC, type Header } from '../protocol.js'
import type { ReplicationStream, StreamOptions, SyncProgress } from '../stream.js'
import { netCodes, netError } from './errors.js'
import { DEFAULT_IDLE_TIMEOUT, DEFAULT_KEEPALIVE, Heartbeat, IdleWatch, msOption, type KeepAliveOptions } from './keepalive.js'
import { Multiplexer } from './mux.js'
import { checkTarget, isDocuments, namesToOpen, resolverOf, type Target } from './target.js'

/**
 * Runs on the raw connection before replication starts; a rejection closes the
 * connection. It may resolve with the peer's proven identity (`authenticatePeer()`
 * does): the target's `createStream` then gets it as `context.peer`.
 */
export type Handshake = (socket: Duplex, side: 'client' | 'server') => Promise<void | { id: string }>

/** Options of every connection, on both sides and every transport. */
export interface ConnectionOptions extends KeepAliveOptions {
  /**
   * Runs on the raw connection before the replication stream is attached (peer
   * authentication). It must leave any bytes past its own messages unread
   * (`socket.unshift()`) and the socket paused. A rejection closes the connection
   * with SCUTTLEDB_HANDSHAKE_FAILED (its error as the cause).
   */
  handshake?: Handshake
  /**
   * Ms allowed for the handshake, and then for the peer's first protocol message
   * (its header, or its multiplexing hello): a peer that connects and says
   * nothing (slow-loris) is dropped. false: no limit. Default 10000.
   */
  handshakeTimeout?: number | false
  /** Options of each replication stream (meta, maxFrameBytes, wrapper...). */
  stream?: StreamOptions
}

/** How long a handshake that ended the socket (a refusal on its way) may still take after `handshakeTimeout`. */
const GOODBYE_GRACE_MS = 1000

/** Validated timers of a connection (false: off). */
interface Timers {
  handshake: number | false
  keepAlive: number | false
  idle: number | false
}

/** Check the timer options up front, so a mistake is a TypeError at the call, not a failed connection. */
export function checkConnectionOptions (options: ConnectionOptions): Timers {
  if (options.handshake !== undefined && typeof options.handshake !== 'function') throw new TypeError('handshake must be a function')
  return {
    handshake: msOption(options.handshakeTimeout, 10_000, 'handshakeTimeout'),
    keepAlive: msOption(options.keepAlive, DEFAULT_KEEPALIVE, 'keepAlive'),
    idle: msOption(options.idleTimeout, DEFAULT_IDLE_TIMEOUT, 'idleTimeout')
  }
}

/** Where a connection is in its life. */
export type ConnectionState = 'handshake' | 'replicating' | 'synced' | 'closed'

/** Events of a Connection. */
export interface ConnectionEvents {
  /** The handshake is done and replication has started. */
  open: []
  /** The peer's header (plain connections; multiplexed ones have one per document). */
  header: [header: Header]
  /** Progress of the initial exchange (summed over documents when multiplexed). */
  progress: [progress: SyncProgress]
  /** Every replication stream has synced (emitted once). */
  synced: []
  /** A multiplexed document failed or was refused; the connection goes on. */
  channelError: [name: string, err: Error]
  /** The connection ended; `err` is undefined after a sync and a clean end, or a local close(). */
  close: [err: Error | undefined]
}

/** Facts about the far end, for logs and status. */
export interface PeerAddress {
  /** `host:port` of the peer. */
  remote: string
  /** 'tcp', 'tls', 'ws' or 'wss'. */
  transport: string
  /** Keep-alive is done by the transport (WebSocket ping/pong), not in band. @internal */
  transportKeepAlive?: boolean
}

/**
 * One replication connection over a byte stream: runs the handshake, then wires
 * a replication stream (or a multiplexer of several) to it. Any error on either
 * side destroys both; `close` is emitted exactly once.
 */
export class Connection extends EventEmitter<ConnectionEvents> {
  /** Which side dialed. */
  readonly side: 'client' | 'server'
  /** `host:port` of the peer. */
  readonly remote: string
  /** 'tcp', 'tls', 'ws' or 'wss'. */
  readonly transport: string
  /** Resolves with the close error (undefined: clean or local) once closed. */
  readonly closed: Promise<Error | undefined>
  readonly #socket: Duplex
  readonly #target: Target
  readonly #options: ConnectionOptions
  #timers: Timers
  readonly #streams = new Set<ReplicationStream>()
  readonly #synced = new WeakSet<ReplicationStream>()
  #state: ConnectionState = 'handshake'
  #peerId: string | undefined
  /** The id the handshake proved, if it resolved with one. */
  #proven: string | undefined
  #local = false
  #firstMessage: NodeJS.Timeout | undefined
  #done!: (err: Error | undefined) => void

  constructor (target: Target, socket: Duplex, side: 'client' | 'server', peer: PeerAddress, options: ConnectionOptions = {}) {
    super()
    checkTarget(target)
    this.#target = target
    this.#socket = socket
    this.side = side
    this.remote = peer.remote
    this.transport = peer.transport
    this.#options = options
    this.#timers = checkConnectionOptions(options)
    // Over WebSocket, ping/pong does the keep-alive (browsers answer pings by themselves).
    if (peer.transportKeepAlive === true) this.#timers = { ...this.#timers, keepAlive: false, idle: false }
    // The original sends no heartbeat: on its wire a quiet peer is not a dead one, and dropping it
    // would end its replication for good (it does not redial). Only an idleTimeout asked for applies.
    else if (!isDocuments(target) && options.stream?.wrapper === 'json' && options.idleTimeout === undefined) this.#timers = { ...this.#timers, idle: false }
    this.closed = new Promise((resolve) => { this.#done = resolve })
    // Until the pipeline owns the socket, an error on it must not crash the process.
    socket.on('error', () => {})
    // Next tick: the creator attaches listeners first.
    queueMicrotask(() => { void this.#start() })
  }

  /** Where the connection is: handshake, replicating, synced or closed. */
  get state (): ConnectionState {
    return this.#state
  }

  /** The peer's node id, once its header arrived (plain connections). */
  get peerId (): string | undefined {
    return this.#peerId
  }

  /** The open replication streams (one, or one per multiplexed document). */
  get streams (): ReplicationStream[] {
    return [...this.#streams]
  }

  /** Progress of the initial exchange, summed over the streams. */
  get progress (): SyncProgress {
    const sum: SyncProgress = { sent: 0, received: 0, syncSent: true, syncReceived: true, behind: { sources: 0, ms: 0 } }
    for (const stream of this.#streams) {
      const p = stream.progress
      sum.sent += p.sent
      sum.received += p.received
      sum.syncSent &&= p.syncSent
      sum.syncReceived &&= p.syncReceived
      sum.behind.sources += p.behind.sources
      sum.behind.ms = Math.max(sum.behind.ms, p.behind.ms)
    }
    if (this.#streams.size === 0) sum.syncSent = sum.syncReceived = this.#state === 'synced'
    return sum
  }

  /** Close the connection (its streams are destroyed; the peer sees the socket close). */
  close (): void {
    if (this.#state === 'closed') return
    this.#local = true
    this.#socket.destroy()
  }

  async #start (): Promise<void> {
    const { handshake: timeout, keepAlive, idle } = this.#timers
    try {
      await this.#handshake(timeout)
    } catch (err) {
      this.#socket.destroy()
      this.#finish(err as Error)
      return
    }
    if (this.#local || this.#socket.destroyed) {
      // CLOSED only when this side closed it: a peer's reset as the handshake passed is the peer's doing.
      this.#finish(this.#local
        ? netError(netCodes.CLOSED, 'The connection closed during the handshake')
        : netError(netCodes.PEER_CLOSED, 'The peer closed the connection as the handshake finished', this.#socket.errored ?? undefined))
      return
    }
    if (timeout !== false) {
      this.#firstMessage = setTimeout(() => {
        this.#socket.destroy(netError(netCodes.HANDSHAKE_TIMEOUT, `The peer sent no header within ${timeout} ms`))
      }, timeout)
      this.#firstMessage.unref?.()
    }
    try {
      const onEnd = (err: Error | null | undefined): void => { this.#finish(err ?? undefined) }
      if (isDocuments(this.#target)) {
        const mux = this.#multiplexer(keepAlive)
        this.#state = 'replicating'
        pipeline(this.#socket, new IdleWatch(idle), mux, this.#socket, onEnd)
      } else {
        const stream = this.#target.createStream(this.#options.stream, { peer: this.#proven })
        const wrapper = this.#options.stream?.wrapper ?? 'msgpack'
        // An extra SYNC is the heartbeat: the protocol defines later ones as no-ops.
        const beat = new Heartbeat(keepAlive, codecs[wrapper].encode(SYNC))
        stream.once('syncSent', () => { beat.arm() })
        stream.once('header', (header: Header) => {
          clearTimeout(this.#firstMessage)
          this.#peerId = header.id
          this.emit('header', header)
        })
        this.#track(stream)
        this.#state = 'replicating'
        pipeline(this.#socket, new IdleWatch(idle), stream, beat, this.#socket, onEnd)
      }
    } catch (err) {
      // createStream() throws when the instance is closed: nothing was wired yet.
      this.#socket.destroy()
      this.#finish(err as Error)
      return
    }
    this.emit('open')
  }

  async #handshake (timeout: number | false): Promise<void> {
    const handshake = this.#options.handshake
    if (handshake === undefined) return
    const socket = this.#socket
    if (socket.destroyed) throw netError(netCodes.HANDSHAKE_FAILED, 'The connection closed before the handshake')
    let timer: NodeJS.Timeout | undefined
    let late: ReturnType<typeof setTimeout> | undefined
    let onClose: (() => void) | undefined
    try {
      const proven = await Promise.race([
        handshake(socket, this.side).catch((err: unknown) => {
          throw netError(netCodes.HANDSHAKE_FAILED, 'The handshake failed', err)
        }),
        new Promise<never>((_resolve, reject) => {
          if (timeout === false) return
          const expire = (): void => { reject(netError(netCodes.HANDSHAKE_TIMEOUT, `The handshake took over ${timeout} ms`)) }
          timer = setTimeout(() => {
            // A handshake that ended its side is saying goodbye (its own timeout fired at the same
            // moment, say): let its verdict drain to the peer and be the cause, within a bound.
            if (socket.writableEnded && !socket.destroyed) timer = setTimeout(expire, GOODBYE_GRACE_MS)
            else expire()
          }, timeout)
        }),
        new Promise<never>((_resolve, reject) => {
          // The handshake often learns its verdict from this same close (a refusal read
          // just before it, its own refusal flushed): let it settle first, so its coded
          // error is the cause; the generic error is for a handshake that did not notice.
          onClose = () => { late = setTimeout(() => { reject(netError(netCodes.HANDSHAKE_FAILED, 'The connection closed during the handshake')) }, 0) }
          socket.once('close', onClose)
        })
      ])
      if (typeof proven === 'object' && proven !== null && typeof proven.id === 'string') this.#proven = proven.id
    } finally {
      clearTimeout(timer)
      clearTimeout(late)
      if (onClose !== undefined) socket.off('close', onClose)
    }
  }

  #multiplexer (keepAlive: number | false): Multiplexer {
    const target = this.#target as Exclude<Target, { createStream: unknown }>
    const mux = new Multiplexer({
      side: this.side,
      resolve: resolverOf(target.docs),
      open: namesToOpen(target, this.side),
      stream: this.#options.stream,
      keepAlive
    })
    mux.once('hello', () => { clearTimeout(this.#firstMessage) })
    mux.on('channel', (_name, stream) => { this.#track(stream) })
    mux.on('channelError', (name, err) => { this.emit('channelError', name, err) })
    return mux
  }

  #track (stream: ReplicationStream): void {
    this.#streams.add(stream)
    stream.on('progress', () => { this.emit('progress', this.progress) })
    stream.once('sync', () => {
      this.#synced.add(stream)
      this.#maybeSynced()
    })
    stream.once('close', () => {
      this.#streams.delete(stream)
      this.#maybeSynced()
    })
  }

  #maybeSynced (): void {
    if (this.#state !== 'replicating' || this.#streams.size === 0) return
    for (const stream of this.#streams) if (!this.#synced.has(stream)) return
    this.#state = 'synced'
    this.emit('synced')
  }

  #finish (err: Error | undefined): void {
    if (this.#state === 'closed') return
    const synced = this.#state === 'synced'
    this.#state = 'closed'
    clearTimeout(this.#firstMessage)
    for (const stream of this.#streams) stream.destroy()
    // A clean end before the sync is still a failure worth reporting (a refusal, usually).
    if (err === undefined && !this.#local && !synced) err = netError(netCodes.PEER_CLOSED, 'The peer closed the connection before the sync finished')
    const reported = this.#local ? undefined : err
    this.#done(reported)
    this.emit('close', reported)
  }
}
