// Verdicts of remote updates from a backend's verifyBatch, for the commit pipeline
// (lib/pipeline.ts): started for a batch when it is taken, or earlier, for what is
// queued behind it, and awaited per call rather than per update. Portable: no Node
// built-ins (the worker pool behind verifyBatch is the backend's business).
import type { Source, Update } from './protocol.js'
import type { Security } from './scuttlebutt.js'

/**
 * Queued remote updates are verified this many batches (of maxBatch) ahead of the
 * batch being checked: with one batch ahead, the verifier sat idle every other batch
 * while the main thread applied and committed (its look-ahead was still running).
 */
export const VERIFY_AHEAD = 2

/** What one verifyBatch call answered: its verdicts, or why it failed. */
type VerifyAnswer = Array<boolean | string> | string

/** An update's verdict under way: the verifyBatch call it went to and its place there. */
interface Verdict {
  answer: Promise<VerifyAnswer>
  at: number
}

/** What the verifier needs of a queued update (the pipeline's Pending). */
export interface Verifiable {
  readonly local: boolean
  readonly update: Update
  /** The update's bytes as received: equal bytes are the same update, so they get the same verdict. */
  readonly bytes: Uint8Array | undefined
  readonly task?: unknown
}

/** An item's verdict as #authorize has it: known now, a backend's promise, or undefined (from verifyBatch). */
export type Pre = boolean | string | Promise<boolean | string> | undefined

function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/**
 * The verdicts of one pipeline. A copy of an update already under way (the same
 * source, timestamp and bytes, e.g. from a second peer syncing the same history)
 * shares that verdict instead of being verified again: the bytes are the update,
 * so the verdict would be the same, and only one of the copies can be stored.
 */
export class AheadVerifier<T extends Verifiable> {
  readonly #security: Security
  readonly #maxBatch: number
  readonly #verdicts = new WeakMap<T, Verdict>()
  /** Updates under way by `ts source`, with their bytes: where a copy finds its verdict. */
  #byUpdate = new Map<string, { bytes: Uint8Array, verdict: Verdict }>()

  constructor (security: Security, maxBatch: number) {
    this.#security = security
    this.#maxBatch = maxBatch
  }

  /** Whether `item`'s verification was started. */
  has (item: T): boolean {
    return this.#verdicts.has(item)
  }

  /** Start verifying `items` (those not yet started) with one verifyBatch call. */
  start (items: T[]): void {
    const fresh: T[] = []
    const copies: Array<[copy: T, of: T]> = []
    const firsts = new Map<string, T>()
    for (const item of items) {
      if (this.#verdicts.has(item)) continue
      const bytes = item.bytes
      if (bytes !== undefined) {
        const key = `${item.update[1]} ${item.update[2]}`
        const known = this.#byUpdate.get(key)
        if (known !== undefined && sameBytes(known.bytes, bytes)) {
          this.#verdicts.set(item, known.verdict)
          continue
        }
        const first = firsts.get(key)
        if (first?.bytes !== undefined && sameBytes(first.bytes, bytes)) {
          copies.push([item, first])
          continue
        }
        if (first === undefined) firsts.set(key, item)
      }
      fresh.push(item)
    }
    if (fresh.length === 0) return
    let all: Promise<Array<boolean | string>>
    try {
      all = Promise.resolve(this.#security.verifyBatch?.(fresh.map((item) => item.update)) ?? [])
    } catch (err) {
      all = Promise.reject(err)
    }
    const answer: Promise<VerifyAnswer> = all.then((results) => results, (err: Error) => `verify failed: ${err.message}`)
    // Only an optimisation: should entries outlive their updates (dropped as old before their batch), start afresh.
    if (this.#byUpdate.size > 4 * (1 + VERIFY_AHEAD) * this.#maxBatch) this.#byUpdate = new Map()
    fresh.forEach((item, at) => {
      const verdict = { answer, at }
      this.#verdicts.set(item, verdict)
      const key = `${item.update[1]} ${item.update[2]}`
      // The first bytes under way keep their place: a forgery sent after the genuine update cannot take it (one sent first costs the genuine copies a check each, nothing more).
      if (item.bytes !== undefined && !this.#byUpdate.has(key)) this.#byUpdate.set(key, { bytes: item.bytes, verdict })
    })
    for (const [copy, of] of copies) this.#verdicts.set(copy, this.#verdicts.get(of) as Verdict)
  }

  /**
   * Start verifying what is queued behind the batch being checked, up to
   * VERIFY_AHEAD batches, so the verifier always has work while the main thread
   * applies and commits. Only the verdicts are early: each is still awaited, in
   * its own batch, before the update is looked at. Updates not newer than the
   * clock are left out (they will be dropped as old, unverified).
   */
  ahead (queue: readonly T[], clock: ReadonlyMap<Source, number>): void {
    const next: T[] = []
    const end = Math.min(queue.length, VERIFY_AHEAD * this.#maxBatch)
    for (let i = 0; i < end; i++) {
      const item = queue[i] as T
      if (item.local || item.task !== undefined || this.#verdicts.has(item)) continue
      const latest = clock.get(item.update[2])
      if (latest === undefined || item.update[1] > latest) next.push(item)
    }
    if (next.length > 0) this.start(next)
  }

  /**
   * The verdict of each item: those undefined in `pre` come from their
   * verifyBatch call, awaited once per call rather than once per update.
   */
  async settle (items: readonly T[], pre: Pre[]): Promise<Array<boolean | string>> {
    const answers = new Map<Promise<VerifyAnswer>, VerifyAnswer>()
    const settled = new Array<boolean | string>(items.length)
    // A backend's own promises get their handlers now: one failing while an earlier one is awaited is not unhandled.
    const guarded = pre.map((v) => typeof v === 'object' ? v.then((ok) => ok, (err: Error) => `verify failed: ${err.message}`) : v)
    for (let i = 0; i < items.length; i++) {
      const v = guarded[i]
      if (v === undefined) {
        const item = items[i] as T
        const mine = this.#verdicts.get(item) as Verdict
        const { answer, at } = mine
        let results = answers.get(answer)
        if (results === undefined) {
          results = await answer
          answers.set(answer, results)
        }
        const verdict = typeof results === 'string' ? results : (results as unknown as Array<boolean | string> | null)?.[at] ?? 'verify failed: no verdict'
        settled[i] = verdict
        // A later copy of a refused update is asked about anew (a backend may know more by then).
        if (verdict !== true) {
          const key = `${item.update[1]} ${item.update[2]}`
          if (this.#byUpdate.get(key)?.verdict === mine) this.#byUpdate.delete(key)
        }
      } else {
        settled[i] = await v
      }
    }
    return settled
  }
}
