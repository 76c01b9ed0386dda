/** The longest delay setTimeout keeps (a longer one fires at once). */
const MAX_DELAY = 2 ** 31 - 1

/**
 * Closes a stream once the updates it brought too far ahead of the clock
 * (SCUTTLEDB_CLOCK_SKEW) are within `maxClockSkew`: a stream asks for what it
 * lacks only when it starts, so the peer's reconnect (`connect()` retries) is
 * what brings them. The earliest such moment counts; an update further ahead
 * than a timer reaches (about 24 days) closes the stream at once.
 */
export class SkewResync {
  readonly #close: () => void
  #timer: ReturnType<typeof setTimeout> | undefined
  #due = Infinity

  constructor (close: () => void) {
    this.#close = close
  }

  /** An update was refused as too far ahead: it is `ms` from being within the skew (<= 0: it already is). */
  refused (ms: number): void {
    // Held back behind an earlier one (within the skew itself): that one's moment counts.
    if (!(ms > 0)) return
    // Weeks ahead: a broken or hostile clock. Closed at once, so the stream keeps nothing more of it.
    if (ms >= MAX_DELAY) {
      this.stop()
      this.#close()
      return
    }
    const due = Date.now() + ms
    if (due >= this.#due) return
    clearTimeout(this.#timer)
    this.#due = due
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.#close()
    }, Math.ceil(ms) + 1)
    this.#timer.unref?.()
  }

  /** The stream closed: no timer outlives it. */
  stop (): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
  }
}
