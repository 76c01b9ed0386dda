import type { HistoryCursor } from './history.js'
import { isNewer, type Clock, type Update } from './protocol.js'

/** Live updates queued for a slow peer before falling back to a scan of storage. */
const LIVE_QUEUE_LIMIT = 4096
/** Bytes of live updates queued for a slow peer before falling back to a scan of storage. */
const LIVE_QUEUE_BYTES = 4 * 1024 * 1024
/** Updates (or bytes, whichever comes first) read for one pushed chunk while sending history. */
const CHUNK_UPDATES = 256
const CHUNK_BYTES = 64 * 1024

/** Updates ready to encode: the update when known, and its stored msgpack bytes. */
export type Outgoing = Array<[Update | undefined, Uint8Array]>

/** One read of stored history: what to send, and whether the history is exhausted. */
export interface HistoryRead {
  updates: Outgoing
  done: boolean
}

/**
 * What one stream sends its peer: stored history the peer lacks, read lazily from
 * a cursor, then live updates queued in memory. Everything is filtered against
 * what the peer is known to hold (its header, what it sent, what was sent to it).
 * A queue that outgrows its bounds is dropped, and what it held is re-read from
 * storage (the known clock says where to resume), so memory stays bounded.
 */
export class Outbox {
  readonly #cursorFor: (known: Clock) => HistoryCursor
  readonly #known: Clock = new Map()
  #cursor: HistoryCursor | undefined
  #rescan = false
  #live: Array<[Update, Uint8Array]> = []
  #liveBytes = 0
  #overflow = false
  #closed = false

  constructor (cursorFor: (known: Clock) => HistoryCursor) {
    this.#cursorFor = cursorFor
  }

  /** The live queue overflowed: the output must re-read history before sending live updates. */
  get overflowed (): boolean {
    return this.#overflow
  }

  /** How far the peer is behind `ours` (this side's clock): see `SyncProgress.behind`. */
  behind (ours: Clock): { sources: number, ms: number } {
    let sources = 0
    let ms = 0
    for (const [source, ts] of ours) {
      const known = this.#known.get(source)
      if (known !== undefined && known >= ts) continue
      sources++
      if (known !== undefined) ms = Math.max(ms, ts - known)
    }
    return { sources, ms }
  }

  /** The peer holds this update (it claimed or sent it): never send it. Never lowers what is known. */
  held (ts: number, source: string): void {
    if (isNewer(ts, source, this.#known)) this.#known.set(source, ts)
  }

  /** (Re)start reading stored history from what the peer is known to hold; the live queue is dropped. */
  restart (): void {
    this.#rescan = true
    this.#overflow = false
    this.#clearLive()
  }

  /** The next run of stored history the peer lacks; `done` once it is all read. */
  async readHistory (): Promise<HistoryRead> {
    if (this.#rescan) {
      this.#rescan = false
      await this.#cursor?.close()
      this.#cursor = undefined
      if (this.#closed) return { updates: [], done: false }
      this.#cursor = this.#cursorFor(this.#known)
    }
    const cursor = this.#cursor
    if (cursor === undefined) return { updates: [], done: false }
    const entries = await cursor.nextBatch(CHUNK_UPDATES, CHUNK_BYTES)
    // Restarted or closed meanwhile: this read no longer counts.
    if (this.#cursor !== cursor) return { updates: [], done: false }
    const updates: Outgoing = []
    for (const { source, ts, bytes } of entries) {
      if (!isNewer(ts, source, this.#known)) continue
      this.#known.set(source, ts)
      updates.push([undefined, bytes])
    }
    if (entries.length > 0 || this.#rescan) return { updates, done: false }
    this.#cursor = undefined
    await cursor.close()
    // What the overflowed queue dropped committed after this scan began: read again.
    if (this.#overflow) {
      this.restart()
      return { updates, done: false }
    }
    return { updates, done: true }
  }

  /** Queue a committed update unless the peer holds it; true when it is the first in the queue. */
  offer (update: Update, bytes: Uint8Array): boolean {
    if (this.#overflow || !isNewer(update[1], update[2], this.#known)) return false
    if (this.#live.length >= LIVE_QUEUE_LIMIT || this.#liveBytes >= LIVE_QUEUE_BYTES) {
      // A slow peer: forget the queue and re-read what it lacks from storage later.
      this.#clearLive()
      this.#overflow = true
      return false
    }
    this.#live.push([update, bytes])
    this.#liveBytes += bytes.length
    return this.#live.length === 1
  }

  /** Take the queued live updates the peer still lacks. */
  takeLive (): Outgoing {
    const queue = this.#live
    this.#clearLive()
    const updates: Outgoing = []
    for (const entry of queue) {
      const [, ts, source] = entry[0]
      if (!isNewer(ts, source, this.#known)) continue
      this.#known.set(source, ts)
      updates.push(entry)
    }
    return updates
  }

  /**
   * Release the cursor and the queue; nothing is read after this. Returns a promise
   * only when a cursor is open, so that a stream without one closes synchronously.
   */
  close (): Promise<void> | undefined {
    this.#closed = true
    this.#clearLive()
    const cursor = this.#cursor
    this.#cursor = undefined
    return cursor?.close()
  }

  #clearLive (): void {
    this.#live = []
    this.#liveBytes = 0
  }
}
