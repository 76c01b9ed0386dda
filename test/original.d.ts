// Types for the parts of the original scuttlebutt@5.6.15 (model.js, events.js) and
// r-value@1.1.5 that test/compat.test.ts uses. Both are untyped CommonJS packages,
// loaded there with createRequire. Only what was read in their source.
import type { EventEmitter } from 'node:events'

/** `[change, ts, source, signature?]` as the original holds and sends it. */
export type OriginalUpdate = [change: unknown, ts: number, source: string, signature?: unknown]

export interface OriginalStreamOptions {
  readable?: boolean
  writable?: boolean
  sendClock?: boolean
  tail?: boolean
  meta?: unknown
  name?: string
}

/** A classic (streams1) duplex of newline JSON: `socket.pipe(s).pipe(socket)`. */
export type OriginalStream = NodeJS.ReadWriteStream

/** What every original data type has (scuttlebutt/index.js). */
export interface OriginalScuttlebutt extends EventEmitter {
  id: string
  /** The vector clock: source -> latest timestamp. */
  sources: Record<string, number>
  createStream (opts?: OriginalStreamOptions): OriginalStream
  history (sources?: Record<string, number>): OriginalUpdate[]
  dispose (): void
}

/** scuttlebutt/model.js */
export interface OriginalModel extends OriginalScuttlebutt {
  store: Record<string, OriginalUpdate>
  set (key: string, value: unknown): this
  get (key: string): unknown
  keys (): string[]
  toJSON (): Record<string, unknown>
}

/** scuttlebutt/events.js: `emit(event, ...args)` records and replicates; `on` hears it. */
export type OriginalEvents = OriginalScuttlebutt

/** r-value: one replicated value. */
export interface OriginalValue extends OriginalScuttlebutt {
  set (value: unknown): this
  get (): unknown
}

/** The packages' constructors (each also works without `new`). */
export type OriginalConstructor<T> = new (id?: string) => T
