import { Duplex, type Readable } from 'stream'
import { codes, error, ScuttledbError } from './errors.js'
import { SkewResync } from './skew-resync.js'
import type { StreamContext } from './net/target.js'
import { DEFAULT_MAX_FRAME_BYTES, codecs, jsonCodec, type Codec, type Decoder } from './codec.js'
import type { HistoryCursor } from './history.js'
import type { Scuttlebutt } from './scuttlebutt.js'
import { Outbox, type Outgoing } from './outbox.js'
import { SYNC, foreignStamp, parseControl, parseUpdate, type Clock, type Header, type Update } from './protocol.js'
import { snapshotMeta, type StreamOptions, type SyncProgress } from './stream-options.js'
import { authRequired } from './net/auth-required.js'
import { valueProblem } from './value-domain.js'

export type { StreamOptions, SyncProgress } from './stream-options.js'

/** @internal What a stream needs of its Scuttlebutt instance. */
export interface Replicator {
  readonly id: string
  /** The data type's name on the wire (Scuttlebutt.wireType); undefined: none sent or checked. */
  readonly _wireType?: string
  _clockCopy: () => Clock
  _cursor: (known: Clock) => HistoryCursor
  _validChange: (change: unknown) => boolean
  _jsonChange: (change: unknown) => unknown
  _receive: (update: Update, bytes: Uint8Array | undefined, origin: ReplicationStream, done: (err: Error | null, update?: Update, rejected?: ScuttledbError) => void) => void
  _room: () => Promise<void> | undefined
  _aheadBy: (ts: number) => number
  _peerClaims: (clock: Clock) => void
  _forgottenCopy: () => Clock
  _admit: (peerClock: Clock, peerForgot: Clock) => ScuttledbError | undefined
  _unsendable: (err: ScuttledbError) => void
  _reject: (err: ScuttledbError) => void
  _unstream: (stream: ReplicationStream) => void
}

/** The events of a replication stream: its own, then the Duplex ones it is most often heard for. */
export interface ReplicationStreamEvents {
  /** The peer's header arrived (its id, clock and `meta`). */
  header: [header: Header]
  /** This side has sent its whole history and SYNC. */
  syncSent: []
  /** The peer's whole history has arrived and is committed. */
  syncReceived: []
  /** Both sides are synced (once per stream). */
  sync: []
  /** Progress of the initial exchange. */
  progress: [progress: SyncProgress]
  data: [chunk: Buffer]
  end: []
  finish: []
  close: []
  error: [err: Error]
  pipe: [source: Readable]
  unpipe: [source: Readable]
}

/** A listener of one of a replication stream's events. */
type StreamListener<K extends keyof ReplicationStreamEvents> = (...args: ReplicationStreamEvents[K]) => void

/** Any other event, as on every stream (`(...args: never[])`: any listener). */
type OtherListener = (...args: never[]) => void

/** A replication stream's listener methods, typed by its events (declaration merging, no runtime code). */
export interface ReplicationStream {
  on<K extends keyof ReplicationStreamEvents> (event: K, listener: StreamListener<K>): this
  on (event: string | symbol, listener: OtherListener): this
  once<K extends keyof ReplicationStreamEvents> (event: K, listener: StreamListener<K>): this
  once (event: string | symbol, listener: OtherListener): this
  addListener<K extends keyof ReplicationStreamEvents> (event: K, listener: StreamListener<K>): this
  addListener (event: string | symbol, listener: OtherListener): this
  off<K extends keyof ReplicationStreamEvents> (event: K, listener: StreamListener<K>): this
  off (event: string | symbol, listener: OtherListener): this
  removeListener<K extends keyof ReplicationStreamEvents> (event: K, listener: StreamListener<K>): this
  removeListener (event: string | symbol, listener: OtherListener): this
}

/** This side's output: waiting for the peer's header, sending stored history, then live updates, then ended. */
type Output = 'waiting' | 'history' | 'live' | 'ended'
/**
 * The peer's input: waiting for its header, receiving its history, SYNC seen while
 * that history still commits (settling), synced, then ended.
 */
type Input = 'waiting' | 'receiving' | 'settling' | 'synced' | 'ended'

/** Emit `progress` every this many updates during the initial exchange. */
const PROGRESS_EVERY = 1000

type Callback = (err?: Error | null) => void

/**
 * One replication connection. Writes bytes from the peer into it and pipe its
 * output to the peer: `pipeline(stream, socket, stream, cb)`. History is read
 * from storage only as fast as the peer drains the stream.
 *
 * Its lifecycle is two state machines, each moved in one place (`#toOutput`,
 * `#toInput`), and one rule for closing (`#closeIfDone`):
 * - The output ends after SYNC when `tail` is false (a side that sends nothing:
 *   once it is synced); when the peer has ended its side (the original's rule);
 *   and on `dispose()`. The last two wait for a history in progress, so a peer is
 *   never sent a truncated history, unless nobody has started reading it.
 * - The input ends when the peer has ended its side and every update it sent has
 *   settled; on `dispose()`; and, on a stream that does not accept updates, when
 *   the output has ended (nothing the peer sends can matter any more).
 * - The stream closes (is destroyed, so `close` fires once and the instance
 *   forgets it) when both have ended and the output has been read to its end or
 *   was never read at all. When this side stopped reading before the peer ended
 *   (dispose, or a read-only stream that is done), it first waits for the peer to
 *   end its side if the peer is there to see this side's end (something is piped
 *   in, or the peer sent its header): closing first would make `pipeline()`
 *   report a premature close and destroy a transport still holding our last bytes.
 * - Errors, `destroy()`, and a piped source or destination that closes before it
 *   ended (a transport error) close it at once.
 */
export class ReplicationStream extends Duplex {
  /** The options the stream was created with. */
  readonly options: Readonly<StreamOptions>
  readonly #sb: Replicator
  readonly #codec: Codec
  readonly #decoder: Decoder
  /** The largest frame this stream takes, and so sends: a peer with the same limit refuses anything larger. */
  readonly #maxFrameBytes: number
  readonly #sends: boolean
  readonly #accepts: boolean
  #output: Output
  #input: Input
  /** What the output does once its history is sent: keep sending live updates, or end. */
  #afterHistory: 'tail' | 'end'
  readonly #outbox: Outbox
  #peer: Header | undefined
  readonly #progress: Omit<SyncProgress, 'behind'> = { sent: 0, received: 0, syncSent: false, syncReceived: false }
  #scanning = false
  #wantsData = false
  /** Updates received before the peer's SYNC, and after it, not yet settled. */
  #historyPending = 0
  #livePending = 0
  /** `_final`'s callback, held until every received update has settled. */
  #finalCallback: Callback | undefined
  /** Streams piped into this one, and those it pipes into, each with its 'close' listener. */
  readonly #sources = new Map<NodeJS.EventEmitter, () => void>()
  readonly #targets = new Map<NodeJS.EventEmitter, () => void>()
  /** Resolves once the stream has closed and the instance forgot it ('close', or just after destroy: see _destroy). */
  #closed: Promise<void>
  #resolveClosed: () => void = () => {}
  #cleanedUp = false
  #cleanupTimer: ReturnType<typeof setTimeout> | undefined
  /** The peer proved its id in the connection's handshake: its header's claim of this node's clock is heeded. */
  readonly #provenPeer: boolean
  /** Closes the stream once updates refused as too far ahead are within the skew (lib/skew-resync.ts). */
  readonly #resync = new SkewResync(() => { this.#abort(error(codes.CLOCK_SKEW, 'Closed to sync again: updates refused as too far ahead of the clock are within maxClockSkew now')) })

  /** Use `Scuttlebutt#createStream()`. */
  constructor (sb: Scuttlebutt, options?: StreamOptions, context?: StreamContext)
  /** @internal */
  constructor (sb: Replicator, options?: StreamOptions, context?: StreamContext)
  constructor (sb: Replicator, options: StreamOptions = {}, context: StreamContext = {}) {
    super({ allowHalfOpen: true, readableHighWaterMark: 64 * 1024, writableHighWaterMark: 64 * 1024 })
    this.options = options
    this.#sb = sb
    this.#provenPeer = context?.peer !== undefined
    // pipeline(s, socket, s) alone puts ten 'close' listeners on a stream; leave room for the user's.
    this.setMaxListeners(32)
    // Only an absent option means the default: `null` or any other value is refused.
    const wrapper = options.wrapper === undefined ? 'msgpack' : options.wrapper
    if (!Object.hasOwn(codecs, wrapper)) throw new TypeError(`Unknown wrapper ${String(wrapper)}: use 'msgpack' or 'json'`)
    this.#codec = codecs[wrapper]
    const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
    if (!(Number.isInteger(maxFrameBytes) && maxFrameBytes > 0)) throw new TypeError('maxFrameBytes must be a positive integer')
    const meta = options.meta === undefined ? undefined : snapshotMeta(options.meta, wrapper === 'json')
    this.#decoder = this.#codec.decoder(maxFrameBytes, options.bufferAccount)
    this.#maxFrameBytes = maxFrameBytes
    this.#outbox = new Outbox((known) => {
      // Each (re)read of history starts from what the peer is known to hold. A delete forgotten
      // since the header was checked (a slow peer whose live queue overflowed, then a purge) is
      // no longer in the log: a peer behind it would move past it and keep the deleted value.
      const refusal = sb._admit(known, new Map())
      if (refusal !== undefined) throw refusal
      return sb._cursor(known)
    })
    this.#sends = options.readable !== false
    this.#accepts = options.writable !== false
    this.#afterHistory = options.tail === false ? 'end' : 'tail'
    // A side that sends nothing has no history: its output is live from the start and
    // carries nothing. It stays open (the peer would read an early end as "end yours too").
    this.#output = this.#sends ? 'waiting' : 'live'
    // A side that accepts nothing has nothing to wait for before `sync`.
    this.#input = this.#accepts ? 'waiting' : 'synced'
    this.#progress.syncSent = !this.#sends
    this.#progress.syncReceived = !this.#accepts
    this.#closed = new Promise((resolve) => { this.#resolveClosed = resolve })
    this.once('close', () => { this.#cleanup() })
    this.on('end', () => { this.#closeIfDone() })
    this.on('finish', () => { this.#closeIfDone() })
    this.on('pipe', (source: Readable) => { this.#watch(this.#sources, source, () => source.readableEnded) })
    this.on('unpipe', (source: Readable) => {
      this.#unwatch(this.#sources, source)
      this.#closeIfDone()
    })

    if (this.#sends || options.sendClock === true) {
      const header: Header & { type?: string } = { id: sb.id, clock: Object.fromEntries(sb._clockCopy()) }
      if (meta !== undefined) header.meta = meta
      // Our data type, so that a peer of another type refuses the stream instead of taking our
      // updates as its own. Not on the JSON wire: the original neither sends nor checks one.
      const wireType = sb._wireType
      if (wireType !== undefined && this.#codec !== jsonCodec) header.type = wireType
      const forgot = sb._forgottenCopy()
      if (forgot.size > 0) header.forgot = Object.fromEntries(forgot)
      this.push(this.#codec.encode(header))
    }
    // A read-only stream with no clock to wait for sends everything (original behaviour).
    if (this.#sends && !this.#accepts && options.sendClock !== true) this.#toOutput('history')
  }

  /** The peer's header, once received. */
  get peer (): Header | undefined {
    return this.#peer
  }

  /** Progress of the initial exchange. */
  get progress (): SyncProgress {
    // Only a side that sends can say what the peer lacks.
    const behind = this.#sends ? this.#outbox.behind(this.#sb._clockCopy()) : { sources: 0, ms: 0 }
    return { ...this.#progress, behind }
  }

  /** @internal Resolves once the stream has closed. */
  async _closed (): Promise<void> {
    await this.#closed
  }

  override pipe<T extends NodeJS.WritableStream> (destination: T, options?: { end?: boolean }): T {
    super.pipe(destination, options)
    this.#watch(this.#targets, destination, () => this.readableEnded)
    return destination
  }

  override _write (chunk: Uint8Array, _encoding: BufferEncoding, callback: Callback): void {
    if (this.destroyed || this.#input === 'ended') {
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

  override _final (callback: Callback): void {
    if (this.#input !== 'ended') {
      try {
        this.#decoder.end()
      } catch (err) {
        this.#fail(err as ScuttledbError)
        callback()
        return
      }
    }
    // The peer ended its side: end ours (the original's rule).
    this.#endOutput()
    this.#finalCallback = callback
    this.#finishInput()
  }

  override _read (): void {
    this.#wantsData = true
    if (this.#output === 'history') void this.#pumpHistory()
    else if (this.#output === 'live') this.#flushLive()
  }

  override _destroy (err: Error | null, callback: Callback): void {
    this.#output = 'ended'
    this.#input = 'ended'
    this.#resync.stop()
    this.#decoder.dispose()
    this.#finalCallback = undefined
    const closing = this.#outbox.close()
    const done = (): void => {
      callback(err)
      // Node emits 'error' and then 'close' after this callback; an 'error' without a listener
      // throws there and 'close' never comes: the instance must not wait for it (close() would hang).
      this.#cleanupTimer = setTimeout(() => { this.#cleanup() }, 0)
    }
    if (closing === undefined) done()
    else closing.then(done, done)
  }

  /** Move the output, with what each state begins with. */
  #toOutput (next: Output): void {
    if (this.#output === 'ended' || this.destroyed) return
    this.#output = next
    if (next === 'history') {
      // Begin (or restart, after the live queue overflowed) sending stored history the peer lacks.
      this.#outbox.restart()
      if (this.#wantsData) void this.#pumpHistory()
    } else if (next === 'live') {
      // What committed while the history was read goes first, then SYNC.
      this.#flushLive()
      if (!this.#progress.syncSent) {
        this.#progress.syncSent = true
        this.push(this.#codec.encode(SYNC))
        this.emit('syncSent')
        this.#syncedIfBoth()
      }
      // Also after a re-read of history: an end asked for meanwhile must still happen.
      if (this.#afterHistory === 'end' && this.#output === 'live') this.#toOutput('ended')
    } else if (next === 'ended') {
      this.#outbox.close()?.catch(() => {})
      this.push(null)
      // Nothing the peer sends can matter to a side that accepts nothing once its output is done.
      if (!this.#accepts) this.#toInput('ended')
      this.#closeIfDone()
    }
  }

  /** Move the input, with what each state begins with. */
  #toInput (next: Input): void {
    if (this.#input === 'ended' || this.destroyed) return
    this.#input = next
    if (next === 'synced') {
      this.#progress.syncReceived = true
      this.emit('syncReceived')
      this.#syncedIfBoth()
      // A one-shot (tail: false) side that sends nothing is done once it has the peer's history.
      if (!this.#sends && this.#afterHistory === 'end') this.#toOutput('ended')
    } else if (next === 'ended') {
      this.#closeIfDone()
    }
  }

  /** Ask the output to end: now, or after the history in progress. */
  #endOutput (): void {
    // A history nobody has started reading is not in progress: there is no peer to truncate.
    if (this.#output === 'history' && this.readableFlowing !== null) this.#afterHistory = 'end'
    else this.#toOutput('ended')
  }

  /** The peer ended its side: the input ends once every update it sent has settled. */
  #finishInput (): void {
    const callback = this.#finalCallback
    if (callback === undefined || this.#historyPending + this.#livePending > 0) return
    this.#finalCallback = undefined
    this.#toInput('ended')
    callback()
  }

  /** The one place that decides whether the stream is done (see the class comment). */
  #closeIfDone (): void {
    if (this.destroyed || this.#output !== 'ended' || this.#input !== 'ended') return
    const read = this.readableEnded
    // Still being read (or paused by backpressure): wait for 'end'.
    if (!read && this.readableFlowing !== null) return
    if (!this.writableFinished) {
      // The peer's end is being processed: 'finish' follows.
      if (this.writableEnded) return
      if (read && (this.#sources.size > 0 || this.#peer !== undefined)) return
    }
    this.destroy()
  }

  #syncedIfBoth (): void {
    if (!this.#progress.syncSent || !this.#progress.syncReceived || this.destroyed) return
    this.emit('progress', this.progress)
    this.emit('sync')
  }

  #onValue (value: unknown, bytes: Uint8Array | undefined): void {
    if (this.destroyed || this.#input === 'ended') return
    // Updates are nearly all the traffic: check them without a message wrapper.
    if (Array.isArray(value)) {
      if (this.#codec === jsonCodec && foreignStamp(value)) {
        // An original holds it (it takes any number and string) and sends it on every sync:
        // refusing the stream for it would end replication with that original for good.
        if (this.#input === 'waiting') throw error(codes.HEADER_EXPECTED, 'The peer must send its header first')
        this.#sb._reject(error(codes.INVALID_MESSAGE, 'An update whose timestamp or source scuttledb cannot hold (a timestamp not above zero, or a source that is not a valid id); skipped', { update: value }))
        return
      }
      this.#onUpdate(parseUpdate(value), bytes)
      return
    }
    // A listener that runs authenticate() speaks first with its hello: say so, not "malformed header".
    if (this.#peer === undefined) {
      const refusal = authRequired(value)
      if (refusal !== undefined) throw refusal
    }
    const message = parseControl(value, this.#codec === jsonCodec)
    if (message.type === 'header') {
      if (this.#peer !== undefined) throw error(codes.DUPLICATE_HEADER, 'The peer sent a second header')
      const ours = this.#sb._wireType
      if (message.dataType !== undefined && ours !== undefined && message.dataType !== ours) {
        throw error(codes.TYPE_MISMATCH, `The peer is a ${message.dataType} and this is a ${ours}: their updates mean different things`)
      }
      this.#peer = message.header
      // A peer behind a forgotten delete (or ahead of this node's) must not replicate: see _admit.
      const refusal = this.#sb._admit(message.clock, message.forgot)
      if (refusal !== undefined) throw refusal
      // Only a proven peer's claim: an anonymous header could lift this node's stamps to the
      // edge of every peer's maxClockSkew, and peers a little behind would refuse its writes.
      if (this.#provenPeer) this.#sb._peerClaims(message.clock)
      // Never lower what is known: a re-read after an overflow must stay in per-source order.
      for (const [source, ts] of message.clock) this.#outbox.held(ts, source)
      this.emit('header', message.header)
      if (this.#input === 'waiting') this.#toInput('receiving')
      if (this.#output === 'waiting') this.#toOutput('history')
      return
    }
    if (this.#input === 'waiting') throw error(codes.HEADER_EXPECTED, 'The peer must send its header first')
    // SYNC. A read-only original may send its history and SYNC twice: later ones mean nothing.
    if (this.#input === 'receiving') this.#toInput(this.#historyPending === 0 ? 'synced' : 'settling')
  }

  #onUpdate (update: Update, bytes: Uint8Array | undefined): void {
    if (this.#input === 'waiting') throw error(codes.HEADER_EXPECTED, 'The peer must send its header first')
    if (!this.#accepts) return
    // The original's wire: its changes come in its looser shape (a Model key 5 is its key '5').
    // Only unsigned ones are made canonical: a signature covers the change as sent.
    if (this.#codec === jsonCodec && update.length === 3) {
      const change = this.#sb._jsonChange(update[0])
      // A change the hook made is stored and sent on: checked as the peer's own was (parseUpdate).
      const problem = change === update[0] ? undefined : valueProblem(change)
      update[0] = change
      if (problem !== undefined) throw error(codes.INVALID_MESSAGE, `An update may not hold ${problem} (as the data type's _fromJson made it)`, { update })
    }
    if (!this.#sb._validChange(update[0])) {
      throw error(codes.INVALID_MESSAGE, 'Invalid change for this data type', { update })
    }
    const [, ts, source] = update
    // The peer holds what it sends: never echo it back.
    this.#outbox.held(ts, source)
    this.#progress.received++
    if (this.#input === 'receiving') {
      this.#historyPending++
      this.#sb._receive(update, bytes, this, this.#onHistorySettled)
    } else {
      this.#livePending++
      this.#sb._receive(update, bytes, this, this.#onLiveSettled)
    }
  }

  readonly #onUnsendable = (err: ScuttledbError): void => { this.#sb._unsendable(err) }

  /** One callback for every update received before SYNC (no closure per update). */
  readonly #onHistorySettled = (err: Error | null, _update?: Update, rejected?: ScuttledbError): void => {
    this.#historyPending--
    this.#settled(err, rejected)
    if (this.#historyPending === 0 && this.#input === 'settling') this.#toInput('synced')
    this.#finishInput()
  }

  readonly #onLiveSettled = (err: Error | null, _update?: Update, rejected?: ScuttledbError): void => {
    this.#livePending--
    this.#settled(err, rejected)
    this.#finishInput()
  }

  #settled (err: Error | null, rejected: ScuttledbError | undefined): void {
    if (err !== null) this.#abort(err)
    if (rejected?.code === codes.CLOCK_SKEW && !this.destroyed) this.#resync.refused(this.#sb._aheadBy((rejected.update as Update)[1]))
    const settled = this.#progress.received - this.#historyPending - this.#livePending
    if (!this.#progress.syncReceived && settled % PROGRESS_EVERY === 0) this.emit('progress', this.progress)
  }

  async #pumpHistory (): Promise<void> {
    if (this.#scanning) return
    this.#scanning = true
    try {
      while (this.#output === 'history' && this.#wantsData) {
        const { updates, done } = await this.#outbox.readHistory()
        if (this.#output !== 'history') break
        this.#send(updates)
        if (done) this.#toOutput('live')
      }
    } catch (err) {
      if (err instanceof ScuttledbError && err.code === codes.STALE_PEER) this.#fail(err)
      else this.#abort(err as Error)
    } finally {
      this.#scanning = false
    }
  }

  /** @internal A committed update for the peer (unless it has it or it came from the peer). */
  _offer (update: Update, bytes: Uint8Array): void {
    if (!this.#sends || (this.#output !== 'history' && this.#output !== 'live')) return
    if (this.#outbox.offer(update, bytes) && this.#output === 'live') queueMicrotask(() => { this.#flushLive() })
  }

  #flushLive (): void {
    if (this.#output !== 'live' || this.destroyed) return
    if (this.#outbox.overflowed) {
      if (this.#wantsData) this.#toOutput('history')
      return
    }
    if (this.#wantsData) this.#send(this.#outbox.takeLive())
  }

  #send (updates: Outgoing): void {
    if (updates.length === 0) return
    const before = this.#progress.sent
    this.#progress.sent += updates.length
    if (!this.#progress.syncSent && Math.floor(before / PROGRESS_EVERY) !== Math.floor(this.#progress.sent / PROGRESS_EVERY)) {
      this.emit('progress', this.progress)
    }
    this.#wantsData = this.push(this.#codec.encodeUpdates(updates, this.#onUnsendable, this.#maxFrameBytes))
  }

  /**
   * Watch a stream piped into this one (`sources`) or one this one pipes into
   * (`targets`): one that closes before it ended, or before it took this side's
   * end, is a broken transport, and this stream can no longer be used.
   */
  #watch (links: Map<NodeJS.EventEmitter, () => void>, other: NodeJS.EventEmitter, done: () => boolean): void {
    if (links.has(other) || this.destroyed) return
    const onClose = (): void => {
      links.delete(other)
      if (done()) this.#closeIfDone()
      else this.destroy()
    }
    links.set(other, onClose)
    other.once('close', onClose)
  }

  #unwatch (links: Map<NodeJS.EventEmitter, () => void>, other: NodeJS.EventEmitter): void {
    const onClose = links.get(other)
    if (onClose === undefined) return
    links.delete(other)
    other.off('close', onClose)
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
    if (this.#cleanedUp) return
    this.#cleanedUp = true
    clearTimeout(this.#cleanupTimer)
    for (const links of [this.#sources, this.#targets]) {
      for (const [other, onClose] of links) other.off('close', onClose)
      links.clear()
    }
    this.#sb._unstream(this)
    this.#resolveClosed()
  }

  /**
   * @internal `dispose()`: end this side's output (after the history in progress,
   * so a peer is never sent a truncated history) and take no more input.
   */
  _endOutput (): void {
    this.#endOutput()
    this.#toInput('ended')
  }
}
