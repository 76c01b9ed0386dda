import { rm, stat } from 'node:fs/promises'
import { resolve } from 'node:path'
import type { Duplex, Writable } from 'node:stream'
import { codes, ScuttledbError } from '../errors.js'
import { Model } from '../model.js'
import type { Source } from '../protocol.js'
import type { SyncProgress } from '../stream.js'
import type { Connection, ConnectionOptions, Handshake } from '../net/connection.js'
import { codeOf, hasCode, netCodes, netError } from '../net/errors.js'
import type { ReplicationClient } from '../net/reconnect.js'
import type { ReplicationServer } from '../net/server.js'
import { bind, connect, hostPort, listen, type TlsOptions } from '../net/tcp.js'
import { listenWebSocket } from '../net/websocket.js'
import { authenticate } from '../security/handshake.js'
import type { KeyPair } from '../security/keys.js'
import { securityOptions } from '../security/signer.js'
import { usageError, type PeerTarget } from './args.js'
import { probeAuthRequired } from './auth-probe.js'
import { advertisedAddress, DEFAULT_MAX_PEERS, DEFAULT_ROTATE_MS, PeerDiscovery, peerUrl, type SeedState } from './discovery.js'
import { createHttpApi, type HttpApi } from './http-api.js'
import type { HttpTokens } from './http-auth.js'
import { RESTORE_UNSYNCED, clearRestore, restorePending, writeSnapshot } from './backup-format.js'
import { HttpError } from './http-errors.js'
import { staticFiles } from './http-static.js'
import { CommitLatency, Rejections, renderMetrics } from './http-metrics.js'
import type { ProgressView } from './progress.js'
import { isKeyId } from './security.js'

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
  /** Where the HTTP API binds (default: `host`). */
  httpHost?: string
  /** Bearer tokens the HTTP API requires; undefined: open. */
  httpTokens?: HttpTokens
  /** Origins the HTTP API answers with CORS headers. */
  cors?: string[]
  /** A directory whose files the HTTP port serves at paths that are no API route (a web app). */
  static?: string
  peers: PeerTarget[]
  sync?: boolean
  /**
   * Sign local updates with these keys and verify every remote one; every
   * connection (both ways, every transport) runs the authentication handshake.
   * The node's id is the key's id.
   */
  keys?: KeyPair
  /** With keys: the only ids that may connect and whose updates are accepted (besides this node's). Default: any. */
  allow?: Source[]
  /** Serve TLS on the replication port and WSS on the WebSocket port. */
  tls?: TlsOptions
  /** Certificates trusted for outgoing TLS (default: the system's). */
  ca?: Buffer
  keepAlive?: number
  idleTimeout?: number
  handshakeTimeout?: number
  /** Incoming connections accepted at once, on each of the TCP and WebSocket listeners. Default: no limit. */
  maxConnections?: number
  /** Bytes of partial input the connections of each listener may hold together (`maxBufferedBytes`). Default 128 MiB. */
  maxBufferedBytes?: number
  /** One line per event worth a log (connections, drops, errors). */
  log: (line: string) => void
  /** Accept local writes on a restore at once (it is known to be the latest state). */
  acceptRestore?: boolean
  /** Shows first syncs with a large history. */
  progress?: ProgressView
  /** Outgoing connections to peers learned by peer exchange, besides `peers` (default 6; 0: none). */
  maxPeers?: number
  /** The replication address other nodes should dial (`host:port`); default the listening one; false: advertise none. */
  advertise?: { host: string, port: number } | false
  /** Ms between rotations of one discovered connection (default 60000); false: never. */
  rotatePeers?: number | false
}

/** One peer in `GET /status`. */
export interface PeerStatus {
  address: string
  direction: 'outgoing' | 'incoming'
  transport: string
  state: string
  id: string | null
  progress: SyncProgress | null
  /** An outgoing connection to a peer learned by peer exchange (not a --peer). */
  discovered?: boolean
}

/** One listener's buffer budget in `GET /status` (see `maxBufferedBytes`). */
export interface BufferStatus {
  /** The listener's transport: tcp, tls, ws or wss. */
  transport: string
  /** Bytes of partial input its connections hold now. */
  bytes: number
  /** The most they held at once since the node started. */
  peak: number
  /** Its `--max-buffered-bytes`. */
  limit: number
  /** Connections closed with SCUTTLEDB_OVERLOADED so far. */
  refused: number
}

/** How `openModel` opens a database. */
export interface OpenOptions {
  sync?: boolean
  /** Sign with these keys and verify remote updates; the database must be new or belong to the key's id. */
  keys?: KeyPair
  /** Accept remote updates only from these ids. */
  writers?: Source[]
}

/**
 * Open a Model on `dir`, turning a lock held by another process, or a database
 * that belongs to another id than the key's, into a clear, coded error.
 */
export async function openModel (dir: string, options: OpenOptions = {}): Promise<Model> {
  const { sync = false, keys, writers } = options
  // classic-level would report a file as a bare LEVEL_DATABASE_NOT_OPEN.
  const found = await stat(dir).catch(() => undefined)
  if (found !== undefined && !found.isDirectory()) throw usageError(`--db ${dir} is a file, not a database directory`)
  const model = new Model({ db: dir, sync, ...(keys === undefined ? {} : securityOptions(keys)), writers })
  try {
    await model.open()
  } catch (err) {
    if (hasCode(err, 'LEVEL_LOCKED')) {
      throw netError(netCodes.DATABASE_LOCKED, `The database at ${dir} is locked by another process (a running scuttledb node?): stop it, or use --node to talk to it`, err)
    }
    if (keys !== undefined && hasCode(err, codes.ID_MISMATCH)) {
      throw new ScuttledbError(`${(err as Error).message}: a database belongs to one id, and this key's id is ${keys.id}. Use the key the database was made with, or a new --db for this key (it syncs from its peers)`, codes.ID_MISMATCH, { cause: err as Error })
    }
    throw err
  }
  return model
}

/** Describe an error for a log line: each code and message down its causes (`HANDSHAKE_FAILED ...: AUTH_DENIED ...`). */
export function describe (err: Error): string {
  let text = `${codeOf(err)} ${err.message}`
  let last = codeOf(err)
  for (let e: unknown = err.cause, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code
    const named = typeof code === 'string' && code !== last
    if (named) last = code
    text += `: ${named ? `${code} ` : ''}${e.message}`
  }
  return text
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
  readonly #clients = new Map<string, { client: ReplicationClient, transport: string }>()
  readonly #discovery: PeerDiscovery
  #http: HttpApi | undefined
  #httpUrl: string | undefined
  #stopping: Promise<void> | undefined
  /** A restore (same id) that has not synced with a peer yet: local writes wait (backup-format.ts RESTORE_MARK). */
  #restoring = false

  private constructor (model: Model, db: string, options: NodeOptions) {
    this.model = model
    this.db = db
    this.#options = options
    const { keys, allow, ca } = options
    this.#discovery = new PeerDiscovery({
      self: model.id,
      keys,
      allow,
      maxPeers: options.maxPeers ?? DEFAULT_MAX_PEERS,
      rotate: options.rotatePeers ?? DEFAULT_ROTATE_MS,
      seeds: options.peers.map(peerUrl),
      dial: (target, id) => connect(this.model, {
        ...target,
        ...(target.tls ? { tls: ca === undefined ? true : { ca } } : {}),
        ...this.#connectionOptions({ discovered: id }),
        reconnect: false
      }),
      onConnected: (address, c) => {
        options.log(`connected to discovered peer ${address}`)
        this.#showProgress(address, c)
      },
      log: options.log
    })
  }

  /** Open the database and start every listener and peer; on failure everything started is stopped. */
  static async start (given: NodeOptions): Promise<ScuttledbNode> {
    // A peer given twice (`--peer h:p --peer tcp://h:p`) is one peer: dialed twice, only one
    // client was tracked, and the other was never closed. The first spelling's transport wins.
    const seen = new Set<string>()
    const peers = given.peers.filter((peer) => {
      const address = hostPort(peer.host, peer.port)
      const twice = seen.has(address)
      if (twice) given.log(`peer ${address} is given more than once: dialed once`)
      seen.add(address)
      return !twice
    })
    const options = { ...given, peers }
    const db = resolve(options.db)
    const { keys, allow } = options
    if (allow !== undefined && keys === undefined) throw new TypeError('allow needs keys')
    // Caught before anything starts, like a missing --key: a mistyped --static served nothing but 404s.
    if (options.static !== undefined && !(await stat(options.static).then((s) => s.isDirectory(), () => false))) {
      throw usageError(`--static ${options.static} is not a directory: give the directory of the files to serve`)
    }
    // The node's own id is always a writer: its history may come back from peers (a rebuilt database).
    const writers = keys === undefined || allow === undefined ? undefined : [keys.id, ...allow]
    // A directory this start creates is removed again if it fails (a port in use must not leave an empty database).
    const existed = await stat(db).then(() => true, () => false)
    const node = new ScuttledbNode(await openModel(db, { sync: options.sync, keys, writers }), db, options)
    try {
      if (keys === undefined && isKeyId(node.model.id)) {
        // Unsigned writes under a key's id would be refused by every verifying peer, and nothing would be verified.
        throw usageError(`The database at ${db} belongs to a node that signs (id ${node.model.id}): start it with --key and that id's key file`)
      }
      node.#restoring = await restorePending(node.model)
      if (node.#restoring && options.acceptRestore === true) {
        await clearRestore(node.model)
        node.#restoring = false
      }
      if (node.#restoring) options.log('restored database: local writes are refused until it has synced with a peer')
      await node.#listen()
      node.#discovery.advertise = node.#advertised()
    } catch (err) {
      await node.stop()
      if (!existed) await rm(db, { recursive: true, force: true })
      throw err
    }
    for (const peer of options.peers) node.#dial(peer)
    node.#discovery.start()
    return node
  }

  /** `tcp://host:port` (or tls://) of what this node advertises to peer exchange, if anything. */
  #advertised (): string | undefined {
    const { advertise, host, tls, log } = this.#options
    const tcp = this.#servers.find((s) => s.transport === 'tcp' || s.transport === 'tls')
    return advertisedAddress(advertise ?? (tcp === undefined ? false : { host, port: tcp.address.port }), tls !== undefined, log)
  }

  /** The addresses it listens on, for printing. */
  get addresses (): { replication?: string, websocket?: string, http?: string } {
    const out: { replication?: string, websocket?: string, http?: string } = {}
    for (const server of this.#servers) out[server.transport === 'tcp' || server.transport === 'tls' ? 'replication' : 'websocket'] = server.address.url
    if (this.#httpUrl !== undefined) out.http = this.#httpUrl
    return out
  }

  /**
   * The options of every connection, both ways: timers, the authentication
   * handshake with keys, then (replication over TCP/TLS) peer exchange: `pex`
   * is 'server' on the listener, or what the dialer dials.
   */
  #connectionOptions (pex?: 'server' | { seed: SeedState } | { discovered: string }): ConnectionOptions {
    const { keys, allow, keepAlive, idleTimeout, handshakeTimeout } = this.#options
    const discovery = this.#discovery
    const auth = keys === undefined
      ? undefined
      : authenticate({ keys, allow, ...(handshakeTimeout === undefined ? {} : { timeout: handshakeTimeout }), onPeer: (peer, socket) => { discovery.prove(socket, peer.id) } })
    let handshake: Handshake | undefined = auth
    if (pex === 'server') {
      handshake = async (socket: Duplex, side) => {
        await auth?.(socket, side)
        await discovery.server(socket)
      }
    } else if (pex !== undefined) {
      // Without a key, a peer that demands authentication is named as such (not as a malformed header).
      handshake = async (socket: Duplex, side) => {
        await auth?.(socket, side)
        await discovery.client(socket, pex, auth === undefined ? probeAuthRequired : undefined)
      }
    }
    return { keepAlive, idleTimeout, handshakeTimeout, ...(handshake === undefined ? {} : { handshake }) }
  }

  async #listen (): Promise<void> {
    const { host, port, ws, http, log, tls, maxConnections, maxBufferedBytes } = this.#options
    const connection = this.#connectionOptions()
    if (port !== false) this.#watch(await listen(this.model, { port, host, tls, maxConnections, maxBufferedBytes, ...this.#connectionOptions('server') }))
    if (ws !== false) this.#watch(await listenWebSocket(this.model, { port: ws, host, tls, maxConnections, maxBufferedBytes, ...connection }))
    if (http !== false) {
      const { httpHost = host, httpTokens, cors } = this.#options
      // Listens from the start: commits made before the first scrape count. The model's close ends it.
      const latency = new CommitLatency(this.model)
      const rejections = new Rejections(this.model)
      const metrics = async (): Promise<string> => await renderMetrics({ model: this.model, db: this.db, peers: () => this.status().peers as PeerStatus[], latency, rejections, discovery: () => ({ known: this.#discovery.book.size, discovered: this.#discovery.discovered.length }), buffers: () => this.#buffers() })
      const backup = async (out: Writable): Promise<number> => await writeSnapshot(this.model, out)
      const writable = (): void => {
        if (this.#restoring) throw new HttpError(503, RESTORE_UNSYNCED, 'This node was restored from a backup and has not synced with a peer yet: writes would lose what it has to get back')
      }
      const files = this.#options.static === undefined ? undefined : staticFiles(this.#options.static)
      const api = createHttpApi(this.model, { status: () => this.status(), metrics, backup, writable, log, headersTimeout: this.#options.handshakeTimeout, tokens: httpTokens, cors, files })
      this.#http = api
      const address = await bind(api.server, httpHost, http)
      this.#httpUrl = `http://${hostPort(httpHost, address.port)}`
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
      log(err === undefined ? `peer ${c.remote} disconnected` : `peer ${c.remote} dropped: ${describe(err)}`)
    })
    server.on('connectionError', (err, remote) => {
      // A TLS client that does not trust the certificate gives up without a word: say what it likely means.
      const hint = hasCode(err, 'ERR_TLS_HANDSHAKE_TIMEOUT') ? ' (the client did not finish the TLS handshake: does it trust this certificate?)' : ''
      log(`peer ${remote} refused: ${describe(err)}${hint}`)
    })
    server.on('serverError', (err) => { log(`${server.transport} server: ${describe(err)}`) })
  }

  #dial (peer: PeerTarget): void {
    const { log, ca } = this.#options
    const address = hostPort(peer.host, peer.port)
    const client = connect(this.model, {
      host: peer.host,
      port: peer.port,
      ...(peer.tls ? { tls: ca === undefined ? true : { ca } } : {}),
      ...this.#connectionOptions({ seed: { pex: true } }),
      maxDelay: 5000
    })
    this.#clients.set(address, { client, transport: peer.tls ? 'tls' : 'tcp' })
    // A peer that keeps failing the same way (down, or refusing this node) is reported once, not on every
    // retry; the streak ends when a connection syncs.
    let reported = ''
    client.on('connected', (c) => {
      if (reported === '') log(`connected to ${address}`)
      this.#showProgress(address, c)
    })
    client.on('synced', () => { reported = '' })
    client.on('disconnected', (err, retryIn) => {
      const why = err === undefined ? 'closed' : describe(err)
      if (hasCode(err, netCodes.PEX_SELF)) {
        // This node's own address (a peer list shared by every node of a cluster): dialing it
        // again would only connect to itself every few seconds, on both of its sides' logs.
        log(`peer ${address} unreachable: ${why}; it is this node itself: not dialed again`)
        if (this.#clients.get(address)?.client === client) this.#clients.delete(address)
        void client.close()
        return
      }
      if (why !== reported) log(`peer ${address} unreachable: ${why}; retrying (next in ${retryIn ?? 0} ms, backing off to 5 s)`)
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
      // Only a peer that holds writes of this node's id can have what the restore lacks: a
      // sync with one that never had any (a new node, a browser) must not lift the mark.
      const holdsOwn = connection.streams.some((stream) => stream.peer?.clock[this.model.id] !== undefined)
      if (this.#restoring && !holdsOwn) {
        this.#options.log(`restored database synced with ${peer}, which holds none of this node's writes: local writes stay refused until a peer that does has synced (or --accept-restore)`)
      }
      if (this.#restoring && holdsOwn) {
        this.#restoring = false
        clearRestore(this.model).then(() => { this.#options.log(`restored database synced with ${peer}: writes accepted`) },
          (err: unknown) => { this.#options.log(`restored database: cannot clear the restore mark: ${describe(err as Error)}`) })
      }
      const p = connection.progress
      if (shown && view !== undefined) view.done(peer, p)
      else this.#options.log(`synced with ${peer}: received ${p.received}, sent ${p.sent}`)
    })
  }

  #buffers (): BufferStatus[] {
    return this.#servers.map(({ transport, budget }) => ({ transport, bytes: budget.used, peak: budget.peak, limit: budget.limit, refused: budget.refused }))
  }

  /** The node's id, clock, listeners, peers and sync state (`GET /status`). */
  status (): Record<string, unknown> {
    const peers: PeerStatus[] = []
    for (const [address, { client, transport }] of this.#clients) {
      const c = client.connection
      peers.push({ address, direction: 'outgoing', transport, state: client.state, id: c?.peerId ?? null, progress: c?.progress ?? null })
    }
    for (const { address, client } of this.#discovery.discovered) {
      const c = client.connection
      const target = /^(tcp|tls):\/\/(.*)$/.exec(address)
      peers.push({ address: target?.[2] ?? address, direction: 'outgoing', transport: target?.[1] ?? 'tcp', state: client.state, id: c?.peerId ?? null, progress: c?.progress ?? null, discovered: true })
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
      buffers: this.#buffers(),
      peers,
      synced: peers.every((p) => p.state === 'synced'),
      // A restore (same id) refusing local writes until it has synced with a peer.
      restoring: this.#restoring,
      discovery: {
        advertise: this.#discovery.advertise ?? null,
        maxPeers: this.#options.maxPeers ?? DEFAULT_MAX_PEERS,
        known: this.#discovery.book.size,
        connected: this.#discovery.connected.length
      },
      stats: { ...this.model.stats },
      streams: this.model.streams,
      security: {
        key: this.#options.keys?.type ?? null,
        allow: this.#options.keys === undefined ? null : this.#options.allow ?? null,
        tls: this.#options.tls !== undefined
      }
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
        this.#discovery.stop(),
        ...[...this.#clients.values()].map(async ({ client }) => { await client.close() })
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
