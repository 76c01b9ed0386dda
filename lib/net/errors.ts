import { ScuttledbError } from '../errors.js'

/**
 * Stable codes of the network layer and the command. They live here rather than
 * in lib/errors.ts so the core's list stays the core's (as security's do); each
 * follows the same SCUTTLEDB_* scheme and tests assert on them, never on messages.
 */
export const netCodes = {
  /** The `handshake` option rejected (the cause is its error); the connection was closed. */
  HANDSHAKE_FAILED: 'SCUTTLEDB_HANDSHAKE_FAILED',
  /** The handshake, or the peer's first message (header or mux hello), did not arrive in time. */
  HANDSHAKE_TIMEOUT: 'SCUTTLEDB_HANDSHAKE_TIMEOUT',
  /** Nothing was received from the peer within `idleTimeout`: it is presumed dead. */
  IDLE_TIMEOUT: 'SCUTTLEDB_IDLE_TIMEOUT',
  /** A TCP or WebSocket connection attempt did not complete within `connectTimeout`. */
  CONNECT_TIMEOUT: 'SCUTTLEDB_CONNECT_TIMEOUT',
  /** The connection or client was closed locally. */
  CLOSED: 'SCUTTLEDB_CLOSED',
  /** The peer ended the connection before the initial exchange finished (e.g. it refused this side). */
  PEER_CLOSED: 'SCUTTLEDB_PEER_CLOSED',
  /** A listener refused a connection: it already had `maxConnections` open. */
  TOO_MANY_CONNECTIONS: 'SCUTTLEDB_TOO_MANY_CONNECTIONS',
  /** The port is already in use (EADDRINUSE). */
  ADDRESS_IN_USE: 'SCUTTLEDB_ADDRESS_IN_USE',
  /** A host, port, URL or `host:port` is malformed or cannot be bound or resolved. */
  BAD_ADDRESS: 'SCUTTLEDB_BAD_ADDRESS',
  /** The database directory is locked by another process. */
  DATABASE_LOCKED: 'SCUTTLEDB_DATABASE_LOCKED',
  /** The peer broke the multiplexing protocol (bad hello, unknown frame, credit exceeded). */
  MUX_PROTOCOL: 'SCUTTLEDB_MUX_PROTOCOL',
  /** The peer asked for a document this side does not serve. */
  UNKNOWN_DOCUMENT: 'SCUTTLEDB_UNKNOWN_DOCUMENT',
  /** The peer reset one multiplexed document's channel (the other documents go on). */
  CHANNEL_RESET: 'SCUTTLEDB_CHANNEL_RESET',
  /** The command could not reach the node given by `--node`. */
  NODE_UNREACHABLE: 'SCUTTLEDB_NODE_UNREACHABLE',
  /** The command line is wrong (unknown command or option, missing argument). */
  USAGE: 'SCUTTLEDB_USAGE',
  /** A key (or route) does not exist. */
  NOT_FOUND: 'SCUTTLEDB_NOT_FOUND',
  /** An HTTP request is malformed (bad JSON, bad key, body too large). */
  BAD_REQUEST: 'SCUTTLEDB_BAD_REQUEST',
  /** The peer sent a malformed peer-exchange message, or does not speak peer exchange (an older node, a library listener). */
  PEX_PROTOCOL: 'SCUTTLEDB_PEX_PROTOCOL',
  /** A dialed address turned out to be this node itself. */
  PEX_SELF: 'SCUTTLEDB_PEX_SELF',
  /** A discovered peer is already connected to this node (the other connection is kept). */
  PEX_DUPLICATE: 'SCUTTLEDB_PEX_DUPLICATE'
} as const

/** One of the network layer's codes. */
export type NetErrorCode = (typeof netCodes)[keyof typeof netCodes]

/** An error with a stable network `code`; `instanceof ScuttledbError` holds too. */
export class NetError extends ScuttledbError<NetErrorCode> {
  constructor (message: string, code: NetErrorCode, options: { cause?: Error } = {}) {
    super(message, code, options)
    this.name = 'NetError'
  }
}

/** Create a coded network error. */
export function netError (code: NetErrorCode, message: string, cause?: unknown): NetError {
  return new NetError(message, code, cause instanceof Error ? { cause } : {})
}

/** The `code` of an error (or of its first coded cause), for logs; 'ERROR' when none. */
export function codeOf (err: unknown): string {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string') return code
  }
  return 'ERROR'
}

/** True when `err` or one of its causes has `code`. */
export function hasCode (err: unknown, code: string): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if ((e as { code?: unknown }).code === code) return true
  }
  return false
}
