import { Duplex } from 'stream'
import { sha256 } from '@noble/hashes/sha2.js'
import type { BufferAccount } from './buffer-budget.js'
import { DEFAULT_MAX_FRAME_BYTES, msgpackCodec, type Decoder } from './codec.js'
import { codes, error, ScuttledbError } from './errors.js'
import { parseUpdate, type Clock, type Header, type Source, type Update } from './protocol.js'
import { encodeMessage, parseCollectionMessage, type CollectionMessage, type DocEntry } from './collection-protocol.js'
import { CollectionOutbox } from './collection-outbox.js'
import { SkewResync } from './skew-resync.js'
import type { Collection } from './collection.js'
import type { Access, Doc } from './collection-types.js'
import { checkBufferAccount, type SyncProgress } from './stream-options.js'
import type { StreamContext } from './net/target.js'

/** Options of `Collection#createStream()`. */
export interface CollectionStreamOptions {
  /** The peer's proven id (for `access`); see also the transports' handshake. */
  peer?: Source
  /** Largest frame accepted from the peer. Default 16 MiB. */
  maxFrameBytes?: number
  /** Only 'msgpack': collections have no JSON mode. */
  wrapper?: 'msgpack' | 'json'
  /** Where the decoder reserves a partial frame's bytes (see StreamOptions). */
  bufferAccount?: BufferAccount
}

export type { StreamContext }

/** Counts of what crossed a collection stream (control messages apart from updates). */
export interface CollectionStreamCounts {
  messagesSent: number
  messagesReceived: number
  updatesSent: number
  updatesReceived: number
}

/** A decoded chunk's work, run in order. */
type Action = CollectionMessage | { t: 'updates', name: string, updates: Array<[Update, Uint8Array]> }

/** Received updates not yet settled, up to one `done` marker of the peer. */
interface Generation {
  pending: number
  seq: number | undefined
  /** The `done` that closed it covers our first `done`. */
  after: boolean
}

type Callback = (err?: Error | null) => void

/** Documents with received updates still committing, per stream, before it stops taking input. */
const MAX_INBOUND_DOCS = 64
/** Received updates still committing, over all documents, before it stops taking input. */
const MAX_INBOUND_UPDATES = 8192

/** A document receiving updates: its lease (opening) and how many of its updates are still committing. */
interface Inbound {
  pending: number
  leased: boolean
  doc: Promise<Doc | undefined>
}

/**
 * One peer's replication of a whole collection (see docs/protocol.md,
 * "Collections"). Each side says hello (id, epoch, change sequence), asks for
 * the documents changed since what it last confirmed of the peer, answers the
 * peer's list with its own clocks, and sends each document's missing updates,
 * many documents per chunk. `done S` says: every document you may see with
 * sequence <= S has been sent; the receiver records S once all of it committed.
 */
export class CollectionStream extends Duplex {
  readonly #collection: Collection
  readonly #peer: Source | undefined
  readonly #decoder: Decoder
  readonly #outbox: CollectionOutbox
  #hello: Extract<CollectionMessage, { t: 'hello' }> | undefined
  #current: string | undefined
  /** Types the peer announced, for documents we create when their updates arrive. */
  readonly #peerTypes = new Map<string, string>()
  /** Each document's clock as the peer described it: what it is admitted by (Scuttlebutt#_admit). */
  readonly #peerClocks = new Map<string, Clock>()
  /** Per document, whether this peer's updates are refused: the error it was refused with, or null. */
  readonly #admitted = new Map<string, ScuttledbError | null>()
  #gens: Generation[] = [{ pending: 0, seq: undefined, after: false }]
  /** Documents leased for received updates, with the number still committing. */
  readonly #inbound = new Map<string, Inbound>()
  /** Received updates not yet settled, over all documents. */
  #pendingUpdates = 0
  #inboundRoom: (() => void) | undefined
  #syncSent = false
  #syncReceived = false
  /**
   * Something the peer sent or holds was not taken for now: a document that
   * could not be opened, an update too far ahead of the clock, a document of a
   * type not registered here. From then on nothing is recorded of what the peer
   * sent (a record past it would keep the next sync from comparing it again).
   */
  #dropped = false
  /** Closes the stream once updates refused as too far ahead are within the skew (lib/skew-resync.ts). */
  readonly #resync = new SkewResync(() => { this.#abort(error(codes.CLOCK_SKEW, 'Closed to sync again: updates refused as too far ahead of the clock are within maxClockSkew now')) })
  /** Documents of which this stream brought an update too far ahead: it takes no more of them (see #onUpdates). */
  readonly #skewed = new Set<string>()
  /** What the peer's entries cost this stream so far (see `maxPeerEntryBytes`). */
  #entryBytes = 0
  #finalCallback: Callback | undefined
  readonly #closed: Promise<void>
  /** Counts of messages and updates each way. */
  readonly counts: CollectionStreamCounts = { messagesSent: 0, messagesReceived: 0, updatesSent: 0, updatesReceived: 0 }

  /** Use `Collection#createStream()`. */
  constructor (collection: Collection, options: CollectionStreamOptions = {}, context: StreamContext = {}) {
    super({ allowHalfOpen: true, readableHighWaterMark: 256 * 1024, writableHighWaterMark: 64 * 1024 })
    if (options === null || typeof options !== 'object') throw new TypeError('Stream options must be an object')
    if (options.wrapper !== undefined && options.wrapper !== 'msgpack') throw new TypeError('A collection stream speaks msgpack only')
    if (options.peer !== undefined && typeof options.peer !== 'string') throw new TypeError('Stream option peer must be a string (a proven id)')
    checkBufferAccount(options.bufferAccount)
    const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
    if (!(Number.isInteger(maxFrameBytes) && maxFrameBytes > 0)) throw new TypeError('maxFrameBytes must be a positive integer')
    this.#collection = collection
    this.#peer = options.peer ?? context.peer
    this.#decoder = msgpackCodec.decoder(maxFrameBytes, options.bufferAccount)
    this.#outbox = new CollectionOutbox(collection, this.#peer, {
      push: (chunk, messages, updates) => {
        this.counts.messagesSent += messages
        this.counts.updatesSent += updates
        return this.destroyed ? false : this.push(chunk)
      },
      done: (after) => { if (after) this.#onDoneSent() },
      fail: (err) => { this.#abort(err) },
      end: () => { this.push(null) }
    })
    this.setMaxListeners(32)
    // A stream's error must never crash the process, even once a pipeline has let go of it.
    this.on('error', () => {})
    this.#closed = new Promise((resolve) => this.once('close', resolve))
    this.once('close', () => { collection._unstream(this) })
    this.#start()
  }

  /** The peer's proven id, as given when the stream was created. */
  get peerIdentity (): Source | undefined {
    return this.#peer
  }

  /** The peer's collection id, once its hello arrived. */
  get peerId (): Source | undefined {
    return this.#hello?.id
  }

  /** Progress of the initial exchange (the shape of a replication stream's). */
  get progress (): SyncProgress {
    return { sent: this.counts.updatesSent, received: this.counts.updatesReceived, syncSent: this.#syncSent, syncReceived: this.#syncReceived, behind: { sources: 0, ms: 0 } }
  }

  /** @internal Resolves once the stream has closed. */
  async _closed (): Promise<void> {
    await this.#closed
  }

  /** @internal A document of the collection committed something. */
  _changed (name: string): void {
    if (!this.destroyed) this.#outbox.changed(name)
  }

  /** Say hello first, before anything else can be pushed. */
  #start (): void {
    const catalog = this.#collection._catalog
    // Only a number that can never be handed out again is announced (a lower one only costs the peer a full compare).
    this.#outbox.send([encodeMessage({ t: 'hello', id: catalog.id, epoch: epochFor(catalog.epoch, this.#peer), seq: catalog.announceable })], 1)
  }

  override _read (): void {
    this.#outbox.resume()
  }

  override _write (chunk: Uint8Array, _encoding: BufferEncoding, callback: Callback): void {
    if (this.destroyed) {
      callback()
      return
    }
    const actions: Action[] = []
    try {
      this.#decoder.write(chunk, (value, bytes) => { this.#decode(value, bytes as Uint8Array, actions) })
    } catch (err) {
      this.#fail(err instanceof ScuttledbError ? err : error(codes.INVALID_MESSAGE, 'Invalid message', { cause: err as Error }))
      callback()
      return
    }
    this.#run(actions).then(() => { callback() }, (err: Error) => {
      this.#fail(err instanceof ScuttledbError ? err : error(codes.INVALID_MESSAGE, 'Invalid message', { cause: err }))
      callback()
    })
  }

  override _final (callback: Callback): void {
    try {
      this.#decoder.end()
    } catch (err) {
      this.#fail(err as ScuttledbError)
      callback()
      return
    }
    // The peer ended its side: end ours once what it sent has committed.
    this.#finalCallback = callback
    this.#settle()
  }

  override _destroy (err: Error | null, callback: Callback): void {
    this.#finalCallback = undefined
    this.#resync.stop()
    this.#decoder.dispose()
    this.#inboundRoom?.()
    this.#outbox.close().then(() => { callback(err) }, () => { callback(err) })
  }

  /** Shape-check one decoded value into the chunk's actions (no state moves yet). */
  #decode (value: unknown, bytes: Uint8Array, actions: Action[]): void {
    if (Array.isArray(value)) {
      if (this.#hello === undefined) throw error(codes.HEADER_EXPECTED, 'The peer must say hello first')
      const update = parseUpdate(value)
      if (this.#current === undefined) throw error(codes.INVALID_MESSAGE, 'An update before any doc message')
      const last = actions[actions.length - 1]
      if (last !== undefined && last.t === 'updates' && last.name === this.#current) last.updates.push([update, bytes])
      else actions.push({ t: 'updates', name: this.#current, updates: [[update, bytes]] })
      return
    }
    const message = parseCollectionMessage(value)
    if (message.t === 'beat') return
    this.counts.messagesReceived++
    if (message.t === 'hello') {
      if (this.#hello !== undefined) throw error(codes.DUPLICATE_HEADER, 'The peer sent a second hello')
      this.#hello = message
    } else if (this.#hello === undefined) {
      throw error(codes.HEADER_EXPECTED, 'The peer must say hello first')
    }
    if (message.t === 'doc') {
      // Only documents we said we accept: a reader, or a peer that may not see the name, gets no further.
      if (!this.#outbox.accepts(message.name)) throw error(codes.ACCESS_DENIED, `The peer may not write document ${message.name}`)
      this.#current = message.name
      return
    }
    actions.push(message)
  }

  /** Run a chunk's actions in order; resolves when the stream may take more input. */
  async #run (actions: Action[]): Promise<void> {
    for (const action of actions) {
      if (this.destroyed) return
      switch (action.t) {
        case 'hello': await this.#onHello(action); break
        // Not awaited: the listing waits for the peer to read, and the peer's input must go on
        // meanwhile (two sides each waiting for the other to read would never move).
        case 'want': this.#outbox.list(action.since).catch((err: Error) => { this.#fail(err instanceof ScuttledbError ? err : error(codes.INVALID_MESSAGE, 'Invalid message', { cause: err })) }); break
        case 'docs': await this.#onEntries(action.entries); break
        case 'done': this.#onDone(action.seq, action.after); break
        case 'updates': this.#onUpdates(action.name, action.updates); break
      }
    }
    // Backpressure: wait while too many documents are still committing what we passed them.
    while ((this.#inbound.size >= MAX_INBOUND_DOCS || this.#pendingUpdates >= MAX_INBOUND_UPDATES) && !this.destroyed) {
      await new Promise<void>((resolve) => { this.#inboundRoom = resolve })
    }
  }

  /** The key of the record of what this peer was confirmed to have sent. */
  #peerKey (): string {
    return `${this.#peer ?? ''}\x00${(this.#hello as { id: Source }).id}`
  }

  async #onHello (hello: Extract<CollectionMessage, { t: 'hello' }>): Promise<void> {
    const header: Header = { id: hello.id, clock: {} }
    this.emit('header', header)
    const record = await this.#collection._catalog.peer(this.#peerKey())
    // A record of another epoch, or ahead of what the peer has numbered (a restore), is no good: compare everything.
    const since = record !== undefined && record.epoch === hello.epoch && record.seq <= hello.seq ? record.seq : 0
    this.#outbox.send([encodeMessage({ t: 'want', since })], 1)
  }

  async #onEntries (entries: DocEntry[]): Promise<void> {
    // What the stream holds per name the peer announces is bounded: a peer cannot fill the heap.
    // Every entry is charged, a name's second one too: an honest peer sends one per name and stream.
    for (const entry of entries) {
      this.#entryBytes += entryCost(entry)
      if (this.#entryBytes > this.#collection._maxPeerEntryBytes) {
        throw error(codes.OVERLOADED, `The peer announced documents past maxPeerEntryBytes (${this.#collection._maxPeerEntryBytes})`)
      }
    }
    const modes = entries.map((e) => this.#outbox.mode(e.name))
    const resolved: Access[] = modes.some((m) => m instanceof Promise) ? await Promise.all(modes) : modes as Access[]
    const replies: DocEntry[] = []
    entries.forEach((entry, i) => {
      const mode = resolved[i]
      this.#peerTypes.set(entry.name, entry.type)
      this.#peerClocks.set(entry.name, entry.clock)
      const type = mode === 'none' ? undefined : this.#collection.typeOf(entry.name)
      // Reported whether or not we had described it first; the document is not synced with this peer.
      if (type !== undefined && type !== entry.type) {
        // A document of ours that may yet be dropped (a peer's refused updates made it): the
        // peer's may be taken later, so nothing is recorded of what this peer sent.
        if (this.#collection._provisional(entry.name)) this.#dropped = true
        this.#collection._documentError(entry.name, error(codes.TYPE_MISMATCH, `Document ${entry.name} is a ${type} here and a ${entry.type} at the peer`))
      }
      const reply = this.#outbox.peerEntry(entry, mode)
      if (reply) replies.push(this.#entryFor(entry, mode))
    })
    this.#outbox.sendEntries(replies)
  }

  /**
   * True when the peer's clock of `name` is behind a delete the document has
   * forgotten (tombstoneTTL): its updates may bring back a value that delete
   * removed, so none from this peer is stored (documentError SCUTTLEDB_STALE_PEER,
   * once per stream); the stream and the other documents go on.
   */
  #stale (name: string, doc: Doc): boolean {
    let verdict = this.#admitted.get(name)
    if (verdict === undefined) {
      verdict = doc._admit(this.#peerClocks.get(name) ?? new Map(), new Map()) ?? null
      this.#admitted.set(name, verdict)
      if (verdict !== null) this.#collection._documentError(name, verdict)
    }
    return verdict !== null
  }

  /** Our entry in answer to the peer's: what we hold and whether we take its updates. */
  #entryFor (peer: DocEntry, mode: Access): DocEntry {
    const name = peer.name
    // A peer that may not see the name learns nothing: not even whether we hold it.
    if (mode === 'none') return { name, type: peer.type, clock: new Map(), accepts: false }
    const type = this.#collection.typeOf(name)
    if (type !== undefined && type !== peer.type) return { name, type, clock: new Map(), accepts: false }
    if (type === undefined && !this.#collection._hasType(peer.type)) {
      // Taken once the type is registered: until then nothing is recorded of what the peer sent.
      this.#dropped = true
      this.#collection._documentError(name, error(codes.UNKNOWN_TYPE, `Document ${name} is a ${peer.type} at the peer, a type not registered here`))
      return { name, type: peer.type, clock: new Map(), accepts: false }
    }
    return { name, type: peer.type, clock: this.#collection._clockOf(name) ?? new Map(), accepts: mode === 'write' }
  }

  /**
   * Pass a run of one document's updates to it: opened (and created, with the
   * peer's type) without holding up other documents; each document's updates
   * keep their order, because each run waits on the same open.
   */
  #onUpdates (name: string, updates: Array<[Update, Uint8Array]>): void {
    const gen = this.#gens[this.#gens.length - 1]
    let inbound = this.#inbound.get(name)
    if (inbound === undefined) {
      const entry: Inbound = { pending: 0, leased: false, doc: undefined as unknown as Promise<Doc | undefined> }
      entry.doc = this.#collection._lease(name, this.#collection.typeOf(name) ?? this.#peerTypes.get(name), 'peer').then((doc) => {
        entry.leased = true
        return doc
      }, (err: Error) => {
        // A collection that is closing ends its streams; a document that would not open is
        // that document's failure, not the peer's: its updates are not stored, the rest goes on.
        if (this.#collection.status !== 'open') {
          this.#abort(err)
        } else {
          this.#dropped = true
          this.#collection._documentError(name, err instanceof ScuttledbError ? err : error(codes.DOCUMENT_FAILED, `Document ${name} could not be opened`, { cause: err }))
        }
        return undefined
      })
      this.#inbound.set(name, entry)
      inbound = entry
    }
    const entry = inbound
    entry.pending += updates.length
    gen.pending += updates.length
    this.#pendingUpdates += updates.length
    // A document that took an update too far ahead takes none of these: nothing of them is kept.
    const known = this.#skewed.has(name) ? new Map<Source, number>() : this.#outbox.known(name)
    for (const [[, ts, source]] of updates) {
      // The peer holds what it sends: never send it back.
      if (!((known.get(source) ?? 0) >= ts)) known.set(source, ts)
    }
    this.counts.updatesReceived += updates.length
    void entry.doc.then((doc) => {
      let refused = doc === undefined || this.destroyed || this.#stale(name, doc)
      for (const [update, bytes] of updates) {
        if (!refused && !(doc as Doc)._validChange(update[0])) {
          refused = true
          this.#fail(error(codes.INVALID_MESSAGE, `Invalid change for document ${name}`, { update }))
        }
        // Once refused, nothing more of the run is stored (the stream is closed: nothing is recorded either).
        // A document with an update too far ahead takes nothing more from this stream (its instance,
        // which holds back that source's later updates, may have been closed and opened again).
        if (refused || this.#skewed.has(name)) {
          this.#settleOne(name, entry, gen)
          continue
        }
        ;(doc as Doc)._receive(update, bytes, this, (err, _update, rejected) => {
          if (err !== null) this.#abort(err)
          // Refused for now, not for good: the next sync must compare this document again.
          if (rejected?.code === codes.CLOCK_SKEW) {
            this.#dropped = true
            this.#skewed.add(name)
            if (!this.destroyed) this.#resync.refused((doc as Doc)._aheadBy((rejected.update as Update)[1]))
          }
          this.#settleOne(name, entry, gen)
        })
      }
    })
  }

  /** One received update settled (committed, dropped as old, or refused). */
  #settleOne (name: string, entry: Inbound, gen: Generation): void {
    gen.pending--
    this.#pendingUpdates--
    if (--entry.pending === 0 && this.#inbound.get(name) === entry) {
      this.#inbound.delete(name)
      if (entry.leased) this.#collection._release(name)
    }
    const room = this.#inboundRoom
    this.#inboundRoom = undefined
    room?.()
    this.#settle()
  }

  #onDone (seq: number, after: boolean): void {
    const gen = this.#gens[this.#gens.length - 1]
    gen.seq = seq
    gen.after = after
    this.#gens.push({ pending: 0, seq: undefined, after: false })
    this.#settle()
  }

  /** Confirm every `done` whose updates have all committed; finish the input once the peer has ended. */
  #settle (): void {
    while (this.#gens.length > 1 && this.#gens[0].pending === 0) {
      const gen = this.#gens.shift() as Generation
      this.#confirm(gen.seq as number, gen.after)
    }
    const callback = this.#finalCallback
    if (callback !== undefined && this.#gens.every((g) => g.pending === 0)) {
      this.#finalCallback = undefined
      this.#outbox.end()
      callback()
    }
  }

  #confirm (seq: number, after: boolean): void {
    if (this.destroyed || this.#hello === undefined) return
    // Recorded only now: everything before the peer's `done` has committed.
    if (!this.#dropped) this.#collection._catalog.setPeer(this.#peerKey(), { epoch: this.#hello.epoch, seq }).catch(() => {})
    this.#outbox.peerSynced()
    // Synced once the peer has said it holds our history too (so both records are current).
    if (this.#syncReceived || !after) return
    this.#syncReceived = true
    this.emit('syncReceived')
    this.#syncedIfBoth()
  }

  #onDoneSent (): void {
    if (this.#syncSent) return
    this.#syncSent = true
    this.emit('syncSent')
    this.#syncedIfBoth()
  }

  #syncedIfBoth (): void {
    if (!this.#syncSent || !this.#syncReceived || this.destroyed) return
    this.emit('progress', this.progress)
    this.emit('sync')
  }

  /** Destroy with an error (a listener of our own keeps an unheard one from crashing the process). */
  #abort (err: Error): void {
    if (this.destroyed) return
    this.destroy(err)
  }

  /** A protocol error: report it, close this stream, leave everything else alone. */
  #fail (err: ScuttledbError): void {
    if (this.destroyed) return
    this.#collection._reject(err)
    this.#abort(err)
  }
}

/**
 * The epoch announced to a peer: the collection's own, bound to the identity
 * the peer is served under. What the peer records of us (keyed by our id) holds
 * only what that identity may see; under another identity, its record is of
 * another epoch and it compares everything (docs/protocol.md).
 */
function epochFor (epoch: string, peer: Source | undefined): string {
  if (peer === undefined) return epoch
  const digest = sha256(new TextEncoder().encode(peer)).subarray(0, 12)
  return `${epoch}.${Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('')}`
}

/**
 * About what the stream keeps per document a peer announces (its name, type,
 * clock, and the state of both directions), in bytes: see `maxPeerEntryBytes`.
 */
function entryCost (entry: DocEntry): number {
  return 512 + 2 * entry.name.length + entry.type.length + 96 * entry.clock.size
}
