import net from 'node:net'
import tls from 'node:tls'
import { opening, sinkErrors } from './dial.js'
import { netCodes, netError } from './errors.js'
import { checkConnectionOptions, type ConnectionOptions } from './connection.js'
import { connectTimeoutOption } from './keepalive.js'
import { ReplicationClient, type ReconnectOptions } from './reconnect.js'
import { bufferBudget, ReplicationServer } from './server.js'
import { checkTarget, type Target } from './target.js'

/** TLS material (PEM strings or buffers). A server needs cert and key; a client usually ca. */
export interface TlsOptions {
  cert?: string | Buffer
  key?: string | Buffer
  /** Certificates to trust instead of the system's (e.g. a self-signed server's). */
  ca?: string | Buffer | Array<string | Buffer>
  /** Server: ask for and verify a client certificate. Client: verify the server. Default: server false, client true. */
  requestCert?: boolean
  /** Refuse peers whose certificate does not verify. Default true. */
  rejectUnauthorized?: boolean
  /** Client: the name to verify the server certificate against. Default: host. */
  servername?: string
}

/** Options of `listen()`. */
export interface ListenOptions extends ConnectionOptions {
  /** Default 0 (any free port; see `server.address.port`). */
  port?: number
  /** Default '127.0.0.1': only this machine can connect unless you say otherwise. */
  host?: string
  /** Serve TLS with this certificate. */
  tls?: TlsOptions
  /**
   * Accept at most this many connections at once; past it a new one is closed
   * at once and reported as `connectionError` (SCUTTLEDB_TOO_MANY_CONNECTIONS).
   * A positive integer. Default: no limit.
   */
  maxConnections?: number
  /**
   * Bytes of partial frames all connections may hold together; past it the
   * connection that would hold the most is closed (SCUTTLEDB_OVERLOADED) and the
   * others go on. At least one frame of `stream.maxFrameBytes` (and its 4-byte
   * length). Default DEFAULT_MAX_BUFFERED_BYTES (128 MiB).
   */
  maxBufferedBytes?: number
}

/** Options of `connect()`. */
export interface ConnectOptions extends ConnectionOptions, ReconnectOptions {
  port: number
  /** Default '127.0.0.1'. */
  host?: string
  /** Connect with TLS (true: the system's trusted CAs). */
  tls?: TlsOptions | boolean
  /** Ms allowed for the TCP (and TLS) connection to open. Default 10000. */
  connectTimeout?: number
}

/** Check a port number; a caller's mistake is a coded BAD_ADDRESS error. */
export function checkPort (port: unknown, name = 'port'): number {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw netError(netCodes.BAD_ADDRESS, `${name} must be an integer from 0 to 65535, not ${String(port)}`)
  }
  return port
}

/** Check a `maxConnections` option: undefined (no limit) or a positive integer. */
export function checkMaxConnections (value: unknown): number | undefined {
  if (value === undefined) return undefined
  // Node takes 0 as "no limit": a caller who wrote 0 meant something else.
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw new TypeError(`maxConnections must be a positive integer, not ${String(value)}`)
  return value
}

/** The error a listener reports for a connection it refused at its `maxConnections`. */
export function tooManyConnections (max: number): Error {
  return netError(netCodes.TOO_MANY_CONNECTIONS, `Refused a connection: ${max} are open (maxConnections)`)
}

/** Turn a bind failure into a coded error that says what to do. */
export function bindError (err: NodeJS.ErrnoException, host: string, port: number): Error {
  if (err.code === 'EADDRINUSE') return netError(netCodes.ADDRESS_IN_USE, `Port ${port} on ${host} is already in use`, err)
  if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN' || err.code === 'EACCES') {
    return netError(netCodes.BAD_ADDRESS, `Cannot listen on ${host}:${port} (${err.code})`, err)
  }
  return err
}

/** Bind a net or tls server; rejects with a coded error. Leaves no listener behind. */
export async function bind (server: net.Server, host: string, port: number): Promise<net.AddressInfo> {
  await new Promise<void>((resolve, reject) => {
    const onListening = (): void => {
      server.off('error', onError)
      resolve()
    }
    const onError = (err: NodeJS.ErrnoException): void => {
      server.off('listening', onListening)
      reject(bindError(err, host, port))
    }
    server.once('listening', onListening)
    server.once('error', onError)
    server.listen(port, host)
  })
  return server.address() as net.AddressInfo
}

/** `host:port`, with brackets for IPv6. */
export function hostPort (host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}

/**
 * Track a TLS server's raw sockets until their handshake completes, so that
 * closing the server can drop the ones still handshaking (Node waits for them,
 * up to two minutes) with `destroy()`. Only those: destroying the raw socket of
 * a TLS socket that is destroyed as well (its Connection closing) crashes Node
 * 20 (a segfault in TLSWrap); once secure, the TLS socket is the owner's to
 * destroy. Raw and TLS socket are matched by remote address, which they share.
 */
export function trackHandshakes (server: tls.Server): { destroy: () => void } {
  const handshaking = new Map<string, net.Socket>()
  const keyOf = (socket: net.Socket): string => `${socket.remoteAddress ?? '?'}|${socket.remotePort ?? 0}`
  server.on('connection', (socket: net.Socket) => {
    const key = keyOf(socket)
    handshaking.set(key, socket)
    socket.once('close', () => { if (handshaking.get(key) === socket) handshaking.delete(key) })
  })
  server.on('secureConnection', (socket: tls.TLSSocket) => { handshaking.delete(keyOf(socket)) })
  return {
    destroy: () => {
      for (const socket of handshaking.values()) socket.destroy()
      handshaking.clear()
    }
  }
}

/**
 * Listen for replication peers over TCP (or TLS with `tls`): one replication
 * stream per connection (or, for `{ docs }`, one multiplexed set), wired with
 * `pipeline`; errors on either side destroy both.
 */
export async function listen (target: Target, options: ListenOptions = {}): Promise<ReplicationServer> {
  checkTarget(target)
  const { host = '127.0.0.1', tls: tlsOptions } = options
  const port = checkPort(options.port ?? 0)
  const maxConnections = checkMaxConnections(options.maxConnections)
  const budget = bufferBudget(options)
  const { keepAlive, handshake } = checkConnectionOptions(options)
  // Half-open: a peer's end must not cut our history short; the stream ends our side.
  // A TLS client that gives up mid-handshake (it does not trust the certificate) is not noticed
  // half-open: Node's handshake timeout (default 2 min) reports it, so it gets ours, and the
  // tlsClientError listener below closes the socket (Node does not once there is a listener).
  const server: net.Server = tlsOptions === undefined
    ? net.createServer({ allowHalfOpen: true, noDelay: true, keepAlive: keepAlive !== false, keepAliveInitialDelay: keepAlive === false ? 0 : keepAlive })
    : tls.createServer({ ...tlsOptions, allowHalfOpen: true, ...(handshake === false ? {} : { handshakeTimeout: handshake }) })
  if (maxConnections !== undefined) server.maxConnections = maxConnections
  const address = await bind(server, host, port)
  const transport = tlsOptions === undefined ? 'tcp' : 'tls'
  const handshaking = tlsOptions === undefined ? undefined : trackHandshakes(server as tls.Server)
  const stop = async (): Promise<void> => {
    const closed = new Promise((resolve) => server.close(resolve))
    handshaking?.destroy()
    await closed
  }
  const handle = new ReplicationServer(target, transport, { host, port: address.port, url: `${transport}://${hostPort(host, address.port)}` }, options, budget, stop)
  server.on(tlsOptions === undefined ? 'connection' : 'secureConnection', (socket: net.Socket) => {
    if (tlsOptions !== undefined && keepAlive !== false) socket.setKeepAlive(true, keepAlive)
    handle._accept(socket, { remote: hostPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0), transport })
  })
  server.on('tlsClientError', (err: Error, socket: tls.TLSSocket) => {
    handle.emit('connectionError', err, hostPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0))
    // Node leaves the socket open once a listener hears of the error (a handshake timeout
    // included): a peer that stalls its handshake would hold the socket (and a
    // maxConnections slot) for ever.
    socket.destroy()
  })
  // Node closes a socket past maxConnections before anything else sees it: say so.
  server.on('drop', (data?: { remoteAddress?: string, remotePort?: number }) => {
    handle.emit('connectionError', tooManyConnections(maxConnections ?? 0), hostPort(data?.remoteAddress ?? '?', data?.remotePort ?? 0))
  })
  server.on('error', (err) => { handle.emit('serverError', err) })
  return handle
}

/**
 * Connect to a replication peer over TCP (or TLS), and stay connected: after a
 * failure or a close it dials again with capped exponential backoff and jitter.
 * Returns at once; watch `state` and the events.
 */
export function connect (target: Target, options: ConnectOptions): ReplicationClient {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object with a port')
  const port = checkPort(options.port)
  const { host = '127.0.0.1' } = options
  const connectTimeout = connectTimeoutOption(options.connectTimeout)
  const { keepAlive } = checkConnectionOptions(options)
  const tlsOptions = options.tls === true ? {} : options.tls === false ? undefined : options.tls
  const transport = tlsOptions === undefined ? 'tcp' : 'tls'
  const dial = async (signal: AbortSignal): Promise<{ socket: net.Socket, peer: { remote: string, transport: string } }> => {
    const socket = tlsOptions === undefined
      ? net.connect({ port, host, allowHalfOpen: true, noDelay: true })
      : tls.connect({ port, host, servername: net.isIP(host) === 0 ? host : undefined, ...tlsOptions })
    sinkErrors(socket)
    await opening(socket, {
      signal,
      ready: tlsOptions === undefined ? 'connect' : 'secureConnect',
      onReady: () => undefined,
      timeout: { ms: connectTimeout, error: () => netError(netCodes.CONNECT_TIMEOUT, `No connection to ${hostPort(host, port)} within ${connectTimeout} ms`) },
      abandon: () => { socket.destroy() }
    })
    if (keepAlive !== false) socket.setKeepAlive(true, keepAlive)
    return { socket, peer: { remote: hostPort(host, port), transport } }
  }
  return new ReplicationClient(target, dial, options)
}
