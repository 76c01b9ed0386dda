import { msgpackCodec } from './codec.js'
import { codes, error } from './errors.js'
import type { Clock, Source } from './protocol.js'
import { encodeMessage, MAX_ENTRIES, type DocEntry } from './collection-protocol.js'
import type { Collection } from './collection.js'
import type { Access, Doc } from './collection-types.js'
import type { HistoryCursor } from './history.js'
import type { SharedLogs } from './log-scan.js'

/** Where the outbox's output goes. */
export interface OutboxSink {
  /** Push a chunk of frames; false asks the outbox to wait for `resume()`. */
  push: (chunk: Uint8Array, messages: number, updates: number) => boolean
  /** A `done` was sent; `after`: it covers the peer's first `done` (see `peerSynced`). */
  done: (after: boolean) => void
  /** Sending failed (storage): the stream must close. */
  fail: (err: Error) => void
  /** The output is finished (after `end()`). */
  end: () => void
}

/**
 * What this side must still tell the peer about one document: `waiting` for
 * the peer's entry (its clock), `queued` or `scanning` its missing updates.
 */
interface OutDoc {
  /** What the peer holds: its entry's clock, what it sent, what we sent. */
  readonly known: Clock
  peerEntry: boolean
  peerAccepts: boolean
  sentEntry: boolean
  state: 'idle' | 'waiting' | 'queued' | 'scanning'
  /** Changed while being scanned: scan again from `known`. */
  again: boolean
}

/** Documents scanned at once (their opens and reads overlap). */
const SCANNERS = 8
/** One scan step: at most this many updates or bytes per chunk. */
const STEP_UPDATES = 512
const STEP_BYTES = 256 * 1024
/** A `done` after the first waits this long for more to settle (one marker for a burst). */
const DONE_DELAY = 20

/**
 * The sending half of a collection stream: the list of changed documents, the
 * entries, each document's missing updates (read from storage in steps, only
 * as fast as the peer reads), and the `done` markers.
 */
export class CollectionOutbox {
  readonly #collection: Collection
  readonly #peer: Source | undefined
  readonly #sink: OutboxSink
  readonly #docs = new Map<string, OutDoc>()
  readonly #modes = new Map<string, Access | Promise<Access>>()
  /** Documents we told the peer we accept updates of. */
  readonly #accepting = new Set<string>()
  readonly #queue: string[] = []
  readonly #scans = new Set<Promise<void>>()
  #outstanding = 0
  #resolving = 0
  #listed = false
  #listing = false
  #offers: DocEntry[] = []
  #lastDone: number | undefined
  /**
   * A document the peer may see changed since the last `done` was taken: only
   * then is a new one due. A commit of a hidden document sends the peer nothing,
   * not even a `done` (its seq is covered by the next one that goes anyway).
   */
  #seen = false
  #doneBusy = false
  /** The peer's first `done` has committed here: the next `done` says so (`after`), at once. */
  #after: 'no' | 'due' | 'sent' = 'no'
  #doneTimer: ReturnType<typeof setTimeout> | undefined
  #blocked = false
  /** Scans waiting for the peer to read. */
  #waiting: Array<() => void> = []
  #ending = false
  #closed = false
  /** Iterators the scans of closed documents reuse (made on the first scan; null: the database cannot). */
  #logs: SharedLogs | null | undefined

  constructor (collection: Collection, peer: Source | undefined, sink: OutboxSink) {
    this.#collection = collection
    this.#peer = peer
    this.#sink = sink
  }

  /** What the peer may do with a document (asked once per stream). */
  mode (name: string): Access | Promise<Access> {
    const cached = this.#modes.get(name)
    if (cached !== undefined) return cached
    const answer = this.#collection._access(this.#peer, name)
    this.#modes.set(name, answer)
    if (answer instanceof Promise) void answer.then((mode) => { this.#modes.set(name, mode) })
    return answer
  }

  /** True when we told the peer we accept its updates of `name`. */
  accepts (name: string): boolean {
    return this.#accepting.has(name)
  }

  /** What the peer holds of a document (updated as updates cross either way). */
  known (name: string): Clock {
    return this.#doc(name).known
  }

  /** Push control messages now (small; not held back by the peer's reading). */
  send (bodies: Uint8Array[], messages: number): void {
    if (this.#closed || bodies.length === 0) return
    this.#push(bodies, messages, 0)
  }

  /** Send entries, many per message. */
  sendEntries (entries: DocEntry[]): void {
    for (const entry of entries) if (entry.accepts) this.#accepting.add(entry.name)
    for (let i = 0; i < entries.length; i += MAX_ENTRIES) {
      this.send([encodeMessage({ t: 'docs', entries: entries.slice(i, i + MAX_ENTRIES) })], 1)
    }
  }

  /**
   * The peer's `want`: list every document changed since `since` that it may see, with our clocks,
   * a docs message at a time while the peer reads. Not awaited by the input (see CollectionStream#run).
   */
  async list (since: number): Promise<void> {
    if (this.#listed) throw error(codes.INVALID_MESSAGE, 'The peer sent a second want')
    this.#listed = true
    this.#listing = true
    const candidates: Array<{ name: string, type: string }> = []
    for (const entry of this.#collection._catalog.entries()) if (entry.seq > since) candidates.push(entry)
    for (let i = 0; i < candidates.length; i += MAX_ENTRIES) {
      const slice = candidates.slice(i, i + MAX_ENTRIES)
      const modes = slice.map(({ name }) => this.mode(name))
      const resolved: Access[] = modes.some((m) => m instanceof Promise) ? await Promise.all(modes) : modes as Access[]
      // The peer may have ended meanwhile, and our output with it: nothing may be pushed after that end.
      if (this.#closed || this.#ending) return
      const entries: DocEntry[] = []
      slice.forEach(({ name, type }, j) => {
        const mode = resolved[j]
        const doc = this.#doc(name)
        if (mode === 'none' || doc.sentEntry) return
        doc.sentEntry = true
        this.#set(doc, 'waiting')
        entries.push({ name, type, clock: this.#collection._clockOf(name) ?? new Map(), accepts: mode === 'write' })
      })
      this.sendEntries(entries)
      // Only as fast as the peer reads: one that never does is not pushed the whole catalog.
      // A peer that ended its side meanwhile gets no more (as with the scans still queued, see end()).
      if (this.#blocked && i + MAX_ENTRIES < candidates.length) await new Promise<void>((resolve) => { this.#waiting.push(resolve) })
      if (this.#closed || this.#ending) return
    }
    this.#listing = false
    this.#maybeDone()
  }

  /**
   * The peer's entry for a document: remember its clock, send what it lacks if
   * it accepts it. True when we have not sent our entry yet (the caller answers).
   */
  peerEntry (entry: DocEntry, mode: Access): boolean {
    const doc = this.#doc(entry.name)
    for (const [source, ts] of entry.clock) if (!((doc.known.get(source) ?? 0) >= ts)) doc.known.set(source, ts)
    doc.peerEntry = true
    doc.peerAccepts = entry.accepts
    const reply = !doc.sentEntry
    doc.sentEntry = true
    if (mode !== 'none' && entry.accepts && this.#collection.typeOf(entry.name) === entry.type) this.#wantScan(entry.name, doc)
    else if (doc.state === 'waiting') this.#set(doc, 'idle')
    return reply
  }

  /** A document committed something: send it on, or first tell the peer our clock. */
  changed (name: string): void {
    if (!this.#listed || this.#ending || this.#closed) return
    const doc = this.#doc(name)
    // Only a document the peer may see is ever waiting, queued or scanning.
    if (doc.state !== 'idle') this.#seen = true
    if (doc.state === 'scanning') {
      doc.again = true
      return
    }
    if (doc.state !== 'idle') return
    const mode = this.mode(name)
    if (!(mode instanceof Promise)) {
      this.#changedWith(name, doc, mode)
      // Nothing to send (an update that came from this peer): a later `done` still tells it how far it is.
      this.#maybeDone()
      return
    }
    this.#resolving++
    void mode.then((resolved) => {
      this.#resolving--
      this.#changedWith(name, doc, resolved)
      this.#maybeDone()
    })
  }

  #changedWith (name: string, doc: OutDoc, mode: Access): void {
    if (mode === 'none' || this.#closed) return
    this.#seen = true
    if (doc.peerEntry) {
      if (doc.peerAccepts) this.#wantScan(name, doc)
      return
    }
    if (doc.sentEntry) return
    doc.sentEntry = true
    this.#set(doc, 'waiting')
    const type = this.#collection.typeOf(name) as string
    if (this.#offers.length === 0) queueMicrotask(() => { this.#flushOffers() })
    this.#offers.push({ name, type, clock: this.#collection._clockOf(name) ?? new Map(), accepts: mode === 'write' })
  }

  #flushOffers (): void {
    const offers = this.#offers
    this.#offers = []
    this.sendEntries(offers)
  }

  /** Everything before the peer's first `done` has committed: tell it, so it can record how far we are. */
  peerSynced (): void {
    if (this.#after !== 'no') return
    this.#after = 'due'
    clearTimeout(this.#doneTimer)
    this.#doneTimer = undefined
    this.#maybeDone()
  }

  /** The peer reads again. */
  resume (): void {
    this.#blocked = false
    const waiting = this.#waiting
    this.#waiting = []
    for (const wake of waiting) wake()
  }

  /** The peer ended its side: finish the scans under way, then end ours. */
  end (): void {
    if (this.#ending) return
    this.#ending = true
    this.#queue.length = 0
    void Promise.all([...this.#scans]).then(() => { if (!this.#closed) this.#sink.end() })
  }

  /** Stop: no more output; resolves once every scan has let go of its document. */
  async close (): Promise<void> {
    this.#closed = true
    clearTimeout(this.#doneTimer)
    this.resume()
    await Promise.all([...this.#scans])
    await this.#logs?.release()
  }

  #doc (name: string): OutDoc {
    let doc = this.#docs.get(name)
    if (doc === undefined) {
      doc = { known: new Map(), peerEntry: false, peerAccepts: false, sentEntry: false, state: 'idle', again: false }
      this.#docs.set(name, doc)
    }
    return doc
  }

  /** Move a document's state; outstanding work is counted here, and only here. */
  #set (doc: OutDoc, state: OutDoc['state']): void {
    const was = doc.state !== 'idle'
    doc.state = state
    const is = state !== 'idle'
    if (was === is) return
    this.#outstanding += is ? 1 : -1
    if (this.#outstanding === 0) this.#maybeDone()
  }

  #wantScan (name: string, doc: OutDoc): void {
    if (doc.state === 'scanning') {
      doc.again = true
      return
    }
    if (doc.state === 'queued') return
    // Nothing the peer lacks (a closed document's clock is its last one): no need to open it.
    const clock = this.#collection._clockOf(name)
    if (clock !== undefined && !hasNewer(clock, doc.known)) {
      this.#set(doc, 'idle')
      return
    }
    this.#set(doc, 'queued')
    this.#queue.push(name)
    this.#pump()
  }

  #pump (): void {
    while (this.#scans.size < SCANNERS && this.#queue.length > 0 && !this.#closed) {
      const name = this.#queue.shift() as string
      const scan = this.#scan(name).finally(() => {
        this.#scans.delete(scan)
        this.#pump()
      })
      this.#scans.add(scan)
    }
    // Idle: the shared iterators let go of their snapshots (made again when work comes).
    if (this.#scans.size === 0 && this.#queue.length === 0) void this.#logs?.release()
  }

  /**
   * Send a document's updates the peer lacks, a step at a time, as fast as the
   * peer reads. A closed document is read without opening it; one that must be
   * opened, or changed while it was read, is leased and read (again) open.
   */
  async #scan (name: string): Promise<void> {
    const doc = this.#doc(name)
    this.#set(doc, 'scanning')
    let leased: Doc | undefined
    try {
      doc.again = false
      this.#logs ??= this.#collection._sharedLogs() ?? null
      // A peer behind a delete the document forgot (tombstoneTTL) is sent nothing of it: the
      // history no longer holds that delete, and the peer's clock would move past it while it
      // keeps the value the delete removed (admitted from then on). It stays refused; rebuild it.
      // (A peer that holds nothing of it is always admitted: nothing to read.)
      const forgotten = doc.known.size === 0 ? new Map() : await this.#collection._closedForgotten(name)
      if (forgotten !== undefined && behindForgotten(doc.known, forgotten)) return
      const closed = forgotten === undefined ? undefined : await this.#collection._closedHistory(name, doc.known, this.#logs ?? undefined)
      if (closed !== undefined) {
        try {
          await this.#send(name, doc, closed.cursor)
        } finally {
          await closed.close()
        }
      }
      if (this.#closed || (closed !== undefined && !doc.again)) return
      leased = await this.#collection._leaseExisting(name)
      // Dropped meanwhile (a peer's document none of whose updates was taken): nothing to send.
      if (leased === undefined) return
      do {
        doc.again = false
        if (behindForgotten(doc.known, leased._forgottenCopy())) return
        const cursor = leased._cursor(doc.known)
        try {
          await this.#send(name, doc, cursor)
        } finally {
          await cursor.close()
        }
      } while (doc.again && !this.#closed)
    } catch (err) {
      if (!this.#closed) this.#sink.fail(err as Error)
    } finally {
      if (leased !== undefined) this.#collection._release(name)
      this.#set(doc, 'idle')
    }
  }

  /** Push what `cursor` reads of a document, in steps, waiting while the peer does not read. */
  async #send (name: string, doc: OutDoc, cursor: HistoryCursor): Promise<void> {
    for (;;) {
      if (this.#blocked) await new Promise<void>((resolve) => { this.#waiting.push(resolve) })
      if (this.#closed) return
      const entries = await cursor.nextBatch(STEP_UPDATES, STEP_BYTES)
      if (entries.length === 0 || this.#closed) return
      const bodies: Uint8Array[] = [encodeMessage({ t: 'doc', name })]
      for (const { source, ts, bytes } of entries) {
        bodies.push(bytes)
        if (!((doc.known.get(source) ?? 0) >= ts)) doc.known.set(source, ts)
      }
      this.#push(bodies, 1, entries.length)
    }
  }

  #push (bodies: Uint8Array[], messages: number, updates: number): void {
    const chunk = msgpackCodec.encodeUpdates(bodies.map((body) => [undefined, body]))
    if (!this.#sink.push(chunk, messages, updates)) this.#blocked = true
  }

  /**
   * Send `done S` once nothing is outstanding: every document the peer may see
   * with sequence <= S has been sent. The first at once, later ones coalesced.
   */
  #maybeDone (): void {
    if (!this.#listed || this.#listing || this.#outstanding > 0 || this.#resolving > 0) return
    if (this.#closed || this.#ending || this.#doneBusy || this.#doneTimer !== undefined) return
    const catalog = this.#collection._catalog
    if ((catalog.seq === this.#lastDone || (this.#lastDone !== undefined && !this.#seen)) && this.#after !== 'due') return
    if (this.#lastDone !== undefined && this.#after !== 'due') {
      this.#doneTimer = setTimeout(() => {
        this.#doneTimer = undefined
        this.#sendDone()
      }, DONE_DELAY)
      this.#doneTimer.unref?.()
      return
    }
    this.#sendDone()
  }

  #sendDone (): void {
    if (this.#outstanding > 0 || this.#resolving > 0 || this.#closed) return
    const catalog = this.#collection._catalog
    const seq = catalog.seq
    const after = this.#after === 'due'
    if (after) this.#after = 'sent'
    this.#seen = false
    this.#doneBusy = true
    catalog.durable(seq).then(() => {
      this.#doneBusy = false
      if (this.#closed) return
      this.#lastDone = seq
      this.send([encodeMessage({ t: 'done', seq, after })], 1)
      this.#sink.done(after)
      this.#maybeDone()
    }, (err: Error) => { this.#sink.fail(err) })
  }
}

/** True when a peer that holds `known` (not nothing) has not seen a delete in `forgotten`: see Scuttlebutt#_admit. */
function behindForgotten (known: Clock, forgotten: Clock): boolean {
  if (known.size === 0) return false
  for (const [source, ts] of forgotten) if ((known.get(source) ?? 0) < ts) return true
  return false
}

/** True when `clock` has anything newer than `known`. */
export function hasNewer (clock: Clock, known: Clock): boolean {
  for (const [source, ts] of clock) if (ts > (known.get(source) ?? 0)) return true
  return false
}
