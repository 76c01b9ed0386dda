import { codes, error, type ScuttledbError } from './errors.js'

/** Default `maxBufferedBytes` of a listener: eight frames of the default `maxFrameBytes`. */
export const DEFAULT_MAX_BUFFERED_BYTES = 128 * 1024 * 1024

/** Told that the budget refused (and closed) an account; the owner closes its connection with `err`. */
export type OnRefused = (err: ScuttledbError) => void

/**
 * The bytes that the connections of one listener may hold together while they
 * wait for the rest of something: a partial frame or JSON line in a stream's
 * decoder, a WebSocket message being received. Each connection holds an account
 * (`open()`); a decoder reserves bytes before it keeps them and releases them
 * once the frame is decoded, and closing the account returns whatever is left.
 *
 * Policy, when a reservation does not fit: the bytes are taken back from the
 * largest holder. If another account holds more than the asking one would, that
 * one is refused and the asker gets its bytes; otherwise the asker is refused.
 * A refused account is closed and its owner told (SCUTTLEDB_OVERLOADED): it
 * closes that connection, keeping nothing of its unfinished frame, and every
 * other connection goes on. So peers that each park a large partial frame are
 * dropped, largest first, while an honest peer's small frames still fit; and a
 * frame as large as the budget allows passes when nothing else is held.
 */
export class BufferBudget {
  /** The most bytes held at once. */
  readonly limit: number
  #used = 0
  #peak = 0
  #refused = 0
  readonly #accounts = new Set<BufferAccount>()

  constructor (limit: number) {
    if (!(Number.isSafeInteger(limit) && limit > 0)) throw new TypeError(`A buffer budget must be a positive integer of bytes, not ${String(limit)}`)
    this.limit = limit
  }

  /** Bytes held now, over every account. */
  get used (): number {
    return this.#used
  }

  /** The most bytes held at once since the budget was made (for sizing it). */
  get peak (): number {
    return this.#peak
  }

  /** Accounts refused so far (connections closed with SCUTTLEDB_OVERLOADED). */
  get refused (): number {
    return this.#refused
  }

  /** Open accounts (one per connection). */
  get accounts (): number {
    return this.#accounts.size
  }

  /** A new holder's account; `onRefused` is called (once) if the budget refuses it. */
  open (onRefused: OnRefused): BufferAccount {
    const account = new BufferAccount(this, onRefused)
    this.#accounts.add(account)
    return account
  }

  /** @internal Grant `bytes` more to `account` (holding `held`), refusing the largest holder when they do not fit. */
  _grant (account: BufferAccount, held: number, bytes: number): void {
    if (this.#used + bytes > this.limit) {
      let largest: BufferAccount | undefined
      for (const other of this.#accounts) {
        if (other !== account && other.held > (largest?.held ?? held + bytes)) largest = other
      }
      // It holds more than the asker would, and at least `bytes` (used <= limit before): one refusal makes room.
      const refused = largest ?? account
      refused._refuse(error(codes.OVERLOADED, `Refused a connection's buffered input: the listener's connections hold ${this.#used} bytes of partial frames, and maxBufferedBytes is ${this.limit}`))
      if (refused === account) throw (account.error as ScuttledbError)
    }
    this.#used += bytes
    if (this.#used > this.#peak) this.#peak = this.#used
  }

  /** @internal Take back `bytes`; with `leaving`, the account is gone. */
  _return (account: BufferAccount, bytes: number, leaving: boolean, refused = false): void {
    this.#used -= bytes
    if (leaving) this.#accounts.delete(account)
    if (refused) this.#refused++
  }
}

/**
 * One connection's share of a BufferBudget. `reserve()` throws
 * SCUTTLEDB_OVERLOADED once the account is refused; `release()` and `close()`
 * never throw and may be called again.
 */
export class BufferAccount {
  readonly #budget: BufferBudget
  readonly #onRefused: OnRefused
  #held = 0
  #closed = false
  #error: ScuttledbError | undefined

  /** @internal Use `BufferBudget#open()`. */
  constructor (budget: BufferBudget, onRefused: OnRefused) {
    this.#budget = budget
    this.#onRefused = onRefused
  }

  /** Bytes this account holds. */
  get held (): number {
    return this.#held
  }

  /** True once closed or refused. */
  get closed (): boolean {
    return this.#closed
  }

  /** The refusal, if the budget refused this account. */
  get error (): ScuttledbError | undefined {
    return this.#error
  }

  /** Hold `bytes` more before keeping them; throws SCUTTLEDB_OVERLOADED when refused (the account is then closed). */
  reserve (bytes: number): void {
    if (this.#closed) throw this.#error ?? error(codes.OVERLOADED, 'The connection\'s buffer account is closed')
    this.#budget._grant(this, this.#held, bytes)
    this.#held += bytes
  }

  /** Give back `bytes` of what this account holds (a frame was decoded or dropped). */
  release (bytes: number): void {
    if (this.#closed) return
    const n = Math.min(bytes, this.#held)
    this.#held -= n
    this.#budget._return(this, n, false)
  }

  /** Give back everything (the connection closed). */
  close (): void {
    if (this.#closed) return
    this.#closed = true
    this.#budget._return(this, this.#held, true)
    this.#held = 0
  }

  /** @internal The budget refuses this account: close it and tell its owner. */
  _refuse (err: ScuttledbError): void {
    if (this.#closed) return
    this.#closed = true
    this.#error = err
    this.#budget._return(this, this.#held, true, true)
    this.#held = 0
    this.#onRefused(err)
  }
}
