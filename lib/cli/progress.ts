import type { SyncProgress } from '../stream.js'

/** Where progress is written: a terminal gets a redrawn bar, anything else plain lines. */
export interface ProgressOutput {
  write: (text: string) => unknown
  isTTY?: boolean
  columns?: number
}

const BAR_WIDTH = 24
const BLOCK = 6

function count (n: number): string {
  return n.toLocaleString('en-US')
}

/**
 * Progress of first syncs with peers. The stream reports counts, not a total
 * (the peer's history size is not known in advance), so the terminal bar is an
 * indeterminate one that moves with each report, beside the counts.
 */
export class ProgressView {
  readonly #out: ProgressOutput
  readonly #tty: boolean
  readonly #interval: number
  readonly #last = new Map<string, number>()
  #tick = 0
  #drawn = false

  /** `interval`: least ms between two plain lines for one peer (a bar is redrawn on every report). */
  constructor (out: ProgressOutput, options: { tty?: boolean, interval?: number } = {}) {
    this.#out = out
    this.#tty = options.tty ?? out.isTTY === true
    this.#interval = options.interval ?? 1000
  }

  /** A report for `peer` (a progress event). */
  update (peer: string, progress: SyncProgress, now = Date.now()): void {
    if (this.#tty) {
      this.#tick++
      const start = this.#tick % (BAR_WIDTH - BLOCK + 1)
      const bar = ' '.repeat(start) + '='.repeat(BLOCK) + ' '.repeat(BAR_WIDTH - BLOCK - start)
      const line = `syncing ${peer} [${bar}] received ${count(progress.received)}, sent ${count(progress.sent)}`
      const width = this.#out.columns ?? 80
      this.#out.write(`\r\x1b[K${line.slice(0, Math.max(20, width - 1))}`)
      this.#drawn = true
      return
    }
    const last = this.#last.get(peer)
    if (last !== undefined && now - last < this.#interval) return
    this.#last.set(peer, now)
    this.#out.write(`syncing ${peer}: received ${count(progress.received)}, sent ${count(progress.sent)}\n`)
  }

  /** The first sync with `peer` finished: one final line. */
  done (peer: string, progress: SyncProgress): void {
    this.#last.delete(peer)
    const line = `synced with ${peer}: received ${count(progress.received)}, sent ${count(progress.sent)}`
    this.#out.write(this.#tty && this.#drawn ? `\r\x1b[K${line}\n` : `${line}\n`)
    this.#drawn = false
  }

  /** Clear a half-drawn bar before another line is printed. */
  clear (): void {
    if (this.#tty && this.#drawn) {
      this.#out.write('\r\x1b[K')
      this.#drawn = false
    }
  }
}
