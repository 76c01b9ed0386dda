import ModuleError from 'module-error'

/** Stable error codes. Each has a heading in the README; tests assert on them. */
export const codes = {
  /** The instance is not open (or is closing) and the call needs storage. */
  NOT_OPEN: 'SCUTTLEDB_NOT_OPEN',
  /** The stored id differs from the `id` passed to the constructor. */
  ID_MISMATCH: 'SCUTTLEDB_ID_MISMATCH',
  /** The database was written by a newer, unknown storage format. */
  UNSUPPORTED_FORMAT: 'SCUTTLEDB_UNSUPPORTED_FORMAT',
  /** A frame from a peer could not be decoded. */
  INVALID_FRAME: 'SCUTTLEDB_INVALID_FRAME',
  /** A frame is larger than `maxFrameBytes`. */
  FRAME_TOO_LARGE: 'SCUTTLEDB_FRAME_TOO_LARGE',
  /** A decoded message has the wrong shape or a wrong-typed field. */
  INVALID_MESSAGE: 'SCUTTLEDB_INVALID_MESSAGE',
  /** The peer sent a second header on one stream. */
  DUPLICATE_HEADER: 'SCUTTLEDB_DUPLICATE_HEADER',
  /** The peer sent an update or SYNC before its header. */
  HEADER_EXPECTED: 'SCUTTLEDB_HEADER_EXPECTED',
  /** An update's timestamp is further ahead of the local clock than `maxClockSkew`. */
  CLOCK_SKEW: 'SCUTTLEDB_CLOCK_SKEW',
  /** An update failed verification by the security backend. */
  UNVERIFIED: 'SCUTTLEDB_UNVERIFIED',
  /** A value outside the value domain (see README): refused at the call, or found stored by an older version. */
  INVALID_VALUE: 'SCUTTLEDB_INVALID_VALUE',
  /** A stored update this stream's wire format cannot carry (binary on a JSON stream); skipped on that stream. */
  UNSENDABLE: 'SCUTTLEDB_UNSENDABLE',
  /** `destroy(path)` was given a directory that is not a LevelDB database. */
  NOT_A_DATABASE: 'SCUTTLEDB_NOT_A_DATABASE',
  /** `open()` was given a database another open instance uses, or `destroy(path)` one that is open. */
  DATABASE_LOCKED: 'SCUTTLEDB_DATABASE_LOCKED',
  /**
   * A peer's clock is behind a delete this node has forgotten (`tombstoneTTL`):
   * it may still hold a value that delete removed, so its stream is refused.
   */
  STALE_PEER: 'SCUTTLEDB_STALE_PEER',
  /**
   * This node's clock is behind a delete the peer has forgotten: it may hold
   * values the peer deleted and cannot replicate with it; rebuild it from a peer
   * (a new, empty database syncs from any node).
   */
  STALE: 'SCUTTLEDB_STALE',
  /**
   * A peer's update is older than a delete this node has forgotten
   * (`tombstoneTTL`): that delete may have removed it, so it is refused (not
   * stored, not forwarded); the stream goes on.
   */
  STALE_UPDATE: 'SCUTTLEDB_STALE_UPDATE',
  /** A commit failed and it is not yet known whether it reached storage. */
  COMMIT_UNCERTAIN: 'SCUTTLEDB_COMMIT_UNCERTAIN',
  /** A collection has no data type registered under that name. */
  UNKNOWN_TYPE: 'SCUTTLEDB_UNKNOWN_TYPE',
  /** A collection's document exists with another data type than the one asked for (or the peer's). */
  TYPE_MISMATCH: 'SCUTTLEDB_TYPE_MISMATCH',
  /** A peer sent updates for a document it may not write (or see); its collection stream was closed. */
  ACCESS_DENIED: 'SCUTTLEDB_ACCESS_DENIED',
  /** A collection's document could not be opened for a peer's updates, or closed when idle (its options or its store failed); the cause says why. */
  DOCUMENT_FAILED: 'SCUTTLEDB_DOCUMENT_FAILED',
  /**
   * A listener's connections together hold `maxBufferedBytes` of partial frames:
   * the connection that would take the most was closed, keeping nothing of its unfinished frame.
   * Also a collection stream whose peer announced documents past `maxPeerEntryBytes`.
   */
  OVERLOADED: 'SCUTTLEDB_OVERLOADED'
} as const

/** One of the stable error codes. */
export type ErrorCode = (typeof codes)[keyof typeof codes]

/**
 * An error with a stable `code`, the type every coded scuttledb error has
 * (modules with their own codes, such as security and net, subclass it).
 */
export class ScuttledbError<C extends string = ErrorCode> extends ModuleError {
  declare code: C
  /** The update the error is about, when there is one. */
  update?: unknown

  constructor (message: string, code: C, options: { cause?: Error, update?: unknown } = {}) {
    super(message, { code, cause: options.cause })
    this.name = 'ScuttledbError'
    if (options.update !== undefined) this.update = options.update
  }
}

/** Create a coded error (a factory keeps call sites short). */
export function error (code: ErrorCode, message: string, options?: { cause?: Error, update?: unknown }): ScuttledbError {
  return new ScuttledbError(message, code, options)
}

/** A caller's mistake about a value: a plain TypeError, with a stable code. */
export function invalidValue (message: string): TypeError & { code: typeof codes.INVALID_VALUE } {
  const err = new TypeError(message) as TypeError & { code: typeof codes.INVALID_VALUE }
  err.code = codes.INVALID_VALUE
  return err
}
