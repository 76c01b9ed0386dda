import http from 'node:http'
import https from 'node:https'
import type { Duplex } from 'node:stream'
import type { BufferAccount } from '../buffer-budget.js'
import { WebSocket, WebSocketServer, createWebSocketStream } from 'ws'
import { opening, sinkErrors } from './dial.js'
import { netCodes, netError } from './errors.js'
import { checkConnectionOptions, type ConnectionOptions } from './connection.js'
import { connectTimeoutOption, httpTimeouts } from './keepalive.js'
import { ReplicationClient, type ReconnectOptions } from './reconnect.js'
import { bufferBudget, ReplicationServer } from './server.js'
import { checkTarget, type Target } from './target.js'
import { webSocketUrl } from './websocket-browser.js'
import { bind, checkMaxConnections, checkPort, hostPort, tooManyConnections, trackHandshakes, type TlsOptions } from './tcp.js'

/** Options of `listenWebSocket()`. */
export interface WebSocketListenOptions extends ConnectionOptions {
  /** Default 0 (any free port). */
  port?: number
  /** Default '127.0.0.1'. */
  host?: string
  /** Accept upgrades on this path only. Default: any path. */
  path?: string
  /** Serve WSS with this certificate. */
  tls?: TlsOptions
  /** Largest WebSocket message accepted, bytes. Default 64 MiB. */
  maxPayload?: number
  /**
   * Accept at most this many WebSocket connections at once: past it an upgrade
   * is answered 503 and reported as `connectionError`
   * (SCUTTLEDB_TOO_MANY_CONNECTIONS); at most as many sockets again may be
   * waiting to upgrade (or asking plain HTTP), further ones are closed at once.
   * A positive integer. Default: no limit.
   */
  maxConnections?: number
  /**
   * Bytes of partial input all connections may hold together: partial frames,
   * and WebSocket messages still being received. As `listen()`'s (default 128 MiB).
   */
  maxBufferedBytes?: number
}

/** Options of `connectWebSocket()`. */
export interface WebSocketConnectOptions extends ConnectionOptions, ReconnectOptions {
  /** `ws://host:port/path` or `wss://...`. */
  url: string
  /** TLS settings for `wss:` (e.g. `ca` for a self-signed server). */
  tls?: TlsOptions
  /** Ms allowed for the connection and upgrade. Default 10000. */
  connectTimeout?: number
  /** Largest WebSocket message accepted, bytes. Default 64 MiB. */
  maxPayload?: number
}

const DEFAULT_MAX_PAYLOAD = 64 * 1024 * 1024
/** The header of a refused upgrade that names the refusal's code, so a Node client can report it. */
const ERROR_HEADER = 'x-scuttledb-error'

/** The error of an upgrade answered with another status than 101. */
function upgradeRefused (url: URL, res: http.IncomingMessage): Error {
  if (res.headers[ERROR_HEADER] === netCodes.TOO_MANY_CONNECTIONS) {
    return netError(netCodes.TOO_MANY_CONNECTIONS, `${url.href} refused the connection: it has as many as it accepts (HTTP ${res.statusCode ?? '?'})`)
  }
  return netError(netCodes.BAD_ADDRESS, `${url.href} answered HTTP ${res.statusCode ?? '?'}, not a WebSocket upgrade`)
}

/**
 * Keep-alive by WebSocket ping/pong, which browsers answer on their own: ping
 * every `keepAlive` ms, and destroy the stream with SCUTTLEDB_IDLE_TIMEOUT when
 * nothing (pong or message) arrives for `idleTimeout` ms.
 */
function keepWebSocketAlive (ws: WebSocket, stream: Duplex, options: ConnectionOptions): void {
  const { keepAlive: every, idle } = checkConnectionOptions(options)
  const ping = every === false ? undefined : setInterval(() => { if (ws.readyState === WebSocket.OPEN) ws.ping() }, every)
  const dead = idle === false
    ? undefined
    : setTimeout(() => { stream.destroy(netError(netCodes.IDLE_TIMEOUT, `Nothing received from the peer for ${idle} ms`)) }, idle)
  ping?.unref()
  dead?.unref()
  const alive = (): void => { dead?.refresh() }
  ws.on('pong', alive)
  ws.on('ping', alive)
  ws.on('message', alive)
  ws.once('close', () => {
    clearInterval(ping)
    clearTimeout(dead)
    // Nothing can be sent any more. A stream whose output was stuck behind a peer that
    // did not read (ws terminates a ping flood) would otherwise wait for ever, unnoticed
    // (the idle timer is gone): once the end has gone through, close what is still open.
    setImmediate(() => {
      if (!stream.destroyed) stream.destroy(netError(netCodes.PEER_CLOSED, 'The WebSocket closed with output still unsent'))
    })
  })
}

/** What a `ws` Receiver holds of a message still arriving (internal fields of ws 8). */
interface ReceiverState {
  /** Bytes read from the socket and not yet parsed. */
  _bufferedBytes: number
  /** Bytes of the message's fragments received so far. */
  _messageLength: number
}

/**
 * Reserve in `account` what ws buffers of a message still arriving (up to
 * `maxPayload` per connection, before a stream sees any of it): sampled after
 * ws has read each socket chunk (this listener runs after its own). ws has no
 * public figure for it, so this reads its Receiver's counters, and does nothing
 * if a ws version lacks them. A refusal destroys `stream`.
 */
function accountReceiver (ws: WebSocket, socket: Duplex, account: BufferAccount, stream: Duplex): void {
  const receiver = (ws as unknown as { _receiver?: Partial<ReceiverState> })._receiver
  if (typeof receiver?._bufferedBytes !== 'number' || typeof receiver._messageLength !== 'number') return
  const state = receiver as ReceiverState
  let held = 0
  const sample = (): void => {
    const now = state._bufferedBytes + state._messageLength
    if (now === held) return
    try {
      if (now > held) account.reserve(now - held)
      else account.release(held - now)
      held = now
    } catch (err) {
      socket.off('data', sample)
      stream.destroy(err as Error)
    }
  }
  socket.on('data', sample)
  ws.once('close', () => { socket.off('data', sample) })
}

/** The remote address of an HTTP request, as host:port. */
function remoteOf (req: http.IncomingMessage): string {
  return hostPort(req.socket.remoteAddress ?? '?', req.socket.remotePort ?? 0)
}

/**
 * Listen for replication peers over WebSocket (WSS with `tls`), so browser and
 * Electron clients can replicate: each binary message carries stream bytes.
 * Plain HTTP requests are answered 426.
 */
export async function listenWebSocket (target: Target, options: WebSocketListenOptions = {}): Promise<ReplicationServer> {
  checkTarget(target)
  const { host = '127.0.0.1', tls: tlsOptions, path, maxPayload = DEFAULT_MAX_PAYLOAD } = options
  const port = checkPort(options.port ?? 0)
  const maxConnections = checkMaxConnections(options.maxConnections)
  const budget = bufferBudget(options)
  const transport = tlsOptions === undefined ? 'ws' : 'wss'
  const reply = (_req: http.IncomingMessage, res: http.ServerResponse): void => {
    res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket', connection: 'close' })
    res.end('This is a scuttledb WebSocket replication endpoint: connect with a WebSocket client.\n')
  }
  const handshakeMs = checkConnectionOptions(options).handshake
  const timeouts = httpTimeouts(handshakeMs || 0)
  // The TLS handshake gets handshakeTimeout too (Node's default is 2 minutes), as listen()'s does.
  const server = tlsOptions === undefined
    ? http.createServer(timeouts, reply)
    : https.createServer({ ...tlsOptions, ...timeouts, ...(handshakeMs === false ? {} : { handshakeTimeout: handshakeMs }) }, reply)
  const sockets = new Set<WebSocket>()
  // Refused before the upgrade, with a status the client can read; counted exactly,
  // since an accepted upgrade reaches 'connection' (and `sockets`) synchronously.
  const verifyClient = maxConnections === undefined
    ? undefined
    : (info: { req: http.IncomingMessage }, done: (ok: boolean, code?: number, message?: string, headers?: http.OutgoingHttpHeaders) => void): void => {
        if (sockets.size < maxConnections) {
          done(true)
          return
        }
        handle.emit('connectionError', tooManyConnections(maxConnections), remoteOf(info.req))
        done(false, 503, 'Too many connections', { [ERROR_HEADER]: netCodes.TOO_MANY_CONNECTIONS })
      }
  // Sockets that never upgrade must not pile up either (a hostile peer's).
  if (maxConnections !== undefined) server.maxConnections = 2 * maxConnections
  // After the bind: ws re-emits the server's errors (a port in use) on itself, which has no listener yet.
  const address = await bind(server, host, port)
  const wss = new WebSocketServer({ server, path, maxPayload, clientTracking: false, ...(verifyClient === undefined ? {} : { verifyClient }) })
  const url = `${transport}://${hostPort(host, address.port)}${path ?? '/'}`
  const handshaking = tlsOptions === undefined ? undefined : trackHandshakes(server as https.Server)
  const stop = async (): Promise<void> => {
    for (const ws of sockets) ws.terminate()
    handshaking?.destroy()
    const closed = new Promise((resolve) => { wss.close(() => { server.close(resolve) }) })
    server.closeAllConnections()
    await closed
  }
  const handle = new ReplicationServer(target, transport, { host, port: address.port, url }, options, budget, stop)
  wss.on('connection', (ws, req) => {
    sockets.add(ws)
    ws.once('close', () => sockets.delete(ws))
    const stream = createWebSocketStream(ws)
    keepWebSocketAlive(ws, stream, options)
    const account = handle._account(stream)
    accountReceiver(ws, req.socket, account, stream)
    handle._accept(stream, { remote: remoteOf(req), transport, transportKeepAlive: true }, account)
  })
  wss.on('wsClientError', (err, socket, req) => {
    handle.emit('connectionError', err, remoteOf(req))
    // end() only half-closes: a client that reads nothing never ends its side, and its socket stayed
    // (one of the port's maxConnections), so ws's own refusal is followed: destroyed once written.
    socket.once('finish', () => { socket.destroy() })
    socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n')
  })
  server.on('clientError', (err, socket) => {
    handle.emit('connectionError', err, hostPort((socket as { remoteAddress?: string }).remoteAddress ?? '?', (socket as { remotePort?: number }).remotePort ?? 0))
    socket.destroy()
  })
  server.on('tlsClientError', (err: Error, socket: Duplex) => {
    handle.emit('connectionError', err, hostPort((socket as { remoteAddress?: string }).remoteAddress ?? '?', (socket as { remotePort?: number }).remotePort ?? 0))
    // Node leaves the socket open once a listener hears of the error: close it.
    socket.destroy()
  })
  server.on('drop', (data?: { remoteAddress?: string, remotePort?: number }) => {
    handle.emit('connectionError', tooManyConnections(maxConnections ?? 0), hostPort(data?.remoteAddress ?? '?', data?.remotePort ?? 0))
  })
  wss.on('error', (err) => { handle.emit('serverError', err) })
  return handle
}

/**
 * Connect to a replication peer over WebSocket and stay connected, like
 * `connect()`: reconnects with capped exponential backoff and jitter.
 */
export function connectWebSocket (target: Target, options: WebSocketConnectOptions): ReplicationClient {
  const url = webSocketUrl(options)
  checkConnectionOptions(options)
  const { maxPayload = DEFAULT_MAX_PAYLOAD, tls: tlsOptions = {} } = options
  const connectTimeout = connectTimeoutOption(options.connectTimeout)
  const transport = url.protocol === 'wss:' ? 'wss' : 'ws'
  const remote = url.host
  const dial = async (signal: AbortSignal): Promise<{ socket: Duplex, peer: { remote: string, transport: string, transportKeepAlive: boolean } }> => {
    const ws = new WebSocket(url, { maxPayload, ...tlsOptions })
    // terminate() before the upgrade completes emits 'error' a tick later, after the attempt stopped listening.
    sinkErrors(ws)
    const stream = await opening(ws, {
      signal,
      ready: 'open',
      // Wrap at once: the peer's first message may be in the same packet as the upgrade
      // and is emitted before a promise continuation would run.
      onReady: () => createWebSocketStream(ws),
      failures: {
        'unexpected-response': (_req: http.ClientRequest, res: http.IncomingMessage) => upgradeRefused(url, res)
      },
      timeout: { ms: connectTimeout, error: () => netError(netCodes.CONNECT_TIMEOUT, `No WebSocket connection to ${url.href} within ${connectTimeout} ms`) },
      abandon: () => { ws.terminate() }
    })
    sinkErrors(stream)
    keepWebSocketAlive(ws, stream, options)
    return { socket: stream, peer: { remote, transport, transportKeepAlive: true } }
  }
  return new ReplicationClient(target, dial, options)
}
