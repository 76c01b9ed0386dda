// Types for the parts of the original scuttlebutt@5.6.15 (CommonJS, untyped) that the
// benchmarks use. Only what was read in its source; not a complete description.
declare module 'scuttlebutt/model.js' {
  import { EventEmitter } from 'node:events'
  import { Stream } from 'node:stream'

  /** [[key, value], ts, source, signature?] as the original Model stores it. */
  export type OriginalUpdate = [change: [string, unknown], ts: number, source: string, signature?: string]

  export interface OriginalStreamOptions {
    readable?: boolean
    writable?: boolean
    sendClock?: boolean
    tail?: boolean
    meta?: unknown
    name?: string
    /** 'json' (newline JSON, the default) or 'raw' (objects, in-process only). */
    wrapper?: 'json' | 'raw'
  }

  /** A classic (streams1) duplex: pipe() it into a socket and the socket back into it. */
  export interface OriginalStream extends Stream, NodeJS.WritableStream {
    readable: boolean
    writable: boolean
  }

  export default class Model extends EventEmitter {
    constructor (opts?: string | { id?: string })
    id: string
    sources: Record<string, number>
    store: Record<string, OriginalUpdate>
    set (key: string, value: unknown): this
    get (key: string): unknown
    keys (): string[]
    createStream (opts?: OriginalStreamOptions): OriginalStream
    dispose (): void
  }
}
