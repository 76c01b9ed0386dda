import { codes, error, type ScuttledbError } from './errors.js'
import { pack } from './msgpack.js'
import type { Clock, Source, Update } from './protocol.js'
import type { Commit, Storage } from './storage.js'
import type { ReplicationStream } from './stream.js'
import type { HybridClock } from './timestamp.js'
import { Transaction } from './transaction.js'
import type { ScuttlebuttStats, Security } from './scuttlebutt.js'

/** Called once an update is committed, dropped as old, or rejected. */
export type Done = (err: Error | null, update?: Update, rejected?: boolean) => void

/** One queued update (local or remote) or clock merge. */
export interface Pending {
  local: boolean
  update: Update
  /** Instead of an update: a peer's clock to merge once its whole history is here. */
  merge?: Clock
  bytes: Buffer | undefined
  origin: ReplicationStream | undefined
  done: Done | undefined
}

/** Keep at most this many updates queued before writers (streams) are asked to wait. */
export const QUEUE_HIGH_WATER = 4096

/** What the pipeline needs of its Scuttlebutt instance. */
export interface PipelineHost {
  readonly storage: Storage
  /** The committed clock; the pipeline moves it after each commit. */
  readonly clock: Clock
  readonly hlc: HybridClock
  readonly maxClockSkew: number
  readonly maxBatch: number
  readonly sync: boolean
  readonly security: Security | undefined
  readonly writers: ((source: Source, update: Update) => boolean) | undefined
  readonly streams: Iterable<ReplicationStream>
  readonly stats: ScuttlebuttStats
  applyUpdate: (update: Update, tx: Transaction) => boolean | Promise<boolean>
  prefetch: (updates: Update[], tx: Transaction) => Promise<void>
  /** Announce a committed update (events of the instance and of the data type). */
  committed: (update: Update) => void
  reject: (err: ScuttledbError) => void
  /** This node's id. */
  readonly id: Source
  /** Stamp (and sign) a local update again with a fresh timestamp. */
  restamp: (update: Update) => Update
  /** Whether the data type allows merging peers' header clocks. */
  mergesClocks: () => boolean
  emit: (name: string, ...args: unknown[]) => void
}

/**
 * The update pipeline: a queue drained in group commits. For each batch it
 * authorizes (allow-list, signatures), checks skew and per-source order, applies
 * through the data type's hook, writes one atomic batch with the clock, and only
 * then moves the clock, emits, forwards to streams and acknowledges.
 */
export class UpdatePipeline {
  readonly #host: PipelineHost
  #queue: Pending[] = []
  #pumping: Promise<void> | undefined
  #roomWaiters: Array<() => void> = []
  /** A commit failed: the clock may no longer be trusted to describe storage for merges. */
  #failed = false

  constructor (host: PipelineHost) {
    this.#host = host
  }

  /** Resolves when the commit queue has room; undefined when it has room now. */
  room (): Promise<void> | undefined {
    if (this.#queue.length < QUEUE_HIGH_WATER) return undefined
    return new Promise((resolve) => this.#roomWaiters.push(resolve))
  }

  /** Resolves once every queued item is settled. */
  async drained (): Promise<void> {
    while (this.#pumping !== undefined) await this.#pumping
  }

  /** Queue an update (or a clock merge) for the next commit. */
  enqueue (item: Pending): void {
    this.#queue.push(item)
    this.#pumping ??= this.#pump()
  }

  #take (): Pending[] {
    const max = this.#host.maxBatch
    let items: Pending[]
    if (this.#queue.length <= max) {
      items = this.#queue
      this.#queue = []
    } else {
      items = this.#queue.splice(0, max)
    }
    if (this.#queue.length < QUEUE_HIGH_WATER && this.#roomWaiters.length > 0) {
      const waiters = this.#roomWaiters
      this.#roomWaiters = []
      for (const wake of waiters) wake()
    }
    return items
  }

  /**
   * Commits overlap by one: batch N+1 is checked and applied (reading through
   * batch N's writes) while batch N is being written; N+1 is written, and
   * announced, only after N has committed.
   */
  async #pump (): Promise<void> {
    // Yield once so that every write made in this tick joins the same commit (group commit).
    await null
    let writing: Prepared | undefined
    try {
      for (;;) {
        if (this.#queue.length === 0) {
          if (writing === undefined) break
          await writing.committed
          writing = undefined
          continue
        }
        const next = await this.#prepare(this.#take(), writing)
        if (writing !== undefined) {
          const ok = await writing.committed
          if (!ok && next !== undefined) {
            await next.commit.abort().catch(() => {})
            for (const item of next.accepted) item.done?.(writing.failure ?? new Error('An earlier commit failed'))
            writing = undefined
            continue
          }
          writing = undefined
        }
        if (next !== undefined) {
          // The previous commit is written: drop the link, or every transaction would stay reachable.
          next.tx.detach()
          next.committed = this.#finish(next)
          writing = next
        }
      }
    } finally {
      this.#pumping = undefined
    }
  }

  /**
   * Drop remote updates from sources not allowed to write, and those that fail
   * verification, before anything else looks at them (the clock cannot move for
   * a forged update). Each is counted and reported as `rejected` and `unverified`.
   */
  async #authorize (items: Pending[]): Promise<Pending[]> {
    const security = this.#host.security
    const verdicts: Array<boolean | string | Promise<boolean | string>> = items.map((item) => {
      if (item.local || item.merge !== undefined) return true
      if (this.#host.writers !== undefined && !this.#host.writers(item.update[2], item.update)) return 'source not allowed to write'
      if (security === undefined) return true
      try {
        return security.verify(item.update)
      } catch (err) {
        return `verify threw: ${(err as Error).message}`
      }
    })
    const settled = verdicts.some((v) => typeof v === 'object')
      ? await Promise.all(verdicts.map(async (v) => await Promise.resolve(v).catch((err: Error) => `verify failed: ${err.message}`)))
      : verdicts as Array<boolean | string>
    const kept: Pending[] = []
    items.forEach((item, i) => {
      const verdict = settled[i]
      if (verdict === true) {
        kept.push(item)
        return
      }
      const reason = typeof verdict === 'string' ? verdict : 'bad signature'
      this.#reject(error(codes.UNVERIFIED, `Update rejected: ${reason}`, { update: item.update }))
      this.#emit('unverified', item.update, reason)
      item.done?.(null, undefined, true)
    })
    return kept
  }

  /** Check and apply one batch into a commit (not yet written); undefined when nothing is accepted. */
  async #prepare (items: Pending[], previous: Prepared | undefined): Promise<Prepared | undefined> {
    try {
      return await this.#check(items, previous)
    } catch (err) {
      // Anything unexpected (a closed database, a data type's bug) fails this batch only.
      for (const item of items) item.done?.(err as Error)
      return undefined
    }
  }

  async #check (items: Pending[], previous: Prepared | undefined): Promise<Prepared | undefined> {
    const host = this.#host
    const clock = host.clock
    const pending = previous?.moved
    const latestOf = (source: Source): number | undefined => moved.get(source) ?? pending?.get(source) ?? clock.get(source)
    const moved: Clock = new Map()
    // Echoes and duplicates are the common remote input: drop them before paying for verification.
    if (host.security !== undefined || host.writers !== undefined) {
      items = await this.#authorize(items.filter((item) => item.local || item.merge !== undefined || !this.#old(item, latestOf)))
    }
    const accepted: Pending[] = []
    const merges: Pending[] = []
    const wall = host.hlc.wall()
    const skew = host.maxClockSkew
    for (const item of items) {
      if (item.merge !== undefined) {
        if (this.#mergeable()) this.#merge(item.merge, moved, latestOf, wall + skew)
        merges.push(item)
        continue
      }
      let [, ts, source] = item.update
      if (item.local) {
        const latest = latestOf(source)
        if (latest !== undefined && ts <= latest) {
          // Something newer for this node arrived after the write was stamped (a peer
          // held our updates from before a restore): stamp it again, never drop it.
          host.hlc.observe(latest)
          item.update = host.restamp(item.update)
          ts = item.update[1]
        }
      } else {
        if (ts > wall + skew) {
          this.#reject(error(codes.CLOCK_SKEW, `Update timestamp ${ts} is too far ahead of the local clock`, { update: item.update }))
          item.done?.(null, undefined, true)
          continue
        }
        if (this.#old(item, latestOf)) continue
        if (item.bytes === undefined) {
          try {
            item.bytes = pack(item.update)
          } catch (err) {
            this.#reject(error(codes.INVALID_MESSAGE, 'Update cannot be encoded', { cause: err as Error, update: item.update }))
            item.done?.(null, undefined, true)
            continue
          }
        }
      }
      moved.set(source, ts)
      host.hlc.observe(ts)
      accepted.push(item)
    }
    if (accepted.length === 0 && merges.length === 0) return undefined
    const commit = host.storage.batch()
    const tx = new Transaction(host.storage, commit, previous?.tx)
    const applied: Pending[] = []
    const prepared: Prepared = { commit, tx, moved, accepted: [...accepted, ...merges], applied, committed: undefined, failure: undefined }
    try {
      await host.prefetch(accepted.map((item) => item.update), tx)
      for (const item of accepted) {
        const result = host.applyUpdate(item.update, tx)
        if (typeof result === 'boolean' ? result : await result) {
          const [, ts, source] = item.update
          item.bytes ??= pack(item.update)
          commit.putUpdate(source, ts, item.bytes)
          applied.push(item)
        }
      }
      for (const [source, ts] of moved) commit.putClock(source, ts)
    } catch (err) {
      await commit.abort().catch(() => {})
      throw err
    }
    return prepared
  }

  /** Drop a remote update that is not newer than what this node holds (not an error). */
  #old (item: Pending, latestOf: (source: Source) => number | undefined): boolean {
    const [, ts, source] = item.update
    const latest = latestOf(source)
    if (latest === undefined || ts > latest) return false
    this.#host.stats.old++
    this.#emit('old', item.update)
    item.done?.(null)
    return true
  }

  /**
   * Whether peers' header clocks may be merged at all: not when updates are
   * signed or writers are restricted (a header is not authenticated), not for
   * data types that forget history (Events with retention), and not after a
   * failed commit (what the clock covers may not be stored).
   */
  #mergeable (): boolean {
    const host = this.#host
    return host.security === undefined && host.writers === undefined && host.mergesClocks() && !this.#failed
  }

  #merge (clock: Clock, moved: Clock, latestOf: (source: Source) => number | undefined, limit: number): void {
    const host = this.#host
    for (const [source, ts] of clock) {
      // Our own entry only ever moves with our own writes; a peer's claim just lifts our timestamps.
      if (source === host.id) {
        if (ts <= limit) host.hlc.observe(ts)
        continue
      }
      const latest = latestOf(source)
      if ((latest === undefined || ts > latest) && ts <= limit) {
        moved.set(source, ts)
        host.hlc.observe(ts)
      }
    }
  }

  /** Report a rejection; a throwing listener must not wedge the pipeline. */
  #reject (err: ScuttledbError): void {
    try {
      this.#host.reject(err)
    } catch (thrown) {
      process.nextTick(() => { throw thrown })
    }
  }

  /** Emit an instance event; a throwing listener must not wedge the pipeline. */
  #emit (name: string, ...args: unknown[]): void {
    try {
      this.#host.emit(name, ...args)
    } catch (thrown) {
      process.nextTick(() => { throw thrown })
    }
  }

  /**
   * Write a prepared commit; only then move the clock, announce the updates,
   * forward them to streams and settle their promises. Resolves false on failure.
   */
  async #finish (prepared: Prepared): Promise<boolean> {
    const { commit, moved, accepted, applied } = prepared
    try {
      await commit.write(this.#host.sync)
    } catch (err) {
      prepared.failure = err as Error
      this.#failed = true
      for (const item of accepted) item.done?.(err as Error)
      return false
    }
    const clock = this.#host.clock
    for (const [source, ts] of moved) clock.set(source, ts)
    this.#host.stats.commits++
    this.#host.stats.committed += applied.length
    for (const item of applied) {
      const update = item.update
      for (const stream of this.#host.streams) if (stream !== item.origin) stream._offer(update, item.bytes as Buffer)
      try {
        this.#host.committed(update)
      } catch (err) {
        // A throwing listener is the application's bug: surface it as Node would,
        // but never leave the pipeline half-done.
        process.nextTick(() => { throw err })
      }
    }
    for (const item of accepted) item.done?.(null, item.update)
    return true
  }
}

/** A batch checked and applied into a commit, on its way to storage. */
interface Prepared {
  commit: Commit
  tx: Transaction
  /** The clock entries this commit moves. */
  moved: Clock
  /** Every item settled by this commit (updates and clock merges). */
  accepted: Pending[]
  /** The updates kept in the history (announced and forwarded). */
  applied: Pending[]
  /** Resolves true once written and announced, false if the write failed. */
  committed: Promise<boolean> | undefined
  failure: Error | undefined
}
