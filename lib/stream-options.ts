import type { BufferAccount } from './buffer-budget.js'
import type { WrapperName } from './codec.js'
import { invalidValue } from './errors.js'
import { pack, unpack } from './msgpack.js'
import { MAX_DEPTH, holdsBinary, valueProblem } from './value-domain.js'

/** Options of `createStream()`. */
export interface StreamOptions {
  /** Send updates to the peer. Default true. */
  readable?: boolean
  /** Accept updates from the peer; when false they are ignored. Default true. */
  writable?: boolean
  /**
   * Send the header even when not readable, so the peer sends only what this side
   * lacks; on a readable, non-writable stream, wait for the peer's header instead
   * of sending everything. Default false.
   */
  sendClock?: boolean
  /**
   * Keep streaming live updates after SYNC. Default true; false ends the output
   * after SYNC (a side that sends nothing: once it has the peer's whole history).
   */
  tail?: boolean
  /**
   * A value of the value domain (no binary on a JSON stream), sent in the header;
   * the peer sees it in its `header` event. Anything else is a TypeError coded
   * SCUTTLEDB_INVALID_VALUE at the call.
   */
  meta?: unknown
  /** The largest frame accepted from the peer, checked before it is buffered. Default 16 MiB. */
  maxFrameBytes?: number
  /** A name for logs and debugging. */
  name?: string
  /**
   * The wire encoding: `'msgpack'` (default, length-prefixed msgpack frames) or
   * `'json'` (the original scuttlebutt's newline JSON, to replicate with it).
   */
  wrapper?: WrapperName
  /**
   * Reserve the bytes of a partial frame in this account (one connection's share
   * of a `BufferBudget`) before keeping them; a refusal closes the stream with
   * SCUTTLEDB_OVERLOADED. Listeners give each connection one (`maxBufferedBytes`).
   */
  bufferAccount?: BufferAccount
}

/** Progress of the initial exchange, emitted as `progress` on the stream. */
export interface SyncProgress {
  /** Updates sent to the peer so far. */
  sent: number
  /** Updates received from the peer so far. */
  received: number
  /** True once this side has sent its whole history (and SYNC). */
  syncSent: boolean
  /** True once the peer's whole history has been received and settled. */
  syncReceived: boolean
  /**
   * How far the peer is behind this side, as far as this stream knows (its
   * header, what it sent, what was sent to it): the number of sources of which
   * this side holds a newer update than the peer is known to hold, and the
   * largest such gap in ms (sources the peer knows nothing of count in `sources`
   * only). 0 and 0 when the peer has everything. For metrics (sync lag).
   */
  behind: { sources: number, ms: number }
}

const BOOLEAN_OPTIONS = ['readable', 'writable', 'sendClock', 'tail'] as const

/**
 * Throw a TypeError naming the option when `options` is not a StreamOptions
 * object (`wrapper` and `maxFrameBytes` are checked by the stream itself).
 */
export function checkStreamOptions (options: unknown): asserts options is StreamOptions {
  if (options === null || typeof options !== 'object') throw new TypeError('Stream options must be an object')
  const given = options as Record<string, unknown>
  for (const name of BOOLEAN_OPTIONS) {
    if (given[name] !== undefined && typeof given[name] !== 'boolean') throw new TypeError(`Stream option ${name} must be a boolean`)
  }
  if (given.name !== undefined && typeof given.name !== 'string') throw new TypeError('Stream option name must be a string')
  // The header carries meta as it carries a change: what the wire cannot carry exactly
  // would reach the peer as something else (a Date as a string, a BigInt as a number, a function not at all).
  if (given.meta !== undefined) {
    const problem = valueProblem(given.meta)
    if (problem !== undefined) throw invalidValue(`Stream option meta may not hold ${problem}`)
    if (given.wrapper === 'json' && holdsBinary(given.meta)) throw invalidValue('Stream option meta holds binary, which a JSON stream cannot carry')
  }
  checkBufferAccount(given.bufferAccount)
}

/** Throw a TypeError unless `account` is undefined or a BufferAccount (both stream kinds take one). */
export function checkBufferAccount (account: unknown): void {
  // By shape, not instanceof: a listener and a model from two copies of the package must still work together.
  const given = account as Partial<BufferAccount> | null | undefined
  if (given !== undefined && (typeof given?.reserve !== 'function' || typeof given.release !== 'function')) {
    throw new TypeError('Stream option bufferAccount must be a BufferAccount (BufferBudget#open())')
  }
}

/**
 * The `meta` a header carries: read once, as the bytes it encodes to, and checked again as
 * decoded (as a local change is): a getter or a Proxy may give the encoder another value
 * than `checkStreamOptions` saw (NaN, undefined, a Date, a BigInt msgpackr cannot encode).
 */
export function snapshotMeta (meta: unknown, json: boolean): unknown {
  let copy: unknown
  try {
    copy = unpack(pack(meta))
  } catch {
    throw invalidValue('Stream option meta cannot be encoded (it changed after it was checked)')
  }
  const problem = valueProblem(copy, MAX_DEPTH, true)
  if (problem !== undefined) throw invalidValue(`Stream option meta may not hold ${problem} (it changed while it was encoded)`)
  if (json && holdsBinary(copy)) throw invalidValue('Stream option meta holds binary, which a JSON stream cannot carry (it changed while it was encoded)')
  return copy
}
