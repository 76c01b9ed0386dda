import type { Clock, Source } from './protocol.js'
import type { LogEntry, LogScanner, SourceScan } from './storage.js'

/** How many entries one history scan holds in memory at most, across all its sources. */
const SCAN_BUDGET = 4096

interface Head {
  entry: LogEntry
  scan: SourceScan
}

/** The largest double below a positive timestamp. */
function justBelow (ts: number): number {
  if (!(ts > 0) || !Number.isFinite(ts)) return ts
  const bits = new Float64Array([ts])
  const int = new BigInt64Array(bits.buffer)
  int[0] -= 1n
  return bits[0]
}

function before (a: LogEntry, b: LogEntry): boolean {
  return a.ts < b.ts || (a.ts === b.ts && a.source < b.source)
}

/**
 * A lazy history scan: every stored update newer than `known` (a peer's clock),
 * one range scan per source, merged into `(ts, source)` order with a binary heap.
 * It holds a bounded number of entries in memory whatever the history's size.
 */
export class HistoryCursor {
  readonly #pending: SourceScan[]
  #heap: Head[] = []
  #started = false
  #closed = false

  /** `horizon`: updates older than this are left out (data types with retention). */
  constructor (storage: LogScanner, ours: Clock, known: Clock, horizon = 0) {
    const sources: Array<[Source, number, number]> = []
    for (const [source, ts] of ours) {
      // A source whose latest update is past the horizon still sends that one (kept as the
      // backing of its clock entry, docs/storage.md): the scan starts just below it.
      const seen = Math.max(known.get(source) ?? 0, Math.min(horizon, justBelow(ts)))
      if (ts > seen) sources.push([source, seen, ts])
    }
    const step = Math.max(8, Math.floor(SCAN_BUDGET / Math.max(1, sources.length)))
    // Each source's scan ends at its clock: what committed later is not part of this cursor's history.
    this.#pending = sources.map(([source, after, last]) => storage.scan(source, after, step, last))
  }

  /** The next update in `(ts, source)` order, or undefined when the scan is done. */
  async next (): Promise<LogEntry | undefined> {
    if (!this.#started) await this.#start()
    const heap = this.#heap
    if (heap.length === 0) return undefined
    const top = heap[0]
    const entry = top.entry
    const following = await top.scan.next()
    if (this.#closed) return undefined
    if (following !== undefined) {
      top.entry = following
      this.#siftDown(0)
    } else {
      const last = heap.pop() as Head
      if (heap.length > 0) {
        heap[0] = last
        this.#siftDown(0)
      }
    }
    return entry
  }

  /** Up to `max` next updates, or fewer once they add up to `maxBytes`; empty only at the end. */
  async nextBatch (max: number, maxBytes = Infinity): Promise<LogEntry[]> {
    const out: LogEntry[] = []
    let bytes = 0
    if (!this.#started) await this.#start()
    while (out.length < max && bytes < maxBytes) {
      const heap = this.#heap
      if (heap.length === 1) {
        // One source left: its entries come in order, taken from its scan's page without a promise each.
        const top = heap[0]
        out.push(top.entry)
        bytes += top.entry.bytes.length
        const following = top.scan.buffered() ?? await top.scan.next()
        if (this.#closed) break
        if (following === undefined) heap.pop()
        else top.entry = following
        continue
      }
      const entry = await this.next()
      if (entry === undefined) break
      out.push(entry)
      bytes += entry.bytes.length
    }
    return out
  }

  /** Release every iterator; safe to call more than once. */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const scans = this.#pending
    this.#heap = []
    await Promise.all(scans.map(async (scan) => await scan.close()))
  }

  async #start (): Promise<void> {
    this.#started = true
    const firsts = await Promise.all(this.#pending.map(async (scan) => await scan.next()))
    if (this.#closed) return
    firsts.forEach((entry, i) => {
      if (entry !== undefined) this.#push({ entry, scan: this.#pending[i] })
    })
  }

  #push (head: Head): void {
    const heap = this.#heap
    heap.push(head)
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(heap[i].entry, heap[parent].entry)) break
      ;[heap[i], heap[parent]] = [heap[parent], heap[i]]
      i = parent
    }
  }

  #siftDown (i: number): void {
    const heap = this.#heap
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let min = i
      if (l < heap.length && before(heap[l].entry, heap[min].entry)) min = l
      if (r < heap.length && before(heap[r].entry, heap[min].entry)) min = r
      if (min === i) return
      ;[heap[i], heap[min]] = [heap[min], heap[i]]
      i = min
    }
  }
}
