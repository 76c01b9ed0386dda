import { EventEmitter } from 'events'
import type { Duplex } from 'stream'
import { Connection, type ConnectionOptions, type PeerAddress } from './connection.js'
import type { Target } from './target.js'

/** Where a server listens. */
export interface ServerAddress {
  host: string
  port: number
  /** e.g. `tcp://127.0.0.1:4100` or `ws://127.0.0.1:4102/`. */
  url: string
}

/** Events of a ReplicationServer. */
export interface ReplicationServerEvents {
  /** A peer connected (its handshake has not run yet). */
  connection: [connection: Connection]
  /** A peer's connection ended; `err` says why when it was not clean. */
  disconnect: [connection: Connection, err: Error | undefined]
  /** A connection failed before it became a Connection (TLS or WebSocket upgrade errors). */
  connectionError: [err: Error, remote: string]
  /** The server could not accept (e.g. out of file descriptors); it goes on listening. */
  serverError: [err: Error]
  /** close() finished. */
  close: []
}

/**
 * A listening replication endpoint (TCP, TLS, WebSocket): one Connection per
 * accepted socket. Created by `listen()` and `listenWebSocket()`.
 */
export class ReplicationServer extends EventEmitter<ReplicationServerEvents> {
  /** Where it listens. */
  readonly address: ServerAddress
  /** 'tcp', 'tls', 'ws' or 'wss'. */
  readonly transport: string
  readonly #target: Target
  readonly #options: ConnectionOptions
  readonly #connections = new Set<Connection>()
  readonly #stop: () => Promise<void>
  #closing: Promise<void> | undefined
  /** Stops watching the instance served (a server for one instance closes with it). */
  readonly #unwatch: () => void

  /** @internal Use `listen()` or `listenWebSocket()`. */
  constructor (target: Target, transport: string, address: ServerAddress, options: ConnectionOptions, stop: () => Promise<void>) {
    super()
    this.#target = target
    this.transport = transport
    this.address = address
    this.#options = options
    this.#stop = stop
    // A server for one instance has nothing to serve once it closed: it stops too, so the
    // port is released and the process can exit (connect() clients give up the same way).
    const lifecycle = (target as { _lifecycleEmitter?: unknown })._lifecycleEmitter
    if (lifecycle instanceof EventEmitter) {
      const onClose = (): void => { void this.close() }
      lifecycle.once('close', onClose)
      this.#unwatch = () => { lifecycle.off('close', onClose) }
    } else {
      this.#unwatch = () => {}
    }
  }

  /** The open connections. */
  get connections (): Connection[] {
    return [...this.#connections]
  }

  /** True once close() was called. */
  get closing (): boolean {
    return this.#closing !== undefined
  }

  /** @internal Wrap an accepted socket. */
  _accept (socket: Duplex, peer: PeerAddress): Connection | undefined {
    if (this.#closing !== undefined) {
      socket.destroy()
      return undefined
    }
    const connection = new Connection(this.#target, socket, 'server', peer, this.#options)
    this.#connections.add(connection)
    connection.once('close', (err) => {
      this.#connections.delete(connection)
      this.emit('disconnect', connection, err)
    })
    this.emit('connection', connection)
    return connection
  }

  /**
   * Stop accepting, close every connection, release the port. Resolves once all
   * are closed; calling it again returns the same promise.
   */
  async close (): Promise<void> {
    this.#closing ??= (async () => {
      this.#unwatch()
      const stopped = this.#stop()
      const closed = [...this.#connections].map(async (c) => { c.close(); await c.closed })
      await Promise.all([stopped, ...closed])
      this.emit('close')
    })()
    await this.#closing
  }
}
