import { EventEmitter } from 'events'
import type { Duplex } from 'stream'
import { BufferBudget, DEFAULT_MAX_BUFFERED_BYTES, type BufferAccount } from '../buffer-budget.js'
import { DEFAULT_MAX_FRAME_BYTES } from '../codec.js'
import { Connection, type ConnectionOptions, type PeerAddress } from './connection.js'
import type { Target } from './target.js'

/** Bytes a decoder may hold of one frame: its body and length prefix. */
const FRAME_OVERHEAD = 4

/**
 * The budget of a listener's `maxBufferedBytes` (default DEFAULT_MAX_BUFFERED_BYTES):
 * a TypeError unless it is an integer that holds one frame of the streams' `maxFrameBytes`,
 * so a frame as large as the streams accept always passes on an otherwise idle listener.
 */
export function bufferBudget (options: ConnectionOptions & { maxBufferedBytes?: number }): BufferBudget {
  const { maxBufferedBytes = DEFAULT_MAX_BUFFERED_BYTES } = options
  const frame = (options.stream?.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES) + FRAME_OVERHEAD
  if (!(Number.isSafeInteger(maxBufferedBytes) && maxBufferedBytes >= frame)) {
    throw new TypeError(`maxBufferedBytes must be an integer of at least ${frame} (one frame of maxFrameBytes and its length), not ${String(maxBufferedBytes)}`)
  }
  return new BufferBudget(maxBufferedBytes)
}

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
  /** Bytes of partial input the connections hold together (`maxBufferedBytes`): `used`, `peak`, `refused`. */
  readonly budget: BufferBudget
  #closing: Promise<void> | undefined
  /** Stops watching the instance served (a server for one instance closes with it). */
  readonly #unwatch: () => void

  /** @internal Use `listen()` or `listenWebSocket()`. */
  constructor (target: Target, transport: string, address: ServerAddress, options: ConnectionOptions, budget: BufferBudget, stop: () => Promise<void>) {
    super()
    this.budget = budget
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

  /**
   * @internal An account in the budget for a connection about to be accepted;
   * a refusal destroys `socket` with it. `_accept()` closes it with the connection.
   */
  _account (socket: Duplex): BufferAccount {
    return this.budget.open((err) => { socket.destroy(err) })
  }

  /** @internal Wrap an accepted socket (whose buffered input goes to `account`). */
  _accept (socket: Duplex, peer: PeerAddress, account = this._account(socket)): Connection | undefined {
    if (this.#closing !== undefined) {
      account.close()
      socket.destroy()
      return undefined
    }
    const options = { ...this.#options, stream: { ...this.#options.stream, bufferAccount: account } }
    let connection: Connection
    try {
      connection = new Connection(this.#target, socket, 'server', peer, options)
    } catch (err) {
      account.close()
      throw err
    }
    this.#connections.add(connection)
    connection.once('close', (err) => {
      account.close()
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
