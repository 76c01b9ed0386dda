import { resolve } from 'node:path'
import { hostPort } from '../net/tcp.js'
import { DEFAULT_MAX_BUFFERED_BYTES } from '../buffer-budget.js'
import { DEFAULT_MAX_FRAME_BYTES } from '../codec.js'
import { bytesArg, DEFAULT_HOST, DEFAULT_HTTP_PORT, DEFAULT_MAX_CONNECTIONS, DEFAULT_PORT, help, msArg, parse, parseHostPort, parsePeer, portOption, str, usageError } from './args.js'
import { DEFAULT_MAX_PEERS, DEFAULT_ROTATE_MS } from './discovery.js'
import { ScuttledbNode } from './node.js'
import { ProgressView } from './progress.js'
import { loadNodeKeys, loadTls, parseAllow, refuseSecretsUnder } from './security.js'
import { loadTokens } from './http-auth.js'

/** The least --max-buffered-bytes: one frame of the node's streams (default maxFrameBytes) and its length. */
const MIN_BUFFERED_BYTES = DEFAULT_MAX_FRAME_BYTES + 4

/** Where the command writes: stdout for addresses, stderr for logs and progress. */
export interface Terminal {
  stdout: NodeJS.WritableStream & { isTTY?: boolean }
  stderr: NodeJS.WritableStream & { isTTY?: boolean, columns?: number }
}

/** `scuttledb serve`: run a node until SIGINT/SIGTERM. Resolves with the exit status. */
export async function serve (args: string[], term: Terminal): Promise<number> {
  const { values, positionals } = parse(args, {
    db: { type: 'string' },
    host: { type: 'string' },
    port: { type: 'string' },
    ws: { type: 'string' },
    http: { type: 'string' },
    'http-host': { type: 'string' },
    'http-token-file': { type: 'string' },
    'http-open': { type: 'boolean' },
    'accept-restore': { type: 'boolean' },
    cors: { type: 'string', multiple: true },
    static: { type: 'string' },
    peer: { type: 'string', multiple: true },
    'max-peers': { type: 'string' },
    'max-connections': { type: 'string' },
    'max-buffered-bytes': { type: 'string' },
    advertise: { type: 'string' },
    'rotate-peers': { type: 'string' },
    sync: { type: 'boolean' },
    keepalive: { type: 'string' },
    'idle-timeout': { type: 'string' },
    'handshake-timeout': { type: 'string' },
    key: { type: 'string' },
    allow: { type: 'string', multiple: true },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'tls-ca': { type: 'string' }
  })
  if (values.help === true) {
    term.stdout.write(help.serve)
    return 0
  }
  if (positionals.length > 0) throw usageError(`serve takes no arguments (got "${positionals[0]}")`)
  const host = str(values, 'host') ?? DEFAULT_HOST
  if (host.length === 0) throw usageError('--host must not be empty')
  // Mistakes on the command line first, then the files it names.
  const keyFile = str(values, 'key')
  const allowed = values.allow as string[] | undefined
  if (allowed !== undefined && keyFile === undefined) throw usageError('--allow needs --key: peers prove their ids with keys, and only a node with a key can ask them to')
  const allow = allowed === undefined ? undefined : parseAllow(allowed)
  const [tlsCert, tlsKey, tlsCa] = [str(values, 'tls-cert'), str(values, 'tls-key'), str(values, 'tls-ca')]
  // Without a scheme, a peer is dialed over TLS when the node was given TLS options.
  const tlsDefault = tlsCert !== undefined || tlsCa !== undefined
  const peers = ((values.peer ?? []) as string[]).map((p) => parsePeer(p, tlsDefault))
  const port = portOption(str(values, 'port'), DEFAULT_PORT, 'port')
  const maxPeersText = str(values, 'max-peers')
  if (maxPeersText !== undefined && !/^\d{1,4}$/.test(maxPeersText)) throw usageError(`--max-peers must be a number from 0 to 9999, not "${maxPeersText}"`)
  const maxPeers = maxPeersText === undefined ? DEFAULT_MAX_PEERS : Number(maxPeersText)
  const maxConnectionsText = str(values, 'max-connections')
  if (maxConnectionsText !== undefined && !(/^\d{1,6}$/.test(maxConnectionsText) && Number(maxConnectionsText) >= 1)) {
    throw usageError(`--max-connections must be a number from 1 to 999999, not "${maxConnectionsText}"`)
  }
  const maxConnections = maxConnectionsText === undefined ? DEFAULT_MAX_CONNECTIONS : Number(maxConnectionsText)
  const maxBufferedBytes = bytesArg(str(values, 'max-buffered-bytes'), DEFAULT_MAX_BUFFERED_BYTES, 'max-buffered-bytes')
  if (maxBufferedBytes < MIN_BUFFERED_BYTES) {
    throw usageError(`--max-buffered-bytes must be at least ${MIN_BUFFERED_BYTES} (one frame of 16 MiB and its length), not "${str(values, 'max-buffered-bytes') ?? ''}"`)
  }
  const advertiseText = str(values, 'advertise')
  const advertise = advertiseText === undefined ? undefined : advertiseText === 'off' ? false : parseHostPort(advertiseText, '--advertise')
  const rotateText = str(values, 'rotate-peers')
  const rotatePeers = rotateText === 'off' ? false : msArg(rotateText, DEFAULT_ROTATE_MS, 'rotate-peers')
  const ws = portOption(str(values, 'ws'), false, 'ws')
  const httpPort = portOption(str(values, 'http'), DEFAULT_HTTP_PORT, 'http', true)
  const keepAlive = msArg(str(values, 'keepalive'), 15_000, 'keepalive')
  const idleTimeout = msArg(str(values, 'idle-timeout'), 45_000, 'idle-timeout')
  const handshakeTimeout = msArg(str(values, 'handshake-timeout'), 10_000, 'handshake-timeout')
  const httpHost = str(values, 'http-host') ?? host
  if (httpHost.length === 0) throw usageError('--http-host must not be empty')
  const tokenFile = str(values, 'http-token-file')
  if (tokenFile !== undefined && values['http-open'] === true) throw usageError('--http-token-file and --http-open contradict each other')
  const cors = ((values.cors ?? []) as string[]).flatMap((o) => o.split(',')).map((o) => o.trim()).filter((o) => o !== '')
  const httpTokens = tokenFile === undefined ? undefined : await loadTokens(tokenFile)
  const tlsFiles = await loadTls(tlsCert, tlsKey, tlsCa)
  const keys = keyFile === undefined ? undefined : await loadNodeKeys(keyFile)
  const staticDir = str(values, 'static')
  if (staticDir !== undefined) await refuseSecretsUnder(staticDir, [[keyFile, '--key'], [tokenFile, '--http-token-file'], [tlsKey, '--tls-key'], [str(values, 'db') ?? './data', '--db']])
  // A node that signs writes with its key, or restricts writers, must not let anyone who reaches its HTTP port write as it.
  if (httpPort !== false && tokenFile === undefined && values['http-open'] !== true && keys !== undefined) {
    throw usageError('A node with --key needs --http-token-file FILE (or --http-open to leave its HTTP API open, or --http off)')
  }
  const progress = new ProgressView(term.stderr)
  const log = (line: string): void => {
    progress.clear()
    term.stderr.write(`${new Date().toISOString()} ${line}\n`)
  }
  const node = await ScuttledbNode.start({
    db: str(values, 'db') ?? './data',
    host,
    port,
    ws,
    http: httpPort,
    httpHost,
    httpTokens,
    cors,
    static: str(values, 'static'),
    peers,
    maxPeers,
    advertise,
    rotatePeers,
    sync: values.sync === true,
    acceptRestore: values['accept-restore'] === true,
    keepAlive,
    idleTimeout,
    handshakeTimeout,
    maxConnections,
    maxBufferedBytes,
    keys,
    allow,
    tls: tlsFiles.server,
    ca: tlsFiles.ca,
    log,
    progress
  })
  const { replication, websocket, http } = node.addresses
  const lines = [`scuttledb node ${node.model.id}`, `  database     ${node.db}`]
  if (replication !== undefined) lines.push(`  replication  ${replication}`)
  if (websocket !== undefined) lines.push(`  websocket    ${websocket}`)
  if (http !== undefined) lines.push(`  http         ${http}`)
  if (http !== undefined && values.static !== undefined) lines.push(`  static       ${resolve(values.static as string)} (served at ${http}/)`)
  if (http !== undefined && tokenFile !== undefined) lines.push(`  http tokens  ${resolve(tokenFile)} (every request needs one)`)
  if (peers.length > 0) lines.push(`  peers        ${peers.map((p) => `${p.tls ? 'tls' : 'tcp'}://${hostPort(p.host, p.port)}`).join(', ')}`)
  if (keys !== undefined && keyFile !== undefined) {
    lines.push(`  key          ${resolve(keyFile)} (${keys.type}: signs writes; verifies updates; peers prove their ids)`)
    lines.push(`  allow        ${allow === undefined ? 'any peer that proves an id' : allow.join(', ')}`)
  }
  term.stdout.write(lines.join('\n') + '\nready\n')

  return await new Promise<number>((resolve) => {
    let stopping = false
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        // A second signal: the user wants out now. Acknowledged writes are already committed.
        log(`${signal} again: exiting at once`)
        process.exit(signal === 'SIGINT' ? 130 : 143)
      }
      stopping = true
      log(`${signal}: shutting down (again to exit at once)`)
      node.stop().then(() => {
        log('stopped')
        resolve(0)
      }, (err: unknown) => {
        log(`shutdown failed: ${(err as Error).message}`)
        resolve(1)
      })
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  })
}
