import { Duplex } from 'node:stream'
import { codes, error, ScuttledbError } from './errors.js'
import { DEFAULT_MAX_FRAME_BYTES, codecs, type Codec, type Decoder, type WrapperName } from './codec.js'
import type { HistoryCursor } from './history.js'
import { SYNC, isNewer, parseControl, parseUpdate, withinDepth, type Clock, type Header, type Update } from './protocol.js'

/** @internal What a stream needs of its Scuttlebutt instance. */
export interface Replicator {
  readonly id: string
  _clockCopy: () => Clock
  _cursor: (known: Clock) => HistoryCursor
  _validChange: (change: unknown) => boolean
  _receive: (update: Update, bytes: Buffer | undefined, origin: ReplicationStream, done: (err: Error | null, update?: Update, rejected?: boolean) => void) => void
  _room: () => Promise<void> | undefined
  _peerClaims: (clock: Clock) => void
  _unsendable: (err: ScuttledbError) => void
  _reject: (err: ScuttledbError) => void
  _unstream: (stream: ReplicationStream) => void
}

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
  /** Keep streaming live updates after SYNC. Default true; false ends the output after SYNC. */
  tail?: boolean
  /** Any value, sent in the header; the peer sees it in its `header` event. */
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
}

/** Progress of the initial exchange, emitted as `progress` on the stream. */
export interface SyncProgress {
  /** Updates sent to the peer so far. */
  sent: number
  /** Updates received from the peer so far. */
  received: number
  /** True once this side has sent its whole history (and SYNC). */
  syncSent: boolean
  /** True once the peer's whole history has been received and committed. */
  syncReceived: boolean
}

/** Emit `progress` every this many updates during the initial exchange. */
const PROGRESS_EVERY = 1000
/** Live updates queued for a slow peer before falling back to a scan of storage. */
const LIVE_QUEUE_LIMIT = 4096
/** Updates (or bytes, whichever comes first) encoded into one pushed chunk while sending history. */
const CHUNK_UPDATES = 256
const CHUNK_BYTES = 64 * 1024
/** Bytes of live updates queued for a slow peer before falling back to a scan of storage. */
const LIVE_QUEUE_BYTES = 4 * 1024 * 1024

type Phase = 'waiting' | 'history' | 'live' | 'done'

/**
 * One replication connection. Writes bytes from the peer into it and pipe its
 * output to the peer: `pipeline(stream, socket, stream, cb)`. History is read
 * from storage only as fast as the peer drains the stream.
 */
export class ReplicationStream extends Duplex {
  /** The options the stream was created with. */
  readonly options: Readonly<StreamOptions>
  readonly #sb: Replicator
  readonly #codec: Codec
  readonly #decoder: Decoder
  readonly #sends: boolean
  readonly #accepts: boolean
  readonly #tail: boolean
  /** What the peer holds, as far as this side knows: its header, what it sent, what we sent. */
  #known: Clock = new Map()
  #peer: Header | undefined
  #peerClock: Clock = new Map()
  #phase: Phase = 'waiting'
  #cursor: HistoryCursor | undefined
  #scanning = false
  #rescan = false
  #live: Array<[Update, Buffer]> = []
  #liveBytes = 0
  #overflow = false
  #wantsData = false
  #syncSent: boolean
  #syncReceived: boolean
  #syncReceivedPending = false
  #hadRejection = false
  #endAfterHistory = false
  #ignoreInput = false
  #synced = false
  #inflight = 0
  #sent = 0
  #received = 0
  #settled = 0
  #closed: Promise<void>

  /** @internal Use `Scuttlebutt#createStream()`. */
  constructor (sb: Replicator, options: StreamOptions = {}) {
    super({ allowHalfOpen: true, readableHighWaterMark: 64 * 1024, writableHighWaterMark: 64 * 1024 })
    this.options = options
    this.#sb = sb
    // pipeline(s, socket, s) alone puts ten 'close' listeners on a stream; leave room for the user's.
    this.setMaxListeners(32)
    const wrapper = options.wrapper ?? 'msgpack'
    if (!Object.hasOwn(codecs, wrapper)) throw new TypeError(`Unknown wrapper ${String(wrapper)}: use 'msgpack' or 'json'`)
    this.#codec = codecs[wrapper]
    const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
    if (!(Number.isInteger(maxFrameBytes) && maxFrameBytes > 0)) throw new TypeError('maxFrameBytes must be a positive integer')
    this.#decoder = this.#codec.decoder(maxFrameBytes)
    this.#sends = options.readable !== false
    this.#accepts = options.writable !== false
    this.#tail = options.tail !== false
    this.#syncSent = !this.#sends
    this.#syncReceived = !this.#accepts
    this.#closed = new Promise((resolve) => this.once('close', resolve))
    this.once('close', () => { this.#cleanup() })

    if (this.#sends || options.sendClock === true) {
      const header: Header = { id: sb.id, clock: Object.fromEntries(sb._clockCopy()) }
      if (options.meta !== undefined) header.meta = options.meta
      this.push(this.#codec.encode(header))
    }
    // A side that does not send keeps its output open (the peer would read an early
    // end as "end yours too"); it ends when the peer ends or the stream is disposed.
    if (this.#sends && !this.#accepts && options.sendClock !== true) {
      // A read-only stream with no clock to wait for sends everything (original behaviour).
      this.#startHistory()
    }
  }

  /** The peer's header, once received. */
  get peer (): Header | undefined {
    return this.#peer
  }

  /** Progress of the initial exchange. */
  get progress (): SyncProgress {
    return { sent: this.#sent, received: this.#received, syncSent: this.#syncSent, syncReceived: this.#syncReceived }
  }

  /** @internal Resolves once the stream has closed. */
  async _closed (): Promise<void> {
    await this.#closed
  }

  override _write (chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    if (this.destroyed) {
      callback()
      return
    }
    try {
      this.#decoder.write(chunk, (value, bytes) => { this.#onValue(value, bytes) })
    } catch (err) {
      this.#fail(err instanceof ScuttledbError ? err : error(codes.INVALID_MESSAGE, 'Invalid message', { cause: err as Error }))
      callback()
      return
    }
    // Backpressure from storage: do not take more input until the commit queue has room.
    const room = this.#sb._room()
    if (room === undefined) callback()
    else void room.then(() => { callback() })
  }

  override _final (callback: (err?: Error | null) => void): void {
    try {
      this.#decoder.end()
    } catch (err) {
      this.#fail(err as ScuttledbError)
      callback()
      return
    }
    // The peer ended its side: end ours (the original's rule).
    this.#endWhenSynced()
    callback()
  }

  override _read (): void {
    this.#wantsData = true
    if (this.#phase === 'history' || this.#rescan) {
      void this.#pumpHistory()
    } else if (this.#phase === 'live') {
      this.#flushLive()
    }
  }

  override _destroy (err: Error | null, callback: (err?: Error | null) => void): void {
    this.#phase = 'done'
    const cursor = this.#cursor
    this.#cursor = undefined
    if (cursor === undefined) {
      callback(err)
      return
    }
    cursor.close().then(() => { callback(err) }, () => { callback(err) })
  }

  #onValue (value: unknown, bytes: Buffer | undefined): void {
    if (this.destroyed || this.#ignoreInput) return
    // Updates are nearly all the traffic: check them without a message wrapper.
    if (Array.isArray(value)) {
      this.#onUpdate(parseUpdate(value), bytes)
      return
    }
    const message = parseControl(value)
    if (message.type === 'header') {
      if (this.#peer !== undefined) throw error(codes.DUPLICATE_HEADER, 'The peer sent a second header')
      this.#peer = message.header
      this.#peerClock = message.clock
      this.#sb._peerClaims(message.clock)
      // Never lower what is known: a re-read after an overflow must stay in per-source order.
      for (const [source, ts] of message.clock) if (isNewer(ts, source, this.#known)) this.#known.set(source, ts)
      this.emit('header', message.header)
      if (this.#sends && this.#phase === 'waiting') this.#startHistory()
      return
    }
    if (this.#peer === undefined && this.#accepts) {
      throw error(codes.HEADER_EXPECTED, 'The peer must send its header first')
    }
    // SYNC. A read-only original may send its history and SYNC twice: later ones mean nothing.
    if (this.#syncReceived || this.#syncReceivedPending) return
    this.#syncReceivedPending = true
    if (this.#inflight === 0) this.#markSyncReceived()
  }

  #onUpdate (update: Update, bytes: Buffer | undefined): void {
    if (this.#peer === undefined && this.#accepts) {
      throw error(codes.HEADER_EXPECTED, 'The peer must send its header first')
    }
    if (!this.#accepts) return
    if (!withinDepth(update[0]) || !this.#sb._validChange(update[0])) {
      throw error(codes.INVALID_MESSAGE, 'Invalid change for this data type', { update })
    }
    const [, ts, source] = update
    // The peer holds what it sends: never echo it back.
    if (isNewer(ts, source, this.#known)) this.#known.set(source, ts)
    this.#received++
    this.#inflight++
    this.#sb._receive(update, bytes, this, this.#onSettled)
  }

  readonly #onUnsendable = (err: ScuttledbError): void => { this.#sb._unsendable(err) }

  /** One callback for every received update (no closure per update). */
  readonly #onSettled = (err: Error | null, _update?: Update, rejected?: boolean): void => {
    this.#inflight--
    this.#settled++
    if (rejected === true) this.#hadRejection = true
    if (err !== null) this.#abort(err)
    if (!this.#syncReceived && this.#settled % PROGRESS_EVERY === 0) this.emit('progress', this.progress)
    if (this.#inflight === 0 && this.#syncReceivedPending) this.#markSyncReceived()
  }

  #markSyncReceived (): void {
    this.#syncReceivedPending = false
    if (this.#syncReceived || this.destroyed) return
    this.#syncReceived = true
    this.emit('syncReceived')
    this.#maybeSynced()
  }

  #maybeSynced (): void {
    if (this.#synced || !this.#syncSent || !this.#syncReceived) return
    this.#synced = true
    this.emit('progress', this.progress)
    this.emit('sync')
  }

  /** Begin (or restart, after falling behind) sending stored history the peer lacks. */
  #startHistory (): void {
    this.#phase = 'history'
    this.#rescan = true
    this.#overflow = false
    this.#clearLive()
    if (this.#wantsData) void this.#pumpHistory()
  }

  async #pumpHistory (): Promise<void> {
    if (this.#scanning) return
    this.#scanning = true
    try {
      while (!this.destroyed && this.#wantsData && (this.#rescan || this.#cursor !== undefined)) {
        if (this.#rescan) {
          this.#rescan = false
          await this.#cursor?.close()
          this.#cursor = undefined
          if (this.destroyed) break
          this.#cursor = this.#sb._cursor(this.#known)
        }
        const cursor = this.#cursor as HistoryCursor
        const entries = await cursor.nextBatch(CHUNK_UPDATES, CHUNK_BYTES)
        if (this.destroyed || this.#cursor !== cursor) break
        const fresh: Array<[Update | undefined, Buffer]> = []
        for (const { source, ts, bytes } of entries) {
          if (!isNewer(ts, source, this.#known)) continue
          this.#known.set(source, ts)
          fresh.push([undefined, bytes])
        }
        const before = this.#sent
        this.#sent += fresh.length
        if (!this.#syncSent && Math.floor(before / PROGRESS_EVERY) !== Math.floor(this.#sent / PROGRESS_EVERY)) {
          this.emit('progress', this.progress)
        }
        if (fresh.length > 0) this.#wantsData = this.push(this.#codec.encodeUpdates(fresh, this.#onUnsendable))
        if (entries.length === 0 && !this.#rescan) {
          this.#cursor = undefined
          await cursor.close()
          if (this.#overflow) {
            this.#rescan = true
            this.#overflow = false
            this.#clearLive()
            continue
          }
          this.#endHistory()
        }
      }
    } catch (err) {
      this.#abort(err as Error)
    } finally {
      this.#scanning = false
    }
  }

  #endHistory (): void {
    if (this.destroyed) return
    this.#phase = 'live'
    this.#flushLive()
    if (!this.#syncSent) {
      this.#syncSent = true
      this.push(this.#codec.encode(SYNC))
      this.emit('syncSent')
      this.#maybeSynced()
    }
    // Also after a re-read of history: an end asked for meanwhile must still happen.
    if (!this.#tail || this.#endAfterHistory) this.#finishOutput()
  }

  #clearLive (): void {
    this.#live = []
    this.#liveBytes = 0
  }

  /** @internal A committed update for the peer (unless it has it or it came from the peer). */
  _offer (update: Update, bytes: Buffer): void {
    if (this.#phase === 'waiting' || this.#phase === 'done') return
    if (!isNewer(update[1], update[2], this.#known)) return
    if (this.#overflow) return
    if (this.#live.length >= LIVE_QUEUE_LIMIT || this.#liveBytes >= LIVE_QUEUE_BYTES) {
      // A slow peer: forget the queue and re-read what it lacks from storage later.
      this.#clearLive()
      this.#overflow = true
      return
    }
    this.#live.push([update, bytes])
    this.#liveBytes += bytes.length
    if (this.#phase === 'live' && this.#live.length === 1) queueMicrotask(() => { this.#flushLive() })
  }

  #flushLive (): void {
    if (this.#phase !== 'live' || this.destroyed) return
    if (this.#overflow) {
      if (this.#wantsData) this.#startHistory()
      return
    }
    if (this.#live.length === 0 || !this.#wantsData) return
    const fresh: Array<[Update | undefined, Buffer]> = []
    const queue = this.#live
    this.#clearLive()
    for (const entry of queue) {
      const [, ts, source] = entry[0]
      if (!isNewer(ts, source, this.#known)) continue
      this.#known.set(source, ts)
      fresh.push(entry)
    }
    this.#sent += fresh.length
    if (fresh.length > 0) this.#wantsData = this.push(this.#codec.encodeUpdates(fresh, this.#onUnsendable))
  }

  #endWhenSynced (): void {
    if (this.#phase === 'history') this.#endAfterHistory = true
    else this.#finishOutput()
  }

  /** End this side's output, once. */
  #finishOutput (): void {
    if (this.#phase === 'done') return
    this.#phase = 'done'
    const cursor = this.#cursor
    this.#cursor = undefined
    void cursor?.close()
    this.#clearLive()
    this.push(null)
  }

  /** Destroy with an error, emitting it only to listeners (an unhandled 'error' would crash the process). */
  #abort (err: Error): void {
    if (this.destroyed) return
    this.destroy(this.listenerCount('error') > 0 ? err : undefined)
  }

  /** Protocol error: report it, close this stream, leave everything else alone. */
  #fail (err: ScuttledbError): void {
    if (this.destroyed) return
    this.#sb._reject(err)
    this.#abort(err)
  }

  #cleanup (): void {
    this.#phase = 'done'
    this.#clearLive()
    this.#sb._unstream(this)
  }

  /**
   * @internal End this side's output (after the history in progress, so a peer
   * is never sent a truncated history) and ignore further input.
   */
  _endOutput (): void {
    this.#ignoreInput = true
    this.#endWhenSynced()
  }
}
