import { resolve } from 'node:path'
import { Model } from '../model.js'
import type { SyncProgress } from '../stream.js'
import type { Connection } from '../net/connection.js'
import { codeOf, hasCode, netCodes, netError } from '../net/errors.js'
import type { ReplicationClient } from '../net/reconnect.js'
import type { ReplicationServer } from '../net/server.js'
import { bind, connect, hostPort, listen } from '../net/tcp.js'
import { listenWebSocket } from '../net/websocket.js'
import type { HostPort } from './args.js'
import { createHttpApi, type HttpApi } from './http-api.js'
import type { ProgressView } from './progress.js'

/** What a node runs. */
export interface NodeOptions {
  db: string
  host: string
  /** Replication TCP port; false: none. */
  port: number | false
  /** WebSocket replication port; false: none. */
  ws: number | false
  /** HTTP API port; false: none. */
  http: number | false
  peers: HostPort[]
  sync?: boolean
  keepAlive?: number
  idleTimeout?: number
  handshakeTimeout?: number
  /** One line per event worth a log (connections, drops, errors). */
  log: (line: string) => void
  /** Shows first syncs with a large history. */
  progress?: ProgressView
}

/** One peer in `GET /status`. */
export interface PeerStatus {
  address: string
  direction: 'outgoing' | 'incoming'
  transport: string
  state: string
  id: string | null
  progress: SyncProgress | null
}

/** Open a Model on `dir`, turning a lock held by another process into a clear, coded error. */
export async function openModel (dir: string, sync = false): Promise<Model> {
  const model = new Model({ db: dir, sync })
  try {
    await model.open()
  } catch (err) {
    if (hasCode(err, 'LEVEL_LOCKED')) {
      throw netError(netCodes.DATABASE_LOCKED, `The database at ${dir} is locked by another process (a running scuttledb node?): stop it, or use --node to talk to it`, err)
    }
    throw err
  }
  return model
}

/**
 * A running scuttledb node: one Model on disk, replication servers (TCP,
 * WebSocket), reconnecting clients to its peers, and the HTTP API.
 */
export class ScuttledbNode {
  /** The node's data. */
  readonly model: Model
  /** The absolute database path. */
  readonly db: string
  readonly #options: NodeOptions
  readonly #servers: ReplicationServer[] = []
  readonly #clients = new Map<string, ReplicationClient>()
  #http: HttpApi | undefined
  #httpUrl: string | undefined
  #stopping: Promise<void> | undefined

  private constructor (model: Model, db: string, options: NodeOptions) {
    this.model = model
    this.db = db
    this.#options = options
  }

  /** Open the database and start every listener and peer; on failure everything started is stopped. */
  static async start (options: NodeOptions): Promise<ScuttledbNode> {
    const db = resolve(options.db)
    const node = new ScuttledbNode(await openModel(db, options.sync), db, options)
    try {
      await node.#listen()
    } catch (err) {
      await node.stop()
      throw err
    }
    for (const peer of options.peers) node.#dial(peer)
    return node
  }

  /** The addresses it listens on, for printing. */
  get addresses (): { replication?: string, websocket?: string, http?: string } {
    const out: { replication?: string, websocket?: string, http?: string } = {}
    for (const server of this.#servers) out[server.transport === 'tcp' ? 'replication' : 'websocket'] = server.address.url
    if (this.#httpUrl !== undefined) out.http = this.#httpUrl
    return out
  }

  async #listen (): Promise<void> {
    const { host, port, ws, http, log } = this.#options
    const connection = { keepAlive: this.#options.keepAlive, idleTimeout: this.#options.idleTimeout, handshakeTimeout: this.#options.handshakeTimeout }
    if (port !== false) this.#watch(await listen(this.model, { port, host, ...connection }))
    if (ws !== false) this.#watch(await listenWebSocket(this.model, { port: ws, host, ...connection }))
    if (http !== false) {
      const api = createHttpApi(this.model, { status: () => this.status(), log, headersTimeout: this.#options.handshakeTimeout })
      this.#http = api
      const address = await bind(api.server, host, http)
      this.#httpUrl = `http://${hostPort(host, address.port)}`
    }
  }

  #watch (server: ReplicationServer): void {
    const { log } = this.#options
    this.#servers.push(server)
    server.on('connection', (c) => {
      log(`peer ${c.remote} connected (${c.transport})`)
      this.#showProgress(c.remote, c)
    })
    server.on('disconnect', (c, err) => {
      log(err === undefined ? `peer ${c.remote} disconnected` : `peer ${c.remote} dropped: ${codeOf(err)} ${err.message}`)
    })
    server.on('connectionError', (err, remote) => { log(`peer ${remote} refused: ${codeOf(err)} ${err.message}`) })
    server.on('serverError', (err) => { log(`${server.transport} server: ${codeOf(err)} ${err.message}`) })
  }

  #dial (peer: HostPort): void {
    const { log } = this.#options
    const address = hostPort(peer.host, peer.port)
    const client = connect(this.model, {
      host: peer.host,
      port: peer.port,
      keepAlive: this.#options.keepAlive,
      idleTimeout: this.#options.idleTimeout,
      handshakeTimeout: this.#options.handshakeTimeout,
      maxDelay: 5000
    })
    this.#clients.set(address, client)
    let reported = ''
    client.on('connected', (c) => {
      reported = ''
      log(`connected to ${address}`)
      this.#showProgress(address, c)
    })
    client.on('disconnected', (err, retryIn) => {
      // A peer that stays down is reported once, not on every retry.
      const why = err === undefined ? 'closed' : `${codeOf(err)} ${err.message}`
      if (why !== reported) log(`peer ${address} unreachable: ${why}; retrying (next in ${retryIn ?? 0} ms)`)
      reported = why
    })
  }

  /** Show progress while a connection's first exchange is large, and a line when it syncs. */
  #showProgress (peer: string, connection: Connection): void {
    const view = this.#options.progress
    let shown = false
    connection.on('progress', (p) => {
      if (p.syncSent && p.syncReceived) return
      shown = true
      view?.update(peer, p)
    })
    connection.once('synced', () => {
      const p = connection.progress
      if (shown && view !== undefined) view.done(peer, p)
      else this.#options.log(`synced with ${peer}: received ${p.received}, sent ${p.sent}`)
    })
  }

  /** The node's id, clock, listeners, peers and sync state (`GET /status`). */
  status (): Record<string, unknown> {
    const peers: PeerStatus[] = []
    for (const [address, client] of this.#clients) {
      const c = client.connection
      peers.push({ address, direction: 'outgoing', transport: 'tcp', state: client.state, id: c?.peerId ?? null, progress: c?.progress ?? null })
    }
    for (const server of this.#servers) {
      for (const c of server.connections) {
        peers.push({ address: c.remote, direction: 'incoming', transport: c.transport, state: c.state, id: c.peerId ?? null, progress: c.progress })
      }
    }
    return {
      id: this.model.id,
      db: this.db,
      clock: this.model.clock,
      listening: this.addresses,
      peers,
      synced: peers.every((p) => p.state === 'synced'),
      stats: { ...this.model.stats },
      streams: this.model.streams
    }
  }

  /**
   * Stop: stop accepting, close peers and connections, end event streams, let
   * requests in flight finish (briefly), then flush and close the database.
   * Calling it again returns the same promise.
   */
  async stop (): Promise<void> {
    this.#stopping ??= (async () => {
      const http = this.#http
      const httpClosed = http === undefined
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
          if (!http.server.listening) { resolve(); return }
          http.server.close(() => { resolve() })
          http.endEvents()
          http.server.closeIdleConnections()
        })
      await Promise.all([
        ...this.#servers.map(async (s) => { await s.close() }),
        ...[...this.#clients.values()].map(async (c) => { await c.close() })
      ])
      // Requests in flight get a moment to be answered; then their sockets go.
      const grace = setTimeout(() => http?.server.closeAllConnections(), 2000)
      await httpClosed
      clearTimeout(grace)
      // close() waits for queued commits: everything acknowledged or received is on disk.
      await this.model.close()
    })()
    await this.#stopping
  }
}
